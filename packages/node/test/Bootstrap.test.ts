import { PeerAddress, PeerTable } from "@bootstrap-cache/core"
import { ContactsServer, LoopbackNetwork, TestLayers } from "@bootstrap-cache/testkit"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import * as Bootstrap from "../src/Bootstrap.js"
import type * as CacheStore from "../src/CacheStore.js"
import { ContactsFetcher, ContactsUnavailable, EndpointFailure } from "../src/ContactsFetcher.js"
import * as ContactsFetcherModule from "../src/ContactsFetcher.js"
import * as Dialer from "../src/Dialer.js"
import * as Protection from "../src/Protection.js"

// ---------------------------------------------------------------------------------------------------
// A scripted network: every peer is a public TCP address with a behaviour (TestClock time).
// ---------------------------------------------------------------------------------------------------

type Kind = { live: number } | { dead: number } | "hang"

/** Peer i: /ip4/<20+i>.<i>.0.1/tcp/4001/p2p/<id>, one netgroup (/16) per peer. */
const peer = (i: number) =>
  PeerAddress.unsafeParse(`/ip4/${20 + i}.${i}.0.1/tcp/4001/p2p/${LoopbackNetwork.peerIdFor(i)}`)

const scripted = (kinds: ReadonlyMap<string, Kind>, interrupted: Ref.Ref<number>) =>
  Layer.succeed(
    Dialer.Dialer,
    Dialer.make(
      (address) => {
        const kind = kinds.get(address.key)
        if (kind === undefined || kind === "hang") {
          return Effect.onInterrupt(Effect.never, () => Ref.update(interrupted, (n) => n + 1))
        }
        if ("live" in kind) return Effect.as(Effect.sleep(kind.live), kind.live)
        return Effect.zipRight(
          Effect.sleep(kind.dead),
          Effect.fail(new Dialer.DialRefusedError({ address: address.multiaddr, code: "ECONNREFUSED" }))
        )
      },
      Dialer.supportsTcp
    )
  )

const URL = "http://contacts.test/list"

/**
 * A ContactsFetcher serving fixed addresses, or failing when `addresses` is empty, after `delayMs`
 * (TestClock); counts fetches.
 */
const fetcherOf = (addresses: ReadonlyArray<PeerAddress.PeerAddress>, calls: Ref.Ref<number>, delayMs = 0) => {
  const fetch = Effect.zipRight(
    Effect.zipRight(Ref.update(calls, (n) => n + 1), Effect.sleep(delayMs)),
    addresses.length === 0
      ? Effect.fail(
        new ContactsUnavailable({
          failures: [new EndpointFailure({ endpoint: URL, reason: "status", detail: "HTTP 503", status: 503 })]
        })
      )
      : Effect.succeed({ addresses: addresses.map((address) => ({ address, source: URL })), endpoints: [] })
  )
  return Layer.succeed(ContactsFetcher, { fetch, fetchFrom: () => fetch, breakers: Effect.succeed([]) })
}

/** An in-memory `CacheStore` holding `initial` (testkit's, as a node without a disk would use). */
const memoryStore = (initial: PeerTable.PeerTable = PeerTable.empty, options: TestLayers.CacheStoreMemoryOptions = {}) =>
  Effect.map(TestLayers.makeCacheStoreMemory(initial, options), ({ store }) => store)

/** `Bootstrap.run` with the contacts fetcher and the protection the test provides, if any. */
const runOn = (store: CacheStore.CacheStore["Type"], options: Bootstrap.BootstrapOptions = {}) =>
  Effect.gen(function*() {
    const contacts = Option.getOrUndefined(yield* Effect.serviceOption(ContactsFetcher))
    const protection = Option.getOrUndefined(yield* Effect.serviceOption(Protection.Protection))
    return yield* Bootstrap.run(store, { ...options, contacts, protection })
  })

const tableOf = (addresses: ReadonlyArray<PeerAddress.PeerAddress>) =>
  addresses.reduce((t, a) => PeerTable.add(t, a, { now: 0, source: { _tag: "user" } }), PeerTable.empty)

const addressRecord = (table: PeerTable.PeerTable, a: PeerAddress.PeerAddress) =>
  Option.getOrThrow(PeerTable.lookupAddress(table, a)).record

/** Forks `effect`, moves the TestClock on by `ms`, joins. */
const runFor = <A, E, R>(effect: Effect.Effect<A, E, R>, ms = 60_000) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    yield* TestClock.adjust(ms)
    return yield* Fiber.join(fiber)
  })

const seeded = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.withRandom(effect, Random.make(7))

