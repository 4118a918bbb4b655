import { project } from "../vitest.shared.js"

// The repository's own tests: the packages as a user installs them.
export default project("repo", ["*.test.ts"])
