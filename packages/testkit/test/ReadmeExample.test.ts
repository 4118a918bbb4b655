// The README's "Testing your node" example, verbatim: if this breaks, the README is wrong.
import { Bootstrap } from "@bootstrap-cache/node"
import { TestLayers } from "@bootstrap-cache/testkit"
import { assert, it } from "@effect/vitest"
import { Effect, Fiber, Layer, TestClock } from "effect"

// The program under test: anything that needs Bootstrap (here: join the network).
const joinNetwork = Effect.flatMap(Bootstrap.Bootstrap, (bootstrap) => bootstrap.run())

const seeds = ["/ip4/1.2.3.4/tcp/4001", "/ip4/5.6.7.8/tcp/4001", "/ip4/9.9.9.9/tcp/4001", "/ip4/8.8.4.4/tcp/4001"]
const TestEnv = Bootstrap.layer({ target: 3, contacts: true, protection: false }).pipe(Layer.provideMerge(Layer.mergeAll(
  TestLayers.cacheStoreMemory(), // an empty cache, no disk
  TestLayers.dialerScripted({ [seeds[0]!]: { refuse: true } }, { otherwise: { ok: 20 } }), // RTT 20 ms
  TestLayers.contactsFetcherStatic(seeds) // no HTTP
)))

it.effect("a fresh node asks the endpoints once and reaches its target", () =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(joinNetwork)
    yield* TestClock.adjust("1 minute") // dials, staggering and timeouts run on the TestClock
    const result = yield* Fiber.join(fiber)
    assert.strictEqual(result.connected.length, 3)
    assert.strictEqual(yield* (yield* TestLayers.ContactsLog).calls, 1)
    const file = yield* (yield* TestLayers.MemoryCacheFile).contents // what was flushed
    assert.isTrue(file._tag === "Some")
  }).pipe(Effect.provide(TestEnv)))