describe("Bootstrap (scripted network, TestClock)", () => {
  it.effect("a warm cache of good peers costs exactly `target` dials and cancels none", () =>
    Effect.gen(function*() {
      const live = Array.from({ length: 8 }, (_, i) => peer(i))
      const kinds = new Map<string, Kind>(live.map((a) => [a.key, { live: 10 }]))
      const interrupted = yield* Ref.make(0)
      const store = yield* memoryStore(tableOf(live))
      const triggers: Array<Bootstrap.DialTrigger> = []
      const result = yield* runFor(
        seeded(runOn(store, {
          target: 5,
          concurrency: 10,
          onEvent: (e) => Effect.sync(() => void (e._tag === "DialStarted" && triggers.push(e.trigger)))
        })).pipe(Effect.provide(scripted(kinds, interrupted)))
      )
      assert.strictEqual(result.dials, 5)
      assert.strictEqual(result.cancelled, 0)
      assert.strictEqual(yield* Ref.get(interrupted), 0)
      assert.strictEqual(result.peakInFlight, 5)
      assert.deepStrictEqual(triggers, ["needed", "needed", "needed", "needed", "needed"])
      assert.strictEqual(result.connected.length, 5)
      assert.deepStrictEqual(result.timeToTargetMs, Option.some(10))
    }))

  it.effect("stops at the target and cancels the dials still in flight, recording no failure for them", () =>
    Effect.gen(function*() {
      const live = [0, 1, 2, 3, 4].map(peer)
      const hanging = [5, 6, 7, 8, 9, 10, 11].map(peer)
      const kinds = new Map<string, Kind>(live.map((a) => [a.key, { live: 10 }]))
      const interrupted = yield* Ref.make(0)
      const store = yield* memoryStore(tableOf([...live, ...hanging]))
      const result = yield* runFor(
        seeded(runOn(store, { target: 5, concurrency: 12 })).pipe(Effect.provide(scripted(kinds, interrupted)))
      )
      assert.strictEqual(result.connected.length, 5)
      assert.isTrue(result.targetReached)
      // Every dial of a hanging peer still in flight at the target was cancelled, none failed.
      assert.isAbove(result.cancelled, 0)
      assert.strictEqual(result.dials, result.successes + result.cancelled)
      assert.strictEqual(yield* Ref.get(interrupted), result.cancelled)
      assert.strictEqual(result.failures, 0)
      assert.isFalse(result.endpointsUsed)
      const table = yield* store.snapshot
      for (const a of live) {
        const r = addressRecord(table, a)
        assert.strictEqual(r.successes, 1)
        assert.deepStrictEqual(r.rttMs, Option.some(10))
      }
      for (const a of hanging) assert.strictEqual(addressRecord(table, a).failures, 0)
    }))

  it.effect("starts only the dials the target still needs (concurrency 2, target 3 → 3 dials)", () =>
    Effect.gen(function*() {
      const all = Array.from({ length: 10 }, (_, i) => peer(i))
      const kinds = new Map<string, Kind>(all.map((a) => [a.key, { live: 10 }]))
      const store = yield* memoryStore(tableOf(all))
      const result = yield* runFor(
        seeded(runOn(store, { target: 3, concurrency: 2 })).pipe(Effect.provide(scripted(kinds, yield* Ref.make(0))))
      )
      assert.strictEqual(result.dials, 3)
      assert.strictEqual(result.cancelled, 0)
      assert.strictEqual(result.connected.length, 3)
    }))

  it.effect("an empty cache asks the endpoints, then a second run is cache-first and fails less", () =>
    Effect.gen(function*() {
      // 20 peers, every other one dead.
      const all = Array.from({ length: 20 }, (_, i) => peer(i))
      const kinds = new Map<string, Kind>(all.map((a, i) => [a.key, i % 2 === 0 ? { live: 20 } : { dead: 5 }]))
      const calls = yield* Ref.make(0)
      const store = yield* memoryStore()
      const layer = Layer.merge(scripted(kinds, yield* Ref.make(0)), fetcherOf(all, calls))
      const options = { target: 5, concurrency: 5 }
      const cold = yield* runFor(seeded(runOn(store, options)).pipe(Effect.provide(layer)))
      assert.isTrue(cold.endpointsUsed)
      assert.deepStrictEqual(cold.endpointReason, Option.some("empty" as const))
      assert.strictEqual(cold.cachedAttempts, 0)
      assert.isTrue(cold.connected.every((c) => c.origin === "endpoints"))
      assert.strictEqual(cold.connected.length, 5)
      const table = yield* store.snapshot
      const sources = Option.getOrThrow(PeerTable.lookupAddress(table, all[0]!)).peer.sources
      assert.deepStrictEqual(sources, [{ _tag: "endpoint", url: URL }])

      const warm = yield* runFor(seeded(runOn(store, options)).pipe(Effect.provide(layer)))
      assert.isFalse(warm.endpointsUsed)
      assert.strictEqual(yield* Ref.get(calls), 1)
      assert.strictEqual(warm.connected.length, 5)
      assert.isBelow(warm.failures, cold.failures)
      assert.isAbove(warm.hitRate, 0.5)
      assert.isTrue(warm.connected.every((c) => c.origin === "cache"))
    }))

  it.effect.each([["refuse", { dead: 5 }], ["never answer", "hang"]] as const)(
    "falls back to the endpoints when every cached peer is dead (cached peers %s)",
    ([, deadKind]) =>
    Effect.gen(function*() {
      const dead = Array.from({ length: 6 }, (_, i) => peer(i))
      const fresh = Array.from({ length: 5 }, (_, i) => peer(100 + i))
      const kinds = new Map<string, Kind>([
        ...dead.map((a) => [a.key, deadKind] as const),
        ...fresh.map((a) => [a.key, { live: 5 }] as const)
      ])
      const calls = yield* Ref.make(0)
      const store = yield* memoryStore(tableOf(dead))
      const result = yield* runFor(
        seeded(runOn(store, { target: 5 })).pipe(
          Effect.provide(Layer.merge(scripted(kinds, yield* Ref.make(0)), fetcherOf(fresh, calls)))
        )
      )
      assert.deepStrictEqual(result.endpointReason, Option.some("fallback" as const))
      assert.strictEqual(yield* Ref.get(calls), 1)
      assert.strictEqual(result.connected.length, 5)
      assert.isTrue(result.connected.every((c) => c.origin === "endpoints"))
      assert.strictEqual(result.cachedAttempts, 6)
      assert.strictEqual(result.hitRate, 0)
      assert.strictEqual(result.failures, 6)
      assert.strictEqual(result.failuresByReason[deadKind === "hang" ? "timeout" : "refused"], 6)
      assert.strictEqual(result.cancelled, 0)
      const table = yield* store.snapshot
      for (const a of dead) assert.strictEqual(addressRecord(table, a).failures, 1)
    }))

  it.effect("a stale cache asks the endpoints even when it holds enough usable peers", () =>
    Effect.gen(function*() {
      const all = Array.from({ length: 8 }, (_, i) => peer(i))
      const kinds = new Map<string, Kind>(all.map((a) => [a.key, { live: 5 }]))
      const calls = yield* Ref.make(0)
      const store = yield* memoryStore(tableOf(all), { lastUpdated: -1, staleAfter: 0 })
      const result = yield* runFor(
        seeded(runOn(store, { target: 3 })).pipe(
          Effect.provide(Layer.merge(scripted(kinds, yield* Ref.make(0)), fetcherOf([peer(50)], calls)))
        )
      )
      assert.deepStrictEqual(result.endpointReason, Option.some("stale" as const))
      assert.strictEqual(yield* Ref.get(calls), 1)
      assert.isTrue(result.targetReached)
    }))

  it.effect("fails with NoPeersError after recording (and prunes nothing: the node may be offline)", () =>
    Effect.gen(function*() {
      const dead = Array.from({ length: 4 }, (_, i) => peer(i))
      const kinds = new Map<string, Kind>(dead.map((a) => [a.key, { dead: 1 }]))
      let table = tableOf(dead)
      // peer 0 has failed twice before: its third failure makes it terrible (addrman ADDRMAN_RETRIES).
      table = PeerTable.recordFailure(PeerTable.recordFailure(table, dead[0]!, 0), dead[0]!, 0)
      const store = yield* memoryStore(table)
      const error = yield* runFor(
        Effect.flip(seeded(runOn(store, { target: 2 }))).pipe(
          Effect.provide(Layer.merge(scripted(kinds, yield* Ref.make(0)), fetcherOf([], yield* Ref.make(0))))
        )
      )
      assert.strictEqual(error._tag, "NoPeersError")
      assert.strictEqual(error.result.failures, 4)
      // Four usable peers (peer 0 has failed only twice in a row) ≥ target: not asked before dialing;
      // four cached failures (2 × target) then call for them.
      assert.deepStrictEqual(error.result.endpointReason, Option.some("cache-failing" as const))
      assert.isTrue(Option.isSome(error.result.endpointError))
      assert.include(error.message, "4 failures")
      // Prune's minimum-working-peer guard: with no working peer, failures say nothing about peers.
      assert.strictEqual(error.result.pruned, 0)
      const after = yield* store.snapshot
      assert.strictEqual(addressRecord(after, dead[0]!).consecutiveFailures, 3)
      assert.strictEqual(addressRecord(after, dead[1]!).failures, 1)
    }))

  it.effect("prunes an address that reached three failures in a row once enough peers work", () =>
    Effect.gen(function*() {
      const live = [0, 1, 2].map(peer)
      const dying = peer(3)
      let table = tableOf([...live, dying])
      table = PeerTable.recordFailure(PeerTable.recordFailure(table, dying, 0), dying, 0)
      const kinds = new Map<string, Kind>([...live.map((a) => [a.key, { live: 5 }] as const), [dying.key, { dead: 1 }]])
      const store = yield* memoryStore(table)
      const result = yield* runFor(
        seeded(runOn(store, { target: 4 })).pipe(Effect.provide(scripted(kinds, yield* Ref.make(0))))
      )
      assert.strictEqual(result.connected.length, 3)
      assert.strictEqual(result.pruned, 1)
      const after = yield* store.snapshot
      assert.isTrue(Option.isNone(PeerTable.lookupAddress(after, dying)))
      assert.strictEqual(PeerTable.size(after), 3)
    }))

  it.effect("dials only transports the dialer supports, and never counts the others as failures", () =>
    Effect.gen(function*() {
      const id = LoopbackNetwork.peerIdFor(1)
      const quicOnly = PeerAddress.unsafeParse(`/ip4/30.0.0.1/udp/4001/quic-v1/p2p/${LoopbackNetwork.peerIdFor(0)}`)
      const quic = PeerAddress.unsafeParse(`/ip4/31.0.0.1/udp/4001/quic-v1/p2p/${id}`)
      const tcp = PeerAddress.unsafeParse(`/ip4/31.0.0.1/tcp/4001/p2p/${id}`)
      let table = tableOf([quicOnly, quic, tcp])
      // Make the QUIC address the better one, so the selection picks it first.
      table = PeerTable.recordSuccess(table, quic, 0)
      const store = yield* memoryStore(table)
      const kinds = new Map<string, Kind>([[tcp.key, { live: 3 }]])
      const result = yield* runFor(
        seeded(runOn(store, { target: 1 })).pipe(Effect.provide(scripted(kinds, yield* Ref.make(0))))
      )
      assert.strictEqual(result.dials, 1)
      assert.strictEqual(result.connected[0]!.address.key, tcp.key)
      const after = yield* store.snapshot
      assert.strictEqual(addressRecord(after, quicOnly).failures, 0)
    }))

  it.effect("a dial rejected by its breaker is skipped, not dialled, not a failure", () =>
    Effect.gen(function*() {
      const all = Array.from({ length: 4 }, (_, i) => peer(i))
      const kinds = new Map<string, Kind>(all.map((a) => [a.key, { live: 5 }]))
      const store = yield* memoryStore(tableOf(all))
      const result = yield* runFor(
        Effect.gen(function*() {
          const protection = yield* Protection.Protection
          yield* protection.trip(all[0]!.key)
          return yield* seeded(runOn(store, { target: 4 }))
        }).pipe(Effect.provide(Layer.merge(scripted(kinds, yield* Ref.make(0)), Protection.layer())))
      )
      assert.strictEqual(result.rejected, 1)
      assert.strictEqual(result.dials, 3)
      assert.strictEqual(result.connected.length, 3)
      assert.isFalse(result.targetReached)
      assert.strictEqual(addressRecord(yield* store.snapshot, all[0]!).failures, 0)
    }))

  it.effect("reports progress events in order: cache loaded, dials started and answered, target", () =>
    Effect.gen(function*() {
      const all = Array.from({ length: 3 }, (_, i) => peer(i))
      const kinds = new Map<string, Kind>([[all[0]!.key, { live: 5 }], [all[1]!.key, { dead: 1 }], [all[2]!.key, { live: 9 }]])
      // The dead peer answered before: with ε = 0 it is dialled first, so every peer is dialled.
      const store = yield* memoryStore(PeerTable.recordSuccess(tableOf(all), all[1]!, 0))
      const events: Array<Bootstrap.BootstrapEvent> = []
      const result = yield* runFor(
        seeded(runOn(store, { target: 2, epsilon: 0, onEvent: (e) => Effect.sync(() => void events.push(e)) })).pipe(
          Effect.provide(scripted(kinds, yield* Ref.make(0)))
        )
      )
      const tags = events.map((e) => e._tag)
      assert.strictEqual(tags[0], "CacheLoaded")
      assert.strictEqual(tags.filter((t) => t === "DialStarted").length, result.dials)
      assert.strictEqual(tags.filter((t) => t === "DialSucceeded").length, 2)
      assert.strictEqual(tags.filter((t) => t === "DialFailed").length, 1)
      assert.strictEqual(tags[tags.length - 1], "TargetReached")
      const failed = events.find((e) => e._tag === "DialFailed")
      assert.strictEqual(failed?._tag === "DialFailed" && failed.error._tag, "DialRefusedError")
      assert.strictEqual(failed?._tag === "DialFailed" && failed.reason, "refused")
      assert.strictEqual(failed?._tag === "DialFailed" && failed.address.key, all[1]!.key)
      // Two dials for a target of two, then the failed one replaced at once (RFC 8305 §5).
      const triggers = events.flatMap((e) => e._tag === "DialStarted" ? [e.trigger] : [])
      assert.deepStrictEqual(triggers, ["needed", "needed", "failure"])
      assert.strictEqual(result.dials, 3)
      assert.deepStrictEqual(result.failuresByReason, { refused: 1, timeout: 0, unreachable: 0 })
    }))

  it.effect("ramps up by one dial per stagger delay without progress, to the concurrency limit (RFC 8305 §5)", () =>
    Effect.gen(function*() {
      const silent = Array.from({ length: 20 }, (_, i) => peer(i))
      const inFlight = yield* Ref.make(0)
      const dialer = Dialer.layerFrom(
        () => Effect.zipRight(Ref.update(inFlight, (n) => n + 1), Effect.never).pipe(Effect.ensuring(Ref.update(inFlight, (n) => n - 1))),
        Dialer.supportsTcp
      )
      const store = yield* memoryStore(tableOf(silent))
      const fiber = yield* Effect.fork(
        Effect.flip(seeded(runOn(store, { target: 5, concurrency: 10, stagger: 250, timeout: 5_000 }))).pipe(
          Effect.provide(dialer)
        )
      )
      // [ms since start, dials in flight]: 5 at once (the target), then one per 250 ms, capped at 10.
      const expected: ReadonlyArray<readonly [number, number]> = [
        [0, 5], [249, 5], [250, 6], [499, 6], [500, 7], [750, 8], [1_000, 9], [1_250, 10], [1_500, 10], [4_999, 10]
      ]
      const seen: Array<readonly [number, number]> = []
      let clock = 0
      for (const [t] of expected) {
        yield* TestClock.adjust(t - clock)
        clock = t
        seen.push([t, yield* Ref.get(inFlight)])
      }
      assert.deepStrictEqual(seen, expected)
      // From 5 s on, each timeout is replaced at once: the dials in flight stay at the limit.
      yield* TestClock.adjust(5_000 - clock)
      assert.strictEqual(yield* Ref.get(inFlight), 10)
      yield* TestClock.adjust(60_000)
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error.result.dials, 20)
      assert.strictEqual(error.result.peakInFlight, 10)
      assert.deepStrictEqual(error.result.failuresByReason, { refused: 0, timeout: 20, unreachable: 0 })
      assert.strictEqual(error.result.cancelled, 0)
      const table = yield* store.snapshot
      for (const a of silent) assert.strictEqual(addressRecord(table, a).failures, 1)
    }))

  it.effect("a peer that never answers is recorded as a timeout failure, even when the dialer does not enforce the timeout", () =>
    Effect.gen(function*() {
      const silent = peer(0)
      // A dialer built without Dialer.make: nothing but the bootstrap enforces the timeout.
      const dialer = Layer.succeed(Dialer.Dialer, Dialer.Dialer.of({ dial: () => Effect.never, supports: () => true }))
      const store = yield* memoryStore(tableOf([silent]))
      const events: Array<Bootstrap.BootstrapEvent> = []
      const error = yield* runFor(
        Effect.flip(seeded(runOn(store, {
          target: 1,
          timeout: 700,
          onEvent: (e) => Effect.sync(() => void events.push(e))
        }))).pipe(Effect.provide(dialer))
      )
      assert.strictEqual(error.result.failures, 1)
      assert.deepStrictEqual(error.result.failuresByReason, { refused: 0, timeout: 1, unreachable: 0 })
      assert.strictEqual(error.result.cancelled, 0)
      const failed = events.find((e) => e._tag === "DialFailed")
      assert.strictEqual(failed?._tag === "DialFailed" && failed.reason, "timeout")
      assert.strictEqual(failed?._tag === "DialFailed" && failed.elapsedMs, 700)
      const r = addressRecord(yield* store.snapshot, silent)
      assert.strictEqual(r.failures, 1)
      assert.strictEqual(r.consecutiveFailures, 1)
    }))

  it.effect("a dial silent for the whole timeout when the target is reached is a timeout failure, not a cancellation", () =>
    Effect.gen(function*() {
      const silent = peer(0)
      const live = peer(1)
      // The silent peer answered before, so (ε = 0) it is dialled first; the live one a stagger later
      // (50 ms) and answers 50 ms after that: at 100 ms, the very moment the silent dial times out.
      const table = PeerTable.recordSuccess(tableOf([silent, live]), silent, 0)
      const dialer = Layer.succeed(
        Dialer.Dialer,
        Dialer.Dialer.of({
          dial: (a) => a.key === silent.key ? Effect.never : Effect.as(Effect.sleep(50), 50),
          supports: () => true
        })
      )
      const store = yield* memoryStore(table)
      const result = yield* runFor(
        seeded(runOn(store, { target: 1, concurrency: 2, epsilon: 0, stagger: 50, timeout: 100 })).pipe(
          Effect.provide(dialer)
        )
      )
      assert.deepStrictEqual(result.connected.map((c) => c.address.key), [live.key])
      assert.deepStrictEqual(result.timeToTargetMs, Option.some(100))
      assert.strictEqual(result.cancelled, 0)
      assert.deepStrictEqual(result.failuresByReason, { refused: 0, timeout: 1, unreachable: 0 })
      assert.strictEqual(addressRecord(yield* store.snapshot, silent).failures, 1)
    }))

  it.effect("a refill counts the netgroups already connected: a flooding /16 gets no second connection", () =>
    Effect.gen(function*() {
      // Four peers of 20.0.0.0/16 that answered before (the best qualities), two of other /16s.
      const flood = [0, 1, 2, 3].map((i) =>
        PeerAddress.unsafeParse(`/ip4/20.0.0.${i + 1}/tcp/4001/p2p/${LoopbackNetwork.peerIdFor(i)}`)
      )
      const others = [peer(10), peer(11)]
      let table = tableOf([...flood, ...others])
      for (const a of flood) table = PeerTable.recordSuccess(PeerTable.recordSuccess(table, a, 0), a, 0)
      const kinds = new Map<string, Kind>([...flood, ...others].map((a) => [a.key, { live: 5 }]))
      const store = yield* memoryStore(table)
      // One candidate per selection round, so the second peer comes from a refill.
      const result = yield* runFor(
        seeded(runOn(store, { target: 2, concurrency: 1, batchSize: 1, epsilon: 0 })).pipe(
          Effect.provide(scripted(kinds, yield* Ref.make(0)))
        )
      )
      assert.strictEqual(result.dials, 2)
      const [first, second] = result.connected.map((c) => c.address)
      assert.strictEqual(first?.netgroup, flood[0]!.netgroup)
      assert.notStrictEqual(second?.netgroup, flood[0]!.netgroup)
    }))

  it.effect("the result's figures are also Effect metrics and an info log line", () =>
    Effect.gen(function*() {
      const all = Array.from({ length: 6 }, (_, i) => peer(i))
      const kinds = new Map<string, Kind>(all.map((a, i) => [a.key, i === 0 ? { dead: 1 } : { live: 7 }]))
      const store = yield* memoryStore(PeerTable.recordSuccess(tableOf(all), all[0]!, 0))
      const successes = Metric.tagged(Bootstrap.metrics.dials, "outcome", "success")
      const refused = Metric.tagged(Metric.tagged(Bootstrap.metrics.dials, "outcome", "failure"), "reason", "refused")
      const runs = Metric.tagged(Bootstrap.metrics.runs, "endpoints", "unused")
      const before = { ok: (yield* Metric.value(successes)).count, refused: (yield* Metric.value(refused)).count, runs: (yield* Metric.value(runs)).count }
      const ttt = (yield* Metric.value(Bootstrap.metrics.timeToTarget)).count
      const logs: Array<string> = []
      const logger = Logger.make(({ annotations, message }) =>
        void logs.push(`${String(message)} ${JSON.stringify(Object.fromEntries(HashMap.toEntries(annotations)))}`)
      )
      const result = yield* runFor(
        seeded(runOn(store, { target: 3, epsilon: 0 })).pipe(
          Effect.provide(Layer.merge(scripted(kinds, yield* Ref.make(0)), Logger.replace(Logger.defaultLogger, logger)))
        )
      )
      assert.strictEqual(result.failures, 1)
      assert.strictEqual((yield* Metric.value(successes)).count - before.ok, result.successes)
      assert.strictEqual((yield* Metric.value(refused)).count - before.refused, 1)
      assert.strictEqual((yield* Metric.value(runs)).count - before.runs, 1)
      assert.strictEqual((yield* Metric.value(Bootstrap.metrics.hitRate)).value, result.hitRate)
      assert.strictEqual((yield* Metric.value(Bootstrap.metrics.connected)).value, 3)
      assert.strictEqual((yield* Metric.value(Bootstrap.metrics.timeToTarget)).count, ttt + 1)
      const done = logs.find((l) => l.includes("bootstrap done"))
      assert.include(done, "bootstrap done: 3/3 peers, 4 dials, 1 failures")
      assert.include(done, `"hitRate":${result.hitRate}`)
      assert.include(done, `"timeToTargetMs":${Option.getOrThrow(result.timeToTargetMs)}`)
      assert.include(done, `"endpointsUsed":false`)
    }))

  it.effect("relay-first when reconnecting: a relay-capable peer is dialled first", () =>
    Effect.gen(function*() {
      const all = Array.from({ length: 3 }, (_, i) => peer(i))
      let table = tableOf(all)
      for (const a of all.slice(0, 2)) table = PeerTable.recordSuccess(table, a, 0)
      table = PeerTable.add(table, all[2]!, { now: 0, source: { _tag: "user" }, capabilities: { relay: true } })
      const kinds = new Map<string, Kind>(all.map((a) => [a.key, { live: 1 }]))
      const store = yield* memoryStore(table)
      const started: Array<string> = []
      yield* runFor(
        seeded(runOn(store, {
          target: 1,
          concurrency: 1,
          reconnect: true,
          onEvent: (e) => Effect.sync(() => void (e._tag === "DialStarted" && started.push(e.address.key)))
        })).pipe(Effect.provide(scripted(kinds, yield* Ref.make(0))))
      )
      assert.deepStrictEqual(started, [all[2]!.key])
    }))
})

