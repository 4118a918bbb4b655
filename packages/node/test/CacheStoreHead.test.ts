// A large version 2 file is opened from its head: the best peers at once, the whole table decoded in
// the background. Real temp files; the bootstrap on a real loopback network.
import { describe, expect, it } from "@effect/vitest"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { CacheFile, PeerAddress, PeerTable } from "@bootstrap-cache/core"
import { LoopbackNetwork } from "@bootstrap-cache/testkit"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as NodeFs from "node:fs"
import * as NodePathModule from "node:path"
import * as Bootstrap from "../src/Bootstrap.js"
import * as CacheStore from "../src/CacheStore.js"
import * as Dialer from "../src/Dialer.js"
import { decodeText, decodeTextPausing, sha256Parts } from "../src/internal/cacheStore/diskFile.js"
import { open, T0 } from "./storeHelpers.js"

const Real = Layer.merge(NodeFileSystem.layer, NodePath.layer)
const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "bc-head-" }))

/** Peer i: a public TCP address, one per i. */
const peer = (i: number) => PeerAddress.unsafeParse(`/ip4/${20 + (i % 200)}.${(i >> 8) & 255}.${i & 255}.1/tcp/4001`)

const PEERS = 3_000

/** `PEERS` never-answered peers plus `best`, each answered 30 times (in `rttMs`): the head is led by `best`. */
const tableOf = (best: ReadonlyArray<PeerAddress.PeerAddress>, now: number, rttMs = 1) => {
  let table = PeerTable.empty
  for (let i = 0; i < PEERS; i++) table = PeerTable.add(table, peer(i), { now: now - 60_000, source: { _tag: "user" } })
  for (const a of best) {
    table = PeerTable.add(table, a, { now: now - 60_000, source: { _tag: "user" } })
    for (let k = 0; k < 30; k++) table = PeerTable.recordSuccess(table, a, now - 1_000 + k, { rttMs })
  }
  return table
}

const writeCompact = (file: string, table: PeerTable.PeerTable, lastUpdated: number) => {
  const text = CacheFile.encodeCompact(table, { lastUpdated, hash: CacheStore.sha256 })
  NodeFs.writeFileSync(file, text)
  return text
}

const readTable = (file: string) => Either.getOrThrow(CacheFile.decode(NodeFs.readFileSync(file, "utf8"), { hash: CacheStore.sha256 })).table
const successesOf = (table: PeerTable.PeerTable, address: PeerAddress.PeerAddress) =>
  Option.match(PeerTable.lookupAddress(table, address), { onNone: () => -1, onSome: (x) => x.record.successes })

/** Where the `n`th line (0: the header) of `text` starts. */
const lineStart = (text: string, n: number) => {
  let at = 0
  for (let i = 0; i < n; i++) at = text.indexOf("\n", at) + 1
  return at
}

/** `text` with the digit after `at` changed. */
const tamper = (text: string, at: number) => {
  const i = text.slice(at).search(/[0-9]/) + at
  return text.slice(0, i) + (text[i] === "1" ? "2" : "1") + text.slice(i + 1)
}

/** A compact file of the usual table with a digit of line `line` changed (1: the first peer). */
const tamperedFile = (line: number) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(T0)
    const dir = yield* tempDir
    const file = NodePathModule.join(dir, "peers.json")
    const text = writeCompact(file, tableOf([peer(PEERS)], T0), T0)
    NodeFs.writeFileSync(file, tamper(text, lineStart(text, line)))
    return { dir, file }
  })

