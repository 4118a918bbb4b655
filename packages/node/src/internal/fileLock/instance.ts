/**
 * One lock directory as the lock protocol sees it (holder, heartbeat, claims), and the two steps
 * that change it: winning a claim and removing exactly one instance (`dispose`). Every file system
 * call goes through Effect's `FileSystem`; every time comes from `Clock`.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { randomBytes } from "node:crypto"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { type Holder, HOLDER_FILE, Holder as HolderSchema, isProcessAlive } from "../../FileLock.js"
import { errnoOf } from "../errno.js"

let counter = 0

/** A lock-directory name of this process that is never the lock itself: `<lock>.<pid>.<n>.<kind>`. */
export const privateName = (lockPath: string, kind: "new" | "old") => `${lockPath}.${process.pid}.${++counter}.${kind}`

/** A fresh acquisition token: unique across processes, hosts and time (`<pid>-<n>-<12 hex>`). */
export const newToken = () => `${process.pid}-${++counter}-${randomBytes(6).toString("hex")}`

/** The claim name prefix for the lock instance identified by `key`: `claim-<key>.<k>`. */
const claimPrefix = (key: string) => `claim-${key}.`

/** The file inside a claim directory naming its claimant. */
const CLAIMANT_FILE = "claimant.json"

/**
 * One lock directory at one instant: `key` identifies the instance (its holder's token, or
 * `i<inode>` for a lock without one), `mtimeMs` is its heartbeat (the holder file's mtime, or the
 * directory's when there is no holder file), `uid` its owner.
 */
export interface Instance {
  readonly key: string
  readonly token: string | undefined
  readonly holder: Holder | undefined
  readonly ino: number
  readonly uid: number | undefined
  readonly mtimeMs: number
  readonly heartbeat: "holder" | "dir"
}

/** What is at a lock path that is not a lock directory: a `File`, a `SymbolicLink`, … */
export interface NotALock {
  readonly _tag: "NotALock"
  readonly type: string
}

// Called, not built at load: this module and FileLock.ts import each other.
const decodeHolder = (u: unknown) => Schema.decodeUnknownOption(HolderSchema)(u)
const mtimeOf = (info: FileSystem.File.Info) => Option.match(info.mtime, { onNone: () => 0, onSome: (d) => d.getTime() })

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Reads the lock directory at `path`; `undefined` when absent, `NotALock` when something else is there. */
export const inspect = (fs: FileSystem.FileSystem, path: string): Effect.Effect<Instance | NotALock | undefined> =>
  Effect.gen(function*() {
    // Independent reads run concurrently: a waiter inspects the lock at every attempt.
    const file = NodePath.join(path, HOLDER_FILE)
    const [link, dir, json, holderInfo] = yield* Effect.all([
      Effect.option(fs.readLink(path)),
      Effect.option(fs.stat(path)),
      fs.readFileString(file).pipe(Effect.map(parseJson), Effect.orElseSucceed(() => undefined)),
      Effect.option(fs.stat(file))
    ], { concurrency: "unbounded" })
    if (Option.isSome(link)) return { _tag: "NotALock", type: "SymbolicLink" } as const
    if (Option.isNone(dir)) return undefined
    if (dir.value.type !== "Directory") return { _tag: "NotALock", type: dir.value.type } as const
    const holderStat = json === undefined ? Option.none() : holderInfo
    const raw = (json as { token?: unknown } | null | undefined)?.token
    const token = Option.isSome(holderStat) && typeof raw === "string" && /^[\w-]+$/.test(raw) ? raw : undefined
    const ino = Option.getOrElse(dir.value.ino, () => 0)
    return {
      key: token ?? `i${ino}`,
      token,
      holder: Option.isSome(holderStat) ? Option.getOrUndefined(decodeHolder(json)) : undefined,
      ino,
      uid: Option.getOrUndefined(dir.value.uid),
      mtimeMs: Option.isSome(holderStat) ? mtimeOf(holderStat.value) : mtimeOf(dir.value),
      heartbeat: Option.isSome(holderStat) ? "holder" : "dir"
    } satisfies Instance
  })

/** The lock directory at `path`, or undefined (absent, or not a lock). */
export const inspectLock = (fs: FileSystem.FileSystem, path: string) =>
  Effect.map(inspect(fs, path), (i) => (i === undefined || "_tag" in i ? undefined : i))

/** The claims on instance `key` among a lock directory's `entries`, as `[k, entry name]`, highest `k` last. */
const claimsAmong = (entries: ReadonlyArray<string>, key: string): Array<readonly [number, string]> => {
  const prefix = claimPrefix(key)
  return entries
    .filter((e) => e.startsWith(prefix) && /^\d+$/.test(e.slice(prefix.length)))
    .map((e) => [Number(e.slice(prefix.length)), e] as const)
    .sort((a, b) => a[0] - b[0])
}

/** The claims on instance `key` inside `lockPath`, as `[k, entry name]`, highest `k` last. */
export const claimsOf = (fs: FileSystem.FileSystem, lockPath: string, key: string) =>
  fs.readDirectory(lockPath).pipe(
    Effect.map((entries) => claimsAmong(entries, key)),
    Effect.orElseSucceed((): Array<readonly [number, string]> => [])
  )

