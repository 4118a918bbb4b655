import { describe, expect, it } from "@effect/vitest"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { CacheFile, PeerAddress, PeerTable } from "@bootstrap-cache/core"
import { FaultyFileSystem } from "@bootstrap-cache/testkit"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { execFileSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePathModule from "node:path"
import * as CacheStore from "../src/CacheStore.js"
import { open, T0, writeCache } from "./storeHelpers.js"
import * as FileLock from "../src/FileLock.js"

// Real files and real symbolic links in a temp directory: an attacker who can create names in the
// cache directory plants links at the names a writer could use, pointing at a victim file outside.
const A = PeerAddress.unsafeParse("/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx")
const B = PeerAddress.unsafeParse("/ip4/5.6.7.8/udp/4001/quic-v1")

const Real = Layer.merge(NodeFileSystem.layer, NodePath.layer)
const Faulty = Layer.merge(FaultyFileSystem.layerNode, NodePath.layer)

const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "bc-safety-" }))
/** A cache directory and, beside it, a victim directory holding a file no write may reach. */
const start = Effect.gen(function*() {
  yield* TestClock.setTime(T0)
  const root = yield* tempDir
  const dir = NodePathModule.join(root, "cache")
  const outside = NodePathModule.join(root, "outside")
  NodeFs.mkdirSync(dir)
  NodeFs.mkdirSync(outside)
  const victim = NodePathModule.join(outside, "victim")
  NodeFs.writeFileSync(victim, "precious\n")
  return { dir, file: NodePathModule.join(dir, "peers.json"), victim }
})

const tableOf = (...addresses: Array<PeerAddress.PeerAddress>) =>
  addresses.reduce((t, a) => PeerTable.add(t, a, { now: T0, source: { _tag: "connection" } }), PeerTable.empty)
const decodes = (file: string) => Either.isRight(CacheFile.decode(NodeFs.readFileSync(file, "utf8"), { hash: CacheStore.sha256 }))
const links = (dir: string) => NodeFs.readdirSync(dir).filter((e) => NodeFs.lstatSync(NodePathModule.join(dir, e)).isSymbolicLink())

/** Counts the lock acquisitions of the real lock. */
const countingLock = Effect.gen(function*() {
  const real = yield* FileLock.make
  let acquisitions = 0
  const lock = FileLock.FileLock.of({
    acquire: (file, options) =>
      Effect.suspend(() => {
        acquisitions++
        return real.acquire(file, options)
      })
  })
  return { layer: Layer.succeed(FileLock.FileLock, lock), count: () => acquisitions }
})

