/**
 * The order of a run's start as a log reader and an `onEvent` listener see it: the first dials are
 * started before the "cache loaded" line is written (a log line costs more than a dial's start in a
 * fresh process), and that line is still the run's first.
 */
import { PeerAddress, PeerTable } from "@bootstrap-cache/core"
import { LoopbackNetwork, TestLayers } from "@bootstrap-cache/testkit"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import * as Bootstrap from "../src/Bootstrap.js"
import { ContactsFetcher } from "../src/ContactsFetcher.js"
import * as Dialer from "../src/Dialer.js"

const peer = (i: number) => PeerAddress.unsafeParse(`/ip4/${30 + i}.${i}.0.1/tcp/4001/p2p/${LoopbackNetwork.peerIdFor(i)}`)

/** Runs a bootstrap on a memory store holding `peers`; every dial succeeds after 5 ms (TestClock). */
const timeline = (peers: number, contacts: ReadonlyArray<PeerAddress.PeerAddress>) =>
  Effect.gen(function*() {
    const table = Array.from({ length: peers }, (_, i) => peer(i))
      .reduce((t, a) => PeerTable.add(t, a, { now: 0, source: { _tag: "user" } }), PeerTable.empty)
    const { store } = yield* TestLayers.makeCacheStoreMemory(table)
    const seen: Array<string> = []
    const logger = Logger.make(({ message }) => void seen.push(`log: ${String(message)}`))
    const fetch = Effect.succeed({ addresses: contacts.map((address) => ({ address, source: "http://contacts.test" })), endpoints: [] })
    const layer = Layer.mergeAll(
      Dialer.layerFrom(() => Effect.as(Effect.sleep(5), 5), Dialer.supportsTcp),
      Layer.succeed(ContactsFetcher, { fetch, fetchFrom: () => fetch, breakers: Effect.succeed([]) }),
      Logger.replace(Logger.defaultLogger, logger)
    )
    const run = Effect.gen(function*() {
      const dialer = yield* Dialer.Dialer
      return yield* Bootstrap.run(store, {
        target: 3,
        contacts: yield* ContactsFetcher,
        onEvent: (e) => Effect.sync(() => void seen.push(e._tag))
      }).pipe(Effect.provideService(Dialer.Dialer, dialer))
    }).pipe(Effect.provide(layer), Effect.withRandom(Random.make(7)))
    const fiber = yield* Effect.fork(run)
    yield* TestClock.adjust(60_000)
    yield* Fiber.join(fiber)
    return seen
  })

describe("Bootstrap start order (TestClock)", () => {
  it.effect("a warm cache: CacheLoaded, the first dials started, then the 'cache loaded' line, the run's first", () =>
    Effect.gen(function*() {
      const seen = yield* timeline(8, [])
      const line = seen.findIndex((s) => s.startsWith("log: cache loaded: 8 peers"))
      assert.strictEqual(seen[0], "CacheLoaded")
      assert.deepStrictEqual(seen.slice(1, line), ["DialStarted", "DialStarted", "DialStarted"])
      assert.isUndefined(seen.slice(0, line).find((s) => s.startsWith("log: ")))
    }))

  it.effect("an empty cache: the 'cache loaded' line still comes before 'asking the contacts endpoints'", () =>
    Effect.gen(function*() {
      const seen = yield* timeline(0, [peer(40), peer(41), peer(42)])
      const logs = seen.filter((s) => s.startsWith("log: "))
      assert.match(logs[0]!, /^log: cache loaded: 0 peers/)
      assert.match(logs[1]!, /^log: asking the contacts endpoints/)
      assert.strictEqual(seen[0], "CacheLoaded")
    }))
})
