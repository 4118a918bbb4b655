/**
 * An exclusive, cross-process lock on a file, held across read → merge → write of the shared cache.
 *
 * ## Why proper-lockfile, and what is added to it
 *
 * House rule: for lock files a well-kept library beats our own code. `proper-lockfile` (4.1.2, the
 * lock npm and yarn have relied on) gives the parts we keep: the lock is a directory created with
 * `mkdir` (atomic on every local file system and on NFS, unlike `O_EXCL` on old NFS), kept fresh by a
 * heartbeat that touches its mtime every `staleMs / 2` and reports the lock compromised when the mtime
 * is no longer the one it set, and removed on `exit` / `SIGINT` / `SIGTERM` by its signal-exit hook.
 * Its take-over of a stale lock (`stat`, "too old", `rmdir`, `mkdir`) is racy — see below — so it is
 * switched off (we pass it `stale: Infinity`: no lock is ever stale to it) and replaced. Through the
 * `fs` hook it accepts, and without forking it, this module adds:
 *
 * - **The holder's identity.** `holder.json` (`pid`, `host`, `acquiredAt` epoch ms, and a unique
 *   `token` per acquisition) is written into `<lock>.<pid>.<n>.new`, which is then renamed onto the
 *   lock path (the rename fails, as `mkdir` would, when a lock is there). So the lock directory
 *   **never exists without its holder file**: a process killed at any instant leaves no lock or a
 *   lock naming its pid. (An earlier version wrote the holder after the `mkdir`; a kill in between
 *   left a nameless lock that only age could recover.) The heartbeat touches the holder file, and
 *   staleness is judged by its mtime.
 * - **Dead-holder recovery** at once: a holder on this host whose pid no longer exists
 *   (`kill(pid, 0)` → `ESRCH`). A holder on another host (a shared network directory) is recovered by
 *   age only; a reused pid only delays recovery until the lock is stale by age.
 * - **Race-free recovery** (stale or dead), and a release that never removes another's lock
 *   (below).
 * - **A bounded, interruptible wait with backoff**: attempts are separated by `Effect.sleep` (a
 *   `Clock` wait, interruptible, deterministic under `TestClock`): exponential from 10 ms, doubling to
 *   at most 250 ms, jittered ×[0.5, 1] by Effect's `Random`, until `timeoutMs`.
 * - **A typed timeout** ({@link LockTimeoutError}) naming the lock path and the holder.
 * - **An ownership check before committing** ({@link Lease.isCompromised}).
 *
 * ## The race this closes, and how
 *
 * proper-lockfile (and the earlier version of this module) recovers a stale lock by removing it and
 * creating its own. Two waiters A and B that judge the same lock L1 stale can then both take it: A
 * removes L1 and creates L2; B, acting on its judgement of L1, removes L2 — A's fresh lock — and
 * creates L3. Both hold the lock, and two read → merge → write cycles overlap: one flush's changes are
 * lost. The same happens when a holder that was stopped for longer than `staleMs` wakes up and
 * releases: its release removed whatever lock was at the path, i.e. its successor's.
 *
 * Here a lock instance (one directory, identified by its holder's `token`) is removed only by the
 * process that wins its **claim** — `claim-<token>.<k>` created inside the instance — see
 * `dispose`: claim, check that the lock at the path is still the instance judged (same token, inode
 * and heartbeat) and that no later claim exists, move it aside with one `rename`, check what moved,
 * remove it. Creating a name inside a directory is exclusive, so of all the waiters that judged L1
 * stale exactly one wins its claim; the others find it taken and wait. A waiter that comes late —
 * after L1 was removed and L2 created — creates `claim-<L1's token>.1` inside L2: a name no one
 * checks for L2, so it blocks nothing; its check then sees L2's token, it withdraws, and touches
 * nothing else. Releases go through the same claim, and only when the holder file still carries
 * the releaser's token. A claim is held for a few system calls; a claim whose claimant is dead (same
 * host) or older than `staleMs` is abandoned, and the next one (`k + 1`) may be taken.
 *
 * A holder, for its part, **gives its lock up once it may be judged stale** rather than reviving it:
 * the heartbeat does not renew a lock whose heartbeat is older than 3/4 of `staleMs` (it reports the
 * lease compromised instead), and {@link Lease.isCompromised} — which the store calls right before the
 * `rename` that commits its write — answers `true` unless, at that instant, the holder file carries
 * this lease's token, no claim on it exists, and its heartbeat is younger than 3/4 of `staleMs`.
 *
 * ## What remains, precisely
 *
 * A waiter takes a lock over only once it judges it dead (impossible for a live holder on this host)
 * or stale (heartbeat older than `staleMs`). So after a holder's check passed at instant `t`, no
 * waiter can claim its lock before `t + staleMs / 4` (at least 500 ms; 2.5 s with the default
 * `staleMs`). Two processes can therefore both complete a read → merge → write only if the holder
 * **stalls for at least `staleMs / 4` between the check and its `rename` system call** — two
 * consecutive steps of the flush — as a process stopped by `SIGSTOP`, a suspended VM or heavy swapping
 * can; the same stall between the heartbeat's check and its `utimes`, or a claimant's stall of
 * `staleMs` between its check and its `rename` of the lock, are the only other ways. On a directory
 * shared between hosts, clocks that differ by more than `staleMs / 4` also break it (staleness
 * compares one host's mtime with another's clock). Only a fencing token checked by the storage itself
 * could close these; a file system offers none.
 *
 * A lock without a holder file (made by other software, or damaged) is recovered by age only.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as NodeCrypto from "node:crypto"
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
      readonly update: number
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

/** What `rename(dir, target)` fails with when `target` is already a non-empty directory (Linux, macOS, Windows). */
const HELD_CODES = new Set(["ENOTEMPTY", "EEXIST", "EPERM", "ENOTDIR", "EISDIR"])

