/**
 * Bringing the process and the file in step: `load` (read without the lock; a corrupt file moved
 * aside under it), `flushLocked` (lock → read → replay the journal → prune → atomic write) and
 * `prepareSteps` (what the first flush would build before writing, a slice at a time).
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import { CacheFile, CacheFileEncoder, PeerTable, Prune } from "@bootstrap-cache/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { createHash } from "node:crypto"
import { CacheWriteError, FlushResult, sha256 } from "../../CacheStore.js"
import type * as FileLock from "../../FileLock.js"
import { errnoOf } from "../errno.js"
import { modeReplacing, type Writer } from "./atomicWrite.js"
import type { DiskFile, DiskRead } from "./diskFile.js"
import { type PendingLog, type PendingOps, replayOps } from "./pendingLog.js"
import type { Recovery } from "./recover.js"
import type { Status } from "./status.js"

export interface FileSyncOptions {
  readonly fs: FileSystem.FileSystem
  readonly file: string
  readonly lock: FileLock.FileLock["Type"]
  readonly lockOptions: FileLock.AcquireOptions | undefined
  readonly disk: DiskFile
  readonly writer: Writer
  readonly recovery: Recovery
  readonly status: Status
  readonly log: PendingLog
  readonly hash: CacheFile.Hash
  readonly prune: Pruning
  readonly writeError: (operation: string, e: { readonly code: string | undefined; readonly reason: string }) => CacheWriteError
}

/**
 * What the functions below share: the options, the store's encoder, its hash over bytes, and the
 * table last read or written (what the next flush starts from while the file is unchanged).
 */
interface FileSyncContext extends FileSyncOptions {
  readonly encoder: CacheFileEncoder.CacheFileEncoder
  readonly hashBytes: CacheFileEncoder.BytesHash
  readonly base: { table: PeerTable.PeerTable }
}

const utf8 = new TextDecoder()

/** `hash` over bytes: node's SHA-256 straight on the bytes, any other hash on their text. */
const bytesHashOf = (hash: CacheFile.Hash): CacheFileEncoder.BytesHash =>
  hash === sha256
    ? (bytes) => createHash("sha256").update(bytes).digest("hex")
    : (bytes) => hash(utf8.decode(bytes))

/** How much of the written bytes `rememberWritten` reads the header from. */
const HEADER_BYTES = 512

/** A store's pruning, and (for the default one) the preparation of its memory a slice at a time. */
export interface Pruning {
  readonly prune: (table: PeerTable.PeerTable, now: number) => PeerTable.PeerTable
  /** Builds what the first prune of `table` (or a later version of it) needs, pausing between slices. */
  readonly prepare?: (table: PeerTable.PeerTable) => Generator<number, void, void>
}

/**
 * The default pruning (`CacheStore.defaultPrune`: `Prune.prune` with the default rules) for one
 * store, remembering what its last prune concluded (`Prune.pruneIncremental`): a flush after a few
 * changes proves in O(changes) that there is nothing to remove. `prepare` builds that memory for a
 * table in slices (`Prune.memoSteps`) before the first flush; a prune that comes first finishes it
 * at once.
 */
export const makeDefaultPrune = (): Required<Pruning> => {
  let memo: Prune.Memo | undefined
  let preparing: Generator<number, Prune.Memo, void> | undefined
  const finishPreparing = () => {
    const steps = preparing
    if (steps === undefined) return
    preparing = undefined
    memo = CacheFile.finishSteps(steps)
  }
  return {
    prune: (table, now) => {
      finishPreparing()
      const out = Prune.pruneIncremental(memo, table, now)
      memo = out.memo
      return out.result.table
    },
    prepare: function*(table) {
      if (memo !== undefined || preparing !== undefined) return
      const steps = Prune.memoSteps(table)
      preparing = steps
      while (preparing === steps) {
        const next = steps.next()
        if (next.done === true) {
          preparing = undefined
          memo = next.value
          return
        }
        yield next.value
      }
    }
  }
}