/**
 * Whether a claim was abandoned: its claimant is a process of this host that no longer exists, or
 * the claim is older than `staleMs` (a claim is held for the few calls between winning it and moving
 * the lock away, so an old one belongs to a process that died or was stopped).
 */
const isAbandoned = (fs: FileSystem.FileSystem, claimDir: string, staleMs: number) =>
  Effect.gen(function*() {
    const claimant = yield* fs.readFileString(NodePath.join(claimDir, CLAIMANT_FILE)).pipe(
      Effect.map((t) => parseJson(t) as { pid?: unknown; host?: unknown } | undefined),
      Effect.orElseSucceed(() => undefined)
    )
    if (
      typeof claimant?.pid === "number" && claimant.host === Os.hostname() && claimant.pid !== process.pid &&
      !isProcessAlive(claimant.pid)
    ) return true
    const info = yield* Effect.option(fs.stat(claimDir))
    return Option.isSome(info) && mtimeOf(info.value) < (yield* Clock.currentTimeMillis) - staleMs
  })

/** A claim won: its directory and nonce. */
export interface Claim {
  readonly nonce: string
  readonly path: string
}

/**
 * Wins the claim `claim-<key>.<k>` inside whatever lock directory is at `lockPath`: a directory
 * naming this process, built aside and renamed in (exclusive: the rename fails when the name is
 * taken). `taken` when another process won it, `gone` when there is no lock, `denied` when this
 * process may not create names in the lock (another user's directory).
 */
const takeClaim = (fs: FileSystem.FileSystem, lockPath: string, key: string, k: number) =>
  Effect.gen(function*() {
    const tmp = privateName(lockPath, "new")
    const nonce = newToken()
    const path = NodePath.join(lockPath, `${claimPrefix(key)}${k}`)
    return yield* fs.makeDirectory(tmp).pipe(
      Effect.zipRight(fs.writeFileString(NodePath.join(tmp, CLAIMANT_FILE), JSON.stringify({ pid: process.pid, host: Os.hostname(), nonce }))),
      Effect.zipRight(fs.rename(tmp, path)),
      Effect.as<Claim | "taken" | "gone" | "denied">({ nonce, path }),
      Effect.catchAll((e) => {
        const code = errnoOf(e)
        return fs.remove(tmp, { recursive: true }).pipe(
          Effect.ignore,
          Effect.as(code === "ENOENT" ? "gone" as const : code === "EACCES" || code === "EPERM" ? "denied" as const : "taken" as const)
        )
      })
    )
  })

/** Removes a claim this process made, if it is still there and still ours (never another's). */
const withdrawClaim = (fs: FileSystem.FileSystem, claim: Claim) =>
  fs.readFileString(NodePath.join(claim.path, CLAIMANT_FILE)).pipe(
    Effect.flatMap((t) =>
      (parseJson(t) as { nonce?: unknown } | undefined)?.nonce === claim.nonce ? fs.remove(claim.path, { recursive: true }) : Effect.void
    ),
    Effect.ignore
  )

/**
 * What {@link dispose} did: `Removed` the instance; `Busy` (another process is taking it, or it is no
 * longer the instance judged: nothing was touched but our own claim, withdrawn); `Gone` (no lock);
 * `Denied` (this process may not write inside the lock: another user's directory).
 */
export type Disposal = "Removed" | "Busy" | "Gone" | "Denied"

/**
 * Removes the lock instance `seen` from `lockPath`, and only that instance, however many processes
 * try at once (how a dead or stale lock is recovered and how a holder releases its own):
 *
 * 1. **Claim** it: win `claim-<key>.<k>` inside it, `k` one above its highest claim (a live claim
 *    means another process is removing it: `Busy`). Creating a name in a directory is exclusive, so
 *    one process wins a given claim. A late waiter's claim lands in a newer instance under the old
 *    key, where nobody looks for it: it blocks nothing.
 * 2. **Validate**: the lock is still `seen` (same key and inode; with `sameHeartbeat`, same heartbeat)
 *    and no later claim exists; else withdraw the claim and touch nothing.
 * 3. **Move** it to `<lock>.<pid>.<n>.old` (one rename), check what moved is `seen` (else put it
 *    back: a rename onto a path taken meanwhile fails, so the put-back can only fail safe).
 * 4. **Remove** the moved directory.
 */
