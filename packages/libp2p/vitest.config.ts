import { defineProject } from "vitest/config"

export default defineProject({
  resolve: {
    conditions: ["@bootstrap-cache/source"]
  },
  test: {
    name: "libp2p",
    include: ["test/**/*.test.ts"]
  }
})
