import { describe, expect, it } from "@effect/vitest"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { CacheFile, PeerAddress, PeerTable } from "@bootstrap-cache/core"
import { FaultyFileSystem } from "@bootstrap-cache/testkit"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as NodeFs from "node:fs"
import * as NodePathModule from "node:path"
import * as CacheStore from "../src/CacheStore.js"
import { open, T0, writeCache } from "./storeHelpers.js"
import * as FileLock from "../src/FileLock.js"

const ED = "12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx"
const A = PeerAddress.unsafeParse(`/ip4/1.2.3.4/tcp/4001/p2p/${ED}`)
const B = PeerAddress.unsafeParse("/ip4/5.6.7.8/udp/4001/quic-v1")
const C = PeerAddress.unsafeParse("/dns4/boot.example.com/tcp/443/wss")
const fixtures = new URL("../../../fixtures/", import.meta.url)

const Real = Layer.merge(NodeFileSystem.layer, NodePath.layer)
const Faulty = Layer.merge(FaultyFileSystem.layerNode, NodePath.layer)

const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "bc-store-" }))
const start = Effect.zipRight(TestClock.setTime(T0), tempDir)

/** A version 2 text made to say `version` (and carry `extra` header fields), checksum recomputed as its writer would. */
const asVersion = (text: string, version: number, extra = ""): string => {
  const zeros = "0".repeat(64)
  const zeroed = text.replace(/^\{"version":\d+,/, `{"version":${version},${extra}`).replace(/"checksum":"[0-9a-f]{64}"/, `"checksum":"${zeros}"`)
  return zeroed.replace(`"checksum":"${zeros}"`, `"checksum":"${CacheStore.sha256(zeroed)}"`)
}

const decodeFile = (file: string) => CacheFile.decode(NodeFs.readFileSync(file, "utf8"), { hash: CacheStore.sha256 })
const readTable = (file: string) => Either.getOrThrow(decodeFile(file)).table
const successesOf = (table: PeerTable.PeerTable, address: PeerAddress.PeerAddress) =>
  Option.match(PeerTable.lookupAddress(table, address), { onNone: () => 0, onSome: (x) => x.record.successes })
const failuresOf = (table: PeerTable.PeerTable, address: PeerAddress.PeerAddress) =>
  Option.match(PeerTable.lookupAddress(table, address), { onNone: () => 0, onSome: (x) => x.record.failures })

/** Waits until `n` fibers sleep on the TestClock, so that an adjustment reaches them. */
const awaitSleepers = (n = 1) =>
  Effect.repeat(Effect.zipLeft(TestClock.sleeps(), Effect.yieldNow()), { until: (sleeps) => sleeps.length >= n })

describe("CacheStore", () => {
  it.scoped("a read-only store on a missing path creates nothing: empty view, flushes Skipped, no directory made", () =>
    Effect.gen(function*() {
      const dir = yield* start
      const file = NodePathModule.join(dir, "missing", "sub", "peers.json")
      const { close, store } = yield* open({ path: file, readOnly: true })
      expect(PeerTable.size(yield* store.snapshot)).toBe(0)
      yield* store.recordSuccess(A)
      expect((yield* store.flush)._tag).toBe("Skipped")
      yield* close
      expect(NodeFs.readdirSync(dir)).toEqual([])
    }).pipe(Effect.provide(Real)))

  it.scoped("the view is lazy but exact: outcomes recorded at TestClock times, bounded pending ops, the view keeps the dropped ones", () =>
    Effect.gen(function*() {
      const dir = yield* start
      const file = NodePathModule.join(dir, "peers.json")
      writeCache(file, PeerTable.add(PeerTable.empty, A, { now: T0, source: { _tag: "user" } }))
      const { store } = yield* open({ path: file, readOnly: true, maxPendingOps: 3 })
      const before = yield* store.snapshot
      for (let i = 0; i < 4; i++) {
        yield* TestClock.adjust(Duration.millis(10))
        yield* store.recordSuccess(A, { rttMs: 20 })
      }
      yield* store.recordFailure(B)
      const view = yield* store.snapshot
      expect(successesOf(view, A)).toBe(4)
      expect(failuresOf(view, B)).toBe(1)
      expect(Option.map(PeerTable.lookupAddress(view, A), (x) => Option.getOrNull(x.record.lastSuccess))).toStrictEqual(Option.some(T0 + 40))
      // An earlier snapshot is a persistent value: later changes never reach it.
      expect(successesOf(before, A)).toBe(0)
      expect(yield* store.snapshot).toBe(view)
      const info = yield* store.info
      expect(info.pendingOps).toBe(3)
      expect(info.droppedOps).toBe(2)
      expect(info.warnings.some((w) => w.includes("oldest are dropped"))).toBe(true)
    }).pipe(Effect.provide(Real)))

  it.scoped("creates a missing directory, writes a decodable file on flush, and keeps a .bak of the previous one", () =>
    Effect.gen(function*() {
      const dir = yield* start
      const file = NodePathModule.join(dir, "deep", "er", "peers.json")
      const { store } = yield* open({ path: file })
      expect(NodeFs.statSync(NodePathModule.dirname(file)).isDirectory()).toBe(true)
      yield* store.add(C, { source: { _tag: "user" }, capabilities: { bootstrap: true } })
      yield* store.recordSuccess(A, { rttMs: 30, bytes: 100 })
      yield* store.recordFailure(B)
      const first = yield* store.flush
      expect(first._tag).toBe("Written")
      const table = readTable(file)
      expect([successesOf(table, A), failuresOf(table, B), PeerTable.size(table)]).toEqual([1, 1, 3])
      expect(NodeFs.existsSync(`${file}.bak`)).toBe(false)

      yield* store.remove(C)
      yield* TestClock.adjust(Duration.seconds(1))
      yield* store.flush
      expect(PeerTable.size(readTable(file))).toBe(2)
      expect(PeerTable.size(readTable(`${file}.bak`))).toBe(3)
      const info = yield* store.info
      expect(info).toMatchObject({ path: file, origin: "option", version: Option.some(CacheFile.VERSION), lastUpdated: Option.some(T0 + 1000), pendingOps: 0, readOnly: false })
      expect((yield* store.flush)._tag).toBe("Unchanged")
    }).pipe(Effect.provide(Real)))

  it.scoped("a rewrite keeps the permission bits an administrator gave the cache file", () =>
    Effect.gen(function*() {
      const dir = yield* start
      const file = NodePathModule.join(dir, "peers.json")
      writeCache(file, PeerTable.add(PeerTable.empty, A, { now: T0, source: { _tag: "user" } }))
      NodeFs.chmodSync(file, 0o660)
      const { store } = yield* open({ path: file })
      yield* store.recordSuccess(A)
      expect((yield* store.flush)._tag).toBe("Written")
      expect(successesOf(readTable(file), A)).toBe(1)
      expect(NodeFs.statSync(file).mode & 0o777).toBe(0o660)
    }).pipe(Effect.provide(Real)))

  it.scoped("merges its own changes onto what another store wrote meanwhile: no outcome is lost", () =>
    Effect.gen(function*() {
      const file = NodePathModule.join(yield* start, "peers.json")
      const one = yield* open({ path: file })
      const two = yield* open({ path: file })
      for (let i = 0; i < 3; i++) yield* one.store.recordSuccess(A)
      for (let i = 0; i < 4; i++) yield* two.store.recordSuccess(A)
      yield* two.store.recordFailure(B)
      yield* one.store.remove(B) // removes nothing on disk yet: B is only known to `two`
      yield* one.store.flush
      yield* two.store.flush
      yield* one.store.recordSuccess(A)
      yield* one.store.flush
      const table = readTable(file)
      expect(successesOf(table, A)).toBe(8)
      expect(failuresOf(table, B)).toBe(1)
      expect(successesOf(yield* one.store.snapshot, A)).toBe(8)
      yield* two.store.reload
      expect(successesOf(yield* two.store.snapshot, A)).toBe(8)
    }).pipe(Effect.provide(Real)))

  it.scoped("re-reads a file another writer changed even when its inode, size and mtime are the same (header check)", () =>
    Effect.gen(function*() {
      const file = NodePathModule.join(yield* start, "peers.json")
      const { store } = yield* open({ path: file })
      yield* store.recordSuccess(A)
      yield* store.flush
      // Another writer changes a counter in place (same inode), same length, and the mtime is set back
      // to the same millisecond: what a reused inode within one coarse clock tick looks like.
      const st = NodeFs.statSync(file)
      const mine = NodeFs.readFileSync(file, "utf8")
      const theirs = CacheFile.encodeCompact(PeerTable.recordSuccess(readTable(file), A, T0), { lastUpdated: T0, hash: CacheStore.sha256 })
      expect(theirs.length).toBe(mine.length)
      expect(theirs).not.toBe(mine)
      NodeFs.writeFileSync(file, theirs)
      const t = (st.mtime.getTime() + 0.25) / 1000 // Stats round mtimeMs to the millisecond
      NodeFs.utimesSync(file, t, t)
      const now = NodeFs.statSync(file)
      expect([now.ino, now.size, now.mtime.getTime()]).toEqual([st.ino, st.size, st.mtime.getTime()])
      yield* store.recordSuccess(A)
      yield* store.flush
      expect(successesOf(readTable(file), A)).toBe(3) // 1 mine + 1 theirs + 1 mine: none lost
      // Unchanged since: the next flush takes what it knows (no full read), and stays exact.
      yield* store.recordSuccess(A)
      yield* store.flush
      expect(successesOf(readTable(file), A)).toBe(4)
    }).pipe(Effect.provide(Real)))

  it.scoped("a newer-version file written by another process after open is never overwritten: byte-identical after flush and close", () =>
    Effect.gen(function*() {
      const dir = yield* start
      const file = NodePathModule.join(dir, "peers.json")
      writeCache(file, PeerTable.recordSuccess(PeerTable.empty, A, T0))
      const { close, store } = yield* open({ path: file })
      yield* store.recordSuccess(A)
      const compact = CacheFile.encodeCompact(readTable(file), { lastUpdated: T0, hash: CacheStore.sha256 })
      const text = asVersion(compact, 3, "\"compression\":\"none\",")
      NodeFs.writeFileSync(`${file}.v3`, text)
      NodeFs.renameSync(`${file}.v3`, file)
      const before = NodeFs.readdirSync(dir).sort()
      expect((yield* store.flush)._tag).toBe("Skipped")
      yield* store.recordFailure(B)
      expect((yield* store.flush)._tag).toBe("Skipped")
      expect((yield* store.info).readOnly).toBe(true)
      yield* close
      expect(NodeFs.readFileSync(file, "utf8")).toBe(text)
      expect(NodeFs.readdirSync(dir).sort()).toEqual(before) // no .bak, no temp, nothing moved aside
    }).pipe(Effect.provide(Real)))

  it.scoped("a file of the wrong shape is moved aside; with an unusable .bak the cache starts empty and both are kept", () =>
    Effect.gen(function*() {
      const dir = yield* start
      const file = NodePathModule.join(dir, "peers.json")
      const wrong = JSON.stringify({ version: 1, lastUpdated: T0, checksum: "0".repeat(64), peers: "none" })
      NodeFs.writeFileSync(file, wrong)
      NodeFs.writeFileSync(`${file}.bak`, "{ \"version\": 1, \"lastUp")
      const { store } = yield* open({ path: file })
      expect(PeerTable.size(yield* store.snapshot)).toBe(0)
      const aside = NodeFs.readdirSync(dir).filter((f) => f.startsWith("peers.json.corrupt-"))
      expect(aside.map((f) => NodeFs.readFileSync(NodePathModule.join(dir, f), "utf8"))).toEqual([wrong])
      expect(NodeFs.readFileSync(`${file}.bak`, "utf8")).toBe("{ \"version\": 1, \"lastUp")
      const warnings = (yield* store.info).warnings.join("\n")
      expect(warnings).toMatch(/NotACacheFile.*peers/)
      expect(warnings).toMatch(/not usable either: starting empty/)
      yield* store.recordSuccess(A)
      expect((yield* store.flush)._tag).toBe("Written")
      expect(successesOf(readTable(file), A)).toBe(1)
    }).pipe(Effect.provide(Real)))

  it.scopedLive("a lock held too long fails the flush typed (ELOCKED), naming the lock path and its holder; nothing is lost", () =>
    Effect.gen(function*() {
      const file = NodePathModule.join(yield* tempDir, "peers.json")
      const store = yield* CacheStore.make({ path: file, flushInterval: Duration.infinity, lock: { timeoutMs: 100 } })
      const scope = yield* Scope.make()
      const lease = yield* Effect.flatMap(FileLock.FileLock, (l) => l.acquire(file)).pipe(Effect.provide(FileLock.layer), Scope.extend(scope))
      yield* store.recordSuccess(A)
      const error = yield* Effect.flip(store.flush)
      expect(error).toMatchObject({ _tag: "CacheWriteError", path: file, operation: "lock", code: "ELOCKED" })
      expect(error.message).toContain(`${file}.lock`)
      expect(error.message).toContain(`pid ${lease.holder.pid} on ${lease.holder.host}`)
      yield* Scope.close(scope, Exit.void)
      yield* store.flush
      expect(successesOf(readTable(file), A)).toBe(1)
    }).pipe(Effect.provide(Real)))

  it.scoped("moves a corrupt file aside, never deleting it, and restores the previous good copy", () =>
    Effect.gen(function*() {
      const dir = yield* start
      const file = NodePathModule.join(dir, "peers.json")
      const good = PeerTable.recordSuccess(PeerTable.empty, A, T0 - 10)
      writeCache(`${file}.bak`, good)
      const garbage = "{\n  \"version\": 1,\n  \"lastUpdated\": 17500"
      NodeFs.writeFileSync(file, garbage)
      const { store } = yield* open({ path: file })
      expect(successesOf(yield* store.snapshot, A)).toBe(1)
      expect(successesOf(readTable(file), A)).toBe(1) // the good copy is back in place
      const aside = NodeFs.readdirSync(dir).filter((f) => f.startsWith("peers.json.corrupt-"))
      expect(aside).toHaveLength(1)
      expect(NodeFs.readFileSync(NodePathModule.join(dir, aside[0]!), "utf8")).toBe(garbage)
      expect((yield* store.info).warnings.join("\n")).toMatch(/corrupt \(MalformedJson at line 3.*moved aside/s)
      yield* store.recordSuccess(A)
      yield* store.flush
      expect(successesOf(readTable(file), A)).toBe(2)
    }).pipe(Effect.provide(Real)))

  it.scoped("starts empty on a file with a wrong checksum and no .bak, and a second corruption gets its own name", () =>
    Effect.gen(function*() {
      const dir = yield* start
      const file = NodePathModule.join(dir, "peers.json")
      const damaged = CacheFile.encode(PeerTable.recordSuccess(PeerTable.empty, A, T0), { lastUpdated: T0, hash: CacheStore.sha256 })
        .replace("\"successes\":1", "\"successes\":1000")
      NodeFs.writeFileSync(file, damaged)
      const first = yield* open({ path: file })
      expect(PeerTable.size(yield* first.store.snapshot)).toBe(0)
      NodeFs.writeFileSync(file, "")
      const second = yield* open({ path: file })
      expect(PeerTable.size(yield* second.store.snapshot)).toBe(0)
      const aside = NodeFs.readdirSync(dir).filter((f) => f.includes(".corrupt-")).sort()
      expect(aside).toHaveLength(2)
      expect(aside.map((f) => NodeFs.readFileSync(NodePathModule.join(dir, f), "utf8")).sort()).toEqual(["", damaged].sort())
    }).pipe(Effect.provide(Real)))

  it.scoped("reads a newer-version file as far as understood and never overwrites it", () =>
    Effect.gen(function*() {
      const file = NodePathModule.join(yield* start, "peers.json")
      const compact = CacheFile.encodeCompact(PeerTable.recordSuccess(PeerTable.empty, A, T0), { lastUpdated: T0, hash: CacheStore.sha256 })
      const text = asVersion(compact, 3, "\"shards\":[\"future\"],")
      NodeFs.writeFileSync(file, text)
      const { close, store } = yield* open({ path: file })
      expect(successesOf(yield* store.snapshot, A)).toBe(1)
      yield* store.recordSuccess(B)
      const result = yield* store.flush
      expect(result._tag).toBe("Skipped")
      const info = yield* store.info
      expect(info.readOnly).toBe(true)
      expect(Option.getOrThrow(info.readOnlyReason)).toMatch(/version 3/)
      expect(info.warnings.join("\n")).toMatch(/newer than this version/)
      yield* close
      expect(NodeFs.readFileSync(file, "utf8")).toBe(text)
    }).pipe(Effect.provide(Real)))

  it.scoped("keeps unreadable records in a .rejected copy before rewriting the file", () =>
    Effect.gen(function*() {
      const dir = yield* start
      const file = NodePathModule.join(dir, "peers.json")
      const doc = JSON.parse(CacheFile.encode(PeerTable.add(PeerTable.add(PeerTable.empty, A, { now: T0, source: { _tag: "user" } }), B, { now: T0, source: { _tag: "user" } }), { lastUpdated: T0, hash: CacheStore.sha256 }))
      doc.peers[0].addresses[0].multiaddr = "/ip4/1.2.3.4/tcp/70000"
      doc.checksum = CacheStore.sha256(JSON.stringify(doc.peers))
      const text = JSON.stringify(doc)
      NodeFs.writeFileSync(file, text)
      const { store } = yield* open({ path: file })
      expect(PeerTable.size(yield* store.snapshot)).toBe(1)
      yield* store.recordSuccess(C)
      yield* store.flush
      const kept = NodeFs.readdirSync(dir).filter((f) => f.startsWith("peers.json.rejected-"))
      expect(kept).toHaveLength(1)
      expect(NodeFs.readFileSync(NodePathModule.join(dir, kept[0]!), "utf8")).toBe(text)
    }).pipe(Effect.provide(Real)))

  it.scoped("syncs the temp file before renaming it over the target, then syncs the directory", () =>
    Effect.gen(function*() {
      const dir = yield* start
      const file = NodePathModule.join(dir, "peers.json")
      const faulty = yield* FaultyFileSystem.FaultyFileSystem
      const { store } = yield* open({ path: file })
      yield* store.recordSuccess(A)
      yield* faulty.resetCalls
      yield* store.flush
      const calls = (yield* faulty.calls).map((c) => `${c.method} ${c.path.replaceAll(dir, "")}`)
      const tmp = calls.find((c) => c.startsWith("open /.peers.json."))!.slice(5).replace(" (wx)", "")
      const order = [`open ${tmp} (wx)`, `write ${tmp}`, `sync ${tmp}`, `rename ${tmp} -> /peers.json`, "open  (r)", "sync "]
      const positions = order.map((c) => calls.indexOf(c))
      expect(positions.every((p) => p >= 0), calls.join("\n")).toBe(true)
      expect([...positions].sort((a, b) => a - b)).toEqual(positions)
    }).pipe(Effect.provide(Faulty)))

  for (const [errno, fault] of [
    ["EROFS", (dir: string) => FaultyFileSystem.readOnly(dir)],
    ["EACCES", (dir: string) => FaultyFileSystem.readOnly(dir, "EACCES")],
    ["ENOSPC", (dir: string) => FaultyFileSystem.diskFull(dir, 100)],
    ["EIO", (dir: string) => ({ methods: ["rename"], errno: "EIO", path: dir } satisfies FaultyFileSystem.Fault)]
  ] as const) {
    it.scoped(`${errno}: reads work, the flush fails typed, the old file stays intact, nothing is lost`, () =>
      Effect.gen(function*() {
        const dir = yield* start
        const file = NodePathModule.join(dir, "peers.json")
        writeCache(file, PeerTable.recordSuccess(PeerTable.empty, A, T0))
        const before = NodeFs.readFileSync(file, "utf8")
        const faulty = yield* FaultyFileSystem.FaultyFileSystem
        yield* faulty.inject(fault(dir))
        const { close, store } = yield* open({ path: file })
        expect(successesOf(yield* store.snapshot, A)).toBe(1)
        yield* store.recordSuccess(A)
        const failed = yield* Effect.flip(store.flush)
        expect(failed).toMatchObject({ _tag: "CacheWriteError", path: file, code: errno })
        expect(failed.message).toContain(file)
        expect(NodeFs.readFileSync(file, "utf8")).toBe(before)
        expect(NodeFs.readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([])
        expect(successesOf(yield* store.snapshot, A)).toBe(2)
        yield* Effect.flip(store.flush) // fails again: no second warning
        yield* close // the final flush fails too: not thrown, and no second warning
        expect(NodeFs.readFileSync(file, "utf8")).toBe(before)
        const warnings = (yield* store.info).warnings.filter((w) => w.includes("cannot write the peer cache"))
        expect(warnings, warnings.join("\n")).toHaveLength(1)
        expect(warnings[0]).toContain(errno)

        yield* faulty.clear
        const again = yield* open({ path: file })
        yield* again.store.recordSuccess(A)
        yield* again.store.flush
        expect(successesOf(readTable(file), A)).toBe(2)
      }).pipe(Effect.provide(Faulty)))
  }

  it.scoped("one warning per kind of failure, whichever flush hits it: explicit, background, final", () =>
    Effect.gen(function*() {
      const dir = yield* start
      const file = NodePathModule.join(dir, "peers.json")
      const faulty = yield* FaultyFileSystem.FaultyFileSystem
      yield* faulty.inject(FaultyFileSystem.readOnly(dir))
      const { close, store } = yield* open({ path: file, flushInterval: Duration.minutes(5) })
      yield* store.recordSuccess(A)
      expect((yield* Effect.flip(store.flush)).code).toBe("EROFS")
      for (let i = 0; i < 2; i++) {
        yield* awaitSleepers()
        yield* TestClock.adjust(Duration.minutes(5)) // a background flush, failing
      }
      yield* awaitSleepers() // the second background flush is over
      yield* close // and the final one
      const all = (yield* store.info).warnings
      expect(all, all.join("\n")).toHaveLength(1)
      expect(all[0]).toMatch(/cannot write the peer cache .*EROFS/)
      // A success resets it: the next failure of that kind is worth a warning again.
      yield* faulty.clear
      const again = yield* open({ path: file })
      yield* again.store.recordSuccess(A)
      yield* again.store.flush
      yield* faulty.inject(FaultyFileSystem.readOnly(dir))
      yield* again.store.recordSuccess(A)
      yield* Effect.flip(again.store.flush)
      yield* faulty.clear
      yield* again.store.flush
      yield* faulty.inject(FaultyFileSystem.readOnly(dir))
      yield* again.store.recordSuccess(A)
      yield* Effect.flip(again.store.flush)
      expect((yield* again.store.info).warnings.filter((w) => w.includes("EROFS"))).toHaveLength(2)
    }).pipe(Effect.provide(Faulty)))

  it.scoped("a write failure is retried by the next flush with every pending change", () =>
    Effect.gen(function*() {
      const dir = yield* start
      const file = NodePathModule.join(dir, "peers.json")
      const faulty = yield* FaultyFileSystem.FaultyFileSystem
      const { store } = yield* open({ path: file })
      yield* store.recordSuccess(A)
      yield* faulty.inject({ ...FaultyFileSystem.diskFull(dir, 10), times: 1 })
      expect((yield* Effect.flip(store.flush)).code).toBe("ENOSPC")
      yield* store.recordSuccess(A)
      yield* store.flush
      expect(successesOf(readTable(file), A)).toBe(2)
      expect((yield* store.info).pendingOps).toBe(0)
    }).pipe(Effect.provide(Faulty)))

  it.scoped("a file without write permission bits is left alone", () =>
    Effect.gen(function*() {
      const file = NodePathModule.join(yield* start, "peers.json")
      writeCache(file, PeerTable.recordSuccess(PeerTable.empty, A, T0))
      NodeFs.chmodSync(file, 0o444)
      const before = NodeFs.readFileSync(file, "utf8")
      const { store } = yield* open({ path: file })
      yield* store.recordSuccess(B)
      expect((yield* Effect.flip(store.flush)).code).toBe("EREADONLY")
      expect(NodeFs.readFileSync(file, "utf8")).toBe(before)
    }).pipe(Effect.provide(Real)))

  it.scoped("fails to open only when the path cannot be a file", () =>
    Effect.gen(function*() {
      const dir = yield* start
      NodeFs.writeFileSync(NodePathModule.join(dir, "plain"), "x")
      const error = yield* Effect.flip(CacheStore.make({ path: NodePathModule.join(dir, "plain", "peers.json") }))
      expect(error._tag).toBe("CacheOpenError")
      expect(error.message).toContain("plain")
      // A directory as the path means peers.json inside it.
      const store = yield* CacheStore.make({ path: dir, flushInterval: Duration.infinity })
      expect(store.path).toBe(NodePathModule.join(dir, "peers.json"))
    }).pipe(Effect.provide(Real)))

  it.scoped("reports itself stale once lastUpdated is older than staleAfter", () =>
    Effect.gen(function*() {
      const file = NodePathModule.join(yield* start, "peers.json")
      const { store } = yield* open({ path: file, staleAfter: Duration.hours(1) })
      expect(yield* store.isStale).toBe(true) // no file yet
      yield* store.recordSuccess(A)
      yield* store.flush
      expect(yield* store.isStale).toBe(false)
      yield* TestClock.adjust(Duration.minutes(59))
      expect(yield* store.isStale).toBe(false)
      yield* TestClock.adjust(Duration.minutes(2))
      expect(yield* store.isStale).toBe(true)
    }).pipe(Effect.provide(Real)))

  it.scoped("applies the prune option to the merged table on flush", () =>
    Effect.gen(function*() {
      const file = NodePathModule.join(yield* start, "peers.json")
      const { store } = yield* open({ path: file, prune: (t) => PeerTable.remove(t, B) })
      yield* store.recordSuccess(A)
      yield* store.recordSuccess(B)
      const result = yield* store.flush
      expect(result).toMatchObject({ _tag: "Written", applied: 2, pruned: 1, peers: 1 })
      expect(PeerTable.addressCount(readTable(file))).toBe(1)
    }).pipe(Effect.provide(Real)))

  it.scoped("imports a foreign cache and a real bootstrap list, reporting bad entries, and writes them on flush", () =>
    Effect.gen(function*() {
      const dir = yield* start
      const file = NodePathModule.join(dir, "peers.json")
      const foreign = NodePathModule.join(dir, "bootstrap_cache.json")
      NodeFs.writeFileSync(foreign, JSON.stringify({
        peers: { [ED]: [{ addr: "/ip4/1.2.3.4/tcp/4001", success_count: 4, failure_count: 1 }, { addr: "/ip4/nope" }] },
        last_updated: { secs_since_epoch: 1_700_000_000, nanos_since_epoch: 0 }
      }))
      const { store } = yield* open({ path: file })
      const report = yield* store.importFile(foreign)
      expect(report).toMatchObject({ source: foreign, format: "autonomi-v0", records: 1, entries: 1 })
      expect(report.bad).toHaveLength(1)
      const quoted = new URL("safe-network-contacts-2023-quoted.txt", fixtures).pathname
      const bad = yield* store.importFile(quoted)
      expect([bad.records, bad.bad.length]).toEqual([0, 7])
      const kubo = yield* store.importFile(new URL("kubo-bootstrap.txt", fixtures).pathname)
      expect(kubo.entries).toBe(7)
      yield* store.flush
      const table = readTable(file)
      expect(successesOf(table, A)).toBe(4)
      expect(PeerTable.addressCount(table)).toBe(8)
      const missing = yield* Effect.flip(store.importFile(NodePathModule.join(dir, "nope.json")))
      expect(missing._tag).toBe("CacheImportError")
      expect(missing.message).toContain("nope.json")
      const unknown = yield* Effect.flip(store.importText("{\"hello\": 1}", "https://x.example/peers"))
      expect(unknown.message).toMatch(/https:\/\/x\.example\/peers.*UnknownFormat/)
    }).pipe(Effect.provide(Real)))

  describe("background and final flush", () => {
    /** A FileLock that reports every release, so a test can wait for a flush to finish. */
    const observedLock = (released: Queue.Queue<string>) =>
      Layer.effect(
        FileLock.FileLock,
        Effect.map(FileLock.make, (lock) =>
          FileLock.FileLock.of({
            acquire: (file, options) =>
              Effect.tap(lock.acquire(file, options), () => Effect.addFinalizer(() => Queue.offer(released, file)))
          }))
      )

    it.scoped("flushes every flushInterval in the background, and once more when the scope closes", () =>
      Effect.gen(function*() {
        const file = NodePathModule.join(yield* start, "peers.json")
        const released = yield* Queue.unbounded<string>()
        const scope = yield* Scope.make()
        const store = yield* CacheStore.make({ path: file, flushInterval: Duration.minutes(5) }).pipe(
          Effect.provide(observedLock(released)),
          Scope.extend(scope)
        )
        yield* store.recordSuccess(A)
        yield* awaitSleepers()
        yield* TestClock.adjust(Duration.minutes(4))
        expect(NodeFs.existsSync(file)).toBe(false)
        yield* TestClock.adjust(Duration.minutes(1))
        yield* Queue.take(released)
        expect(successesOf(readTable(file), A)).toBe(1)

        yield* store.recordFailure(B)
        yield* Scope.close(scope, Exit.void)
        expect(failuresOf(readTable(file), B)).toBe(1)
        expect(successesOf(readTable(file), A)).toBe(1)
      }).pipe(Effect.provide(Real)))

    it.scoped("a final flush that hangs does not block shutdown past shutdownTimeout", () =>
      Effect.gen(function*() {
        const file = NodePathModule.join(yield* start, "peers.json")
        const hanging = Layer.succeed(FileLock.FileLock, FileLock.FileLock.of({ acquire: () => Effect.never }))
        const scope = yield* Scope.make()
        const store = yield* CacheStore.make({ path: file, flushInterval: Duration.infinity, shutdownTimeout: Duration.seconds(5) }).pipe(
          Effect.provide(hanging),
          Scope.extend(scope)
        )
        yield* store.recordSuccess(A)
        const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
        yield* awaitSleepers()
        yield* TestClock.adjust(Duration.seconds(4))
        expect(Option.isNone(yield* Fiber.poll(closing))).toBe(true)
        yield* TestClock.adjust(Duration.seconds(1))
        yield* Fiber.join(closing)
        expect((yield* store.info).warnings.join("\n")).toMatch(/final flush did not finish within 5s/)
        expect(NodeFs.existsSync(file)).toBe(false)
      }).pipe(Effect.provide(Real)))
  })
})
