import { CacheFile, PeerAddress, PeerTable } from "@bootstrap-cache/core"
import { Bootstrap, CacheStore, ContactsFetcher, Dialer } from "@bootstrap-cache/node"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import { peerIdFor } from "../src/LoopbackNetwork.js"
import * as TestLayers from "../src/TestLayers.js"

/** Peer i: a public TCP address with a peer id, one netgroup (/16) per peer. */
const peer = (i: number) => PeerAddress.unsafeParse(`/ip4/${20 + i}.${i}.0.1/tcp/4001/p2p/${peerIdFor(i)}`)
const tableOf = (addresses: ReadonlyArray<PeerAddress.PeerAddress>, now = 0) =>
  addresses.reduce((t, a) => PeerTable.add(t, a, { now, source: { _tag: "user" } }), PeerTable.empty)
const recordOf = (table: PeerTable.PeerTable, a: PeerAddress.PeerAddress) =>
  Option.getOrThrow(PeerTable.lookupAddress(table, a)).record

describe("cacheStoreMemory", () => {
  it.effect("times changes with the Clock, shows them in snapshot at once and writes them on flush", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_000)
      const store = yield* CacheStore.CacheStore
      const file = yield* TestLayers.MemoryCacheFile
      assert.isTrue(yield* store.isStale, "no file yet: stale, as the real store")
      yield* store.add(peer(1), { source: { _tag: "user" } })
      yield* TestClock.adjust(500)
      yield* store.recordSuccess(peer(1), { rttMs: 40 })
      const seen = recordOf(yield* store.snapshot, peer(1))
      assert.strictEqual(seen.successes, 1)
      assert.deepStrictEqual(seen.lastSuccess, Option.some(1_500))
      assert.deepStrictEqual(yield* file.contents, Option.none())
      assert.strictEqual((yield* store.info).pendingOps, 2)

      const result = yield* store.flush
      assert.strictEqual(result._tag, "Written")
      if (result._tag === "Written") {
        assert.strictEqual(result.applied, 2)
        assert.strictEqual(result.peers, 1)
        const text = Option.getOrThrow(yield* file.text)
        assert.strictEqual(result.bytes, new TextEncoder().encode(text).length)
        // The text is a real cache file: it decodes, checksum and all, to what was written.
        const decoded = Either.getOrThrow(CacheFile.decode(text, { hash: CacheStore.sha256 }))
        assert.strictEqual(recordOf(decoded.table, peer(1)).successes, 1)
      }
      const written = Option.getOrThrow(yield* file.contents)
      assert.strictEqual(written.lastUpdated, 1_500)
      assert.strictEqual(recordOf(written.table, peer(1)).successes, 1)
      assert.strictEqual(yield* file.writes, 1)
      const info = yield* store.info
      assert.strictEqual(info.pendingOps, 0)
      assert.isFalse(info.stale)
      assert.strictEqual((yield* store.flush)._tag, "Unchanged")
      yield* TestClock.adjust("25 hours")
      assert.isTrue(yield* store.isStale)
    }).pipe(Effect.provide(TestLayers.cacheStoreMemory())))

  it.effect("a flush replays the pending changes onto what another process wrote (counters add); reload shows it", () =>
    Effect.gen(function*() {
      const { file, store } = yield* TestLayers.makeCacheStoreMemory(tableOf([peer(1)]))
      yield* store.recordSuccess(peer(1))
      yield* store.recordSuccess(peer(1))
      // Another process wrote 3 successes of peer 1 and a new peer 2 meanwhile.
      let other = tableOf([peer(1), peer(2)])
      for (let i = 0; i < 3; i++) other = PeerTable.recordSuccess(other, peer(1), 10)
      yield* file.write(other)
      yield* store.reload
      const reloaded = yield* store.snapshot
      assert.strictEqual(recordOf(reloaded, peer(1)).successes, 5, "file (3) + pending (2)")
      assert.isTrue(Option.isSome(PeerTable.lookupAddress(reloaded, peer(2))))
      yield* store.flush
      const written = Option.getOrThrow(yield* file.contents).table
      assert.strictEqual(recordOf(written, peer(1)).successes, 5)
      assert.strictEqual(PeerTable.size(written), 2)
    }))

  it.effect("prunes on flush with the real store's default (3 failures in a row go)", () =>
    Effect.gen(function*() {
      const { file, store } = yield* TestLayers.makeCacheStoreMemory(tableOf([peer(1), peer(2), peer(3), peer(4)]))
      for (const i of [1, 2, 3]) yield* store.recordSuccess(peer(i))
      for (let k = 0; k < 3; k++) yield* store.recordFailure(peer(4))
      const result = yield* store.flush
      assert.strictEqual(result._tag === "Written" && result.pruned, 1)
      const written = Option.getOrThrow(yield* file.contents).table
      assert.isTrue(Option.isNone(PeerTable.lookupAddress(written, peer(4))))
      assert.strictEqual(PeerTable.size(yield* store.snapshot), 3)
    }))

  it.effect("failWrites fails flushes with the given error and keeps the changes; readOnly skips", () =>
    Effect.gen(function*() {
      const { file, store } = yield* TestLayers.makeCacheStoreMemory()
      const error = new CacheStore.CacheWriteError({ path: store.path, operation: "write", code: "ENOSPC", reason: "disk full" })
      yield* file.failWrites(error)
      yield* store.add(peer(1), { source: { _tag: "user" } })
      assert.deepStrictEqual(yield* Effect.flip(store.flush), error)
      assert.strictEqual((yield* store.info).pendingOps, 1)
      assert.strictEqual(yield* file.writes, 0)
      yield* file.failWrites(undefined)
      assert.strictEqual((yield* store.flush)._tag, "Written")
      assert.strictEqual(PeerTable.size(Option.getOrThrow(yield* file.contents).table), 1)

      const readOnly = yield* TestLayers.makeCacheStoreMemory(PeerTable.empty, { readOnly: true })
      yield* readOnly.store.add(peer(1), { source: { _tag: "user" } })
      assert.strictEqual((yield* readOnly.store.flush)._tag, "Skipped")
      assert.isTrue((yield* readOnly.store.info).readOnly)
    }))

  it.effect("imports text through the core CacheImport, reports bad lines, and reads importFile from `files`", () =>
    Effect.gen(function*() {
      const { store } = yield* TestLayers.makeCacheStoreMemory(undefined, {
        files: { "/seeds.txt": `${peer(1).multiaddr}\nnot-a-multiaddr\n` }
      })
      const report = yield* store.importFile("/seeds.txt")
      assert.strictEqual(report.format, "multiaddr-list")
      assert.strictEqual(report.records, 1)
      assert.strictEqual(report.bad.length, 1)
      assert.strictEqual(report.bad[0]!.location, "line 2")
      const table = yield* store.snapshot
      assert.deepStrictEqual(recordOf(table, peer(1)).address.multiaddr, peer(1).multiaddr)
      const missing = yield* Effect.flip(store.importFile("/nope"))
      assert.strictEqual(missing._tag, "CacheImportError")
      assert.strictEqual(missing.source, "/nope")
    }))
})

