import { describe, expect, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { CacheFile, PeerAddress, PeerRecord, PeerTable } from "@bootstrap-cache/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as NodeFs from "node:fs"
import * as Os from "node:os"
import * as NodePathModule from "node:path"
import * as CacheStore from "../src/CacheStore.js"
import * as FileLock from "../src/FileLock.js"
import { startWorker } from "./workers.js"

// Real child processes on a real temp directory; real time, bounded. Kept to 4 × 25 for 2 cores.
const ADDRESS = "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx"
const Real = Layer.merge(NodeFileSystem.layer, NodePath.layer)
/** The stale limit of the lock in the recovery step (the lock's minimum). */
const STALE_MS = 2_000

const tempDir = Effect.acquireRelease(
  Effect.sync(() => NodeFs.mkdtempSync(NodePathModule.join(Os.tmpdir(), "bc-mp-"))),
  (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
)

const decode = (file: string) => CacheFile.decode(NodeFs.readFileSync(file, "utf8"), { hash: CacheStore.sha256 })
const countsOf = (table: PeerTable.PeerTable) =>
  Option.match(PeerTable.lookupAddress(table, PeerAddress.unsafeParse(ADDRESS)), {
    onNone: () => ({ successes: 0, failures: 0 }),
    onSome: ({ record }) => ({ successes: record.successes, failures: record.failures })
  })

describe("CacheStore across processes", () => {
  it.scopedLive("4 processes × 25 outcomes on one file leave exactly 100 outcomes, and the file always decodes", () =>
    Effect.gen(function*() {
      const file = NodePathModule.join(yield* tempDir, "peers.json")
      const workers = yield* Effect.forEach([1, 2, 3, 4], () => startWorker(["record", file, ADDRESS, "25"]))
      // While they run, every read of the file decodes (atomic renames: never a partial file). The
      // watcher records what it saw rather than asserting: an `expect` thrown inside a forked fiber
      // would only end that fiber, unnoticed once a first read had counted.
      let reads = 0
      const broken: Array<string> = []
      const watcher = yield* Effect.fork(Effect.forever(Effect.gen(function*() {
        if (NodeFs.existsSync(file)) {
          const decoded = decode(file)
          if (Either.isLeft(decoded)) broken.push(decoded.left.message)
          reads++
        }
        yield* Effect.sleep(Duration.millis(5))
      })))
      const codes = yield* Effect.forEach(workers, (w) => w.exit(), { concurrency: "unbounded" })
      const watched = yield* Fiber.interrupt(watcher)
      expect(Exit.isInterrupted(watched), "the watcher died").toBe(true)
      expect(broken).toEqual([])
      expect(codes, workers.map((w) => w.output()).join("\n")).toEqual([0, 0, 0, 0])
      const decoded = Either.getOrThrow(decode(file))
      expect(countsOf(decoded.table)).toEqual({ successes: 100, failures: 0 })
      expect(reads).toBeGreaterThan(0)
      expect(NodeFs.readdirSync(NodePathModule.dirname(file)).filter((f) => /\.(tmp|lock|new|old)$/.test(f))).toEqual([])
    }), 90_000)

  it.scopedLive("a process killed with SIGKILL in the middle of repeated flushes never leaves a broken file", () =>
    Effect.gen(function*() {
      const file = NodePathModule.join(yield* tempDir, "peers.json")
      for (const flushes of [2, 5]) {
        const worker = yield* startWorker(["flush-loop", file, ADDRESS])
        yield* worker.waitFor(new RegExp(`^flushed ${flushes}$`))
        worker.child.kill("SIGKILL")
        expect(yield* worker.exit()).toBe("SIGKILL")
        // A lock the killed process left always names it (so it is recovered by its dead pid).
        const lockPath = FileLock.lockPathOf(file)
        if (NodeFs.existsSync(lockPath)) expect(FileLock.readHolder(lockPath)?.pid).toBe(worker.child.pid)
        const decoded = decode(file)
        expect(Either.isRight(decoded), Either.isLeft(decoded) ? decoded.left.message : "").toBe(true)
        const { failures, successes } = countsOf(Either.getOrThrow(decoded).table)
        expect(successes).toBe(failures)
        expect(successes).toBeGreaterThanOrEqual(flushes)
      }
      // A store opened afterwards flushes fine: a lock the killed process may have held is recovered,
      // stray temp files are removed. The wait is bounded by the lock's own stale limit, not a guess:
      // a lock naming the dead pid is recovered at the first attempt, and any lock whatsoever (even
      // one without a holder) is stale STALE_MS after its last heartbeat, plus up to 1 s for file
      // systems with whole-second mtimes. Three times that leaves a loaded machine its margin.
      const before = countsOf(Either.getOrThrow(decode(file)).table)
      yield* Effect.scoped(Effect.gen(function*() {
        const lock = { staleMs: STALE_MS, timeoutMs: 3 * (STALE_MS + 1_000) }
        const store = yield* CacheStore.make({ path: file, flushInterval: Duration.infinity, prune: (t) => t, lock })
        yield* store.recordSuccess(PeerAddress.unsafeParse(ADDRESS))
        expect((yield* store.flush)._tag).toBe("Written")
      })).pipe(Effect.provide(Real))
      expect(countsOf(Either.getOrThrow(decode(file)).table).successes).toBe(before.successes + 1)
      expect(NodeFs.readdirSync(NodePathModule.dirname(file)).filter((f) => f.endsWith(".tmp"))).toEqual([])
    }), 90_000)

  it.scopedLive("protocols one process learns survive another's concurrent flushes and merge: the relay flag with them", () =>
    Effect.gen(function*() {
      const file = NodePathModule.join(yield* tempDir, "peers.json")
      const recorder = yield* startWorker(["record", file, ADDRESS, "25"])
      const learner = yield* startWorker(["protocols", file, ADDRESS, "/ipfs/id/1.0.0", PeerRecord.RELAY_HOP_PROTOCOL])
      const codes = yield* Effect.forEach([recorder, learner], (w) => w.exit(), { concurrency: "unbounded" })
      expect(codes, [recorder, learner].map((w) => w.output()).join("\n")).toEqual([0, 0])
      // A third process, opened afterwards, flushes unrelated changes: the protocols stay.
      yield* startWorker(["record", file, "/ip4/127.0.0.2/tcp/4001", "1"]).pipe(Effect.flatMap((w) => w.exit()))
      const table = Either.getOrThrow(decode(file)).table
      const found = PeerTable.lookupAddress(table, PeerAddress.unsafeParse(ADDRESS))
      expect(Option.isSome(found)).toBe(true)
      const peer = Option.getOrThrow(found).peer
      expect([...peer.protocols].sort()).toEqual(["/ipfs/id/1.0.0", PeerRecord.RELAY_HOP_PROTOCOL].sort())
      expect(PeerRecord.isRelay(peer)).toBe(true)
      expect(peer.capabilities.relay).toBe(true)
      expect(countsOf(table).successes).toBe(26)
    }), 90_000)
})
