import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as NodeFs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import * as FileLock from "../src/FileLock.js"
import { startWorker } from "./workers.js"

// The OS is the subject: real directories, real processes, real time (bounded).
const tempFile = Effect.acquireRelease(
  Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(Os.tmpdir(), "bc-lock-"))),
  (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
).pipe(Effect.map((dir) => NodePath.join(dir, "peers.json")))

const acquire = (file: string, options?: FileLock.AcquireOptions) =>
  Effect.flatMap(FileLock.FileLock, (lock) => lock.acquire(file, options))

describe("FileLock", () => {
  it.scopedLive("is exclusive: a second holder times out with the first holder's pid and host, then gets it once released", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const scope = yield* Scope.make()
      const lease = yield* acquire(file).pipe(Scope.extend(scope))
      expect(lease.path).toBe(`${file}.lock`)
      expect(FileLock.readHolder(lease.path)).toEqual(lease.holder)
      const timeout = yield* Effect.flip(Effect.scoped(acquire(file, { timeoutMs: 150 })))
      expect(timeout._tag).toBe("LockTimeoutError")
      if (timeout._tag === "LockTimeoutError") {
        expect(timeout.holder).toEqual({ pid: process.pid, host: Os.hostname(), acquiredAt: lease.holder.acquiredAt })
        expect(timeout.message).toContain(`${file}.lock`)
        expect(timeout.message).toContain(`pid ${process.pid} on ${Os.hostname()}`)
      }
      yield* Scope.close(scope, Exit.void)
      expect(NodeFs.existsSync(`${file}.lock`)).toBe(false)
      yield* Effect.scoped(acquire(file, { timeoutMs: 150 }))
    }).pipe(Effect.provide(FileLock.layer)))

  it.scopedLive("recovers at once a lock whose holder was killed (its pid is gone)", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const worker = yield* startWorker(["hold-lock", file])
      yield* worker.waitFor(/^locked$/)
      const held = FileLock.readHolder(`${file}.lock`)
      expect(held?.pid).toBe(worker.child.pid)
      worker.child.kill("SIGKILL")
      expect(yield* worker.exit()).toBe("SIGKILL")
      expect(NodeFs.existsSync(`${file}.lock`)).toBe(true) // no exit hook ran
      // Well under the 10 s stale limit: recovered by the dead pid, not by age.
      const lease = yield* acquire(file, { timeoutMs: 3_000 })
      expect(lease.holder.pid).toBe(process.pid)
    }).pipe(Effect.provide(FileLock.layer)), 60_000)

  it.scopedLive("a process killed at any instant of taking or dropping the lock leaves no lock or one naming its pid", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const lockPath = `${file}.lock`
      for (let round = 0; round < 3; round++) {
        const worker = yield* startWorker(["lock-loop", file])
        yield* worker.waitFor(/^looping$/)
        worker.child.kill("SIGKILL")
        expect(yield* worker.exit()).toBe("SIGKILL")
        // The lock directory only ever appears with its holder file (built aside, renamed in place).
        if (NodeFs.existsSync(lockPath)) expect(FileLock.readHolder(lockPath)?.pid).toBe(worker.child.pid)
        // So it is recovered by the dead pid: a wait far below the 10 s stale limit is enough.
        yield* Effect.scoped(acquire(file, { timeoutMs: 3_000, staleMs: 10_000 }))
      }
      // Released; at most the aside directories of a kill between the two steps (removed once stale).
      expect(NodeFs.readdirSync(NodePath.dirname(file)).filter((f) => !/^peers\.json\.lock\.\d+\.\d+\.(new|old)$/.test(f))).toEqual([])
    }).pipe(Effect.provide(FileLock.layer)), 90_000)

  it.scopedLive("removes the aside directories a killed process left, once they are older than staleMs", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const dir = NodePath.dirname(file)
      const old = (Date.now() - 60_000) / 1000
      for (const name of ["peers.json.lock.999999.1.new", "peers.json.lock.999999.2.old"]) {
        NodeFs.mkdirSync(NodePath.join(dir, name))
        NodeFs.utimesSync(NodePath.join(dir, name), old, old)
      }
      NodeFs.mkdirSync(NodePath.join(dir, "peers.json.lock.999999.3.new")) // fresh: maybe in use
      NodeFs.writeFileSync(NodePath.join(dir, "peers.json.lock.notes"), "not ours")
      yield* Effect.scoped(acquire(file, { timeoutMs: 100, staleMs: 10_000 }))
      expect(NodeFs.readdirSync(dir).sort()).toEqual(["peers.json.lock.999999.3.new", "peers.json.lock.notes"])
    }).pipe(Effect.provide(FileLock.layer)))

  it.scopedLive("recovers a lock of another host once its heartbeat is older than staleMs, and not before", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const lockPath = `${file}.lock`
      NodeFs.mkdirSync(lockPath)
      NodeFs.writeFileSync(NodePath.join(lockPath, FileLock.HOLDER_FILE), JSON.stringify({ pid: 1, host: "elsewhere.example", acquiredAt: 0 }))
      const fresh = yield* Effect.flip(Effect.scoped(acquire(file, { timeoutMs: 100, staleMs: 60_000 })))
      expect(fresh._tag === "LockTimeoutError" && fresh.holder?.host).toBe("elsewhere.example")
      const old = (Date.now() - 120_000) / 1000
      NodeFs.utimesSync(lockPath, old, old)
      const lease = yield* acquire(file, { timeoutMs: 100, staleMs: 60_000 })
      expect(FileLock.readHolder(lockPath)).toEqual(lease.holder)
    }).pipe(Effect.provide(FileLock.layer)))

  it.scopedLive("fails with a typed LockError naming the path when the directory does not exist", () =>
    Effect.gen(function*() {
      const file = NodePath.join(yield* tempFile, "missing", "peers.json")
      const error = yield* Effect.flip(acquire(file, { timeoutMs: 100 }))
      expect(error).toMatchObject({ _tag: "LockError", path: `${file}.lock`, code: "ENOENT" })
    }).pipe(Effect.provide(FileLock.layer)))
})
