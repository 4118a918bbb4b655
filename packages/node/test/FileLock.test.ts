import { describe, expect, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import { spawnSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { FaultyFileSystem } from "@bootstrap-cache/testkit"
import * as FileLock from "../src/FileLock.js"
import { startWorker } from "./workers.js"

// The OS is the subject: real directories, real processes, real time (bounded).
const tempFile = Effect.acquireRelease(
  Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(Os.tmpdir(), "bc-lock-"))),
  (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
).pipe(Effect.map((dir) => NodePath.join(dir, "peers.json")))

const acquire = (file: string, options?: FileLock.AcquireOptions) =>
  Effect.flatMap(FileLock.FileLock, (lock) => lock.acquire(file, options))

/** The pid of a process that has exited (spawned and reaped): a holder that no longer exists. */
const deadPid = () => spawnSync(process.execPath, ["-e", ""]).pid

const holderFileOf = (lockPath: string) => NodePath.join(lockPath, FileLock.HOLDER_FILE)

/** Writes a lock directory by hand, as another process would have left it. */
const plantLock = (lockPath: string, holder: object, heartbeatAgeMs = 0) => {
  NodeFs.mkdirSync(lockPath)
  NodeFs.writeFileSync(holderFileOf(lockPath), JSON.stringify(holder))
  age(lockPath, heartbeatAgeMs)
}

/** Sets the lock's heartbeat (its holder file's mtime) `ms` in the past: a holder stopped that long. */
const age = (lockPath: string, ms: number) => {
  const at = (Date.now() - ms) / 1000
  NodeFs.utimesSync(holderFileOf(lockPath), at, at)
}

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
      // The heartbeat is the holder file's mtime (claims made inside the directory change the directory's).
      const old = (Date.now() - 120_000) / 1000
      NodeFs.utimesSync(NodePath.join(lockPath, FileLock.HOLDER_FILE), old, old)
      const lease = yield* acquire(file, { timeoutMs: 100, staleMs: 60_000 })
      expect(FileLock.readHolder(lockPath)).toEqual(lease.holder)
    }).pipe(Effect.provide(FileLock.layer)))

  it.scopedLive("fails with a typed LockError naming the path when the directory does not exist", () =>
    Effect.gen(function*() {
      const file = NodePath.join(yield* tempFile, "missing", "peers.json")
      const error = yield* Effect.flip(acquire(file, { timeoutMs: 100 }))
      expect(error).toMatchObject({ _tag: "LockError", path: `${file}.lock`, code: "ENOENT" })
    }).pipe(Effect.provide(FileLock.layer)))

  it.scopedLive("two waiters that judge the same lock stale or dead at once: the late one never takes the fresh lock of the first", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const lockPath = `${file}.lock`
      const stale = { pid: 1, host: "elsewhere.example", acquiredAt: 0, token: "old-1" }
      const dead = { pid: deadPid(), host: Os.hostname(), acquiredAt: Date.now(), token: "old-2" }
      for (const [left, ageMs] of [[stale, 60_000], [dead, 0]] as const) {
        plantLock(lockPath, left, ageMs)
        // B judges the lock (stale, or its holder dead), then is paused before it starts the take-over.
        const judged = yield* Deferred.make<void>()
        const go = yield* Deferred.make<void>()
        let paused = false
        const b = yield* FileLock.makeWith({
          beforeRecover: () =>
            paused ? Effect.void : Effect.zipRight(Effect.sync(() => (paused = true)), Deferred.succeed(judged, undefined)).pipe(
              Effect.zipRight(Deferred.await(go))
            )
        }).pipe(Effect.provide(NodeFileSystem.layer))
        // B's budget (1 s) runs from its first attempt, through the pause: it must outlast A's take-over
        // (a few system calls) with room for B to look at the lock again once resumed, which is how it
        // comes to name A as the holder. (With 300 ms a slow take-over left B no second look: it timed
        // out naming the holder it had judged.)
        const bTry = yield* Effect.fork(
          Effect.either(Effect.scoped(Effect.map(b.acquire(file, { timeoutMs: 1_000, staleMs: 2_000 }), (lease) => lease.holder)))
        )
        yield* Deferred.await(judged)
        // Meanwhile A judges the same lock, recovers it and takes the lock.
        const a = yield* FileLock.make
        const scopeA = yield* Scope.make()
        const leaseA = yield* a.acquire(file, { timeoutMs: 1_000, staleMs: 2_000 }).pipe(Scope.extend(scopeA))
        expect(FileLock.readHolder(lockPath)).toEqual(leaseA.holder)
        // B resumes, acting on its judgement of the lock A has already replaced: it must not take A's.
        yield* Deferred.succeed(go, undefined)
        const bResult = yield* Fiber.join(bTry)
        expect(Either.isLeft(bResult), "B took the lock A holds").toBe(true)
        if (Either.isLeft(bResult)) {
          expect(bResult.left).toMatchObject({ _tag: "LockTimeoutError", path: lockPath, holder: leaseA.holder })
        }
        expect(FileLock.readHolder(lockPath)).toEqual(leaseA.holder)
        expect(yield* leaseA.isCompromised).toBe(false)
        yield* Scope.close(scopeA, Exit.void)
        expect(NodeFs.existsSync(lockPath)).toBe(false)
      }
    }), 30_000)

  it.scopedLive("a holder stopped past the stale limit finds its lease compromised, and its release leaves its successor's lock alone", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const lockPath = `${file}.lock`
      const scopeH = yield* Scope.make()
      // staleMs 10 s: between "compromised" (heartbeat older than 7.5 s) and "stale" (10 s) lie 2 s of
      // real time for the waiter's check below (with 2 s the window was 400 ms, and a slow machine
      // could let the waiter find the lock stale and take it).
      const leaseH = yield* acquire(file, { staleMs: 10_000 }).pipe(Scope.extend(scopeH))
      expect(yield* leaseH.isCompromised).toBe(false)
      // A heartbeat 8 s old (over 3/4 of 10 s): no waiter may take it yet, but one soon may, so the
      // holder must not commit a write now.
      age(lockPath, 8_000)
      expect(yield* Effect.flip(Effect.scoped(acquire(file, { timeoutMs: 50, staleMs: 10_000 })))).toMatchObject({ _tag: "LockTimeoutError" })
      expect(yield* leaseH.isCompromised).toBe(true)
      // Past the stale limit a waiter takes it over.
      age(lockPath, 12_000)
      const scopeW = yield* Scope.make()
      const leaseW = yield* acquire(file, { timeoutMs: 1_000, staleMs: 10_000 }).pipe(Scope.extend(scopeW))
      expect(FileLock.readHolder(lockPath)).toEqual(leaseW.holder)
      // The stopped holder wakes up and releases: the successor's lock stays.
      yield* Scope.close(scopeH, Exit.void)
      expect(FileLock.readHolder(lockPath)).toEqual(leaseW.holder)
      expect(yield* leaseW.isCompromised).toBe(false)
      yield* Scope.close(scopeW, Exit.void)
      expect(NodeFs.existsSync(lockPath)).toBe(false)
    }).pipe(Effect.provide(FileLock.layer)))

  it.scopedLive("a lock being taken over (a live claim on it) is compromised for its holder and left to its claimant; an abandoned claim is not", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const lockPath = `${file}.lock`
      const claim = (key: string, k: number, claimant: object) => {
        const dir = NodePath.join(lockPath, `claim-${key}.${k}`)
        NodeFs.mkdirSync(dir)
        NodeFs.writeFileSync(NodePath.join(dir, "claimant.json"), JSON.stringify(claimant))
      }
      // Our own lease, with a claim on it by a live process: not ours to commit with any more.
      const scope = yield* Scope.make()
      const lease = yield* acquire(file, { staleMs: 2_000 }).pipe(Scope.extend(scope))
      const token = (JSON.parse(NodeFs.readFileSync(holderFileOf(lockPath), "utf8")) as { token: string }).token
      claim(token, 1, { pid: process.pid, host: Os.hostname(), nonce: "x" })
      expect(yield* lease.isCompromised).toBe(true)
      // Its release leaves it to the claimant.
      yield* Scope.close(scope, Exit.void)
      expect(FileLock.readHolder(lockPath)).toEqual(lease.holder)
      NodeFs.rmSync(lockPath, { recursive: true })
      // A dead holder's lock, claimed by a live waiter: others wait for that waiter to finish.
      plantLock(lockPath, { pid: deadPid(), host: Os.hostname(), acquiredAt: 0, token: "dead-1" })
      claim("dead-1", 1, { pid: process.pid, host: Os.hostname(), nonce: "y" })
      // (staleMs 10 s: a claim is also abandoned once older than staleMs, which must not happen here.)
      expect(yield* Effect.flip(Effect.scoped(acquire(file, { timeoutMs: 100, staleMs: 10_000 })))).toMatchObject({ _tag: "LockTimeoutError" })
      // A claimant killed in the middle (its pid gone) abandoned its claim: the next one recovers the lock.
      NodeFs.rmSync(NodePath.join(lockPath, "claim-dead-1.1"), { recursive: true })
      claim("dead-1", 1, { pid: deadPid(), host: Os.hostname(), nonce: "z" })
      const recovered = yield* acquire(file, { timeoutMs: 1_000, staleMs: 2_000 })
      expect(FileLock.readHolder(lockPath)).toEqual(recovered.holder)
    }).pipe(Effect.provide(FileLock.layer)))

  it.scopedLive("processes hammering the lock, some killed with SIGKILL mid-way: no committed critical section is ever lost", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const acked = (w: { output: () => string }) => Math.max(0, ...[...w.output().matchAll(/^ok (\d+)$/gm)].map((m) => Number(m[1])))
      // Two processes that would run far longer than the test (they are killed), one that runs 20 sections.
      const workers = yield* Effect.forEach(["1000", "1000", "20"], (rounds) => startWorker(["counter", file, rounds]))
      const killed: Array<typeof workers[number]> = []
      // Kill the first two at arbitrary instants of their loop (right after a commit they announced,
      // so likely inside the next wait or section); each is replaced by a fresh process.
      for (const [victim, after] of [[0, 5], [1, 12]] as const) {
        const w = workers[victim]!
        yield* w.waitFor(new RegExp(`^ok ${after}$`))
        w.child.kill("SIGKILL")
        expect(yield* w.exit()).toBe("SIGKILL")
        killed.push(w)
        workers.push(yield* startWorker(["counter", file, "8"]))
      }
      const survivors = workers.filter((w) => !killed.includes(w))
      const codes = yield* Effect.forEach(survivors, (w) => w.exit(), { concurrency: "unbounded" })
      expect(codes, survivors.map((w) => w.output()).join("\n")).toEqual(survivors.map(() => 0))
      const ids = (JSON.parse(NodeFs.readFileSync(file, "utf8")) as { ids: Array<string> }).ids
      expect(new Set(ids).size).toBe(ids.length)
      // Per process: exactly 1..k, no gap (a lost update would drop one); k = what it announced, or one
      // more for a process killed between its commit and its announcement.
      const byPid = new Map<number, Array<number>>()
      for (const id of ids) {
        const [pid, n] = id.split(":").map(Number) as [number, number]
        byPid.set(pid, [...(byPid.get(pid) ?? []), n])
      }
      for (const w of workers) {
        const seq = byPid.get(w.child.pid!) ?? []
        expect(seq, `process ${w.child.pid}`).toEqual(seq.map((_, i) => i + 1))
        if (killed.includes(w)) expect([acked(w), acked(w) + 1]).toContain(seq.length)
        else expect(seq.length).toBe(acked(w))
      }
      expect(ids.length).toBe(workers.reduce((n, w) => n + (byPid.get(w.child.pid!)?.length ?? 0), 0))
      expect(NodeFs.existsSync(`${file}.lock`)).toBe(false)
    }), 90_000)

  it.scopedLive("a lock path holding a regular file or a symbolic link (dangling or to a directory) fails at once, saying what to remove", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const lockPath = `${file}.lock`
      const planted = [
        () => NodeFs.writeFileSync(lockPath, "not a lock"),
        () => NodeFs.symlinkSync(NodePath.join(NodePath.dirname(file), "nowhere"), lockPath),
        () => NodeFs.symlinkSync(NodePath.dirname(file), lockPath)
      ]
      for (const plant of planted) {
        plant()
        // A generous timeout: failing well before it shows the error is immediate, not a wait.
        const error = yield* Effect.flip(Effect.scoped(acquire(file, { timeoutMs: 20_000 })))
        expect(error).toMatchObject({ _tag: "LockError", path: lockPath, code: "ENOTLOCK" })
        expect(error.message).toContain(`rm ${lockPath}`)
        // What was planted is left alone: it is not the lock's to delete.
        expect(NodeFs.lstatSync(lockPath)).toBeDefined()
        NodeFs.rmSync(lockPath)
      }
    }).pipe(Effect.provide(FileLock.layer)))

  it.scopedLive("a dead holder's lock this process may not write into (another user's) fails with EACCES naming it, never a wait", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const lockPath = `${file}.lock`
      const dead = deadPid()
      plantLock(lockPath, { pid: dead, host: Os.hostname(), acquiredAt: 0, token: "dead-9" })
      // Running as root, the kernel lets us write anywhere: the refusal another user would meet is
      // simulated where it happens, on the names created inside the lock directory.
      const faulty = yield* FaultyFileSystem.FaultyFileSystem
      yield* faulty.inject({ methods: ["rename"], errno: "EACCES", path: /claim-dead-9/ })
      const lock = yield* FileLock.makeFileSystem
      const error = yield* Effect.flip(Effect.scoped(lock.acquire(file, { timeoutMs: 20_000 })))
      expect(error).toMatchObject({ _tag: "LockError", path: lockPath, code: "EACCES" })
      expect(error.message).toContain(`pid ${dead}`)
      expect(error.message).toContain(`rm -r ${lockPath}`)
      expect(FileLock.readHolder(lockPath)?.pid).toBe(dead)
    }).pipe(Effect.provide(FaultyFileSystem.layerNode)))
})