describe("dialerScripted", () => {
  it.effect("answers each address as scripted on the Effect clock and logs every dial", () =>
    Effect.gen(function*() {
      const dialer = yield* Dialer.Dialer
      const log = yield* TestLayers.DialLog
      const dial = (a: PeerAddress.PeerAddress) => Effect.fork(Effect.either(dialer.dial(a, "1 second")))
      const ok = yield* dial(peer(1))
      const refused = yield* dial(peer(2))
      const unreachable = yield* dial(peer(3))
      const silent = yield* dial(peer(4))
      const other = yield* dial(peer(9))
      yield* TestClock.adjust(999)
      assert.isTrue(Option.isNone(yield* Fiber.poll(silent)), "a silent peer is still being dialled")
      yield* TestClock.adjust(1)
      assert.deepStrictEqual(yield* Fiber.join(ok), Either.right(30))
      assert.strictEqual(Either.flip(yield* Fiber.join(refused)).pipe(Either.getOrThrow)._tag, "DialRefusedError")
      const u = Either.flip(yield* Fiber.join(unreachable)).pipe(Either.getOrThrow)
      assert.isTrue(u._tag === "DialUnreachableError" && u.code === "ENETUNREACH")
      const t = Either.flip(yield* Fiber.join(silent)).pipe(Either.getOrThrow)
      assert.isTrue(t._tag === "DialTimeoutError" && t.timeoutMs === 1_000)
      assert.strictEqual(Either.flip(yield* Fiber.join(other)).pipe(Either.getOrThrow)._tag, "DialRefusedError")
      const dials = yield* log.dials
      assert.deepStrictEqual(dials.map((d) => [d.address.multiaddr, d.at, d.attempt]), [
        [peer(1).multiaddr, 0, 1],
        [peer(2).multiaddr, 0, 1],
        [peer(3).multiaddr, 0, 1],
        [peer(4).multiaddr, 0, 1],
        [peer(9).multiaddr, 0, 1]
      ])
    }).pipe(Effect.provide(TestLayers.dialerScripted({
      // by multiaddr without the peer id: matched by dedupe key
      "/ip4/21.1.0.1/tcp/4001": { ok: 30 },
      [peer(2).multiaddr]: { refuse: 100 },
      [peer(3).key]: { unreachable: true, code: "ENETUNREACH" },
      [peer(4).multiaddr]: { timeout: true }
    }))))

  it.effect("plays a sequence per address (the last outcome repeats) and honours `unsupported`", () =>
    Effect.gen(function*() {
      const dialer = yield* Dialer.Dialer
      const log = yield* TestLayers.DialLog
      const outcomes: Array<string> = []
      for (let i = 0; i < 4; i++) {
        const fiber = yield* Effect.fork(Effect.either(dialer.dial(peer(1), 5_000)))
        yield* TestClock.adjust(100)
        const r = yield* Fiber.join(fiber)
        outcomes.push(Either.isRight(r) ? `ok ${r.right}` : r.left._tag)
      }
      assert.deepStrictEqual(outcomes, ["DialRefusedError", "ok 20", "ok 50", "ok 50"])
      assert.deepStrictEqual((yield* log.dials).map((d) => d.at), [0, 100, 200, 300])
      assert.isFalse(dialer.supports(peer(2)))
      assert.isTrue(dialer.supports(peer(1)))
    }).pipe(Effect.provide(TestLayers.dialerScripted(
      new Map<PeerAddress.PeerAddress, TestLayers.DialOutcome | ReadonlyArray<TestLayers.DialOutcome>>([
        [peer(1), [{ refuse: true }, { ok: 20 }, { ok: 50 }]],
        [peer(2), { unsupported: true }]
      ])
    ))))

  it.effect("a script naming one address twice is a defect at build", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Layer.build(
        TestLayers.dialerScripted({ [peer(1).multiaddr]: { ok: 1 }, "/ip4/21.1.0.1/tcp/4001": { ok: 2 } })
      ).pipe(Effect.scoped))
      assert.isTrue(Exit.isFailure(exit) && Exit.isFailure(exit) && String(exit.cause).includes("name the same address"))
    }))
})