/** Installs what was read as the new base, re-applying the pending journal. */
const install = (c: FileSyncContext, decoded: Option.Option<CacheFile.Decoded>) =>
  Effect.gen(function*() {
    for (const d of Option.toArray(decoded)) for (const w of d.warnings) yield* c.status.warn(w)
    c.base.table = Option.match(decoded, { onNone: () => PeerTable.empty, onSome: (d) => d.table })
    c.log.rebase(c.base.table, c.log.headSeq)
    yield* c.status.installed(decoded)
  })

/**
 * A file found corrupt without the lock, read again under it: valid by now, or moved aside; when the
 * lock or the move fails, the `.bak` is used in memory.
 */
const recoverOnLoad = (c: FileSyncContext, reason: string) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    return yield* Effect.scoped(
      Effect.gen(function*() {
        yield* c.lock.acquire(c.file, c.lockOptions)
        const again = yield* c.disk.readPath(c.file)
        if (again._tag === "Valid") return Option.some(again.decoded)
        if (again._tag === "Corrupt") return yield* c.recovery.recoverCorrupt(again.reason, now)
        return Option.none<CacheFile.Decoded>()
      })
    ).pipe(
      Effect.catchAll((e) =>
        c.status.warn(`the cache file is corrupt (${reason}) and could not be moved aside (${e.message}): using ${c.writer.bakPath} in memory`)
          .pipe(Effect.zipRight(c.recovery.loadBak))
      )
    )
  })

/**
 * Loads the file without the lock; a corrupt file is moved aside under the lock when possible.
 * `reading` is `disk.readMain`, or `disk.readMainFrom` a stat the caller has just taken.
 */
const load = (c: FileSyncContext, reading: Effect.Effect<DiskRead> = c.disk.readMain) =>
  Effect.gen(function*() {
    const read = yield* reading
    switch (read._tag) {
      case "Missing":
        return yield* install(c, Option.none())
      case "Valid":
        return yield* install(c, Option.some(read.decoded))
      case "Unreadable":
        yield* c.status.warn(`cannot read the cache file (${read.error.message}): starting empty; it will not be overwritten`)
        return yield* install(c, Option.none())
      case "Corrupt":
        return yield* install(c, yield* recoverOnLoad(c, read.reason))
    }
  })

const lockError = (file: string, e: FileLock.LockTimeoutError | FileLock.LockError) =>
  new CacheWriteError({
    path: file,
    operation: "lock",
    code: e._tag === "LockTimeoutError" ? "ELOCKED" : e.code ?? "EUNKNOWN",
    reason: e.message
  })

/** Whether a file with this `stat` is marked read-only (no write permission bit); none: no file. */
const isReadOnly = (info: Option.Option<FileSystem.File.Info>): boolean => Option.exists(info, (i) => (i.mode & 0o222) === 0)

