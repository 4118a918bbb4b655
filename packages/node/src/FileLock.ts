/**
 * An exclusive, cross-process lock on a file, held across read → merge → write of the shared cache.
 *
 * The lock is the directory `<file>.lock` holding `holder.json` (`pid`, `host`, `acquiredAt` epoch ms,
 * and a `token` unique to the acquisition). It is built aside and renamed into place — a rename onto
 * a taken name fails, as `mkdir` would, on every local file system and on NFS — so it never exists
 * without its holder. The holder refreshes the holder file's mtime (its heartbeat) every
 * `staleMs / 2`. The design is proper-lockfile's (the lock npm and yarn rely on: a directory, an mtime
 * heartbeat, a compromise check), done on Effect's `FileSystem` and `Clock`, with these additions:
 *
 * - **Dead holders** on this host (`kill(pid, 0)` → `ESRCH`) are recovered at once; others (another
 *   host, a reused pid) once the heartbeat is older than `staleMs`.
 * - **Race-free take-over**: a lock instance (identified by its token) is removed only by the process
 *   that wins a **claim** created inside it, after checking that the lock is still the instance it
 *   judged; a late waiter's claim lands in the newer instance under the old key and blocks nothing.
 * - **Ownership by the open holder file**: a holder keeps its `holder.json` open while it holds the
 *   lock, so no other file can take its inode number; a holder file at the lock path with that device
 *   and inode is this lease's. The check before a commit, the heartbeat and the release read it with
 *   one round of three concurrent calls (`stat` of the holder file, `readlink` of the lock path, a
 *   listing for claims) instead of re-reading the token.
 * - **Release**: a lease that is not compromised, whose lock is still its own, unclaimed, with a
 *   heartbeat younger than 3/4 `staleMs` (so no waiter may start taking it over for `staleMs / 4`),
 *   moves the lock aside at once, checks that what moved is its own (else puts it back) and removes
 *   it. Any other release goes through the claim, so a holder never removes its successor's lock.
 * - **A holder gives its lock up** once it may be judged stale: the heartbeat does not renew a lock
 *   older than 3/4 `staleMs`, and {@link Lease.isCompromised}, checked right before a commit, answers
 *   `true` unless the lock carries this lease's token, has no claim, and a fresh heartbeat.
 * - **A bounded, interruptible wait** (`Clock` sleeps, exponential 10 → 250 ms, jittered by Effect's
 *   `Random`) ending in {@link LockTimeoutError}, naming the holder.
 * - **A lock path that is not a lock** (a regular file, a symbolic link — dangling or not) fails at
 *   once with {@link LockError} `ENOTLOCK` saying what to remove; a dead holder's lock this process
 *   may not remove (another user's directory) fails with `EACCES`, saying the same. Never a silent
 *   endless wait.
 *
 * What remains: two processes can both commit only if a holder **stalls for `staleMs / 4` or more
 * between its compromise check and its commit** (SIGSTOP, a suspended VM), or if hosts sharing the
 * directory disagree on time by more than that. A release that stalls as long between its check and
 * its move can move a successor's lock aside; it puts it back, and the successor's own check before
 * its commit fails if it looks in between. Only a fencing token checked by the storage itself
 * could close this; a file system offers none.
 *
 * @since 0.1.0
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import * as internal from "./internal/fileLock/acquire.js"
import { describeHolder } from "./internal/fileLock/instance.js"

/**
 * Who holds a lock: process id, host name, and when it acquired the lock (epoch ms).
 *
 * @since 0.1.0
 * @category models
 */
export const Holder = Schema.Struct({
  pid: Schema.Int,
  host: Schema.String,
  acquiredAt: Schema.Number
}).annotations({ identifier: "LockHolder" })

/**
 * @since 0.1.0
 * @category models
 */
export interface Holder extends Schema.Schema.Type<typeof Holder> {}