const codeOf = (e: unknown): string | undefined => (e as { code?: string } | null)?.code

/** An error proper-lockfile reads as "the lock is gone" (its heartbeat then reports the lease compromised). */
const lostError = (lockPath: string, reason: string) =>
  Object.assign(new Error(`ENOENT: ${reason}, '${lockPath}'`), { code: "ENOENT", path: lockPath })

/** A fresh acquisition token: unique across processes, hosts and time (`<pid>-<n>-<12 hex>`). */
const newToken = () => `${process.pid}-${++lockTempCounter}-${NodeCrypto.randomBytes(6).toString("hex")}`

/** The claim file name prefix for the lock instance identified by `key`: `claim-<key>.<k>`. */
const claimPrefix = (key: string) => `claim-${key}.`

/** The file inside a claim directory naming its claimant. */
const CLAIMANT_FILE = "claimant.json"

/**
 * One lock directory as seen at one instant: `key` identifies the instance (its holder's token, or
 * `i<inode>` for a lock without one), `mtimeMs` is its heartbeat (the holder file's mtime, or the
 * directory's when there is no holder file).
 */
interface Instance {
  readonly key: string
  readonly token: string | undefined
  readonly holder: Holder | undefined
  readonly ino: number
  readonly mtimeMs: number
  /** Where `mtimeMs` comes from: the holder file (immune to claims made inside) or the directory. */
  readonly heartbeat: "holder" | "dir"
}

/** Reads the lock directory at `path` (the lock, or a lock moved aside); `undefined` when absent. */
const inspect = (path: string): Instance | undefined => {
  let dir: NodeFs.Stats
  try {
    dir = NodeFs.statSync(path)
  } catch {
    return undefined
  }
  let token: string | undefined
  let holder: Holder | undefined
  let mtimeMs = dir.mtimeMs
  let heartbeat: "holder" | "dir" = "dir"
  try {
    const file = NodePath.join(path, HOLDER_FILE)
    const json: unknown = JSON.parse(NodeFs.readFileSync(file, "utf8"))
    mtimeMs = NodeFs.statSync(file).mtimeMs
    heartbeat = "holder"
    const raw = (json as { token?: unknown } | null)?.token
    if (typeof raw === "string" && /^[\w-]+$/.test(raw)) token = raw
    const decoded = Schema.decodeUnknownEither(Holder)(json)
    if (decoded._tag === "Right") holder = decoded.right
  } catch {
    // no holder file, or a damaged one: judged by the directory alone
  }
  return { key: token ?? `i${dir.ino}`, token, holder, ino: dir.ino, mtimeMs, heartbeat }
}

