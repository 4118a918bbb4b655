/**
 * Taking, keeping and giving up the lock: creation (a directory that is never visible without its
 * holder file), the heartbeat fiber, the bounded wait with take-over of dead or stale locks, and the
 * release. On Effect's `FileSystem` and `Clock`; see `FileLock.ts` for the protocol's guarantees.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Scope from "effect/Scope"
import * as Os from "node:os"
import * as NodePath from "node:path"
import {
  type AcquireOptions,
  type FileLock,
  type Holder,
  HOLDER_FILE,
  type Hooks,
  isProcessAlive,
  type Lease,
  LockError,
  lockPathOf,
  LockTimeoutError
} from "../../FileLock.js"
import { errnoOf } from "../errno.js"
import {
  describeHolder,
  dispose,
  inspect,
  type Instance,
  isOwnHolder,
  newToken,
  type Own,
  ownershipProblem,
  ownProblem,
  privateName
} from "./instance.js"

const DEFAULT_TIMEOUT_MS = 10_000
const DEFAULT_STALE_MS = 10_000
const MIN_STALE_MS = 2_000
const BACKOFF_START_MS = 10
const BACKOFF_MAX_MS = 250

/** What `rename(dir, target)` fails with when `target` is taken (Linux, macOS, Windows). */
const HELD_CODES = new Set(["ENOTEMPTY", "EEXIST", "EPERM", "ENOTDIR", "EISDIR"])

/** The heartbeat age (ms) past which a holder gives its lock up: 3/4 of `staleMs`. */
const safeAgeOf = (staleMs: number) => (staleMs * 3) / 4

/** Whether a lease keeps its holder file open (see {@link Own}): everywhere but Windows. */
const KEEPS_HOLDER_OPEN = process.platform !== "win32"

/** The lock just created: the lease's {@link Own} identity and the scope keeping its holder file open. */
interface Created {
  readonly own: Own | undefined
  readonly scope: Scope.CloseableScope
}

/**
 * Creates the lock: `<lock>.<pid>.<n>.new` with `holder.json` (its mtime set to the Clock's now: the
 * first heartbeat), renamed onto the lock path. A rename onto a taken name fails, so this is as
 * exclusive as `mkdir`, and a process killed at any instant leaves no lock or one naming its pid.
 * The holder file stays open in the returned scope (see {@link Own}); `own` is undefined where the
 * platform gives no inode numbers (the token is then read back instead).
 */
const create = (fs: FileSystem.FileSystem, lockPath: string, holder: Holder, token: string) =>
  Effect.gen(function*() {
    const tmp = privateName(lockPath, "new")
    const holderFile = NodePath.join(tmp, HOLDER_FILE)
    const now = new Date(yield* Clock.currentTimeMillis)
    const scope = yield* Scope.make()
    const write = Effect.gen(function*() {
      const f = yield* fs.open(holderFile, { flag: "wx" }).pipe(Scope.extend(scope))
      yield* f.writeAll(new TextEncoder().encode(JSON.stringify({ ...holder, token })))
      const [info] = yield* Effect.all([f.stat, fs.utimes(holderFile, now, now)], { concurrency: "unbounded" })
      // Windows refuses to rename a directory holding an open file: there the file is closed and
      // the lease reads its token back instead.
      if (KEEPS_HOLDER_OPEN) return Option.match(info.ino, { onNone: () => undefined, onSome: (ino): Own => ({ token, dev: info.dev, ino }) })
      yield* Scope.close(scope, Exit.void)
      return undefined
    })
    return yield* fs.makeDirectory(tmp).pipe(
      Effect.zipRight(write),
      Effect.tap(() => fs.rename(tmp, lockPath)),
      Effect.map((own): Created | "Locked" => ({ own, scope })),
      Effect.catchAll((e) => {
        const code = errnoOf(e)
        return Scope.close(scope, Exit.void).pipe(
          Effect.zipRight(fs.remove(tmp, { recursive: true }).pipe(Effect.ignore)),
          Effect.zipRight(
            HELD_CODES.has(code ?? "")
              ? Effect.succeed("Locked" as const)
              : Effect.fail(new LockError({ path: lockPath, reason: e.message, ...(code === undefined ? {} : { code }) }))
          )
        )
      }),
      Effect.onInterrupt(() => Scope.close(scope, Exit.void))
    )
  })

/**
 * Removes `<lock>.<pid>.<n>.new|old` directories older than `staleMs` (left by a process killed
 * between the steps of taking, claiming or dropping the lock). Run by a holder; best effort.
 */
const removeStrays = (fs: FileSystem.FileSystem, lockPath: string, staleMs: number) =>
  Effect.gen(function*() {
    const dir = NodePath.dirname(lockPath)
    const prefix = `${NodePath.basename(lockPath)}.`
    const limit = (yield* Clock.currentTimeMillis) - staleMs
    for (const entry of yield* fs.readDirectory(dir)) {
      if (!entry.startsWith(prefix) || !/^\d+\.\d+\.(new|old)$/.test(entry.slice(prefix.length))) continue
      const full = NodePath.join(dir, entry)
      const info = yield* Effect.option(fs.stat(full))
      if (info._tag === "Some" && (info.value.mtime._tag === "Some" ? info.value.mtime.value.getTime() : 0) < limit) {
        yield* fs.remove(full, { recursive: true }).pipe(Effect.ignore)
      }
    }
  }).pipe(Effect.ignore)