/**
 * The lock could not be acquired within `waitedMs` (ms): `path` is the lock (a directory), `holder`
 * who held it at the last attempt, when it could be read.
 *
 * @since 0.1.0
 * @category errors
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
 * (`EACCES`, `EROFS`, `ENOENT` for a missing directory, …) or `ENOTLOCK` (the lock path holds a file
 * or a link, not a lock), `reason` what happened and, when a person must act, what to remove.
 *
 * @since 0.1.0
 * @category errors
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
 * - `staleMs` (ms, default 10 000, at least 2 000): a lock whose heartbeat
 *   is older than this is taken over. The holder refreshes it every `staleMs / 2`.
 *
 * @since 0.1.0
 * @category models
 */
export interface AcquireOptions {
  readonly timeoutMs?: number
  readonly staleMs?: number
}

/**
 * A held lock: the lock `path` and this process as `holder`.
 *
 * `isCompromised` is the check to run **right before committing** a write (the store runs it just
 * before its `rename`): `false` means that at this instant the lock is still this lease's (its holder
 * file carries this acquisition's token), no other process has started taking it over, and its
 * heartbeat is younger than 3/4 of `staleMs` — so no waiter may take it over for at least
 * `staleMs / 4` more. `true` (sticky) means the write must not be committed: the lock was taken
 * over, is being taken over, or may be at any moment (the heartbeat fell behind).
 *
 * @since 0.1.0
 * @category models
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
 * @category services
 */
export class FileLock extends Context.Tag("@bootstrap-cache/node/FileLock")<FileLock, {
  readonly acquire: (file: string, options?: AcquireOptions) => Effect.Effect<Lease, LockTimeoutError | LockError, Scope.Scope>
}>() {}

/**
 * The lock directory guarding `file`: `<file>.lock`.
 *
 * @since 0.1.0
 * @category utils
 */
export const lockPathOf = (file: string): string => `${file}.lock`

/** The holder file inside a lock directory. */
export const HOLDER_FILE = "holder.json"

/**
 * Whether a process exists on this host: `kill(pid, 0)` succeeds or fails with `EPERM` (exists, not
 * ours to signal); `ESRCH` means gone.
 *
 * @since 0.1.0
 * @category utils
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
 * Reads the holder of a lock directory, if it is there and well-formed (synchronous: for tests and
 * diagnostics outside an Effect).
 *
 * @since 0.1.0
 * @category utils
 */
export const readHolder = (lockPath: string): Holder | undefined => {
  try {
    const decoded = Schema.decodeUnknownEither(Holder)(JSON.parse(NodeFs.readFileSync(NodePath.join(lockPath, HOLDER_FILE), "utf8")))
    return decoded._tag === "Right" ? decoded.right : undefined
  } catch {
    return undefined
  }
}

/**
 * Test seams of {@link makeWith}: `beforeRecover` runs after a waiter has judged the lock dead or
 * stale and before it starts taking it over, so a test can build the interleaving of two waiters.
 *
 * @since 0.1.0
 * @internal
 */
export interface Hooks {
  readonly beforeRecover?: (lockPath: string) => Effect.Effect<void>
}

/**
 * Builds the {@link FileLock} on the `FileSystem` in the context, with test seams ({@link Hooks}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeWith: (hooks: Hooks) => Effect.Effect<FileLock["Type"], never, FileSystem.FileSystem> = internal.makeWith

/**
 * Builds the {@link FileLock} on the `FileSystem` in the context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeFileSystem: Effect.Effect<FileLock["Type"], never, FileSystem.FileSystem> = Effect.suspend(() => internal.makeWith({}))

/**
 * Builds the {@link FileLock} on Node's file system.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<FileLock["Type"]> = Effect.provide(makeFileSystem, NodeFileSystem.layer)

/**
 * The {@link FileLock} on Node's file system (see the module docs).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<FileLock> = Layer.effect(FileLock, make)

/**
 * Runs `effect` holding the lock on `file` (acquire, run, release, even on failure or interruption).
 *
 * @since 0.1.0
 * @category combinators
 */
export const withLock = (file: string, options?: AcquireOptions) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | LockTimeoutError | LockError, FileLock | Exclude<R, Scope.Scope>> =>
  Effect.scoped(Effect.flatMap(FileLock, (lock) => Effect.zipRight(lock.acquire(file, options), effect)))