/** The disk's table merged with `pending`, written; under the lock. */
const flushLocked = (c: FileSyncContext, pending: PendingOps, now: number) =>
  Effect.gen(function*() {
    const lease = yield* c.lock.acquire(c.file, c.lockOptions).pipe(Effect.mapError((e) => lockError(c.file, e)))
    return yield* Effect.uninterruptible(Effect.gen(function*() {
      // Independent calls under the lock run concurrently: the strays of killed writers go, the file
      // is read (or recognised as this process's last write), and one stat answers both the
      // read-only check and the permission bits the new file keeps.
      const [, read, info] = yield* Effect.all([c.writer.removeStrays, c.disk.readMain, Effect.option(c.fs.stat(c.file))], {
        concurrency: "unbounded"
      })
      if (read._tag === "Unreadable") return yield* c.writeError("read", { code: errnoOf(read.error), reason: read.error.message })
      const found = read._tag === "Valid" ? Option.some(read.decoded) : Option.none()
      const onDisk = read._tag === "Corrupt" ? yield* c.recovery.recoverCorrupt(read.reason, now) : found
      if (Option.isSome(onDisk) && onDisk.value.newer) {
        yield* install(c, onDisk)
        return FlushResult.Skipped({ path: c.file, reason: `the file is format version ${onDisk.value.version}, newer than ${CacheFile.VERSION}` })
      }
      if (isReadOnly(info)) {
        return yield* new CacheWriteError({ path: c.file, operation: "write", code: "EREADONLY", reason: "the file is marked read-only (no write permission bit)" })
      }
      const merged = replayOps(Option.match(onDisk, { onNone: () => PeerTable.empty, onSome: (d) => d.table }), pending.ops)
      const pruned = c.prune.prune(merged, now)
      const bytes = yield* Effect.try({
        try: () => c.encoder.encode(pruned, { lastUpdated: now, hash: c.hashBytes }),
        catch: (e) => new CacheWriteError({ path: c.file, operation: "encode", reason: String(e) })
      })
      if (read._tag === "Valid" && read.decoded.rejected.length > 0) {
        const aside = yield* c.writer.writeAside("rejected", c.recovery.stamp(now), read.text).pipe(Effect.mapError((e) => c.writeError(e.operation, e)))
        yield* c.status.warn(`${read.decoded.rejected.length} unreadable record(s) are kept in ${aside} before the file is rewritten`)
      }
      const written = yield* c.writer.writeAtomic(bytes, {
        keepBak: read._tag === "Valid",
        mayCommit: Effect.map(lease.isCompromised, (x) => !x),
        mode: modeReplacing(info),
        links: Option.match(info, { onNone: () => 0, onSome: (i) => Option.getOrElse(i.nlink, () => 2) })
      }).pipe(
        Effect.mapError((e) => c.writeError(e.operation, e))
      )
      if (written === "Aborted") {
        return yield* new CacheWriteError({ path: c.file, operation: "lock", code: "ECOMPROMISED", reason: "the lock was taken over by another process during the flush" })
      }
      const decoded = { version: CacheFile.VERSION, lastUpdated: now, table: pruned, rejected: [], newer: false, warnings: [] }
      yield* c.disk.rememberWritten(utf8.decode(bytes.subarray(0, HEADER_BYTES)), decoded, written.info)
      const result = FlushResult.Written({
        path: c.file,
        applied: pending.ops.length,
        peers: PeerTable.size(pruned),
        addresses: PeerTable.addressCount(pruned),
        pruned: Math.max(0, PeerTable.addressCount(merged) - PeerTable.addressCount(pruned)),
        bytes: written.bytes
      })
      c.base.table = pruned
      c.log.rebase(pruned, pending.to)
      yield* c.status.written(now, result)
      return result
    }))
  }).pipe(Effect.scoped)

/**
 * What the first flush builds before it writes (the encoder's memory and the prune's), for the table
 * last read or written, a slice at a time (see `CacheFileEncoder.prepare`); `now` is the Clock's.
 * A flush that comes first finishes what is left at once; after a flush there is nothing left to do.
 */
function* prepareSteps(c: FileSyncContext, now: number): Generator<number, void, void> {
  const table = c.base.table
  yield* c.encoder.prepare(table, { now })
  if (c.prune.prepare !== undefined) yield* c.prune.prepare(table)
}

export const makeFileSync = (options: FileSyncOptions) => {
  const c: FileSyncContext = { ...options, encoder: CacheFileEncoder.make(), hashBytes: bytesHashOf(options.hash), base: { table: PeerTable.empty } }
  return {
    prepareSteps: (now: number) => prepareSteps(c, now),
    load: load(c),
    loadFrom: (read: Effect.Effect<DiskRead>) => load(c, read),
    install: (decoded: Option.Option<CacheFile.Decoded>) => install(c, decoded),
    flushLocked: (pending: PendingOps, now: number) => flushLocked(c, pending, now)
  }
}