/** The claims on instance `key` inside `lockPath`, as `[k, entry name]`, highest `k` last. */
const claimsOf = (lockPath: string, key: string): Array<readonly [number, string]> => {
  try {
    const prefix = claimPrefix(key)
    return NodeFs.readdirSync(lockPath)
      .filter((e) => e.startsWith(prefix) && /^\d+$/.test(e.slice(prefix.length)))
      .map((e) => [Number(e.slice(prefix.length)), e] as const)
      .sort((a, b) => a[0] - b[0])
  } catch {
    return []
  }
}

/**
 * Whether a claim was abandoned: its claimant is a process of this host that no longer exists, or the
 * claim is older than `staleMs` (a claim is held for the few system calls between winning it and
 * moving the lock away, so an old one belongs to a process that died or was stopped).
 */
const isAbandoned = (claimDir: string, staleMs: number): boolean => {
  try {
    const claimant = JSON.parse(NodeFs.readFileSync(NodePath.join(claimDir, CLAIMANT_FILE), "utf8")) as { pid?: unknown; host?: unknown }
    if (
      typeof claimant.pid === "number" && claimant.host === Os.hostname() && claimant.pid !== process.pid &&
      !isProcessAlive(claimant.pid)
    ) return true
  } catch {
    // no claimant file: judged by age
  }
  try {
    return NodeFs.statSync(claimDir).mtimeMs < Date.now() - staleMs
  } catch {
    return false
  }
}

/**
 * Wins the claim `claim-<key>.<k>` inside whatever lock directory is at `lockPath`: a directory
 * naming this process, built aside and renamed in (exclusive: the rename fails when the name is
 * taken). Returns the claim's nonce, `"taken"` when another process won it, `"gone"` when there is
 * no lock.
 */
const takeClaim = (lockPath: string, key: string, k: number): { nonce: string; path: string } | "taken" | "gone" => {
  const tmp = privateName(lockPath, "new")
  const nonce = newToken()
  const path = NodePath.join(lockPath, `${claimPrefix(key)}${k}`)
  try {
    NodeFs.mkdirSync(tmp)
    NodeFs.writeFileSync(NodePath.join(tmp, CLAIMANT_FILE), JSON.stringify({ pid: process.pid, host: Os.hostname(), nonce }))
    NodeFs.renameSync(tmp, path)
    return { nonce, path }
  } catch (e) {
    NodeFs.rmSync(tmp, { recursive: true, force: true })
    return codeOf(e) === "ENOENT" ? "gone" : "taken"
  }
}

/** Removes a claim this process made, if it is still there and still ours (never another's). */
const withdrawClaim = (claim: { nonce: string; path: string }): void => {
  try {
    const claimant = JSON.parse(NodeFs.readFileSync(NodePath.join(claim.path, CLAIMANT_FILE), "utf8")) as { nonce?: unknown }
    if (claimant.nonce === claim.nonce) NodeFs.rmSync(claim.path, { recursive: true, force: true })
  } catch {
    // gone with its lock
  }
}

/**
 * What {@link dispose} did: `Removed` the instance; `Busy` (another process is taking it, or it is
 * no longer the instance that was judged: nothing was touched but our own claim, withdrawn); `Gone`
 * (no lock at the path).
 */
type Disposal = "Removed" | "Busy" | "Gone"

/**
 * Removes the lock instance `seen` from `lockPath`, and only that instance, however many processes
 * try at once. This is how a dead or stale lock is recovered and how a holder releases its own lock.
 *
 * 1. **Claim** the instance: win `claim-<key>.<k>` inside it, `k` one above its highest claim (a
 *    claim that is still live means another process is removing it: `Busy`). Creating a name inside
 *    a directory is exclusive, so exactly one process wins a given claim of a given instance.
 * 2. **Validate**: the lock at `lockPath` is still the instance `seen` (same key, same inode, and —
 *    when `sameHeartbeat` — the same heartbeat mtime) and no later claim exists. A claim that landed
 *    in another instance (the lock was replaced meanwhile) carries the old key in its name, so it
 *    blocks no one; it is withdrawn and nothing else is touched.
 * 3. **Move** the lock to `<lock>.<pid>.<n>.old` (one atomic rename) and check that what moved is the
 *    instance `seen` (protocol-wise it must be: only the winner of its claim moves an instance); if
 *    not, it is put back (a `rename` onto a path taken meanwhile fails, so a put-back can only fail
 *    safe: that lock's holder sees its token gone and reports its lease compromised).
 * 4. Remove the moved directory.
 */
