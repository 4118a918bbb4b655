/**
 * Bringing the process and the file in step: `load` (read without the lock; a corrupt file moved
 * aside under it) and `flushLocked` (lock → read → replay the journal → prune → atomic write).
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import { CacheFile, PeerTable } from "@bootstrap-cache/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { CacheWriteError, FlushResult } from "../../CacheStore.js"
import type * as FileLock from "../../FileLock.js"
import { errnoOf } from "../errno.js"
import type { Writer } from "./atomicWrite.js"
import type { DiskFile } from "./diskFile.js"
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
  readonly prune: (table: PeerTable.PeerTable, now: number) => PeerTable.PeerTable
  readonly writeError: (operation: string, e: { readonly code: string | undefined; readonly reason: string }) => CacheWriteError
}

export const makeFileSync = ({ disk, file, fs, hash, lock, lockOptions, log, prune, recovery, status, writeError, writer }: FileSyncOptions) => {
  const { warn } = status
  /** Installs what was read as the new base, re-applying the pending journal. */
  const install = (decoded: Option.Option<CacheFile.Decoded>) =>
    Effect.gen(function*() {
      for (const d of Option.toArray(decoded)) for (const w of d.warnings) yield* warn(w)
      log.rebase(Option.match(decoded, { onNone: () => PeerTable.empty, onSome: (d) => d.table }), log.headSeq)
      yield* status.installed(decoded)
    })

  /** Loads the file without the lock; a corrupt file is moved aside under the lock when possible. */
  const load = Effect.gen(function*() {
    const read = yield* disk.readMain
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
            yield* lock.acquire(file, lockOptions)
            const again = yield* disk.readPath(file)
            if (again._tag === "Valid") return Option.some(again.decoded)
            if (again._tag === "Corrupt") return yield* recovery.recoverCorrupt(again.reason, now)
            return Option.none<CacheFile.Decoded>()
          })
        ).pipe(
          Effect.catchAll((e) =>
            warn(`the cache file is corrupt (${read.reason}) and could not be moved aside (${e.message}): using ${writer.bakPath} in memory`)
              .pipe(Effect.zipRight(recovery.loadBak))
          )
        )
        return yield* install(recovered)
      }
    }
  })

  const lockError = (e: FileLock.LockTimeoutError | FileLock.LockError) =>
    new CacheWriteError({
      path: file,
      operation: "lock",
      code: e._tag === "LockTimeoutError" ? "ELOCKED" : e.code ?? "EUNKNOWN",
      reason: e.message
    })

  /** The disk's table merged with `pending`, written; under the lock. */
  const flushLocked = (pending: PendingOps, now: number) =>
    Effect.gen(function*() {
      const lease = yield* lock.acquire(file, lockOptions).pipe(Effect.mapError(lockError))
      return yield* Effect.uninterruptible(Effect.gen(function*() {
        yield* writer.removeStrays
        const read = yield* disk.readMain
        if (read._tag === "Unreadable") return yield* writeError("read", { code: errnoOf(read.error), reason: read.error.message })
        const found = read._tag === "Valid" ? Option.some(read.decoded) : Option.none()
        const onDisk = read._tag === "Corrupt" ? yield* recovery.recoverCorrupt(read.reason, now) : found
        if (Option.isSome(onDisk) && onDisk.value.newer) {
          yield* install(onDisk)
          return FlushResult.Skipped({ path: file, reason: `the file is format version ${onDisk.value.version}, newer than ${CacheFile.VERSION}` })
        }
        if (yield* isReadOnlyFile) {
          return yield* new CacheWriteError({ path: file, operation: "write", code: "EREADONLY", reason: "the file is marked read-only (no write permission bit)" })
        }
        const merged = replayOps(Option.match(onDisk, { onNone: () => PeerTable.empty, onSome: (d) => d.table }), pending.ops)
        const pruned = prune(merged, now)
        const text = yield* Effect.try({
          try: () => CacheFile.encodeCompact(pruned, { lastUpdated: now, hash }),
          catch: (e) => new CacheWriteError({ path: file, operation: "encode", reason: String(e) })
        })
        if (read._tag === "Valid" && read.decoded.rejected.length > 0) {
          const aside = yield* writer.writeAside("rejected", recovery.stamp(now), read.text).pipe(Effect.mapError((e) => writeError(e.operation, e)))
          yield* warn(`${read.decoded.rejected.length} unreadable record(s) are kept in ${aside} before the file is rewritten`)
        }
        const bytes = yield* writer.writeAtomic(text, { keepBak: read._tag === "Valid", mayCommit: Effect.map(lease.isCompromised, (c) => !c) }).pipe(
          Effect.mapError((e) => writeError(e.operation, e))
        )
        if (bytes === "Aborted") {
          return yield* new CacheWriteError({ path: file, operation: "lock", code: "ECOMPROMISED", reason: "the lock was taken over by another process during the flush" })
        }
        const decoded = { version: CacheFile.VERSION, lastUpdated: now, table: pruned, rejected: [], newer: false, warnings: [] }
        yield* disk.rememberWritten(text, decoded)
        const result = FlushResult.Written({
          path: file,
          applied: pending.ops.length,
          peers: PeerTable.size(pruned),
          addresses: PeerTable.addressCount(pruned),
          pruned: Math.max(0, PeerTable.addressCount(merged) - PeerTable.addressCount(pruned)),
          bytes
        })
        log.rebase(pruned, pending.to)
        yield* status.written(now, result)
        return result
      }))
    }).pipe(Effect.scoped)

  const isReadOnlyFile = fs.stat(file).pipe(
    Effect.map((info) => (info.mode & 0o222) === 0),
    Effect.orElseSucceed(() => false)
  )


  return { load, install, flushLocked }
}
