/**
 * An exclusive, cross-process lock on a file, held across read → merge → write of the shared cache.
 *
 * ## Why proper-lockfile, and what is added to it
 *
 * House rule: for lock files a well-kept library beats our own code. `proper-lockfile` (4.1.2, the
 * lock npm and yarn have relied on) fits the algorithm we want: the lock is a directory created with
 * `mkdir` (atomic on every local file system and on NFS, unlike `O_EXCL` on old NFS), kept fresh by a
 * heartbeat that touches its mtime every `staleMs / 2`, judged stale when its mtime is older than
 * `staleMs`, and removed on `exit` / `SIGINT` / `SIGTERM` by its signal-exit hook. What it lacks, and
 * what this module adds on top without forking it:
 *
 * - **The holder's identity.** It records none, so a timeout could not say who holds the lock and a
 *   lock left by a killed process (`SIGKILL`, a crash: no exit hook runs) would block everyone for
 *   `staleMs`. Through the `fs` hook proper-lockfile lets us pass, its `mkdir` of the lock directory
 *   becomes: build `<lock>.<pid>.<n>.new` holding `holder.json` (`pid`, `host`, `acquiredAt` epoch ms),
 *   then `rename` it onto the lock path (which fails, as `mkdir` would, when a lock is there); its
 *   `rmdir` becomes: `rename` the lock away, then remove it. So the lock directory **never exists
 *   without its holder file**: a process killed at any instant (even between creating the lock and
 *   naming itself, the window a plain `mkdir` + write leaves) leaves no lock or a lock naming its pid.
 *   (An earlier version wrote the holder after the `mkdir`; a kill in between left a nameless lock
 *   that only age could recover, which is how a test once waited out its 5 s timeout at load 8.)
 * - **Dead-holder recovery.** When the holder is on this host and its pid no longer exists
 *   (`kill(pid, 0)` → `ESRCH`), the lock is recovered at once rather than after `staleMs`: its mtime is
 *   set to the epoch, so proper-lockfile's own stale rule removes it on the next attempt. A holder on
 *   another host (a shared network directory) is recovered by age only. A reused pid only delays
 *   recovery until the lock is stale by age.
 * - **A bounded, interruptible wait with backoff.** proper-lockfile's own retries cannot be
 *   interrupted; we call it with `retries: 0` and wait between attempts with `Effect.sleep` (so the
 *   wait is a `Clock` wait, interruptible, and deterministic under `TestClock`): exponential from 10 ms,
 *   doubling to at most 250 ms, jittered ×[0.5, 1] by Effect's `Random`, until `timeoutMs`.
 * - **A typed timeout** ({@link LockTimeoutError}) naming the lock path and the holder.
 * - **Compromise detection surfaced to the caller**: proper-lockfile calls `onCompromised` (by default
 *   it throws, crashing the process) when its heartbeat finds the lock gone or touched by another
 *   process; we record it on the {@link Lease} so the writer can check before committing.
 *
 * A lock without a holder file (made by other software, or a damaged one) is recovered by age only.
 *
 * Known limit, shared with proper-lockfile: two waiters that both judge a lock stale at the same
 * instant can both remove it, and the slower one can then remove the faster one's fresh lock. The
 * window is the few microseconds between the stale check and the removal; the cache store also checks
 * {@link Lease.isCompromised} before its rename, and its writes are atomic, so the worst outcome is one
 * flush's changes overwritten by a concurrent flush, never a broken file.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as NodeFs from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as NodePath from "node:path"

/** The callback API of proper-lockfile (its `lib/lockfile.js`; typed here, the package types only the promise API). */
interface LockfileLib {
  readonly lock: (
    file: string,
    options: {
      readonly stale: number
      readonly retries: number
      readonly realpath: boolean
      readonly lockfilePath: string
      readonly fs: unknown
      readonly onCompromised: (err: Error) => void
    },
    callback: (err: (Error & { code?: string }) | null, release?: (cb: (err: Error | null) => void) => void) => void
  ) => void
}

const lockfile = createRequire(import.meta.url)("proper-lockfile/lib/lockfile.js") as LockfileLib