const dispose = (lockPath: string, seen: Instance, staleMs: number, sameHeartbeat: boolean): Disposal => {
  const claims = claimsOf(lockPath, seen.key)
  const top = claims[claims.length - 1]
  if (top !== undefined && !isAbandoned(NodePath.join(lockPath, top[1]), staleMs)) return "Busy"
  const claim = takeClaim(lockPath, seen.key, (top?.[0] ?? 0) + 1)
  if (claim === "gone") return "Gone"
  if (claim === "taken") return "Busy"
  const now = inspect(lockPath)
  const later = claimsOf(lockPath, seen.key).some(([k]) => k > (top?.[0] ?? 0) + 1)
  if (
    now === undefined || now.key !== seen.key || now.ino !== seen.ino || later ||
    (sameHeartbeat && seen.heartbeat === "holder" && (now.heartbeat !== "holder" || now.mtimeMs !== seen.mtimeMs))
  ) {
    withdrawClaim(claim)
    return now === undefined ? "Gone" : "Busy"
  }
  const aside = privateName(lockPath, "old")
  try {
    NodeFs.renameSync(lockPath, aside)
  } catch (e) {
    return codeOf(e) === "ENOENT" ? "Gone" : "Busy"
  }
  const moved = inspect(aside)
  if (moved === undefined || moved.key !== seen.key || moved.ino !== seen.ino) {
    try {
      NodeFs.renameSync(aside, lockPath)
    } catch {
      // The path was taken meanwhile: leave the moved lock aside (removed once stale by removeStrays).
    }
    return "Busy"
  }
  NodeFs.rmSync(aside, { recursive: true, force: true })
  return "Removed"
}

/**
 * Why the lock at `lockPath` is not (or no longer safely) the one this process took with `token`, or
 * `undefined` when it is: the holder file carries another token or is gone; a claim on it exists (a
 * waiter judged it stale or dead and is removing it); or, with `maxAgeMs`, its heartbeat is that old
 * (a waiter may judge it stale at any moment).
 */
const ownershipProblem = (lockPath: string, token: string, maxAgeMs?: number): string | undefined => {
  const now = inspect(lockPath)
  if (now === undefined) return "the lock is gone"
  if (now.token !== token) return `the lock was taken over by ${describeHolder(now.holder)}`
  if (claimsOf(lockPath, token).length > 0) return "another process is taking the lock over"
  if (maxAgeMs !== undefined && now.mtimeMs < Date.now() - maxAgeMs) {
    return `its heartbeat is ${Math.round(Date.now() - now.mtimeMs)} ms old, close to the stale limit`
  }
  return undefined
}

/** Releases the lock taken with `token`, if it is still ours; never touches another process's lock. */
const releaseOwn = (lockPath: string, token: string, staleMs: number): void => {
  const seen = inspect(lockPath)
  if (seen === undefined || seen.token !== token) return
  dispose(lockPath, seen, staleMs, false)
}

/** The state of one acquisition shared by the `fs` hooks and the lease. */
interface Acquisition {
  readonly lockPath: string
  readonly holder: Holder
  readonly token: string
  readonly staleMs: number
  /** Set once the lock is ours (our `mkdir` succeeded). */
  owned: boolean
  /** Set once proper-lockfile releases it (its heartbeat may still be in flight). */
  released: boolean
  /** Set when the lock is found not ours; never cleared. */
  compromised: boolean
}

/** The heartbeat age (ms) past which a holder gives its lock up: 3/4 of `staleMs` (see the module docs). */
const safeAgeOf = (staleMs: number) => (staleMs * 3) / 4