describe("CacheStore file safety", () => {
  it.scoped("links planted at every name an older writer used are never written through, and are removed as strays", () =>
    Effect.gen(function*() {
      const { dir, file, victim } = yield* start
      writeCache(file, tableOf(A))
      const planted = [
        `.peers.json.${process.pid}.1.tmp`,
        `.peers.json.${process.pid}.2.tmp`,
        `.peers.json.${process.pid}.1.tmp.bak`,
        `.peers.json.${process.pid}.2.tmp.bak`,
        ".peers.json.0123456789abcdef.new.tmp"
      ]
      for (const name of planted) NodeFs.symlinkSync(victim, NodePathModule.join(dir, name))
      NodeFs.writeFileSync(NodePathModule.join(dir, `.peers.json.${process.pid}.3.tmp.bak`), "an old full copy")
      const { close, store } = yield* open({ path: file })
      for (const address of [A, B]) {
        yield* store.recordSuccess(address)
        expect((yield* store.flush)._tag).toBe("Written")
      }
      yield* close
      expect(NodeFs.readFileSync(victim, "utf8")).toBe("precious\n")
      expect(links(dir)).toEqual([])
      expect(NodeFs.readdirSync(dir).sort()).toEqual(["peers.json", "peers.json.bak"])
      expect(decodes(file) && decodes(`${file}.bak`)).toBe(true)
    }).pipe(Effect.provide(Real)))

  it.scoped("a .bak that is already a second name of the file (a writer killed before its rename) leaves no temp name behind", () =>
    Effect.gen(function*() {
      const { dir, file } = yield* start
      writeCache(file, tableOf(A))
      // What a writer killed between keeping its .bak and renaming its new file leaves: two names of one file.
      NodeFs.linkSync(file, `${file}.bak`)
      const before = NodeFs.readFileSync(file, "utf8")
      const { close, store } = yield* open({ path: file })
      yield* store.recordSuccess(B)
      expect((yield* store.flush)._tag).toBe("Written")
      expect(NodeFs.readdirSync(dir).sort()).toEqual(["peers.json", "peers.json.bak"])
      expect(NodeFs.readFileSync(`${file}.bak`, "utf8")).toBe(before)
      yield* store.recordSuccess(A)
      expect((yield* store.flush)._tag).toBe("Written")
      yield* close
      expect(NodeFs.readdirSync(dir).sort()).toEqual(["peers.json", "peers.json.bak"])
      expect(decodes(file) && decodes(`${file}.bak`)).toBe(true)
    }).pipe(Effect.provide(Real)))

  it.scoped("a .bak made where hard links are refused is a copy in a fresh file: a link planted at .bak is replaced, not followed", () =>
    Effect.gen(function*() {
      const { dir, file, victim } = yield* start
      writeCache(file, tableOf(A))
      const before = NodeFs.readFileSync(file, "utf8")
      NodeFs.symlinkSync(victim, `${file}.bak`)
      const faulty = yield* FaultyFileSystem.FaultyFileSystem
      yield* faulty.inject({ methods: ["link"], errno: "EPERM" })
      const { close, store } = yield* open({ path: file })
      yield* store.recordSuccess(B)
      expect((yield* store.flush)._tag).toBe("Written")
      yield* close
      expect(NodeFs.readFileSync(victim, "utf8")).toBe("precious\n")
      expect(NodeFs.lstatSync(`${file}.bak`).isFile()).toBe(true)
      expect(NodeFs.readFileSync(`${file}.bak`, "utf8")).toBe(before)
      expect(links(dir)).toEqual([])
    }).pipe(Effect.provide(Faulty)))

  it.scoped("a corrupt file is restored from .bak through a fresh temp file; a link at the quarantine name is skipped, not followed", () =>
    Effect.gen(function*() {
      const { dir, file, victim } = yield* start
      writeCache(`${file}.bak`, tableOf(A))
      NodeFs.writeFileSync(file, "{ not json")
      const stamp = new Date(T0).toISOString().replace(/[:.]/g, "-")
      NodeFs.symlinkSync(victim, `${file}.corrupt-${stamp}`)
      const { close, store } = yield* open({ path: file })
      expect(PeerTable.size(yield* store.snapshot)).toBe(1)
      yield* close
      expect(NodeFs.readFileSync(victim, "utf8")).toBe("precious\n")
      expect(NodeFs.readFileSync(`${file}.corrupt-${stamp}-1`, "utf8")).toBe("{ not json")
      expect(NodeFs.readFileSync(file, "utf8")).toBe(NodeFs.readFileSync(`${file}.bak`, "utf8"))
      expect(links(dir)).toEqual([`peers.json.corrupt-${stamp}`])
    }).pipe(Effect.provide(Real)))

  it.scoped("the .rejected copy is created exclusively: a link planted at its predictable name is skipped", () =>
    Effect.gen(function*() {
      const { file, victim } = yield* start
      const good = JSON.parse(CacheFile.encode(tableOf(A), { lastUpdated: T0, hash: CacheStore.sha256 }))
      const bad = { ...good.peers[0], peerId: "not-a-peer-id" }
      const peers = [...good.peers, bad]
      const text = JSON.stringify({ ...good, checksum: CacheStore.sha256(JSON.stringify(peers)), peers }, null, 2)
      NodeFs.writeFileSync(file, text)
      const stamp = new Date(T0).toISOString().replace(/[:.]/g, "-")
      NodeFs.symlinkSync(victim, `${file}.rejected-${stamp}`)
      const { close, store } = yield* open({ path: file })
      yield* store.recordSuccess(B)
      yield* store.flush
      yield* close
      expect(NodeFs.readFileSync(victim, "utf8")).toBe("precious\n")
      const info = yield* store.info
      const kept = NodeFs.readdirSync(NodePathModule.dirname(file)).filter((e) => e.includes(".rejected-") && !NodeFs.lstatSync(NodePathModule.join(NodePathModule.dirname(file), e)).isSymbolicLink())
      expect(kept, info.warnings.join("\n")).toEqual([`peers.json.rejected-${stamp}-1`])
    }).pipe(Effect.provide(Real)))

  it.scoped("a cache file of mode 4755 is rewritten 0755: setuid, setgid and sticky never carry", () =>
    Effect.gen(function*() {
      const { file } = yield* start
      writeCache(file, tableOf(A))
      NodeFs.chmodSync(file, 0o7755)
      const { close, store } = yield* open({ path: file })
      yield* store.recordSuccess(B)
      expect((yield* store.flush)._tag).toBe("Written")
      yield* close
      expect(NodeFs.statSync(file).mode & 0o7777).toBe(0o755)
    }).pipe(Effect.provide(Real)))

  it.scoped("a cache path that is a symbolic link (here to a 4755 file outside) is read, never written: flushes are Skipped", () =>
    Effect.gen(function*() {
      const { file } = yield* start
      const target = NodePathModule.join(NodePathModule.dirname(NodePathModule.dirname(file)), "outside", "real.json")
      writeCache(target, tableOf(A))
      NodeFs.chmodSync(target, 0o4755)
      const before = NodeFs.readFileSync(target, "utf8")
      NodeFs.symlinkSync(target, file)
      const { close, store } = yield* open({ path: file })
      expect(PeerTable.size(yield* store.snapshot)).toBe(1)
      yield* store.recordSuccess(B)
      const result = yield* store.flush
      expect(result._tag).toBe("Skipped")
      const info = yield* store.info
      expect(Option.getOrElse(info.readOnlyReason, () => "")).toMatch(/symbolic link/)
      yield* close
      expect(NodeFs.lstatSync(file).isSymbolicLink()).toBe(true)
      expect(NodeFs.readFileSync(target, "utf8")).toBe(before)
      expect(NodeFs.statSync(target).mode & 0o7777).toBe(0o4755)
    }).pipe(Effect.provide(Real)))

  it.scoped("a store that has nothing to write takes no lock: not on flush, not on close", () =>
    Effect.gen(function*() {
      const { file } = yield* start
      writeCache(file, tableOf(A))
      const counting = yield* countingLock
      const { close, store } = yield* open({ path: file }).pipe(Effect.provide(counting.layer))
      expect((yield* store.flush)._tag).toBe("Unchanged")
      yield* close
      expect(counting.count()).toBe(0)
      // The same store with one change does take it, so the count can tell.
      const second = yield* open({ path: file }).pipe(Effect.provide(counting.layer))
      yield* second.store.recordSuccess(A)
      yield* second.close
      expect(counting.count()).toBe(1)
    }).pipe(Effect.provide(Real)))

  it.scoped("on a read-only file system a store that only reads gives no warning at all", () =>
    Effect.gen(function*() {
      const { dir, file } = yield* start
      writeCache(file, tableOf(A))
      const faulty = yield* FaultyFileSystem.FaultyFileSystem
      yield* faulty.inject(FaultyFileSystem.readOnly(dir))
      const { close, store } = yield* open({ path: file })
      const info = yield* store.info
      expect(info.peers).toBe(1)
      expect((yield* store.flush)._tag).toBe("Unchanged")
      yield* close
      expect((yield* store.info).warnings).toEqual([])
    }).pipe(Effect.provide(Faulty)))

  it.scoped("a link planted at the cache path after open is never written through: the next flush is Skipped", () =>
    Effect.gen(function*() {
      const { file, victim } = yield* start
      writeCache(file, tableOf(A))
      const { close, store } = yield* open({ path: file })
      NodeFs.rmSync(file)
      NodeFs.symlinkSync(victim, file)
      yield* store.recordSuccess(B)
      expect((yield* store.flush)._tag).toBe("Skipped")
      yield* close
      expect(NodeFs.lstatSync(file).isSymbolicLink()).toBe(true)
      expect(NodeFs.readFileSync(victim, "utf8")).toBe("precious\n")
    }).pipe(Effect.provide(Real)))

  it.scoped("FIFOs never block: one planted at .bak during recovery is unusable, one given to importFile fails at once", () =>
    Effect.gen(function*() {
      const { dir, file } = yield* start
      NodeFs.writeFileSync(file, "{ corrupt")
      execFileSync("mkfifo", [`${file}.bak`])
      const fifo = NodePathModule.join(dir, "import.fifo")
      execFileSync("mkfifo", [fifo])
      const { close, store } = yield* open({ path: file })
      expect(PeerTable.size(yield* store.snapshot)).toBe(0)
      expect((yield* store.info).warnings.join("\n")).toMatch(/not usable/)
      const error = yield* Effect.flip(store.importFile(fifo))
      expect(error).toMatchObject({ _tag: "CacheImportError", source: fifo })
      expect(error.reason).toMatch(/not a regular file/)
      yield* close
    }).pipe(Effect.provide(Real)))

  it.scoped("importFile reads at most the cap: a file of maxImportBytes imports, one byte more fails naming the file, the cache untouched", () =>
    Effect.gen(function*() {
      const { dir, file } = yield* start
      const line = "/ip4/8.8.8.8/tcp/4001/p2p/12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc8\n"
      const fits = NodePathModule.join(dir, "fits.txt")
      const over = NodePathModule.join(dir, "over.txt")
      NodeFs.writeFileSync(fits, line)
      NodeFs.writeFileSync(over, `${line} `)
      const { close, store } = yield* open({ path: file, maxImportBytes: Buffer.byteLength(line) })
      expect((yield* store.importFile(fits)).records).toBe(1)
      const error = yield* Effect.flip(store.importFile(over))
      expect(error).toMatchObject({ _tag: "CacheImportError", source: over })
      expect(error.reason).toBe(`${Buffer.byteLength(line) + 1} bytes, more than the import cap of ${Buffer.byteLength(line)}`)
      expect(PeerTable.size(yield* store.snapshot)).toBe(1)
      expect(NodeFs.readFileSync(over, "utf8")).toBe(`${line} `)
      yield* close
    }).pipe(Effect.provide(Real)))
})
