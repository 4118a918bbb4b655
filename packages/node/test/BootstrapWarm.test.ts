// Warm starts that waste no dials, on a real loopback network whose peers take a second to set up a
// connection (TCP, then a greeting after 1 s, as a libp2p security + muxer handshake would).
import { PeerAddress, PeerTable } from "@bootstrap-cache/core"
import { LoopbackNetwork, TestLayers } from "@bootstrap-cache/testkit"
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Bootstrap from "../src/Bootstrap.js"

const SETUP_MS = 1_000

/** A cache holding `good` (answered before, set-up time measured) and `failed` (failed a minute ago). */
const warmTable = (
  good: ReadonlyArray<LoopbackNetwork.Listener>,
  failed: ReadonlyArray<LoopbackNetwork.Listener>,
  now: number
) => {
  let table = PeerTable.empty
  for (const l of good) {
    const a = PeerAddress.unsafeParse(l.multiaddr)
    table = PeerTable.add(table, a, { now: now - 3_600_000, source: { _tag: "user" } })
    table = PeerTable.recordSuccess(table, a, now - 3_600_000, { rttMs: SETUP_MS })
  }
  for (const l of failed) {
    const a = PeerAddress.unsafeParse(l.multiaddr)
    table = PeerTable.add(table, a, { now: now - 3_600_000, source: { _tag: "user" } })
    table = PeerTable.recordFailure(table, a, now - 60_000)
  }
  return table
}

/** One bootstrap on a warm cache, dialling through the handshake dialer (real sockets, real time). */
const warmRun = (table: PeerTable.PeerTable, options: Bootstrap.BootstrapOptions) =>
  Effect.gen(function*() {
    const { store } = yield* TestLayers.makeCacheStoreMemory(table)
    return yield* Bootstrap.run(store, { target: 5, timeout: 5_000, dialPolicy: { allowLoopback: true }, ...options }).pipe(
      Effect.provide(LoopbackNetwork.handshakeDialer),
      Effect.withRandom(Random.make(13))
    )
  })

describe("Bootstrap warm start (real loopback network, 1 s handshakes)", () => {
  it.scopedLive("a warm cache of good peers costs exactly `target` dials: the stagger follows their measured set-up time", () =>
    Effect.gen(function*() {
      const net = yield* LoopbackNetwork.make(Array.from({ length: 8 }, () => LoopbackNetwork.Behaviour.Handshake({ delayMs: SETUP_MS })))
      const table = warmTable(net.listeners, [], yield* Clock.currentTimeMillis)
      const [measured, fixed] = yield* Effect.all([
        warmRun(table, {}),
        // The same cache with the fixed 250 ms Connection Attempt Delay: extra dials, then cancelled.
        warmRun(table, { measuredStagger: false })
      ], { concurrency: 2 })
      assert.strictEqual(measured.connected.length, 5)
      assert.strictEqual(measured.dials, 5)
      assert.strictEqual(measured.cancelled, 0)
      assert.isTrue(measured.connected.every((c) => c.rttMs >= SETUP_MS))
      assert.strictEqual(fixed.connected.length >= 5, true)
      assert.isAbove(fixed.dials, 5)
      assert.isAbove(fixed.cancelled, 0)
    }), 20_000)

  it.scopedLive("exploration skips peers that failed recently while enough known-good ones remain", () =>
    Effect.gen(function*() {
      const net = yield* LoopbackNetwork.make([
        ...Array.from({ length: 6 }, () => LoopbackNetwork.Behaviour.Handshake({ delayMs: SETUP_MS })),
        ...Array.from({ length: 10 }, () => LoopbackNetwork.Behaviour.Refuse())
      ])
      const good = net.listeners.slice(0, 6)
      const dead = net.listeners.slice(6)
      const table = warmTable(good, dead, yield* Clock.currentTimeMillis)
      // ε = 1: every pick explores (a uniform draw among the eligible peers), the worst case.
      const [avoiding, exploring] = yield* Effect.all([
        warmRun(table, { epsilon: 1 }),
        warmRun(table, { epsilon: 1, avoidFailedWithin: 0 })
      ], { concurrency: 2 })
      assert.strictEqual(avoiding.connected.length, 5)
      assert.strictEqual(avoiding.failures, 0)
      assert.strictEqual(avoiding.dials, 5)
      assert.isTrue(avoiding.connected.every((c) => good.some((l) => l.multiaddr === c.address.multiaddr)))
      // Without the rule, exploration spends dials on the dead peers.
      assert.isAbove(exploring.failures, 0)
    }), 20_000)
})
