/**
 * What a fresh process loads: importing the package does not load the HTTP client (`undici`); building
 * the contacts fetcher on Node does. Real child processes (`fixtures/module-load.ts`).
 */
import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"

const FIXTURE = new URL("./fixtures/module-load.ts", import.meta.url).pathname

const run = (...args: ReadonlyArray<string>): { readonly afterImport: boolean; readonly afterFetcher: boolean } =>
  JSON.parse(
    execFileSync(process.execPath, ["--conditions=@bootstrap-cache/source", "--import", "tsx", FIXTURE, ...args], {
      encoding: "utf8",
      timeout: 60_000
    })
  )

describe("module loading", () => {
  it("importing @bootstrap-cache/node leaves undici unloaded until a contacts fetcher on Node is built", () => {
    assert.deepStrictEqual(run(), { afterImport: false, afterFetcher: false })
    assert.deepStrictEqual(run("--fetcher"), { afterImport: false, afterFetcher: true })
  }, 120_000)
})
