/**
 * The persistent peer cache: one JSON file shared by every process on the machine (nodes and
 * clients), kept crash-safe, multi-process-safe and lossless.
 *
 * ## How a process sees and changes the cache
 *
 * A process reads the file once when the Layer is built ({@link CacheStore} `snapshot` is that table
 * plus its own changes). Every change it makes (`add`, `recordSuccess`, `recordFailure`, `remove`,
 * `importFile` / `importText`) is appended to its **journal** (`Journal` in the core) in O(1); the
 * view is brought up to date when it is next read (`snapshot`, `info`), by replaying the changes
 * recorded since in one batch, and memoised until the next change. A **flush**:
 *
 * 1. takes the lock (`FileLock`: `<file>.lock`, bounded wait, dead holders recovered);
 * 2. reads the file as it is now (other processes may have written since). A file that still has
 *    the identity (inode, size, mtime) **and** the header (version, lastUpdated, checksum) it had when
 *    this process last read or wrote it is not read again: the checksum covers the peers, so an
 *    unchanged header means unchanged peers even where an inode is reused or mtime is coarse;
 * 3. replays **its journal** onto it (so counters add up: N processes × M outcomes = N·M outcomes);
 * 4. prunes and caps (`prune` option, default `Prune.prune` of the core);
 * 5. writes atomically: a temp file in the same directory (with the permission bits of the file it
 *    replaces), `fsync`, the current file hard-linked to `<file>.bak`, `rename` over the target,
 *    `fsync` of the directory;
 * 6. unlocks, and drops the flushed operations from the journal (only then: a failed flush loses
 *    nothing, the next one retries).
 *
 * A flush runs every `flushInterval` (default 5 minutes) in a scoped fiber, and once more when the
 * Layer's scope closes (bounded by `shutdownTimeout`, default 5 s; a failing or hanging final flush is
 * logged and abandoned, never blocking shutdown).
 *
 * ## What can go wrong, and what the store does
 *
 * | situation | behaviour |
 * |---|---|
 * | crash at any instant | the file is the old or the new one, never a mix (temp + rename); stray temp files are removed by the next flush |
 * | corrupt file (bad JSON, truncated, bad checksum, wrong shape) | moved aside to `<file>.corrupt-<timestamp>` (never deleted), a warning, `<file>.bak` loaded if valid, else an empty cache |
 * | a record this version cannot read | left out with a warning; before the file is next overwritten it is copied to `<file>.rejected-<timestamp>` |
 * | file from a newer format version | read as far as understood, a warning, never overwritten (flushes are `Skipped`) |
 * | read-only file (no write bit), read-only directory, read-only file system, full disk, I/O error | reads work; the flush fails with {@link CacheWriteError}: an explicit `flush` returns it (and records it in `info.warnings`), a background or final flush logs ONE warning per kind of failure until a flush succeeds; the old file stays intact; changes are kept for the next attempt |
 * | missing directory | created |
 * | unreadable file (permission, I/O) | an empty view with a warning; flushes fail rather than overwrite what could not be read |
 *
 * Nothing throws out of the store: operations that record never fail, `flush` fails only with the
 * typed {@link CacheWriteError}, and the Layer fails only with {@link CacheOpenError} (a path that
 * cannot be a file).
 *
 * ## fsync of the directory
 *
 * `@effect/platform`'s FileSystem has no "sync a directory" call. On Linux and macOS, opening a
 * directory read-only and calling `fsync` on the descriptor is the documented way (POSIX leaves it
 * implementation-defined; Linux ext4/xfs and APFS honour it), so that is what is done through the
 * FileSystem's `open` + `File.sync`. Windows cannot open a directory this way (`EISDIR`/`EPERM`); the
 * error is ignored there, where NTFS journals the rename itself.
 *
 * Time comes from Effect's `Clock`: the one in the context that builds the store times the changes
 * (so `TestClock` drives them, the background flush and staleness).
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import type { PlatformError } from "@effect/platform/Error"
import { CacheFile, CacheImport, Journal, PeerTable, Prune } from "@bootstrap-cache/core"
import type { PeerAddress, PeerRecord } from "@bootstrap-cache/core"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { createHash } from "node:crypto"
import * as CachePaths from "./CachePaths.js"
import * as FileLock from "./FileLock.js"
import * as ConfigHelpers from "./internal/config.js"

// ---------------------------------------------------------------------------------------------------
// Errors and results
// ---------------------------------------------------------------------------------------------------

/**
 * The store cannot be opened at `path`: the path cannot be a file (it is a directory, or a parent is
 * a file). Permission problems and corrupt files do not fail the open (see the module docs).
 *
 * @since 0.1.0
 */
export class CacheOpenError extends Schema.TaggedError<CacheOpenError>()("CacheOpenError", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot open the peer cache ${this.path}: ${this.reason}`
  }
}

/**
 * A flush did not write the file. `operation` is the step that failed (`lock`, `read`, `move-aside`,
 * `write`, `rename`, …), `code` the OS error when there is one (`EACCES`, `EROFS`, `ENOSPC`, `EIO`,
 * `ELOCKED` for a lock timeout), `reason` the details (for a lock timeout: the holder's pid and host).
 * The file on disk is left as it was and the changes are kept for the next flush.
 *
 * @since 0.1.0
 */
export class CacheWriteError extends Schema.TaggedError<CacheWriteError>()("CacheWriteError", {
  path: Schema.String,
  operation: Schema.String,
  code: Schema.optional(Schema.String),
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot write the peer cache ${this.path} (${this.operation}${this.code === undefined ? "" : `, ${this.code}`}): ${this.reason}`
  }
}

/**
 * An import failed as a whole: the file could not be read, or its content is no known format.
 * `source` is the file path or URL, `reason` what was wrong (with the line for malformed JSON).
 *
 * @since 0.1.0
 */
