/**
 * The README's example: a node that joins its network through the shared peer cache.
 * Run it with `npx tsx examples/bootstrap.ts https://your.endpoint/contacts`.
 */
import { Bootstrap, CacheStore, ContactsFetcher, Dialer, Protection } from "@bootstrap-cache/node"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Option } from "effect"

const endpoints = process.argv.slice(2) // contact-list URLs, used when the cache is empty or stale

const program = Effect.gen(function*() {
  const bootstrap = yield* Bootstrap.Bootstrap
  const result = yield* bootstrap.run({ target: 5, concurrency: 10, timeout: "5 seconds" })
  for (const peer of result.connected) yield* Effect.log(`connected ${peer.address} in ${peer.rttMs} ms`)
  yield* Effect.log(`${result.dials} dials, hit rate ${result.hitRate}, ` +
    `5 peers after ${Option.getOrElse(result.timeToTargetMs, () => NaN)} ms`)
})

const BootstrapLive = Bootstrap.layer({ endpoints }).pipe(
  Layer.provide(CacheStore.layer()), // BOOTSTRAP_CACHE_PATH, else the platform's default location
  Layer.provide([Dialer.layer, Protection.layer(), ContactsFetcher.layerNode({ endpoints })]),
  Layer.provide(NodeContext.layer)
)

program.pipe(Effect.provide(BootstrapLive), NodeRuntime.runMain)