describe("contactsFetcherStatic", () => {
  it.effect("answers per endpoint like the real fetcher (order, de-duplication, reports), after the delay; counts calls", () =>
    Effect.gen(function*() {
      const fetcher = yield* ContactsFetcher.ContactsFetcher
      const log = yield* TestLayers.ContactsLog
      const fiber = yield* Effect.fork(fetcher.fetch)
      yield* TestClock.adjust(1_999)
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust(1)
      const result = yield* Fiber.join(fiber)
      assert.deepStrictEqual(result.addresses.map((a) => [a.address.multiaddr, a.source]), [
        [peer(1).multiaddr, "https://b.test/"], // the one with a peer id wins
        [peer(2).multiaddr, "https://b.test/"]
      ])
      assert.deepStrictEqual(result.endpoints.map((r) => [r.endpoint, r.outcome, r.valid]), [
        ["https://a.test/", "failed", 0],
        ["https://c.test/", "ok", 1],
        ["https://b.test/", "ok", 2]
      ])
      const none = yield* Effect.fork(Effect.flip(fetcher.fetchFrom(["https://a.test/", "https://z.test/"])))
      yield* TestClock.adjust(2_000)
      const unavailable = yield* Fiber.join(none)
      assert.deepStrictEqual(unavailable.failures.map((f) => [f.endpoint, f.reason, f.status]), [
        ["https://a.test/", "status", 503],
        ["https://z.test/", "transport", undefined]
      ])
      assert.strictEqual(yield* log.calls, 2)
      assert.deepStrictEqual(yield* log.requests, [
        ["https://a.test/", "https://c.test/", "https://b.test/"],
        ["https://a.test/", "https://z.test/"]
      ])
    }).pipe(Effect.provide(TestLayers.contactsFetcherStatic({
      "https://a.test/": { fail: "status", status: 503 },
      "https://c.test/": ["/ip4/21.1.0.1/tcp/4001"],
      "https://b.test/": [peer(1), peer(2).multiaddr]
    }, { delay: "2 seconds" }))))

  it.effect("a bare list is one endpoint; a ContactsUnavailable fails every fetch", () =>
    Effect.gen(function*() {
      const list = yield* Effect.provide(ContactsFetcher.ContactsFetcher, TestLayers.contactsFetcherStatic([peer(1)]))
      assert.deepStrictEqual((yield* list.fetch).addresses.map((a) => a.source), ["http://contacts.test/"])
      const down = new ContactsFetcher.ContactsUnavailable({ failures: [] })
      const failing = yield* Effect.provide(ContactsFetcher.ContactsFetcher, TestLayers.contactsFetcherStatic(down))
      assert.strictEqual(yield* Effect.flip(failing.fetch), down)
    }))
})