/** Why a lock may be taken over now: its holder is gone (`Dead`), or its heartbeat is too old (`Stale`). */
const judge = (seen: Instance, staleMs: number, now: number): "Dead" | "Stale" | "Live" => {
  const h = seen.holder
  if (h !== undefined && h.host === Os.hostname() && h.pid !== process.pid && !isProcessAlive(h.pid)) return "Dead"
  return seen.mtimeMs < now - staleMs ? "Stale" : "Live"
}

/** The error for a lock path that holds something other than a lock directory: what to remove. */
const notALock = (lockPath: string, type: string) =>
  new LockError({
    path: lockPath,
    code: "ENOTLOCK",
    reason: `it is a ${type === "SymbolicLink" ? "symbolic link" : type.toLowerCase()}, not a lock directory; ` +
      `no bootstrap-cache process made it: remove it (rm ${lockPath}) and try again`
  })

/** The error for a dead holder's lock this process may not remove (another user's directory). */
const denied = (lockPath: string, seen: Instance) =>
  new LockError({
    path: lockPath,
    code: "EACCES",
    reason: `it was left by ${describeHolder(seen.holder)}, which no longer exists, but belongs to ` +
      `${seen.uid === undefined ? "another user" : `user ${seen.uid}`} and this process may not remove it: ` +
      `remove it (rm -r ${lockPath}) as that user or root`
  })

/**
 * A lock this process holds: its path, the token it wrote, the open holder file that proves it
 * (`own`; absent where the file cannot stay open), its stale limit (ms) and whether it was found
 * compromised.
 */
interface Held {
  readonly fs: FileSystem.FileSystem
  readonly lockPath: string
  readonly token: string
  readonly own: Own | undefined
  readonly staleMs: number
  readonly compromised: { value: boolean }
}

/** Why the lease `own` (or, without one, the lock taken with `token`) is not safely held; undefined when it is. */
const problemOf = ({ fs, lockPath, own, staleMs, token }: Held) =>
  own === undefined
    ? ownershipProblem(fs, lockPath, token, safeAgeOf(staleMs))
    : ownProblem(fs, lockPath, own, safeAgeOf(staleMs))

/** Keeps the lease's heartbeat fresh every `staleMs / 2`, or marks it compromised and stops. */
const heartbeat = (held: Held) =>
  Effect.gen(function*() {
    const { compromised, fs, lockPath, staleMs } = held
    while (!compromised.value) {
      yield* Effect.sleep(Duration.millis(staleMs / 2))
      const problem = yield* problemOf(held)
      if (problem !== undefined) {
        compromised.value = true
        return yield* Effect.logWarning(`the lock ${lockPath} is compromised: ${problem}`)
      }
      const now = new Date(yield* Clock.currentTimeMillis)
      yield* fs.utimes(NodePath.join(lockPath, HOLDER_FILE), now, now).pipe(Effect.ignore)
    }
  })

/** Releases the lock taken with `token`, if it is still ours; never touches another process's lock. */
const releaseOwn = (fs: FileSystem.FileSystem, lockPath: string, token: string, staleMs: number) =>
  Effect.gen(function*() {
    const seen = yield* inspect(fs, lockPath)
    if (seen === undefined || "_tag" in seen || seen.token !== token) return
    yield* dispose(fs, lockPath, seen, staleMs, false)
  })

/**
 * Releases a lease that keeps its holder file open ({@link Own}). When the lease is not compromised
 * and one round of calls proves the lock is still its own (`ownProblem`: its holder file, no claim, a
 * heartbeat younger than 3/4 `staleMs`, so no waiter may start taking it over for `staleMs / 4`),
 * the lock is moved aside at once, what moved is checked to be its own (else put back: a rename onto
 * a path taken meanwhile fails, so the put-back can only fail safe) and removed. Anything else goes
 * through {@link releaseOwn}'s claim.
 */
const release = ({ compromised, fs, lockPath, own, staleMs, token }: Held) =>
  Effect.gen(function*() {
    if (own === undefined || compromised.value || (yield* ownProblem(fs, lockPath, own, safeAgeOf(staleMs))) !== undefined) {
      return yield* releaseOwn(fs, lockPath, token, staleMs)
    }
    const aside = privateName(lockPath, "old")
    if (Either.isLeft(yield* Effect.either(fs.rename(lockPath, aside)))) return yield* releaseOwn(fs, lockPath, token, staleMs)
    const moved = yield* Effect.option(fs.stat(NodePath.join(aside, HOLDER_FILE)))
    if (Option.isNone(moved) || !isOwnHolder(moved.value, own)) return yield* fs.rename(aside, lockPath).pipe(Effect.ignore)
    // The holder file first: a recursive removal of a directory with an entry lists it, stats the
    // entry and retries the directory, where one already empty goes at its first try.
    yield* fs.remove(NodePath.join(aside, HOLDER_FILE)).pipe(Effect.ignore)
    yield* fs.remove(aside, { recursive: true }).pipe(Effect.ignore)
  })

