/**
 * The CLI compiled from the current sources into one file, as the `bootstrap-cache` executable runs it
 * (scripts/bundle-cli.mjs), for tests that spawn it: they test the code as it is, without a build,
 * and start as fast as the installed executable. The file lives under the repository's
 * node_modules/.cache so that its run-time `require`s resolve; `dispose` removes it.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const SCRIPT = fileURLToPath(new URL("../scripts/bundle-cli.mjs", import.meta.url))
const CACHE = fileURLToPath(new URL("../../../node_modules/.cache/bootstrap-cache-test/", import.meta.url))

export const bundleCli = (): { readonly file: string; readonly dispose: () => void } => {
  mkdirSync(CACHE, { recursive: true })
  const dir = mkdtempSync(join(CACHE, "cli-"))
  const file = join(dir, "cli.mjs")
  const built = spawnSync(process.execPath, [SCRIPT, "--outfile", file], { encoding: "utf8" })
  if (built.status !== 0) throw new Error(`bundling the CLI failed (exit ${built.status}): ${built.stderr}`)
  return { file, dispose: () => rmSync(dir, { recursive: true, force: true }) }
}