// ---------------------------------------------------------------------------------------------------
// The README example: a user's node under test, composed from these Layers.
// ---------------------------------------------------------------------------------------------------

describe("composing with Bootstrap.layer under TestClock", () => {
  const good = Array.from({ length: 10 }, (_, i) => peer(i))
  const seeds = [20, 21, 22].map(peer)
  const env = (cache: PeerTable.PeerTable | undefined) =>
    Bootstrap.layer({ target: 3, contacts: true, protection: false }).pipe(Layer.provideMerge(Layer.mergeAll(
      TestLayers.cacheStoreMemory(cache),
      TestLayers.dialerScripted(new Map([...good, ...seeds].map((a) => [a, { ok: 20 }]))),
      TestLayers.contactsFetcherStatic(seeds)
    )))
  const bootstrap = Effect.gen(function*() {
    const fiber = yield* Effect.fork(Effect.flatMap(Bootstrap.Bootstrap, (b) => b.run()))
    yield* TestClock.adjust("1 minute")
    return yield* Fiber.join(fiber)
  }).pipe(Effect.withRandom(Random.make(1)))

  it.effect("a warm cache reaches the target with exactly `target` dials, without the endpoints", () =>
    Effect.gen(function*() {
      const result = yield* bootstrap
      assert.strictEqual(result.connected.length, 3)
      assert.strictEqual((yield* (yield* TestLayers.DialLog).dials).length, 3)
      assert.strictEqual(yield* (yield* TestLayers.ContactsLog).calls, 0)
      // The outcomes were flushed to the (memory) file.
      const written = Option.getOrThrow(yield* (yield* TestLayers.MemoryCacheFile).contents).table
      for (const c of result.connected) assert.strictEqual(recordOf(written, c.address).successes, 1)
    }).pipe(Effect.provide(env(tableOf(good)))))

  it.effect("an empty cache asks the stub endpoints and dials their peers", () =>
    Effect.gen(function*() {
      const result = yield* bootstrap
      assert.isTrue(result.endpointsUsed)
      assert.deepStrictEqual(result.endpointReason, Option.some("empty"))
      assert.strictEqual(yield* (yield* TestLayers.ContactsLog).calls, 1)
      assert.sameMembers(result.connected.map((c) => c.address.multiaddr), seeds.map((a) => a.multiaddr))
      assert.strictEqual(PeerTable.size(yield* (yield* CacheStore.CacheStore).snapshot), 3)
    }).pipe(Effect.provide(env(undefined))))
})
