/**
 * A child process of the `multi-process-flush` benchmark. Run with
 * `node --import tsx bench/multiProcessWorker.ts <cache file> <multiaddr> <count>`:
 * opens the store on the file (default settings, no background flush), prints `ready`, waits for a
 * line `go` on stdin, then `count` times records a success for the address and flushes, prints
 * `done <ms>` (the loop's duration) and exits 0. Exits 1 with the error on stderr if a flush fails
 * or does not write.
 */
import { PeerAddress } from "@bootstrap-cache/core"
import { CacheStore } from "@bootstrap-cache/node"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { createInterface } from "node:readline"
import { performance } from "node:perf_hooks"
import { platform } from "./storeFiles.js"

const [file, multiaddr, countText] = process.argv.slice(2)
if (file === undefined || multiaddr === undefined || countText === undefined) {
  console.error("usage: multiProcessWorker.ts <cache file> <multiaddr> <count>")
  process.exit(2)
}
const address = PeerAddress.unsafeParse(multiaddr)
const count = Number(countText)

const go = Effect.async<void>((resume) => {
  const lines = createInterface({ input: process.stdin })
  lines.on("line", (line) => {
    if (line.trim() === "go") {
      lines.close()
      resume(Effect.void)
    }
  })
})

const program = Effect.scoped(Effect.gen(function*() {
  const store = yield* CacheStore.make({ path: file, flushInterval: Duration.infinity, lock: { timeoutMs: 60_000 } })
  process.stdout.write("ready\n")
  yield* go
  const start = performance.now()
  for (let i = 0; i < count; i++) {
    yield* store.recordSuccess(address, { rttMs: 10 })
    const result = yield* store.flush
    if (result._tag !== "Written") return yield* Effect.fail(new Error(`flush ${i + 1} did not write: ${result._tag}`))
  }
  process.stdout.write(`done ${(performance.now() - start).toFixed(3)}\n`)
}))

Effect.runPromise(Effect.provide(program, platform)).then(
  () => process.exit(0),
  (e) => {
    console.error(e)
    process.exit(1)
  }
)