/**
 * Who holds a lock: process id, host name, and when it acquired the lock (epoch ms).
 *
 * @since 0.1.0
 */
export const Holder = Schema.Struct({
  pid: Schema.Int,
  host: Schema.String,
  acquiredAt: Schema.Number
}).annotations({ identifier: "LockHolder" })

/**
 * @since 0.1.0
 */
export interface Holder extends Schema.Schema.Type<typeof Holder> {}

const describeHolder = (holder: Holder | undefined): string =>
  holder === undefined
    ? "an unknown holder"
    : `pid ${holder.pid} on ${holder.host} since ${new Date(holder.acquiredAt).toISOString()}`

/**
 * The lock could not be acquired within `waitedMs` (ms): `path` is the lock (a directory), `holder`
 * who held it at the last attempt, when it could be read.
 *
 * @since 0.1.0
 */
export class LockTimeoutError extends Schema.TaggedError<LockTimeoutError>()("LockTimeoutError", {
  path: Schema.String,
  waitedMs: Schema.Number,
  holder: Schema.optional(Holder)
}) {
  override get message(): string {
    return `timed out after ${this.waitedMs} ms waiting for the lock ${this.path}, held by ${describeHolder(this.holder)}`
  }
}

/**
 * The lock could not be taken for a reason other than contention: `code` is the OS error
 * (`EACCES`, `EROFS`, `ENOENT` for a missing directory, …), `reason` its message.
 *
 * @since 0.1.0
 */
