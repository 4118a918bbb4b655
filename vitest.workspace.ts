import { defineWorkspace } from "vitest/config"

export default defineWorkspace([
  "packages/core",
  "packages/node",
  "packages/libp2p",
  "packages/testkit"
])