/**
 * The `fs` handed to proper-lockfile. The lock directory is never visible without its holder file,
 * and nothing is ever removed on the strength of a check made earlier:
 *
 * - `mkdir(lock)` builds `<lock>.<pid>.<n>.new` with `holder.json` (pid, host, acquiredAt, token)
 *   inside and renames it to `lock`. `rename` of a directory onto an existing non-empty one fails
 *   (`ENOTEMPTY`/`EEXIST`, `EPERM` on Windows), which is reported to proper-lockfile as the `EEXIST`
 *   of its `mkdir`: the operation is exactly as exclusive, and a process killed at any instant leaves
 *   either no lock or a lock naming its pid (so it is recovered at once, not after `staleMs`).
 * - `stat` / `utimes` of the lock (proper-lockfile's mtime probe and heartbeat) act on the holder
 *   file, so that claims created inside the directory never disturb the heartbeat, and first check
 *   that the lock is still ours and unclaimed: if not, they fail with `ENOENT`, which proper-lockfile
 *   reports as a compromise. `utimes` also refuses to renew a heartbeat older than 3/4 `staleMs`:
 *   a lock a waiter may already have judged stale is given up, never revived.
 * - `rmdir(lock)` (release, exit hook) removes the lock only if it is still ours, through
 *   {@link dispose}.
 */
const lockFs = (acq: Acquisition) => {
  const holderFile = NodePath.join(acq.lockPath, HOLDER_FILE)
  const isLock = (path: string) => acq.owned && NodePath.resolve(path) === NodePath.resolve(acq.lockPath)
  const lose = (reason: string) => {
    acq.compromised = true
    return lostError(acq.lockPath, reason)
  }
  return {
    ...NodeFs,
    mkdir: (path: string, callback: (err: NodeJS.ErrnoException | null) => void) => {
      const tmp = privateName(path, "new")
      NodeFs.mkdir(tmp, (err) => {
        if (err !== null) return callback(Object.assign(err, { path }))
        try {
          NodeFs.writeFileSync(NodePath.join(tmp, HOLDER_FILE), JSON.stringify({ ...acq.holder, token: acq.token }))
        } catch (e) {
          NodeFs.rmSync(tmp, { recursive: true, force: true })
          return callback(e as NodeJS.ErrnoException)
        }
        NodeFs.rename(tmp, path, (renameError) => {
          if (renameError === null) {
            acq.owned = true
            return callback(null)
          }
          NodeFs.rm(tmp, { recursive: true, force: true }, () =>
            callback(
              HELD_CODES.has(renameError.code ?? "")
                ? Object.assign(new Error(`EEXIST: lock already held, mkdir '${path}'`), { code: "EEXIST", path })
                : renameError
            ))
        })
      })
    },
    stat: (path: string, callback: (err: NodeJS.ErrnoException | null, stats?: NodeFs.Stats) => void) => {
      if (!isLock(path)) return NodeFs.stat(path, callback)
      const problem = ownershipProblem(acq.lockPath, acq.token)
      if (problem !== undefined) return callback(lose(problem))
      NodeFs.stat(holderFile, callback)
    },
    utimes: (path: string, atime: Date, mtime: Date, callback: (err: NodeJS.ErrnoException | null) => void) => {
      if (!isLock(path)) return NodeFs.utimes(path, atime, mtime, callback)
      if (acq.released) return callback(null)
      const problem = ownershipProblem(acq.lockPath, acq.token, safeAgeOf(acq.staleMs))
      if (problem !== undefined) return callback(lose(problem))
      try {
        NodeFs.utimesSync(holderFile, atime, mtime)
        callback(null)
      } catch (e) {
        callback(e as NodeJS.ErrnoException)
      }
    },
    rmdir: (path: string, callback: (err: NodeJS.ErrnoException | null) => void) => {
      acq.released = true
      try {
        releaseOwn(path, acq.token, acq.staleMs)
        callback(null)
      } catch (e) {
        callback(e as NodeJS.ErrnoException)
      }
    },
    rmdirSync: (path: string) => {
      acq.released = true
      releaseOwn(path, acq.token, acq.staleMs)
    }
  }
}

/**
 * Removes `<lock>.<pid>.<n>.new|old` directories older than `staleMs` (left by a process killed
 * between the steps of taking, claiming or dropping the lock). Run by a holder; best effort.
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
 * Why the lock at `lockPath` may be taken over now: its holder is a process of this host that no
 * longer exists (`Dead`), or its heartbeat is older than `staleMs` (`Stale`). `seen` is the instance
 * judged, `undefined` when the lock is gone.
 */
