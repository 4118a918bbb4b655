import { defineConfig } from "vitest/config"

// One project per package (packages/*/vitest.config.ts), and the repository's own tests (test/:
// the packages as installed from their tarballs).
export default defineConfig({
  test: { projects: ["packages/*", "test"] }
})