describe("Bootstrap fallback: a dead cache never stalls startup (TestClock)", () => {
  /** 1,000 cached peers that never answer (one /16 each). */
  const silentCache = Array.from({ length: 1_000 }, (_, i) =>
    PeerAddress.unsafeParse(`/ip4/${20 + (i % 200)}.${Math.floor(i / 200)}.0.1/tcp/4001/p2p/${LoopbackNetwork.peerIdFor(i)}`)
  )
  /** Fresh peers from the endpoints (none in a cached /16): 4 in one /16 (answering fastest), 6 in others. */
  const freshPeers = Array.from({ length: 10 }, (_, i) =>
    PeerAddress.unsafeParse(
      i < 4
        ? `/ip4/9.9.0.${i + 1}/tcp/4001/p2p/${LoopbackNetwork.peerIdFor(5_000 + i)}`
        : `/ip4/${1 + i}.200.0.1/tcp/4001/p2p/${LoopbackNetwork.peerIdFor(5_000 + i)}`
    )
  )
  const freshKinds = new Map<string, Kind>(freshPeers.map((a, i) => [a.key, { live: i < 4 ? 10 : 20 }]))
  const fallbackRun = (cacheKind: Kind, options: Bootstrap.BootstrapOptions, fetchDelayMs = 0) =>
    Effect.gen(function*() {
      const kinds = new Map<string, Kind>([...silentCache.map((a) => [a.key, cacheKind] as const), ...freshKinds])
      const calls = yield* Ref.make(0)
      const interrupted = yield* Ref.make(0)
      const store = yield* memoryStore(tableOf(silentCache))
      const events: Array<Bootstrap.BootstrapEvent> = []
      const result = yield* runFor(
        seeded(runOn(store, { ...options, onEvent: (e) => Effect.sync(() => void events.push(e)) })).pipe(
          Effect.provide(Layer.merge(scripted(kinds, interrupted), fetcherOf(freshPeers, calls, fetchDelayMs)))
        ),
        600_000
      )
      return { result, events, calls: yield* Ref.get(calls), table: yield* store.snapshot }
    })

  it.effect("1,000 silent cached peers: the endpoints are asked after 2 × target cached failures, while dialing; target in ~6 s, not ~500 s", () =>
    Effect.gen(function*() {
      // Defaults: target 5, concurrency 10, timeout 5 s, stagger 250 ms, fallbackFailures 10, fallbackAfter 10 s.
      const { calls, events, result, table } = yield* fallbackRun("hang", {})
      assert.deepStrictEqual(result.endpointReason, Option.some("cache-failing" as const))
      assert.strictEqual(calls, 1)
      assert.isTrue(result.targetReached)
      assert.isTrue(result.connected.every((c) => c.origin === "endpoints"))
      // The first timeouts land at 5 s and the tenth by 6.25 s (ramp-up: one dial per 250 ms); the
      // endpoints' peers answer 20 ms later. Far below fallbackAfter (10 s) + a dial.
      const ttt = Option.getOrThrow(result.timeToTargetMs)
      assert.isAtLeast(ttt, 5_000)
      assert.isAtMost(ttt, 6_250 + 20)
      assert.isAtLeast(result.failuresByReason.timeout, 10)
      assert.isBelow(result.dials, 40)
      // The fetch started while cached dials were in flight, and before any endpoint peer was dialled.
      const fetching = events.findIndex((e) => e._tag === "EndpointsFetching")
      const firstFresh = events.findIndex((e) => e._tag === "DialStarted" && e.origin === "endpoints")
      assert.isTrue(fetching > 0 && fetching < firstFresh)
      const inFlightThen = events.slice(0, fetching).reduce(
        (n, e) => e._tag === "DialStarted" ? n + 1 : e._tag === "DialFailed" || e._tag === "DialCancelled" ? n - 1 : n,
        0
      )
      assert.strictEqual(inFlightThen, 10)
      // Cancelled cached dials (room for the new peers, then the target) are not failures of their peers.
      const cancelled = events.flatMap((e) => e._tag === "DialCancelled" ? [e.address] : [])
      assert.strictEqual(cancelled.length, result.cancelled)
      assert.isAbove(result.cancelled, 0)
      for (const a of cancelled) assert.strictEqual(addressRecord(table, a).failures, 0)
      assert.strictEqual(result.dials, result.successes + result.failures + result.cancelled)
    }))

  it.effect("silent cached peers and no failure threshold: asked after fallbackAfter (default 2 × timeout), target one dial later", () =>
    Effect.gen(function*() {
      const { calls, result } = yield* fallbackRun("hang", { fallbackFailures: Infinity })
      assert.deepStrictEqual(result.endpointReason, Option.some("cache-slow" as const))
      assert.strictEqual(calls, 1)
      // 10 s without the target, then the new peers are dialled at once (cached dials cancelled to make
      // room), the slowest of the five needed answering in 20 ms.
      assert.deepStrictEqual(result.timeToTargetMs, Option.some(10_000 + 20))
      assert.isTrue(result.connected.every((c) => c.origin === "endpoints"))
    }))

  it.effect("fallbackAfter is an option: 1 s", () =>
    Effect.gen(function*() {
      const { result } = yield* fallbackRun("hang", { fallbackAfter: "1 second" })
      assert.deepStrictEqual(result.endpointReason, Option.some("cache-slow" as const))
      assert.deepStrictEqual(result.timeToTargetMs, Option.some(1_000 + 20))
    }))

  it.effect("the endpoints' peers keep the netgroup diversity: one per /16 while other /16s remain", () =>
    Effect.gen(function*() {
      const { result } = yield* fallbackRun("hang", { fallbackAfter: 1_000, target: 5, epsilon: 0 })
      const netgroups = result.connected.map((c) => c.address.netgroup)
      assert.strictEqual(new Set(netgroups).size, netgroups.length)
      assert.strictEqual(netgroups.filter((g) => g === freshPeers[0]!.netgroup).length, 1)
    }))

  it.effect("1,000 refusing cached peers: asked after 2 × target failures, not after dialling the cache", () =>
    Effect.gen(function*() {
      const { result } = yield* fallbackRun({ dead: 5 }, {})
      assert.deepStrictEqual(result.endpointReason, Option.some("cache-failing" as const))
      assert.isTrue(result.targetReached)
      assert.isAtLeast(result.failures, 10)
      assert.isBelow(result.dials, 40)
      assert.isAtMost(Option.getOrThrow(result.timeToTargetMs), 100)
    }))

  it.effect("a fallback fetch still in flight when the cache reaches the target is cancelled", () =>
    Effect.gen(function*() {
      // The cached peers answer in 300 ms; the fallback is due at 100 ms; the endpoints take 2 s.
      const { calls, result } = yield* fallbackRun({ live: 300 }, { fallbackAfter: 100 }, 2_000)
      assert.strictEqual(calls, 1)
      assert.deepStrictEqual(result.endpointReason, Option.some("cache-slow" as const))
      assert.isFalse(result.endpointsUsed)
      assert.deepStrictEqual(result.timeToTargetMs, Option.some(300))
      assert.strictEqual(result.elapsedMs, 300)
      assert.isTrue(result.connected.every((c) => c.origin === "cache"))
    }))

  it.effect("a working cache does not call the endpoints (50% dead, target reached before 2 × target failures)", () =>
    Effect.gen(function*() {
      const all = Array.from({ length: 40 }, (_, i) => peer(i))
      const kinds = new Map<string, Kind>(all.map((a, i) => [a.key, i % 2 === 0 ? { live: 20 } : { dead: 5 }]))
      const calls = yield* Ref.make(0)
      const store = yield* memoryStore(tableOf(all))
      const result = yield* runFor(
        seeded(runOn(store, { target: 5 })).pipe(
          Effect.provide(Layer.merge(scripted(kinds, yield* Ref.make(0)), fetcherOf(freshPeers, calls)))
        )
      )
      assert.isTrue(result.targetReached)
      assert.isFalse(result.endpointsUsed)
      assert.strictEqual(yield* Ref.get(calls), 0)
    }))
})