describe("CacheStore opened from the file's head", () => {
  it.scoped("the head is there at once, snapshot waits for the whole table, and changes made before it lands survive into it and the flushed file", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const file = NodePathModule.join(yield* tempDir, "peers.json")
      const best = [peer(PEERS), peer(PEERS + 1)]
      const table = tableOf(best, T0)
      writeCompact(file, table, T0)
      const { close, store } = yield* open({ path: file })

      const head = yield* store.head
      expect(head.complete).toBe(false)
      expect(PeerTable.size(head.table)).toBe(CacheFile.DEFAULT_HEAD)
      expect(successesOf(head.table, best[0]!)).toBe(30)
      expect(yield* store.isStale).toBe(false)
      // Changes to peers outside the head, made while the rest decodes.
      yield* store.recordSuccess(peer(7), { rttMs: 5 })
      yield* store.recordSuccess(best[0]!, { rttMs: 5 })
      yield* store.remove(peer(8))
      const fresh = PeerAddress.unsafeParse("/ip4/99.1.2.3/tcp/4001")
      yield* store.add(fresh, { source: { _tag: "user" } })

      const whole = yield* store.snapshot
      expect((yield* store.head).complete).toBe(true)
      expect(PeerTable.size(whole)).toBe(PeerTable.size(table))
      expect(successesOf(whole, peer(7))).toBe(1)
      expect(successesOf(whole, best[0]!)).toBe(31)
      expect(successesOf(whole, peer(8))).toBe(-1)
      expect(successesOf(whole, fresh)).toBe(0)
      expect((yield* store.info).peers).toBe(PeerTable.size(table))

      yield* close
      const written = readTable(file)
      expect(successesOf(written, peer(7))).toBe(1)
      expect(successesOf(written, best[0]!)).toBe(31)
      expect(successesOf(written, peer(8))).toBe(-1)
      expect(successesOf(written, fresh)).toBe(0)
    }).pipe(Effect.provide(Real)), 30_000)

  it.scoped("a store closed before the whole table lands still writes every change in its final flush", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const file = NodePathModule.join(yield* tempDir, "peers.json")
      const table = tableOf([peer(PEERS)], T0)
      writeCompact(file, table, T0)
      const { close, store } = yield* open({ path: file })
      yield* store.recordSuccess(peer(9), { rttMs: 5 })
      expect((yield* store.head).complete).toBe(false)
      yield* close
      const written = readTable(file)
      expect(PeerTable.size(written)).toBe(PeerTable.size(table))
      expect(successesOf(written, peer(9))).toBe(1)
    }).pipe(Effect.provide(Real)), 30_000)

  it.scoped("a corrupt head falls back to the whole decode: the file is moved aside at once, as any corrupt file", () =>
    Effect.gen(function*() {
      const { dir, file } = yield* tamperedFile(2)
      const { store } = yield* open({ path: file })
      const head = yield* store.head
      expect(head.complete).toBe(true)
      expect(PeerTable.size(head.table)).toBe(0)
      expect(NodeFs.readdirSync(dir).filter((f) => f.startsWith("peers.json.corrupt-"))).toHaveLength(1)
    }).pipe(Effect.provide(Real)), 30_000)

  it.scoped("a good head over a corrupt body: the head is dialled from, then the whole decode finds the damage and quarantines the file", () =>
    Effect.gen(function*() {
      const { dir, file } = yield* tamperedFile(PEERS - 5)
      const { store } = yield* open({ path: file })
      const head = yield* store.head
      expect(head.complete).toBe(false)
      expect(PeerTable.size(head.table)).toBe(CacheFile.DEFAULT_HEAD)
      expect(PeerTable.size(yield* store.snapshot)).toBe(0)
      expect(NodeFs.readdirSync(dir).filter((f) => f.startsWith("peers.json.corrupt-"))).toHaveLength(1)
      expect((yield* store.info).warnings.join("\n")).toMatch(/corrupt.*moved aside/s)
    }).pipe(Effect.provide(Real)), 30_000)

  it.live("the whole decode gives the event loop a turn after the checksum and between slices of lines, with the result of a decode at once", () =>
    Effect.gen(function*() {
      const text = CacheFile.encodeCompact(tableOf([peer(PEERS)], T0), { lastUpdated: T0, hash: CacheStore.sha256 })
      // A chain of `setImmediate` callbacks, as the I/O of dials in flight: each runs only when the decode lets the loop turn.
      let turns = 0
      let running = true
      const turn = () => {
        if (!running) return
        turns++
        setImmediate(turn)
      }
      setImmediate(turn)
      const paused = yield* decodeTextPausing(text, CacheStore.sha256)
      running = false
      // PEERS + 1 peer lines: a pause after the checksum, then one after every LINES_PER_STEP lines but the last slice.
      const pauses = 1 + Math.floor(PEERS / CacheFile.LINES_PER_STEP)
      expect(turns).toBeGreaterThanOrEqual(pauses)
      const summary = (d: typeof paused) => Either.map(d, (x) => ({ ...x, table: PeerTable.toRecords(x.table) }))
      expect(summary(paused)).toStrictEqual(summary(decodeText(text, CacheStore.sha256)))
      expect(PeerTable.size(Either.getOrThrow(paused).table)).toBe(PEERS + 1)
    }), 30_000)

  it.prop(
    "the store's SHA-256 of text in parts is its SHA-256 of the joined text (parts cut between code points)",
    [FastCheck.array(FastCheck.string({ unit: FastCheck.constantFrom("a", "0", "\"", "é", "\u{1F600}", "\n") }), { maxLength: 4 })],
    ([parts]) => {
      expect(sha256Parts(parts)).toBe(CacheStore.sha256(parts.join("")))
    },
    { fastCheck: { seed: 31, numRuns: 500 } }
  )

  it.scoped("a version 1 file and a small version 2 file are decoded whole at open, as before", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const dir = yield* tempDir
      const table = tableOf([peer(PEERS)], T0)
      const v1 = NodePathModule.join(dir, "v1.json")
      NodeFs.writeFileSync(v1, CacheFile.encode(table, { lastUpdated: T0, hash: CacheStore.sha256 }))
      const small = NodePathModule.join(dir, "small.json")
      writeCompact(small, PeerTable.add(PeerTable.empty, peer(1), { now: T0, source: { _tag: "user" } }), T0)
      for (const [path, size] of [[v1, PeerTable.size(table)], [small, 1]] as const) {
        const head = yield* Effect.flatMap(open({ path }), ({ store }) => store.head)
        expect(head.complete).toBe(true)
        expect(PeerTable.size(head.table)).toBe(size)
      }
    }).pipe(Effect.provide(Real)), 30_000)
})

