import { describe, expect, it } from "@effect/vitest"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as NodeFs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import * as FileLock from "../src/FileLock.js"

// The OS is the subject: real directories and files, real time (bounded).
const tempFile = Effect.acquireRelease(
  Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(Os.tmpdir(), "bc-lock-release-"))),
  (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
).pipe(Effect.map((dir) => NodePath.join(dir, "peers.json")))

/** Node's file system, recording the name of every method called on it (not on open files). */
const recording = (calls: Array<string>) =>
  Layer.effect(
    FileSystem.FileSystem,
    Effect.map(FileSystem.FileSystem, (fs) =>
      new Proxy(fs, {
        get: (target, key) => {
          const value = Reflect.get(target, key)
          if (typeof value !== "function") return value
          return (...args: Array<unknown>) => {
            calls.push(String(key))
            return (value as (...a: Array<unknown>) => unknown).apply(target, args)
          }
        }
      }))
  ).pipe(Layer.provide(NodeFileSystem.layer))

/** Sets the lock's heartbeat (its holder file's mtime) `ms` in the past. */
const age = (lockPath: string, ms: number) => {
  const at = (Date.now() - ms) / 1000
  NodeFs.utimesSync(NodePath.join(lockPath, FileLock.HOLDER_FILE), at, at)
}

describe("FileLock release", () => {
  it.scopedLive("an unchallenged lease proves the lock is its own by the holder file it keeps open: no re-read, no claim", () => {
    const calls: Array<string> = []
    return Effect.gen(function*() {
      const file = yield* tempFile
      const lock = yield* FileLock.makeFileSystem
      const scope = yield* Scope.make()
      const lease = yield* lock.acquire(file).pipe(Scope.extend(scope))
      calls.length = 0
      expect(yield* lease.isCompromised).toBe(false)
      yield* Scope.close(scope, Exit.void)
      expect(NodeFs.existsSync(`${file}.lock`)).toBe(false)
      // The check before a commit and the release: stats, links and listings, then one move aside.
      expect(calls.filter((c) => c === "readFileString" || c === "makeDirectory" || c === "writeFileString")).toEqual([])
      expect(calls.filter((c) => c === "rename")).toEqual(["rename"])
      expect(NodeFs.readdirSync(NodePath.dirname(file))).toEqual([])
    }).pipe(Effect.provide(recording(calls)))
  })

  it.scopedLive("a holder that never noticed its lock was taken over (stopped past the stale limit) leaves its successor's lock alone", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const lockPath = `${file}.lock`
      const lock = yield* FileLock.makeFileSystem
      const scopeH = yield* Scope.make()
      const leaseH = yield* lock.acquire(file, { staleMs: 10_000 }).pipe(Scope.extend(scopeH))
      // The holder stops (its heartbeat ages past the stale limit) and a waiter takes the lock over;
      // the holder never checks its lease before releasing.
      age(lockPath, 12_000)
      const scopeW = yield* Scope.make()
      const leaseW = yield* lock.acquire(file, { timeoutMs: 2_000, staleMs: 10_000 }).pipe(Scope.extend(scopeW))
      expect(FileLock.readHolder(lockPath)).toEqual(leaseW.holder)
      expect(leaseW.holder).not.toEqual(leaseH.holder)
      yield* Scope.close(scopeH, Exit.void)
      expect(FileLock.readHolder(lockPath)).toEqual(leaseW.holder)
      expect(yield* leaseW.isCompromised).toBe(false)
      yield* Scope.close(scopeW, Exit.void)
      expect(NodeFs.existsSync(lockPath)).toBe(false)
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("a lease whose heartbeat fell behind releases through the claim, and the lock is gone", () => {
    const calls: Array<string> = []
    return Effect.gen(function*() {
      const file = yield* tempFile
      const lockPath = `${file}.lock`
      const lock = yield* FileLock.makeFileSystem
      const scope = yield* Scope.make()
      yield* lock.acquire(file, { staleMs: 10_000 }).pipe(Scope.extend(scope))
      // Older than 3/4 of staleMs: a waiter may judge it stale soon, so the release takes the claim.
      age(lockPath, 8_000)
      calls.length = 0
      yield* Scope.close(scope, Exit.void)
      expect(NodeFs.existsSync(lockPath)).toBe(false)
      expect(calls).toContain("makeDirectory")
    }).pipe(Effect.provide(recording(calls)))
  })
})
