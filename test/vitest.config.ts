import { mergeConfig } from "vitest/config"
import { project } from "../vitest.shared.js"

// The repository's own tests: the packages as a user installs them. Their dist/ is built once before
// any file runs (buildOnce.ts), so that files installing the packages in parallel never build at once.
export default mergeConfig(project("repo", ["*.test.ts"]), { test: { globalSetup: ["./buildOnce.ts"] } })
