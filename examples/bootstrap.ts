/**
 * The README's example: a node that joins its network through the shared peer cache.
 * Run it with `npx tsx examples/bootstrap.ts https://your.endpoint/contacts`.
 */
import { Bootstrap, BootstrapCache } from "@bootstrap-cache/node"
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Option } from "effect"

const endpoints = process.argv.slice(2) // contact-list URLs, used when the cache cannot do it

const program = Effect.gen(function*() {
  const bootstrap = yield* Bootstrap.Bootstrap
  const result = yield* bootstrap.run()
  for (const peer of result.connected) yield* Effect.log(`connected ${peer.address.multiaddr} in ${peer.rttMs} ms`)
  yield* Effect.log(`${result.dials} dials, hit rate ${result.hitRate}, ` +
    `5 peers after ${Option.getOrElse(result.timeToTargetMs, () => NaN)} ms`)
})

// The cache file (BOOTSTRAP_CACHE_PATH, else the platform's default location), the TCP dialer,
// per-peer circuit breakers and the contacts fetcher, wired once. Pass `dialer: Dialer.layerFrom(dial)`
// for a libp2p (or other) dialer.
const BootstrapLive = BootstrapCache.layer({ endpoints, target: 5, concurrency: 10, timeout: "5 seconds" })

program.pipe(Effect.provide(BootstrapLive), NodeRuntime.runMain)
