/**
 * Global setup of the repository's tests (test/vitest.config.ts): builds every package whose dist/ is
 * older than its sources, once, before any test file runs. Each file that installs the packages
 * (installed.ts) asks for the same build; test files run in parallel, and two builds at once would
 * remove each other's dist/. After this one, theirs find nothing stale.
 */
import { join } from "node:path"
import { ROOT, run } from "./installed.js"

export default async function setup(): Promise<void> {
  await run(process.execPath, [join(ROOT, "scripts/build.mjs"), "--if-stale"], ROOT)
}