interface Judgement {
  readonly seen: Instance | undefined
  readonly verdict: "Dead" | "Stale" | "Live"
}

const judge = (lockPath: string, staleMs: number): Judgement => {
  const seen = inspect(lockPath)
  if (seen === undefined) return { seen, verdict: "Live" }
  const h = seen.holder
  if (h !== undefined && h.host === Os.hostname() && h.pid !== process.pid && !isProcessAlive(h.pid)) return { seen, verdict: "Dead" }
  return { seen, verdict: seen.mtimeMs < Date.now() - staleMs ? "Stale" : "Live" }
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
 * Builds the proper-lockfile based {@link FileLock}, with test seams ({@link Hooks}).
 *
 * @since 0.1.0
 * @internal
 */
export const makeWith = (hooks: Hooks): Effect.Effect<FileLock["Type"]> =>
  Effect.sync(() => {
    const acquire = (file: string, options: AcquireOptions = {}) => {
      const lockPath = lockPathOf(file)
      const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
      const staleMs = Math.max(options.staleMs ?? DEFAULT_STALE_MS, 2_000)
      return Effect.gen(function*() {
        const attempt = (acq: Acquisition) =>
          Effect.async<Attempt, LockError>((resume) => {
            lockfile.lock(file, {
              // proper-lockfile never takes a lock over itself (no lock is stale to it): recovery is ours.
              stale: Number.POSITIVE_INFINITY,
              update: staleMs / 2,
              retries: 0,
              realpath: false,
              lockfilePath: lockPath,
              fs: lockFs(acq),
              onCompromised: () => {
                acq.compromised = true
              }
            }, (err, release) => {
              if (err === null && release !== undefined) resume(Effect.succeed({ _tag: "Acquired", release }))
              else if (err?.code === "ELOCKED") resume(Effect.succeed({ _tag: "Locked" }))
              else {
                resume(Effect.fail(
                  new LockError({
                    path: lockPath,
                    reason: err?.message ?? "unknown error",
                    ...(err?.code === undefined ? {} : { code: err.code })
                  })
                ))
              }
            })
          })
        const start = yield* Clock.currentTimeMillis
        let delay = BACKOFF_START_MS
        let lastHolder: Holder | undefined
        while (true) {
          const acq: Acquisition = {
            lockPath,
            holder: { pid: process.pid, host: Os.hostname(), acquiredAt: Date.now() },
            token: newToken(),
            staleMs,
            owned: false,
            released: false,
            compromised: false
          }
          const result = yield* attempt(acq)
          if (result._tag === "Acquired") {
            removeStrays(lockPath, staleMs)
            yield* Effect.addFinalizer(() =>
              Effect.async<void>((resume) =>
                result.release((err) => {
                  // Already given up by proper-lockfile (compromised): remove it all the same if it is still ours.
                  if (err !== null) releaseOwn(lockPath, acq.token, staleMs)
                  resume(Effect.void)
                })
              )
            )
            const isCompromised = Effect.sync(() => {
              if (!acq.compromised && ownershipProblem(lockPath, acq.token, safeAgeOf(staleMs)) !== undefined) {
                acq.compromised = true
              }
              return acq.compromised
            })
            return { path: lockPath, holder: acq.holder, isCompromised } satisfies Lease
          }
          const found = judge(lockPath, staleMs)
          lastHolder = found.seen?.holder ?? lastHolder
          if (found.seen !== undefined && found.verdict !== "Live") {
            if (hooks.beforeRecover !== undefined) yield* hooks.beforeRecover(lockPath)
            const seen = found.seen
            const outcome = dispose(lockPath, seen, staleMs, true)
            if (outcome === "Removed") {
              yield* Effect.logWarning(
                found.verdict === "Dead"
                  ? `recovered the lock ${lockPath} left by ${describeHolder(seen.holder)}, which no longer exists`
                  : `recovered the lock ${lockPath} of ${describeHolder(seen.holder)}, stale: no heartbeat for ${
                    Math.round(Date.now() - seen.mtimeMs)
                  } ms (limit ${staleMs} ms)`
              )
            }
            if (outcome !== "Busy") continue
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
 * Builds the proper-lockfile based {@link FileLock}.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<FileLock["Type"]> = makeWith({})

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