export class CacheImportError extends Schema.TaggedError<CacheImportError>()("CacheImportError", {
  source: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot import ${this.source}: ${this.reason}`
  }
}

/**
 * The outcome of a flush.
 *
 * - `Written`: the file was replaced. `applied` operations of this process were merged, the file now
 *   holds `peers` peers and `addresses` addresses (`bytes` bytes); pruning removed `pruned` addresses.
 * - `Unchanged`: this process had nothing to write; its view was refreshed from the file.
 * - `Skipped`: the store never writes this file (`reason`: a newer format version, or the `readOnly`
 *   option).
 *
 * @since 0.1.0
 */
export type FlushResult = Data.TaggedEnum<{
  Written: {
    readonly path: string
    readonly applied: number
    readonly peers: number
    readonly addresses: number
    readonly pruned: number
    readonly bytes: number
  }
  Unchanged: { readonly path: string }
  Skipped: { readonly path: string; readonly reason: string }
}>

/**
 * Constructors of {@link FlushResult}.
 *
 * @since 0.1.0
 */
export const FlushResult = Data.taggedEnum<FlushResult>()

/**
 * What `info` reports.
 *
 * - `path` and `origin` (see `CachePaths`).
 * - `version`, `lastUpdated` (epoch ms): of the file as last read or written; none when there is no file.
 * - `stale`: `lastUpdated` is older than `staleAfter` (or there is no file).
 * - `readOnly` with `readOnlyReason`: the store never writes this file.
 * - `pendingOps`: changes not yet flushed; `droppedOps`: changes lost because `maxPendingOps` was
 *   exceeded while flushes kept failing.
 * - `peers`, `addresses`: of the snapshot.
 * - `warnings`: the most recent warnings (at most 20), oldest first.
 * - `lastFlush`: the last successful flush, if any.
 *
 * @since 0.1.0
 */
export interface CacheInfo {
  readonly path: string
  readonly origin: CachePaths.Origin
  readonly version: Option.Option<number>
  readonly lastUpdated: Option.Option<number>
  readonly stale: boolean
  readonly readOnly: boolean
  readonly readOnlyReason: Option.Option<string>
  readonly pendingOps: number
  readonly droppedOps: number
  readonly peers: number
  readonly addresses: number
  readonly warnings: ReadonlyArray<string>
  readonly lastFlush: Option.Option<FlushResult>
}

/**
 * What an import did: the `source`, the detected `format`, the number of peer `records` and address
 * `entries` merged (pending until the next flush), and the `bad` entries that were skipped, each
 * with its location (`line 3`, `peers[2].addresses[1]`) and reason.
 *
 * @since 0.1.0
 */
export interface ImportReport {
  readonly source: string
  readonly format: CacheImport.Format
  readonly records: number
  readonly entries: number
  readonly bad: ReadonlyArray<CacheImport.BadEntry>
}

// ---------------------------------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------------------------------

/**
 * The cache store service (see the module docs).
 *
 * - `snapshot`: the last read of the file plus this process's pending changes.
 * - `add`, `recordSuccess` (RTT in ms, bytes), `recordFailure`, `remove`: change the view (seen by
 *   the next `snapshot`) and are written on the next flush. One synchronous step each; never fail.
 * - `flush`: lock → read → apply own changes → prune/cap → atomic write → unlock. Fails only with
 *   {@link CacheWriteError} (the file untouched, the changes kept); the failure is also logged, one
 *   warning per kind of failure until a flush succeeds, shared with the background and final flushes.
 * - `reload`: re-reads the file (without the lock: writes are atomic renames) and re-applies the
 *   pending changes.
 * - `isStale`: the file's `lastUpdated` is older than `staleAfter`.
 * - `info`: see {@link CacheInfo}.
 * - `importFile(path)`, `importText(text, from)`: merge a bootstrap-cache file, a foreign cache
 *   (Safe Network, Autonomi v0/v1, Chiral) or a multiaddr list; pending until the next flush.
 *
 * @since 0.1.0
 */
export class CacheStore extends Context.Tag("@bootstrap-cache/node/CacheStore")<CacheStore, {
  readonly path: string
  readonly snapshot: Effect.Effect<PeerTable.PeerTable>
  readonly add: (
    address: PeerAddress.PeerAddress,
    options: { readonly source: PeerRecord.Source; readonly capabilities?: Partial<PeerRecord.Capabilities> }
  ) => Effect.Effect<void>
  readonly recordSuccess: (
    address: PeerAddress.PeerAddress,
    options?: { readonly rttMs?: number; readonly bytes?: number }
  ) => Effect.Effect<void>
  readonly recordFailure: (address: PeerAddress.PeerAddress) => Effect.Effect<void>
  readonly remove: (address: PeerAddress.PeerAddress) => Effect.Effect<void>
  readonly flush: Effect.Effect<FlushResult, CacheWriteError>
  readonly reload: Effect.Effect<void>
  readonly isStale: Effect.Effect<boolean>
  readonly info: Effect.Effect<CacheInfo>
  readonly importFile: (path: string) => Effect.Effect<ImportReport, CacheImportError>
  readonly importText: (text: string, from: string) => Effect.Effect<ImportReport, CacheImportError>
}>() {}

/**
 * Options of {@link layer} and {@link make}.
 *
 * | option | default | meaning |
 * |---|---|---|
 * | `path` | `CachePaths.resolve` (env `BOOTSTRAP_CACHE_PATH`, system-wide, per-user) | the cache file, or a directory to hold `peers.json` |
 * | `paths` | — | `CachePaths.ResolveOptions` overriding the system / user directories |
 * | `flushInterval` | 5 minutes | background flush period; `Duration.infinity` disables it |
 * | `staleAfter` | 24 hours | age of `lastUpdated` beyond which the cache reports itself stale |
 * | `shutdownTimeout` | 5 seconds | bound on the final flush when the scope closes |
 * | `lock` | `{ timeoutMs: 10000, staleMs: 10000 }` | `FileLock` options |
 * | `prune` | `(t, now) => Prune.prune(t, now).table` (core defaults: capacity 30 000, …) | applied to the merged table on every flush |
 * | `readOnly` | `false` | never write the file |
 * | `maxPendingOps` | 100 000 | changes kept while flushes fail; the oldest are dropped beyond (counted in `info.droppedOps`) |
 * | `hash` | `node:crypto` SHA-256 | the checksum hash |
 *
 * @since 0.1.0
 */
export interface CacheStoreOptions {
  readonly path?: string
  readonly paths?: Omit<CachePaths.ResolveOptions, "path">
  readonly flushInterval?: Duration.DurationInput
  readonly staleAfter?: Duration.DurationInput
  readonly shutdownTimeout?: Duration.DurationInput
  readonly lock?: FileLock.AcquireOptions
  readonly prune?: (table: PeerTable.PeerTable, now: number) => PeerTable.PeerTable
  readonly readOnly?: boolean
  readonly maxPendingOps?: number
  readonly hash?: CacheFile.Hash
}

/**
 * SHA-256 hex with `node:crypto`.
 *
 * @since 0.1.0
 */
export const sha256: CacheFile.Hash = (text) => createHash("sha256").update(text).digest("hex")

/**
 * The default pruning: the core's `Prune.prune` with its default configuration.
 *
 * @since 0.1.0
 */
export const defaultPrune = (table: PeerTable.PeerTable, now: number): PeerTable.PeerTable => Prune.prune(table, now).table

// ---------------------------------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------------------------------

interface State {
  readonly version: Option.Option<number>
  readonly lastUpdated: Option.Option<number>
  readonly readOnlyReason: Option.Option<string>
  readonly warnings: ReadonlyArray<string>
  readonly lastFlush: Option.Option<FlushResult>
}

/** What reading the file found. */
type DiskRead =
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Valid"; readonly decoded: CacheFile.Decoded; readonly text: string }
  | { readonly _tag: "Corrupt"; readonly error: CacheFile.CacheFileError }
  | { readonly _tag: "Unreadable"; readonly error: PlatformError }

/** The errno of a platform error (`EROFS`, `ENOSPC`, …), from its cause or its reason. */
export const errnoOf = (error: PlatformError): string | undefined => {
  if (error._tag === "SystemError") {
    const code = (error.cause as { code?: unknown } | undefined)?.code
    if (typeof code === "string") return code
    switch (error.reason) {
      case "PermissionDenied":
        return "EACCES"
      case "NotFound":
        return "ENOENT"
      case "AlreadyExists":
        return "EEXIST"
      case "Busy":
        return "EBUSY"
      default:
        return undefined
    }
  }
  return undefined
}

/** Which warning family a write failure belongs to ("one warning" per family until a success). */
const failureKind = (code: string | undefined): string => {
  switch (code) {
    case "EACCES":
    case "EPERM":
    case "EROFS":
    case "EREADONLY":
      return "read-only"
    case "ENOSPC":
    case "EDQUOT":
      return "disk-full"
    case "ELOCKED":
      return "lock"
    default:
      return `error:${code ?? "unknown"}`
  }
}

/** How many bytes of the file {@link headerKey} reads: the header is in the first ~150. */
const HEADER_BYTES = 512

/**
 * `version:lastUpdated:checksum` of a file laid out as `CacheFile.encode` writes it, from its first
 * bytes; undefined for any other layout.
 */
const headerKey = (text: string): string | undefined => CacheFile.headerKey(text.slice(0, HEADER_BYTES))

const timestampSuffix = (now: number): string => new Date(now).toISOString().replace(/[:.]/g, "-")

const MAX_WARNINGS = 20

/** The changes a flush writes: sequence numbers `[from, to)` of the pending log. */
interface PendingOps {
  readonly ops: ReadonlyArray<Journal.Op>
  readonly to: number
}

/** Replays operations onto a table, in order. */
const replayOps = (table: PeerTable.PeerTable, ops: ReadonlyArray<Journal.Op>, from = 0): PeerTable.PeerTable =>
  from >= ops.length ? table : PeerTable.mutate(table, (out) => {
    for (let i = from; i < ops.length; i++) out = Journal.applyOp(out, ops[i]!)
    return out
  })

/**
 * The process's pending changes and its view, kept mutably (every method is synchronous, so fibers
 * see it change atomically).
 *
 * - Operations get consecutive sequence numbers; `[headSeq, end)` are pending (not yet written).
 * - The view is `viewTable` + the operations `[viewSeq, end)`, applied lazily when it is read and
 *   memoised until the next change: recording is an O(1) append (the journal holds exactly the
 *   counter increments the lossless merge replays), reading the view costs what was recorded since.
 */
class PendingLog {
  private ops: Array<Journal.Op> = []
  /** Sequence number of `ops[0]`. */
  private offset = 0
  headSeq = 0
  private viewTable: PeerTable.PeerTable = PeerTable.empty
  private viewSeq = 0
  droppedOps = 0
  constructor(readonly maxPendingOps: number) {}

  get size(): number {
    return this.offset + this.ops.length - this.headSeq
  }

  private dropWarned = false

  /** True once, after the first drop. */
  dropWarningDue(): boolean {
    if (this.droppedOps === 0 || this.dropWarned) return false
    this.dropWarned = true
    return true
  }

  /** Appends an operation; beyond `maxPendingOps` pending, the oldest are dropped (`droppedOps`). */
  append(op: Journal.Op): void {
    this.ops.push(op)
    if (this.offset + this.ops.length - this.headSeq <= this.maxPendingOps) return
    // Over the bound (flushes keep failing): the view keeps the oldest change, the file never gets it.
    this.view()
    const excess = this.offset + this.ops.length - this.headSeq - this.maxPendingOps
    this.headSeq += excess
    this.droppedOps += excess
    this.compact()
  }

  /** The view, brought up to date. */
  view(): PeerTable.PeerTable {
    const end = this.offset + this.ops.length
    if (this.viewSeq < end) {
      this.viewTable = replayOps(this.viewTable, this.ops, this.viewSeq - this.offset)
      this.viewSeq = end
    }
    return this.viewTable
  }

  /** The pending operations now (a copy: later changes do not alter it). */
  pending(): PendingOps {
    return { ops: this.ops.slice(this.headSeq - this.offset), to: this.offset + this.ops.length }
  }

  /**
   * A new base table (read or written) that holds every operation before `flushedTo`: those stop
   * being pending, and the view becomes the base plus the rest.
   */
  rebase(table: PeerTable.PeerTable, flushedTo: number): void {
    this.headSeq = Math.max(this.headSeq, flushedTo)
    this.viewTable = table
    this.viewSeq = this.headSeq
    this.compact()
  }

  private compact(): void {
    const dead = this.headSeq - this.offset
    if (dead > 1024 && dead * 2 > this.ops.length) {
      this.ops = this.ops.slice(dead)
      this.offset = this.headSeq
    }
  }
}

/** The journal operation of a success, without the options' undefined fields. */
const successOp = (
  address: PeerAddress.PeerAddress,
  at: number,
  o: { readonly rttMs?: number; readonly bytes?: number } | undefined
): Journal.Op => (o === undefined ? Journal.success(address, at) : Journal.success(address, at, o.rttMs, o.bytes))

const failureOp = (address: PeerAddress.PeerAddress, at: number): Journal.Op => Journal.failure(address, at)

let tempCounter = 0

/**
 * Builds the store (see {@link layer}); its background flush fiber and final flush live in the
 * surrounding scope.
 *
 * @since 0.1.0
 */
export const make = (
  options: CacheStoreOptions = {}
): Effect.Effect<CacheStore["Type"], CacheOpenError, FileSystem.FileSystem | Path.Path | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const pathApi = yield* Path.Path
    const lock = yield* Effect.serviceOption(FileLock.FileLock).pipe(
      Effect.flatMap(Option.match({ onNone: () => FileLock.make, onSome: Effect.succeed }))
    )
    const resolved = yield* CachePaths.resolve({ ...options.paths, ...(options.path === undefined ? {} : { path: options.path }) })
    const file = resolved.path
    const dir = pathApi.dirname(file)
    const name = pathApi.basename(file)
    const bakPath = `${file}.bak`
    const hash = options.hash ?? sha256
    const prune = options.prune ?? defaultPrune
    const flushInterval = Duration.decode(options.flushInterval ?? Duration.minutes(5))
    const staleAfterMs = Duration.toMillis(options.staleAfter ?? Duration.hours(24))
    const shutdownTimeout = Duration.decode(options.shutdownTimeout ?? Duration.seconds(5))
    const maxPendingOps = Math.max(1, options.maxPendingOps ?? 100_000)
    const annotate = Effect.annotateLogs({ path: file })
    // Changes are timed by the Clock the store is built with (TestClock in tests), read synchronously
    // so that recording an outcome is one step.
    const clock = yield* Effect.clock

    // ---- open: the path must be able to be a file ------------------------------------------------
    const targetInfo = yield* Effect.option(fs.stat(file))
    if (Option.isSome(targetInfo) && targetInfo.value.type !== "File") {
      return yield* new CacheOpenError({ path: file, reason: `it is a ${targetInfo.value.type.toLowerCase()}, not a file` })
    }
    const state = yield* Ref.make<State>({
      version: Option.none(),
      lastUpdated: Option.none(),
      readOnlyReason: options.readOnly === true ? Option.some("the readOnly option is set") : Option.none(),
      warnings: [],
      lastFlush: Option.none()
    })
    const log = new PendingLog(maxPendingOps)
    const warnedKinds = new Set<string>()

    /** Records a warning in `info.warnings` without logging it. */
    const note = (message: string) =>
      Ref.update(state, (s) => ({ ...s, warnings: [...s.warnings, message].slice(-MAX_WARNINGS) }))

    /** Records a warning in `info.warnings` and logs it. */
    const warn = (message: string) => note(message).pipe(Effect.zipRight(Effect.logWarning(message)), annotate)

    const dirResult = yield* Effect.either(fs.makeDirectory(dir, { recursive: true }))
    if (Either.isLeft(dirResult)) {
      const code = errnoOf(dirResult.left)
      if (code === "ENOTDIR" || code === "EEXIST" || (dirResult.left._tag === "SystemError" && dirResult.left.reason === "BadResource")) {
        return yield* new CacheOpenError({ path: file, reason: `its directory ${dir} cannot be created: ${dirResult.left.message}` })
      }
      yield* warn(`cannot create the directory ${dir} (${code ?? dirResult.left.message}): the cache works in memory and flushes will fail`)
    }

    /** fsync of the directory, so a rename in it is durable (see the module docs; ignored where unsupported). */
    const syncDirectory = Effect.scoped(Effect.flatMap(fs.open(dir, { flag: "r" }), (f) => f.sync)).pipe(Effect.ignore)

    // ---- reading -----------------------------------------------------------------------------------
    const readPath = (p: string): Effect.Effect<DiskRead> =>
      fs.readFileString(p).pipe(
        Effect.map((text): DiskRead =>
          Either.match(CacheFile.decode(text, { hash }), {
            onLeft: (error) => ({ _tag: "Corrupt", error }),
            onRight: (decoded) => ({ _tag: "Valid", decoded, text })
          })
        ),
        Effect.catchAll((error) =>
          Effect.succeed<DiskRead>(errnoOf(error) === "ENOENT" ? { _tag: "Missing" } : { _tag: "Unreadable", error })
        )
      )

    /**
     * What this process last read from or wrote to the file: the file's identity then (inode, size,
     * mtime in ms), its header (version, lastUpdated, checksum) and what it decoded to. A flush or
     * reload that finds the file with the same identity **and** the same header skips reading and
     * decoding it again.
     *
     * Why both. Writers replace the file by rename, so another process's write normally shows as a
     * new inode. But the identity alone is not proof: an inode freed when the old file (and its
     * `.bak` link) is unlinked can be reused at once by the next temp file (ext4 does), mtime only
     * moves with the kernel's coarse clock (one tick is 1–10 ms, and `cp -p` / `touch -r` / backup
     * restores set it at will), and a same-length counter change keeps the size. So the header is
     * read too (the first {@link HEADER_BYTES} bytes, one small read): the checksum is the SHA-256 of
     * the peers payload, so an equal header means equal peers, whatever happened to inode and mtime.
     * The identity is kept on top so that a body damaged under an intact header is still re-read
     * (and found corrupt) unless the damage also kept inode, size and mtime.
     *
     * Files with rejected records, of a newer version, or in a layout whose header cannot be read
     * from the first bytes are never remembered (they are read in full every time).
     */
    let known: { readonly id: string; readonly header: string; readonly decoded: CacheFile.Decoded } | undefined
    const identityOf = (i: FileSystem.File.Info): string =>
      `${Option.getOrElse(i.ino, () => -1)}:${i.size}:${Option.match(i.mtime, { onNone: () => -1, onSome: (d) => d.getTime() })}`
    const identity = fs.stat(file).pipe(Effect.map(identityOf), Effect.option)
    const utf8 = new TextDecoder()
    /** Whether the file is still the one `known` describes: same identity, then same header (one fd). */
    const isKnown = (k: NonNullable<typeof known>) =>
      Effect.scoped(Effect.gen(function*() {
        const f = yield* fs.open(file, { flag: "r" })
        if (identityOf(yield* f.stat) !== k.id) return false
        const head = yield* f.readAlloc(HEADER_BYTES)
        return Option.isSome(head) && headerKey(utf8.decode(head.value)) === k.header
      })).pipe(Effect.orElseSucceed(() => false))
    /** Reads the cache file, or takes what this process knows of it when it is unchanged. */
    const readMain: Effect.Effect<DiskRead> = Effect.gen(function*() {
      const k = known
      if (k !== undefined && (yield* isKnown(k))) return { _tag: "Valid", decoded: k.decoded, text: "" } satisfies DiskRead
      // The identity is taken before the read: a file replaced in between is read anew next time.
      const id = yield* identity
      const read = yield* readPath(file)
      const header = read._tag === "Valid" ? headerKey(read.text) : undefined
      known = Option.isSome(id) && read._tag === "Valid" && header !== undefined && read.decoded.rejected.length === 0 &&
          !read.decoded.newer
        ? { id: id.value, header, decoded: read.decoded }
        : undefined
      return read
    })

    /** A free name `<file>.<kind>-<timestamp>[-n]`, so an earlier copy is never overwritten. */
    const asideName = (kind: string, now: number) =>
      Effect.gen(function*() {
        const stem = `${file}.${kind}-${timestampSuffix(now)}`
        for (let n = 0; ; n++) {
          const candidate = n === 0 ? stem : `${stem}-${n}`
          const exists = yield* fs.exists(candidate).pipe(Effect.orElseSucceed(() => false))
          if (!exists) return candidate
        }
      })

    const writeError = (operation: string, error: PlatformError) => {
      const code = errnoOf(error)
      return new CacheWriteError({ path: file, operation, reason: error.message, ...(code === undefined ? {} : { code }) })
    }

    /**
     * A corrupt file: moved aside (never deleted), then `.bak`, if valid, is copied back in its place
     * (temp + rename) and returned, else none (an empty cache). Must run under the lock. Fails when
     * the move fails; a failed copy-back only leaves the main file missing (the .bak stays).
     */
    const recoverCorrupt = (error: CacheFile.CacheFileError, now: number) =>
      Effect.gen(function*() {
        const aside = yield* asideName("corrupt", now)
        yield* fs.rename(file, aside).pipe(Effect.mapError((e) => writeError("move-aside", e)))
        yield* warn(`the cache file is corrupt (${error.message}); moved aside to ${aside}`)
        const bak = yield* loadBak
        if (Option.isSome(bak)) {
          const tmp = pathApi.join(dir, `.${name}.${process.pid}.${++tempCounter}.tmp`)
          yield* fs.copyFile(bakPath, tmp).pipe(
            Effect.zipRight(fs.rename(tmp, file)),
            Effect.zipRight(syncDirectory),
            Effect.catchAll((e) =>
              fs.remove(tmp).pipe(Effect.ignore, Effect.zipRight(warn(`could not put ${bakPath} back in place: ${e.message}`)))
            )
          )
        }
        return bak
      })

    const loadBak = Effect.gen(function*() {
      const bak = yield* readPath(bakPath)
      if (bak._tag === "Valid") {
        yield* warn(`restored the previous good copy ${bakPath} (${PeerTable.size(bak.decoded.table)} peers)`)
        return Option.some(bak.decoded)
      }
      if (bak._tag !== "Missing") yield* warn(`the previous copy ${bakPath} is not usable either: starting empty`)
      return Option.none<CacheFile.Decoded>()
    })

    /** Installs what was read as the new base, re-applying the pending journal. */
    const install = (decoded: Option.Option<CacheFile.Decoded>) =>
      Effect.gen(function*() {
        const table = Option.match(decoded, { onNone: () => PeerTable.empty, onSome: (d) => d.table })
        for (const d of Option.toArray(decoded)) for (const w of d.warnings) yield* warn(w)
        log.rebase(table, log.headSeq)
        yield* Ref.update(state, (s) => ({
          ...s,
          version: Option.map(decoded, (d) => d.version),
          lastUpdated: Option.map(decoded, (d) => d.lastUpdated),
          readOnlyReason: Option.isSome(s.readOnlyReason)
            ? s.readOnlyReason
            : Option.isSome(decoded) && decoded.value.newer
            ? Option.some(`the file is format version ${decoded.value.version}, newer than ${CacheFile.VERSION}`)
            : Option.none()
        }))
      })

    /** Loads the file without the lock; a corrupt file is moved aside under the lock when possible. */
    const load = Effect.gen(function*() {
      const read = yield* readMain
      switch (read._tag) {
        case "Missing":
          return yield* install(Option.none())
        case "Valid":
          return yield* install(Option.some(read.decoded))
        case "Unreadable":
          yield* warn(`cannot read the cache file (${read.error.message}): starting empty; it will not be overwritten`)
          return yield* install(Option.none())
        case "Corrupt": {
          const now = yield* Clock.currentTimeMillis
          const recovered = yield* Effect.scoped(
            Effect.gen(function*() {
              yield* lock.acquire(file, options.lock)
              const again = yield* readPath(file)
              if (again._tag === "Valid") return Option.some(again.decoded)
              if (again._tag === "Corrupt") return yield* recoverCorrupt(again.error, now)
              return Option.none<CacheFile.Decoded>()
            })
          ).pipe(
            Effect.catchAll((e) =>
              warn(`the cache file is corrupt (${read.error.message}) and could not be moved aside (${e.message}): using ${bakPath} in memory`)
                .pipe(Effect.zipRight(loadBak))
            )
          )
          return yield* install(recovered)
        }
      }
    })

    // ---- writing -----------------------------------------------------------------------------------

    const removeStrayTemps = fs.readDirectory(dir).pipe(
      Effect.flatMap((entries) =>
        Effect.forEach(
          entries.filter((e) => e.startsWith(`.${name}.`) && e.endsWith(".tmp")),
          (e) => fs.remove(pathApi.join(dir, e)).pipe(Effect.ignore),
          { discard: true }
        )
      ),
      Effect.ignore
    )

    /** temp file → fsync → link current to .bak → rename → fsync dir. */
    const writeAtomic = (text: string, keepBak: boolean, lease: FileLock.Lease) =>
      Effect.gen(function*() {
        const tmp = pathApi.join(dir, `.${name}.${process.pid}.${++tempCounter}.tmp`)
        const bytes = new TextEncoder().encode(text)
        // The new file keeps the permission bits an administrator gave the old one (0644 for a new file).
        const mode = yield* fs.stat(file).pipe(Effect.map((info) => info.mode & 0o7777), Effect.orElseSucceed(() => 0o644))
        yield* Effect.scoped(
          Effect.gen(function*() {
            const f = yield* fs.open(tmp, { flag: "wx", mode })
            yield* fs.chmod(tmp, mode) // open's mode is masked by the umask
            yield* f.writeAll(bytes)
            yield* f.sync
          })
        ).pipe(
          Effect.mapError((e) => writeError("write", e)),
          Effect.tapError(() => fs.remove(tmp).pipe(Effect.ignore))
        )
        if (keepBak) {
          const bakTmp = `${tmp}.bak`
          yield* fs.link(file, bakTmp).pipe(
            Effect.orElse(() => fs.copyFile(file, bakTmp)),
            Effect.zipRight(fs.rename(bakTmp, bakPath)),
            Effect.catchAll((e) =>
              fs.remove(bakTmp).pipe(Effect.ignore, Effect.zipRight(warn(`could not keep ${bakPath}: ${e.message}`)))
            )
          )
        }
        if (yield* lease.isCompromised) {
          yield* fs.remove(tmp).pipe(Effect.ignore)
          return yield* new CacheWriteError({ path: file, operation: "lock", code: "ECOMPROMISED", reason: "the lock was taken over by another process during the flush" })
        }
        yield* fs.rename(tmp, file).pipe(
          Effect.mapError((e) => writeError("rename", e)),
          Effect.tapError(() => fs.remove(tmp).pipe(Effect.ignore))
        )
        yield* syncDirectory
        return bytes.length
      })

    const isReadOnlyFile = fs.stat(file).pipe(
      Effect.map((info) => (info.mode & 0o222) === 0),
      Effect.orElseSucceed(() => false)
    )

    const lockError = (e: FileLock.LockTimeoutError | FileLock.LockError) =>
      new CacheWriteError({
        path: file,
        operation: "lock",
        code: e._tag === "LockTimeoutError" ? "ELOCKED" : e.code ?? "EUNKNOWN",
        reason: e.message
      })

    const flushLocked = (pending: PendingOps, now: number) =>
      Effect.gen(function*() {
        const lease = yield* lock.acquire(file, options.lock).pipe(Effect.mapError(lockError))
        return yield* Effect.uninterruptible(Effect.gen(function*() {
          yield* removeStrayTemps
          const read = yield* readMain
          let disk: Option.Option<CacheFile.Decoded>
          let restored = false
          let keepBak = false
          switch (read._tag) {
            case "Unreadable":
              return yield* writeError("read", read.error)
            case "Missing":
              disk = Option.none()
              break
            case "Corrupt":
              disk = yield* recoverCorrupt(read.error, now)
              restored = true
              break
            case "Valid":
              disk = Option.some(read.decoded)
              keepBak = true
          }
          if (Option.isSome(disk) && disk.value.newer) {
            yield* install(disk)
            return FlushResult.Skipped({ path: file, reason: `the file is format version ${disk.value.version}, newer than ${CacheFile.VERSION}` })
          }
          const n = pending.ops.length
          if (n === 0 && !restored) {
            yield* install(disk)
            return FlushResult.Unchanged({ path: file })
          }
          if (yield* isReadOnlyFile) {
            return yield* new CacheWriteError({ path: file, operation: "write", code: "EREADONLY", reason: "the file is marked read-only (no write permission bit)" })
          }
          const fromDisk = Option.match(disk, { onNone: () => PeerTable.empty, onSome: (d) => d.table })
          const merged = replayOps(fromDisk, pending.ops)
          const pruned = prune(merged, now)
          const text = yield* Effect.try({
            try: () => CacheFile.encodeCompact(pruned, { lastUpdated: now, hash }),
            catch: (e) => new CacheWriteError({ path: file, operation: "encode", reason: String(e) })
          })
          if (read._tag === "Valid" && read.decoded.rejected.length > 0) {
            const aside = yield* asideName("rejected", now)
            yield* fs.writeFileString(aside, read.text).pipe(Effect.mapError((e) => writeError("move-aside", e)))
            yield* warn(`${read.decoded.rejected.length} unreadable record(s) are kept in ${aside} before the file is rewritten`)
          }
          const bytes = yield* writeAtomic(text, keepBak, lease)
          const written = yield* identity
          const header = headerKey(text)
          known = Option.isSome(written) && header !== undefined
            ? {
              id: written.value,
              header,
              decoded: { version: CacheFile.VERSION, lastUpdated: now, checksum: header.slice(header.lastIndexOf(":") + 1), table: pruned, rejected: [], newer: false, warnings: [] }
            }
            : undefined
          const result = FlushResult.Written({
            path: file,
            applied: n,
            peers: PeerTable.size(pruned),
            addresses: PeerTable.addressCount(pruned),
            pruned: Math.max(0, PeerTable.addressCount(merged) - PeerTable.addressCount(pruned)),
            bytes
          })
          log.rebase(pruned, pending.to)
          yield* Ref.update(state, (s) => ({
            ...s,
            version: Option.some(CacheFile.VERSION),
            lastUpdated: Option.some(now),
            lastFlush: Option.some(result)
          }))
          return result
        }))
      }).pipe(Effect.scoped)

    const semaphore = yield* Effect.makeSemaphore(1)

    /** Gives the warning that pending changes were dropped, once, when it is due. */
    const dropWarning = Effect.suspend(() =>
      log.dropWarningDue()
        ? warn(`more than ${maxPendingOps} changes are pending (flushes keep failing): the oldest are dropped`)
        : Effect.void
    )

    /**
     * Reports a failed flush once per kind of failure (read-only, disk full, lock, each other errno)
     * until a flush succeeds; repeats go to the debug log. An explicit `flush` returns its error to
     * the caller, who decides what to say (the CLI prints it as its one line): it is recorded in
     * `info.warnings` but not logged. The background loop and the final flush, which nobody awaits,
     * log it. Either way a read-only directory gives one warning, not one per attempt.
     */
    const reportFailure = (loud: boolean) => (e: CacheWriteError) =>
      Effect.suspend(() => {
        const kind = failureKind(e.code)
        if (warnedKinds.has(kind)) return Effect.logDebug(e.message).pipe(annotate)
        warnedKinds.add(kind)
        const message = `${e.message}; changes are kept and the write retried on the next flush`
        return loud ? warn(message) : note(message)
      })

    const flushOnce: Effect.Effect<FlushResult, CacheWriteError> = semaphore.withPermits(1)(
      Effect.gen(function*() {
        yield* dropWarning
        const s = yield* Ref.get(state)
        if (Option.isSome(s.readOnlyReason)) return FlushResult.Skipped({ path: file, reason: s.readOnlyReason.value })
        const now = yield* Clock.currentTimeMillis
        const result = yield* flushLocked(log.pending(), now)
        warnedKinds.clear()
        return result
      })
    )

    /** The service's `flush`: its failure goes to the caller (and is marked as reported). */
    const flush = flushOnce.pipe(Effect.tapError(reportFailure(false)), annotate)

    /** A flush nobody awaits (background, final): its failure is warned about once per kind. */
    const flushWarned = flushOnce.pipe(Effect.tapError(reportFailure(true)), annotate)
    const flushLogged = flushWarned.pipe(Effect.ignore)

    // ---- changes -----------------------------------------------------------------------------------
    /**
     * Appends one change: O(1), one synchronous step; the view is brought up to date when read. The
     * warning that changes had to be dropped is given by the next `info`, `flush` or other change
     * through {@link record}.
     */
    const record = (make: (at: number) => Journal.Op): Effect.Effect<void> =>
      Effect.suspend(() => {
        log.append(make(clock.unsafeCurrentTimeMillis()))
        return dropWarning
      })

    const importText = (text: string, from: string) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const parsed = yield* Either.match(CacheImport.parse(text, { now, from, hash }), {
          onLeft: (e) => Effect.fail(new CacheImportError({ source: from, reason: e.message })),
          onRight: Effect.succeed
        })
        if (parsed.records.length > 0) yield* record(() => Journal.Op.Import({ records: parsed.records }))
        if (parsed.bad.length > 0) {
          yield* Effect.logWarning(`import of ${from}: ${parsed.bad.length} bad entr${parsed.bad.length === 1 ? "y" : "ies"} skipped, first: ${parsed.bad[0]!.location}: ${parsed.bad[0]!.reason}`).pipe(annotate)
        }
        return { source: from, format: parsed.format, records: parsed.records.length, entries: parsed.entries, bad: parsed.bad } satisfies ImportReport
      })

    const importFile = (source: string) =>
      fs.readFileString(source).pipe(
        Effect.mapError((e) => new CacheImportError({ source, reason: e.message })),
        Effect.flatMap((text) => importText(text, source))
      )

    const info = Effect.gen(function*() {
      yield* dropWarning
      const s = yield* Ref.get(state)
      const now = yield* Clock.currentTimeMillis
      const view = log.view()
      return {
        path: file,
        origin: resolved.origin,
        version: s.version,
        lastUpdated: s.lastUpdated,
        stale: Option.match(s.lastUpdated, { onNone: () => true, onSome: (t) => now - t > staleAfterMs }),
        readOnly: Option.isSome(s.readOnlyReason),
        readOnlyReason: s.readOnlyReason,
        pendingOps: log.size,
        droppedOps: log.droppedOps,
        peers: PeerTable.size(view),
        addresses: PeerTable.addressCount(view),
        warnings: s.warnings,
        lastFlush: s.lastFlush
      } satisfies CacheInfo
    })

    // ---- open, background flush, final flush -----------------------------------------------------
    yield* load.pipe(annotate)

    // The final flush is registered before the fork, so on close the loop stops first, then this runs.
    yield* Effect.addFinalizer(() =>
      flushWarned.pipe(
        // Finalizers run uninterruptibly: the flush is made interruptible and disconnected so the
        // timeout can abandon it (it then finishes or is interrupted in the background).
        Effect.disconnect,
        Effect.interruptible,
        Effect.timeout(shutdownTimeout),
        Effect.catchAll((e) =>
          e._tag === "TimeoutException"
            ? warn(`the final flush did not finish within ${Duration.format(shutdownTimeout)}: abandoned`)
            // Reported once per kind (warned, or returned to an explicit flush's caller); what shutdown
            // loses is worth a line.
            : Effect.logInfo(`the final flush failed (${e.code ?? e.operation}): ${log.size} change(s) not written`).pipe(annotate)
        )
      )
    )
    if (Duration.isFinite(flushInterval)) {
      // The loop also stops cooperatively: effect 3.22 can lose an interruption that arrives while a
      // fiber closes an `Effect.scoped` scope with an asynchronous finalizer (here: the lock release),
      // which would leave the scope's close waiting forever. `stop` is completed by a finalizer that
      // runs before the fiber's interruption; the loop exits at its next sleep or after its flush.
      const stop = yield* Deferred.make<void>()
      const loop = Effect.gen(function*() {
        while (true) {
          const stopped = yield* Effect.raceFirst(
            Effect.as(Effect.sleep(flushInterval), false),
            Effect.as(Deferred.await(stop), true)
          )
          if (stopped) return
          yield* flushLogged
          if (yield* Deferred.isDone(stop)) return
        }
      })
      yield* Effect.forkScoped(loop)
      yield* Effect.addFinalizer(() => Deferred.succeed(stop, undefined))
    }

    return CacheStore.of({
      path: file,
      snapshot: Effect.sync(() => log.view()),
      add: (address, o) =>
        record((at) =>
          Journal.Op.Add({ address, at, source: o.source, ...(o.capabilities === undefined ? {} : { capabilities: o.capabilities }) })
        ),
      recordSuccess: (address, o) =>
        Effect.sync(() => {
          log.append(successOp(address, clock.unsafeCurrentTimeMillis(), o))
        }),
      recordFailure: (address) =>
        Effect.sync(() => {
          log.append(failureOp(address, clock.unsafeCurrentTimeMillis()))
        }),
      remove: (address) => record((at) => Journal.Op.Remove({ address, at })),
      flush,
      reload: semaphore.withPermits(1)(load).pipe(annotate),
      isStale: Effect.map(info, (i) => i.stale),
      info,
      importFile,
      importText
    })
  })

/**
 * The store as a Layer: opens (or creates) the cache file, runs the background flush, and flushes
 * once more when the Layer's scope closes. Uses the `FileLock` from the context when there is one
 * (tests inject theirs), else the proper-lockfile one.
 *
 * @since 0.1.0
 */
export const layer = (options: CacheStoreOptions = {}): Layer.Layer<CacheStore, CacheOpenError, FileSystem.FileSystem | Path.Path> =>
  Layer.scoped(CacheStore, make(options))

// ---------------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------------

/**
 * The store's options read from Effect's `Config` (the `ConfigProvider`: environment variables by
 * default, `ConfigProvider.fromMap` / `fromJson` in tests), each under its option's name and optional
 * (an unset value keeps the default of {@link CacheStoreOptions}):
 *
 * | key | type | default |
 * |---|---|---|
 * | `flushInterval` | duration (`"5 minutes"`, `"30 seconds"`; turning it off, `Duration.infinity`, is for code) | 5 minutes |
 * | `staleAfter` | duration | 24 hours |
 * | `shutdownTimeout` | duration | 5 seconds |
 * | `readOnly` | boolean | false |
 * | `maxPendingOps` | integer ≥ 1 | 100 000 |
 * | `lock.timeoutMs`, `lock.staleMs` | integers ≥ 0, ms | 10 000, 10 000 |
 *
 * The path is not read here: it is `CachePaths`' (the `BOOTSTRAP_CACHE_PATH` variable, through the same
 * `ConfigProvider`, else the system or user location). Nest it under a prefix with `Config.nested`
 * (`Config.nested(CacheStore.config, "cache")` reads `cache.flushInterval`; with
 * `ConfigProvider.fromEnv().pipe(ConfigProvider.constantCase)`, `CACHE_FLUSH_INTERVAL`).
 *
 * Fails with a `ConfigError` naming the key when a value is set but malformed or out of range.
 *
 * @since 0.1.0
 */
export const config: Config.Config<CacheStoreOptions> = Config.map(
  Config.all({
    flushInterval: ConfigHelpers.optional(Config.duration("flushInterval")),
    staleAfter: ConfigHelpers.optional(Config.duration("staleAfter")),
    shutdownTimeout: ConfigHelpers.optional(Config.duration("shutdownTimeout")),
    readOnly: ConfigHelpers.optional(Config.boolean("readOnly")),
    maxPendingOps: ConfigHelpers.optional(ConfigHelpers.integerAtLeast("maxPendingOps", 1)),
    lock: Config.nested(
      ConfigHelpers.struct({
        timeoutMs: ConfigHelpers.optional(ConfigHelpers.integerAtLeast("timeoutMs", 0)),
        staleMs: ConfigHelpers.optional(ConfigHelpers.integerAtLeast("staleMs", 0))
      }),
      "lock"
    )
  }),
  ConfigHelpers.compact
)

/**
 * {@link layer} with its options read from `Config`: a `Config<CacheStoreOptions>` ({@link config},
 * `Config.all({ … })`, `Config.succeed(options)`) or a struct of `Config`s per option
 * (`Config.Config.Wrap`, as Effect's own `layerConfig`s take). Fails with the `ConfigError` of a
 * missing or malformed value, or {@link CacheOpenError} as {@link layer}.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<CacheStoreOptions>
): Layer.Layer<CacheStore, CacheOpenError | ConfigError.ConfigError, FileSystem.FileSystem | Path.Path> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