/** The lock service on `fs`, with test seams ({@link Hooks}). */
export const makeWith = (hooks: Hooks): Effect.Effect<FileLock["Type"], never, FileSystem.FileSystem> =>
  Effect.map(FileSystem.FileSystem, (fs) => {
    const acquire = (file: string, options: AcquireOptions = {}): Effect.Effect<Lease, LockTimeoutError | LockError, Scope.Scope> => {
      const lockPath = lockPathOf(file)
      const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
      const staleMs = Math.max(options.staleMs ?? DEFAULT_STALE_MS, MIN_STALE_MS)
      return Effect.gen(function*() {
        const start = yield* Clock.currentTimeMillis
        let delay = BACKOFF_START_MS
        let lastHolder: Holder | undefined
        while (true) {
          const holder: Holder = { pid: process.pid, host: Os.hostname(), acquiredAt: yield* Clock.currentTimeMillis }
          const token = newToken()
          const created = yield* create(fs, lockPath, holder, token)
          if (created !== "Locked") return yield* held(lockPath, holder, token, staleMs, created)
          const seen = yield* inspect(fs, lockPath)
          if (seen !== undefined && "_tag" in seen) return yield* notALock(lockPath, seen.type)
          lastHolder = seen?.holder ?? lastHolder
          const verdict = seen === undefined ? "Live" : judge(seen, staleMs, yield* Clock.currentTimeMillis)
          if (seen !== undefined && verdict !== "Live") {
            if (hooks.beforeRecover !== undefined) yield* hooks.beforeRecover(lockPath)
            const outcome = yield* dispose(fs, lockPath, seen, staleMs, true)
            if (outcome === "Denied") return yield* denied(lockPath, seen)
            if (outcome === "Removed") yield* Effect.logWarning(recovered(lockPath, seen, verdict, staleMs, yield* Clock.currentTimeMillis))
            if (outcome !== "Busy") continue
          }
          const now = yield* Clock.currentTimeMillis
          if (now - start >= timeoutMs) {
            return yield* new LockTimeoutError({ path: lockPath, waitedMs: now - start, ...(lastHolder === undefined ? {} : { holder: lastHolder }) })
          }
          const jitter = yield* Random.nextRange(0.5, 1)
          yield* Effect.sleep(Duration.millis(Math.min(delay * jitter, Math.max(1, start + timeoutMs - now))))
          delay = Math.min(delay * 2, BACKOFF_MAX_MS)
        }
      }).pipe(Effect.annotateLogs({ lock: lockPath }))
    }

    /**
     * The lock is ours: keep its holder file open until the release is done, start the heartbeat,
     * register the release, hand out the lease. Finalizers run last-added first: the heartbeat stops,
     * then the release runs, then the holder file is closed.
     */
    const held = (lockPath: string, holder: Holder, token: string, staleMs: number, created: Created) =>
      Effect.gen(function*() {
        const lease: Held = { fs, lockPath, token, own: created.own, staleMs, compromised: { value: false } }
        const { compromised } = lease
        yield* Effect.addFinalizer((exit) => Scope.close(created.scope, exit))
        yield* removeStraysDue(lockPath, staleMs)
        yield* Effect.addFinalizer(() => release(lease))
        yield* Effect.forkScoped(heartbeat(lease))
        const isCompromised = Effect.gen(function*() {
          if (!compromised.value && (yield* problemOf(lease)) !== undefined) compromised.value = true
          return compromised.value
        })
        return { path: lockPath, holder, isCompromised } satisfies Lease
      })

    /**
     * When each lock path's strays were last looked for (epoch ms). A stray is removed only once older
     * than `staleMs` anyway; listing the directory at most every `staleMs / 2` (not at every
     * acquisition) delays a removal by at most that much and spares a save the listing.
     */
    const straysLookedAt = new Map<string, number>()
    const removeStraysDue = (lockPath: string, staleMs: number) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const last = straysLookedAt.get(lockPath)
        if (last !== undefined && now - last < staleMs / 2 && now >= last) return
        straysLookedAt.set(lockPath, now)
        yield* removeStrays(fs, lockPath, staleMs)
      })

    return { acquire }
  })

const recovered = (lockPath: string, seen: Instance, verdict: "Dead" | "Stale", staleMs: number, now: number) =>
  verdict === "Dead"
    ? `recovered the lock ${lockPath} left by ${describeHolder(seen.holder)}, which no longer exists`
    : `recovered the lock ${lockPath} of ${describeHolder(seen.holder)}, stale: no heartbeat for ${Math.round(now - seen.mtimeMs)} ms (limit ${staleMs} ms)`