describe("Bootstrap (real loopback network)", () => {
  it.scopedLive("a listener that never answers is recorded as a timeout failure; the one that answers as a success", () =>
    Effect.gen(function*() {
      const net = yield* LoopbackNetwork.make([LoopbackNetwork.Behaviour.Accept(), LoopbackNetwork.Behaviour.Hang()])
      const [accept, hang] = net.listeners.map((l) => PeerAddress.unsafeParse(l.multiaddr))
      const store = yield* memoryStore(tableOf([accept!, hang!]))
      const result = yield* seeded(
        // The dial timeout is also how long the loopback connect may take: 1 s, far above a local
        // handshake even on a loaded machine, and the run waits for it only on the silent listener.
        runOn(store, { target: 2, timeout: 1_000, dialPolicy: { allowLoopback: true } })
      ).pipe(Effect.provide(Dialer.layer))
      assert.deepStrictEqual(result.connected.map((c) => c.address.key), [accept!.key])
      assert.isFalse(result.targetReached)
      assert.strictEqual(result.dials, 2)
      assert.deepStrictEqual(result.failuresByReason, { refused: 0, timeout: 1, unreachable: 0 })
      assert.strictEqual(result.cancelled, 0)
      const table = yield* store.snapshot
      assert.strictEqual(addressRecord(table, hang!).failures, 1)
      assert.strictEqual(addressRecord(table, accept!).successes, 1)
    }), 15_000)

  it.scopedLive("cold from the contacts server, then cache-first; dead listeners are learnt", () =>
    Effect.gen(function*() {
      const net = yield* LoopbackNetwork.make(LoopbackNetwork.mix({ accept: 8, refuse: 6, hang: 4 }, 3))
      const server = yield* ContactsServer.make({ "/contacts": ContactsServer.Behaviour.Body({ body: net.contacts }) })
      const store = yield* memoryStore()
      const layer = Layer.mergeAll(
        Dialer.layer,
        ContactsFetcherModule.layerNode({
          endpoints: [server.urlFor("/contacts")],
          filter: { allowLoopback: true },
          requestTimeout: "5 seconds"
        })
      )
      // 1 s dial timeout (so fallbackAfter 2 s): room for a loaded machine; the runs end at the target,
      // so they never wait for it.
      const options = { target: 5, concurrency: 10, timeout: 1_000, dialPolicy: { allowLoopback: true } }
      const cold = yield* seeded(runOn(store, options)).pipe(Effect.provide(layer))
      assert.isTrue(cold.endpointsUsed)
      assert.strictEqual(yield* server.requests("/contacts"), 1)
      assert.isAtLeast(cold.connected.length, 5)
      const live = new Set(net.listeners.filter((l) => l.behaviour._tag === "Accept").map((l) => l.port))
      assert.isTrue(cold.connected.every((c) => live.has(Option.getOrThrow(c.address.port))))

      const warm = yield* seeded(runOn(store, options)).pipe(Effect.provide(layer))
      assert.isFalse(warm.endpointsUsed)
      assert.strictEqual(yield* server.requests("/contacts"), 1)
      assert.isAtLeast(warm.connected.length, 5)
      assert.isTrue(warm.connected.every((c) => c.origin === "cache"))
      const table = yield* store.snapshot
      const stats = PeerTable.stats(table)
      assert.strictEqual(stats.totalSuccesses, cold.successes + warm.successes)
      assert.strictEqual(stats.totalFailures, cold.failures + warm.failures)
    }), 30_000)
})