export class LockError extends Schema.TaggedError<LockError>()("LockError", {
  path: Schema.String,
  code: Schema.optional(Schema.String),
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot lock ${this.path}: ${this.reason}`
  }
}

/**
 * Options of {@link FileLock} `acquire`.
 *
 * - `timeoutMs` (ms, default 10 000): how long to wait for a held lock.
 * - `staleMs` (ms, default 10 000, at least 2 000 — proper-lockfile's floor): a lock whose heartbeat
 *   is older than this is taken over. The holder refreshes it every `staleMs / 2`.
 *
 * @since 0.1.0
 */
export interface AcquireOptions {
  readonly timeoutMs?: number
  readonly staleMs?: number
}

/**
 * A held lock: the lock `path`, this process as `holder`, and whether proper-lockfile's heartbeat has
 * found the lock taken over meanwhile (`isCompromised`; check it before committing a write).
 *
 * @since 0.1.0
 */
export interface Lease {
  readonly path: string
  readonly holder: Holder
  readonly isCompromised: Effect.Effect<boolean>
}

/**
 * The lock service. `acquire(file)` locks `<file>.lock` and releases it when the scope closes.
 *
 * @since 0.1.0
 */
export class FileLock extends Context.Tag("@bootstrap-cache/node/FileLock")<FileLock, {
  readonly acquire: (file: string, options?: AcquireOptions) => Effect.Effect<Lease, LockTimeoutError | LockError, Scope.Scope>
}>() {}

/**
 * The lock directory guarding `file`: `<file>.lock`.
 *
 * @since 0.1.0
 */
export const lockPathOf = (file: string): string => `${file}.lock`

/** The holder file inside a lock directory. */
export const HOLDER_FILE = "holder.json"

const DEFAULT_TIMEOUT_MS = 10_000
const DEFAULT_STALE_MS = 10_000
const BACKOFF_START_MS = 10
const BACKOFF_MAX_MS = 250

/**
 * Whether a process exists on this host: `kill(pid, 0)` succeeds or fails with `EPERM` (exists, not
 * ours to signal); `ESRCH` means gone.
 *
 * @since 0.1.0
 */
export const isProcessAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as { code?: string }).code === "EPERM"
  }
}

/**
 * Reads the holder of a lock directory, if it is there and well-formed.
 *
 * @since 0.1.0
 */
export const readHolder = (lockPath: string): Holder | undefined => {
  try {
    const decoded = Schema.decodeUnknownEither(Holder)(JSON.parse(NodeFs.readFileSync(NodePath.join(lockPath, HOLDER_FILE), "utf8")))
    return decoded._tag === "Right" ? decoded.right : undefined
  } catch {
    return undefined
  }
}

let lockTempCounter = 0

/** A lock-directory name of this process that is never the lock itself: `<lock>.<pid>.<n>.<kind>`. */
const privateName = (lockPath: string, kind: "new" | "old") => `${lockPath}.${process.pid}.${++lockTempCounter}.${kind}`

/** What `rename(dir, lockPath)` fails with when `lockPath` is already a lock (Linux, macOS, Windows). */
const HELD_CODES = new Set(["ENOTEMPTY", "EEXIST", "EPERM", "ENOTDIR", "EISDIR"])

/**
 * The `fs` handed to proper-lockfile. The lock directory is never visible without its holder file:
 *
 * - `mkdir(lock)` builds `<lock>.<pid>.<n>.new` with `holder.json` inside and renames it to `lock`.
 *   `rename` of a directory onto an existing non-empty one fails (`ENOTEMPTY`/`EEXIST`, `EPERM` on
 *   Windows), which is reported to proper-lockfile as the `EEXIST` of its `mkdir`: the operation is
 *   exactly as exclusive, and a process killed at any instant leaves either no lock or a lock naming
 *   its pid (so it is recovered at once, not after `staleMs`).
 * - `rmdir(lock)` (release, stale take-over, exit hook) renames the lock to `<lock>.<pid>.<n>.old`,
 *   then removes that: the lock disappears in one step, never passing through an empty directory.
 *
 * Leftover `.new` / `.old` directories (a process killed between the two steps) are removed by the
 * next holder once older than `staleMs` ({@link removeStrays}).
 */
const lockFs = (holder: Holder) => ({
  ...NodeFs,
  mkdir: (path: string, callback: (err: NodeJS.ErrnoException | null) => void) => {
    const tmp = privateName(path, "new")
    NodeFs.mkdir(tmp, (err) => {
      if (err !== null) return callback(Object.assign(err, { path }))
      try {
        NodeFs.writeFileSync(NodePath.join(tmp, HOLDER_FILE), JSON.stringify(holder))
      } catch {
        // The lock is taken all the same; waiters will judge it by age only.
      }
      NodeFs.rename(tmp, path, (renameError) => {
        if (renameError === null) return callback(null)
        NodeFs.rm(tmp, { recursive: true, force: true }, () =>
          callback(
            HELD_CODES.has(renameError.code ?? "")
              ? Object.assign(new Error(`EEXIST: lock already held, mkdir '${path}'`), { code: "EEXIST", path })
              : renameError
          ))
      })
    })
  },
  rmdir: (path: string, callback: (err: NodeJS.ErrnoException | null) => void) => {
    const gone = privateName(path, "old")
    NodeFs.rename(path, gone, (err) => {
      if (err !== null) return callback(err)
      NodeFs.rm(gone, { recursive: true, force: true }, () => callback(null))
    })
  },
  rmdirSync: (path: string) => {
    const gone = privateName(path, "old")
    NodeFs.renameSync(path, gone)
    NodeFs.rmSync(gone, { recursive: true, force: true })
  }
})

/**
 * Removes `<lock>.<pid>.<n>.new|old` directories older than `staleMs` (left by a process killed
 * between the two steps of taking or dropping the lock). Run by a holder; best effort.
 */
const removeStrays = (lockPath: string, staleMs: number): void => {
  try {
    const dir = NodePath.dirname(lockPath)
    const prefix = `${NodePath.basename(lockPath)}.`
    const limit = Date.now() - staleMs
    for (const entry of NodeFs.readdirSync(dir)) {
      if (!entry.startsWith(prefix) || !/^\d+\.\d+\.(new|old)$/.test(entry.slice(prefix.length))) continue
      const full = NodePath.join(dir, entry)
      try {
        if (NodeFs.statSync(full).mtimeMs < limit) NodeFs.rmSync(full, { recursive: true, force: true })
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    // best effort
  }
}

type Attempt =
  | { readonly _tag: "Acquired"; readonly release: (cb: (err: Error | null) => void) => void }
  | { readonly _tag: "Locked" }

/**
 * If the lock's holder is a process of this host that no longer exists, marks the lock stale (mtime
 * at the epoch) so that proper-lockfile takes it over on the next attempt. Returns the holder found.
 */
const recoverDeadHolder = (lockPath: string): { holder: Holder | undefined; recovered: boolean } => {
  const holder = readHolder(lockPath)
  if (holder === undefined || holder.host !== Os.hostname() || holder.pid === process.pid || isProcessAlive(holder.pid)) {
    return { holder, recovered: false }
  }
  // Re-read right before touching: only the lock of the dead holder is marked, never a successor's.
  const again = readHolder(lockPath)
  if (again === undefined || again.pid !== holder.pid || again.acquiredAt !== holder.acquiredAt) return { holder: again, recovered: false }
  try {
    NodeFs.utimesSync(lockPath, 0, 0)
    return { holder, recovered: true }
  } catch {
    return { holder, recovered: false }
  }
}

/**
 * Builds the proper-lockfile based {@link FileLock}.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<FileLock["Type"]> = Effect.sync(() => {
  const acquire = (file: string, options: AcquireOptions = {}) => {
    const lockPath = lockPathOf(file)
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    const staleMs = Math.max(options.staleMs ?? DEFAULT_STALE_MS, 2_000)
    return Effect.gen(function*() {
      const compromised = yield* Ref.make(false)
      const attempt = (holder: Holder) =>
        Effect.async<Attempt, LockError>((resume) => {
          lockfile.lock(file, {
            stale: staleMs,
            retries: 0,
            realpath: false,
            lockfilePath: lockPath,
            fs: lockFs(holder),
            onCompromised: () => Effect.runSync(Ref.set(compromised, true))
          }, (err, release) => {
            if (err === null && release !== undefined) resume(Effect.succeed({ _tag: "Acquired", release }))
            else if (err?.code === "ELOCKED") resume(Effect.succeed({ _tag: "Locked" }))
            else {
              resume(Effect.fail(new LockError({
                path: lockPath,
                reason: err?.message ?? "unknown error",
                ...(err?.code === undefined ? {} : { code: err.code })
              })))
            }
          })
        })
      const start = yield* Clock.currentTimeMillis
      let delay = BACKOFF_START_MS
      let lastHolder: Holder | undefined
      while (true) {
        const holder: Holder = { pid: process.pid, host: Os.hostname(), acquiredAt: Date.now() }
        const result = yield* attempt(holder)
        if (result._tag === "Acquired") {
          removeStrays(lockPath, staleMs)
          yield* Effect.addFinalizer(() =>
            Effect.async<void>((resume) => result.release(() => resume(Effect.void)))
          )
          return { path: lockPath, holder, isCompromised: Ref.get(compromised) } satisfies Lease
        }
        const found = recoverDeadHolder(lockPath)
        lastHolder = found.holder
        if (found.recovered) {
          yield* Effect.logWarning(`recovered the lock ${lockPath} left by ${describeHolder(found.holder)}, which no longer exists`)
          continue
        }
        const now = yield* Clock.currentTimeMillis
        if (now - start >= timeoutMs) {
          return yield* new LockTimeoutError({
            path: lockPath,
            waitedMs: now - start,
            ...(lastHolder === undefined ? {} : { holder: lastHolder })
          })
        }
        const jitter = yield* Random.nextRange(0.5, 1)
        yield* Effect.sleep(Duration.millis(Math.min(delay * jitter, Math.max(1, start + timeoutMs - now))))
        delay = Math.min(delay * 2, BACKOFF_MAX_MS)
      }
    }).pipe(Effect.annotateLogs({ lock: lockPath }))
  }
  return FileLock.of({ acquire })
})

/**
 * The proper-lockfile based {@link FileLock} (see the module docs).
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<FileLock> = Layer.effect(FileLock, make)

/**
 * Runs `effect` holding the lock on `file` (acquire, run, release, even on failure or interruption).
 *
 * @since 0.1.0
 */
export const withLock = (file: string, options?: AcquireOptions) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | LockTimeoutError | LockError, FileLock | Exclude<R, Scope.Scope>> =>
  Effect.scoped(Effect.flatMap(FileLock, (lock) => Effect.zipRight(lock.acquire(file, options), effect)))