describe("Bootstrap on a store still decoding its file (real file, real loopback network)", () => {
  /** A dialer of real TCP connects that dials loopback only: no packet leaves the machine. */
  const loopbackOnly = Layer.effect(
    Dialer.Dialer,
    Effect.map(Dialer.Dialer, (d) => ({ dial: d.dial, supports: (a: PeerAddress.PeerAddress) => a.scope === "loopback" && d.supports(a) }))
  ).pipe(Layer.provide(Dialer.layer))

  it.scopedLive("dials from the head before the whole table is loaded, then reports the whole cache", () =>
    Effect.gen(function*() {
      const net = yield* LoopbackNetwork.make(Array.from({ length: 6 }, () => LoopbackNetwork.Behaviour.Accept()))
      const file = NodePathModule.join(yield* tempDir, "peers.json")
      const now = Date.now()
      const table = tableOf(net.listeners.map((l) => PeerAddress.unsafeParse(l.multiaddr)), now)
      writeCompact(file, table, now)
      const { store } = yield* open({ path: file })
      const events: Array<Bootstrap.BootstrapEvent> = []
      const result = yield* Bootstrap.run(store, {
        target: 3,
        timeout: 5_000,
        dialPolicy: { allowLoopback: true },
        onEvent: (e) => Effect.sync(() => events.push(e))
      }).pipe(Effect.provide(loopbackOnly))
      const tags = events.map((e) => e._tag)
      const loaded = events.find((e) => e._tag === "CacheLoaded")
      expect(loaded?._tag === "CacheLoaded" ? loaded.peers : -1).toBe(CacheFile.DEFAULT_HEAD)
      const firstDial = tags.indexOf("DialStarted")
      expect(firstDial).toBeGreaterThan(0)
      const tableLoaded = tags.indexOf("TableLoaded")
      if (tableLoaded >= 0) expect(firstDial).toBeLessThan(tableLoaded)
      expect(result.connected).toHaveLength(3)
      expect(result.cachedPeers).toBe(PeerTable.size(table))
      expect(result.endpointsUsed).toBe(false)
    }).pipe(Effect.provide(Real)), 30_000)

  it.scopedLive("the table lands while the head's dials are in flight: the run takes it and a warm cache still costs exactly `target` dials", () =>
    Effect.gen(function*() {
      // Listeners that greet 1.5 s after the connect, with that set-up time measured in the cache: the
      // stagger (2 × 1 s) starts no extra dial, and the 3,000-peer decode ends long before the greetings.
      const net = yield* LoopbackNetwork.make(Array.from({ length: 6 }, () => LoopbackNetwork.Behaviour.Handshake({ delayMs: 1_500 })))
      const file = NodePathModule.join(yield* tempDir, "peers.json")
      const now = Date.now()
      const listeners = net.listeners.map((l) => PeerAddress.unsafeParse(l.multiaddr))
      const table = tableOf(listeners, now, 1_000)
      writeCompact(file, table, now)
      const { store } = yield* open({ path: file })
      const tags: Array<string> = []
      const handshakes = Dialer.layerFrom(LoopbackNetwork.handshakeDial, (a) => a.scope === "loopback" && Dialer.supportsTcp(a))
      const result = yield* Bootstrap.run(store, {
        target: 3,
        timeout: 5_000,
        dialPolicy: { allowLoopback: true },
        onEvent: (e) => Effect.sync(() => tags.push(e._tag))
      }).pipe(Effect.provide(handshakes))
      const firstDial = tags.indexOf("DialStarted")
      const tableLoaded = tags.indexOf("TableLoaded")
      expect(firstDial).toBeGreaterThan(0)
      expect(tableLoaded).toBeGreaterThan(firstDial)
      expect(tags.indexOf("TargetReached")).toBeGreaterThan(tableLoaded)
      expect(result.connected).toHaveLength(3)
      expect(result.dials).toBe(3)
      expect(result.cachedPeers).toBe(PeerTable.size(table))
    }).pipe(Effect.provide(Real)), 30_000)
})