export const dispose = (
  fs: FileSystem.FileSystem,
  lockPath: string,
  seen: Instance,
  staleMs: number,
  sameHeartbeat: boolean
): Effect.Effect<Disposal> =>
  Effect.gen(function*() {
    const claims = yield* claimsOf(fs, lockPath, seen.key)
    const top = claims[claims.length - 1]
    if (top !== undefined && !(yield* isAbandoned(fs, NodePath.join(lockPath, top[1]), staleMs))) return "Busy"
    const claim = yield* takeClaim(fs, lockPath, seen.key, (top?.[0] ?? 0) + 1)
    if (claim === "gone") return "Gone"
    if (claim === "taken") return "Busy"
    if (claim === "denied") return "Denied"
    const now = yield* inspectLock(fs, lockPath)
    const later = (yield* claimsOf(fs, lockPath, seen.key)).some(([k]) => k > (top?.[0] ?? 0) + 1)
    if (
      now === undefined || now.key !== seen.key || now.ino !== seen.ino || later ||
      (sameHeartbeat && seen.heartbeat === "holder" && (now.heartbeat !== "holder" || now.mtimeMs !== seen.mtimeMs))
    ) {
      yield* withdrawClaim(fs, claim)
      return now === undefined ? "Gone" : "Busy"
    }
    const aside = privateName(lockPath, "old")
    const moved = yield* fs.rename(lockPath, aside).pipe(
      Effect.as(true),
      Effect.catchAll((e) => Effect.succeed(errnoOf(e) === "ENOENT" ? "Gone" as const : false))
    )
    if (moved === "Gone") return "Gone"
    if (!moved) return "Busy"
    const what = yield* inspectLock(fs, aside)
    if (what === undefined || what.key !== seen.key || what.ino !== seen.ino) {
      // The path was taken meanwhile if this fails: the moved lock stays aside (removed once stale).
      yield* fs.rename(aside, lockPath).pipe(Effect.ignore)
      return "Busy"
    }
    yield* fs.remove(aside, { recursive: true }).pipe(Effect.ignore)
    return "Removed"
  })

/**
 * Why the lock at `lockPath` is not (or no longer safely) the one taken with `token`, or undefined
 * when it is: the holder file carries another token or is gone; a claim on it exists; or, with
 * `maxAgeMs`, its heartbeat is that old (a waiter may judge it stale at any moment).
 */
export const ownershipProblem = (fs: FileSystem.FileSystem, lockPath: string, token: string, maxAgeMs?: number) =>
  Effect.gen(function*() {
    const now = yield* inspectLock(fs, lockPath)
    if (now === undefined) return "the lock is gone"
    if (now.token !== token) return `the lock was taken over by ${describeHolder(now.holder)}`
    if ((yield* claimsOf(fs, lockPath, token)).length > 0) return "another process is taking the lock over"
    const at = yield* Clock.currentTimeMillis
    if (maxAgeMs !== undefined && now.mtimeMs < at - maxAgeMs) {
      return `its heartbeat is ${Math.round(at - now.mtimeMs)} ms old, close to the stale limit`
    }
    return undefined
  })

/**
 * The holder file a lease wrote, which it keeps open for as long as it holds the lock: while a
 * descriptor is open the file (its inode) cannot be freed, so no other file on the device can carry
 * its inode number. A holder file at the lock path with this `dev` and `ino` is therefore this
 * lease's, and so is the directory around it (the protocol moves lock directories, never the files
 * inside them). The token is the same lease's, for the readings that need it.
 */
export interface Own {
  readonly token: string
  readonly dev: number
  readonly ino: number
}

/** Whether a `stat` is of the holder file `own` keeps open. */
export const isOwnHolder = (info: FileSystem.File.Info, own: Own): boolean =>
  info.dev === own.dev && Option.getOrElse(info.ino, () => -1) === own.ino

/**
 * {@link ownershipProblem} for a lease that keeps its holder file open ({@link Own}), in one round of
 * three concurrent calls instead of re-reading the holder file: the lock path is not a link, its
 * holder file is the one this lease holds open (same device and inode), no claim on it exists, and
 * (with `maxAgeMs`) its heartbeat is younger than that. When the holder file is not ours, the full
 * reading says what happened.
 */
export const ownProblem = (fs: FileSystem.FileSystem, lockPath: string, own: Own, maxAgeMs?: number) =>
  Effect.gen(function*() {
    const [link, holder, entries] = yield* Effect.all([
      Effect.option(fs.readLink(lockPath)),
      Effect.option(fs.stat(NodePath.join(lockPath, HOLDER_FILE))),
      Effect.orElseSucceed(fs.readDirectory(lockPath), (): Array<string> => [])
    ], { concurrency: "unbounded" })
    if (Option.isSome(link) || Option.isNone(holder) || !isOwnHolder(holder.value, own)) {
      return (yield* ownershipProblem(fs, lockPath, own.token, maxAgeMs)) ?? "the lock's holder file is not the one this lease wrote"
    }
    if (claimsAmong(entries, own.token).length > 0) return "another process is taking the lock over"
    const at = yield* Clock.currentTimeMillis
    const mtimeMs = mtimeOf(holder.value)
    if (maxAgeMs !== undefined && mtimeMs < at - maxAgeMs) {
      return `its heartbeat is ${Math.round(at - mtimeMs)} ms old, close to the stale limit`
    }
    return undefined
  })

/** `pid N on host since <ISO time>`, or "an unknown holder". */
export const describeHolder = (holder: Holder | undefined): string =>
  holder === undefined ? "an unknown holder" : `pid ${holder.pid} on ${holder.host} since ${new Date(holder.acquiredAt).toISOString()}`
