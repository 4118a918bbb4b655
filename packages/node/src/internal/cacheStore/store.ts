/**
 * The file-backed `CacheStore`: opening, loading, flushing (lock → read → replay → prune → atomic
 * write), changes, imports and `info`. Reading lives in `diskFile`, writing in `atomicWrite`,
 * recovery of a corrupt file in `recover`, the journal in `pendingLog`, the timers in `flushLoop`.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { CacheFile, CacheImport, Journal, PeerTable } from "@bootstrap-cache/core"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as CachePaths from "../../CachePaths.js"
import {
  CacheImportError,
  CacheOpenError,
  type CacheStore,
  type CacheStoreOptions,
  CacheWriteError,
  defaultPrune,
  FlushResult,
  type ImportReport,
  sha256
} from "../../CacheStore.js"
import * as FileLock from "../../FileLock.js"
import { millisOr } from "../duration.js"
import { errnoOf } from "../errno.js"
import { makeWriter } from "./atomicWrite.js"
import { loadableRecords, successOp } from "./boundary.js"
import { makeDiskFile } from "./diskFile.js"
import * as FlushLoop from "./flushLoop.js"
import { PendingLog, type PendingOps, replayOps } from "./pendingLog.js"
import { makeRecovery } from "./recover.js"
import { makeStatus } from "./status.js"

/** Builds the store (see `CacheStore.layer`); its background and final flush live in the scope. */
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
    const hash = options.hash ?? sha256
    const prune = options.prune ?? defaultPrune
    const staleAfterMs = millisOr(options.staleAfter, 24 * 3_600_000)
    const annotate = Effect.annotateLogs({ path: file })
    // Changes are timed by the Clock the store is built with (TestClock in tests), read synchronously
    // so that recording an outcome is one step.
    const clock = yield* Effect.clock

    // ---- open: the path must be able to be a file ------------------------------------------------
    const targetInfo = yield* Effect.option(fs.stat(file))
    if (Option.isSome(targetInfo) && targetInfo.value.type !== "File") {
      return yield* new CacheOpenError({ path: file, reason: `it is a ${targetInfo.value.type.toLowerCase()}, not a file` })
    }
    const disk = makeDiskFile(fs, file, hash)
    const status = yield* makeStatus({ file, annotate, readOnly: options.readOnly === true })
    const { warn } = status
    const log = new PendingLog(Math.max(1, options.maxPendingOps ?? 100_000))
    const writer = makeWriter({ fs, path: pathApi, file, warn })

    // A cache path that is a symbolic link is read through, never written (see the README's threat model).
    const linkReason = (target: string) =>
      `the cache file is a symbolic link (to ${target}); the store never writes through a link: give the target as the path, or replace the link with a file`
    if (yield* disk.isLink(file)) yield* status.setReadOnly(linkReason(yield* fs.readLink(file).pipe(Effect.orElseSucceed(() => "?"))))

    const dirResult = yield* Effect.either(fs.makeDirectory(dir, { recursive: true }))
    if (Either.isLeft(dirResult)) {
      const code = errnoOf(dirResult.left)
      if (code === "ENOTDIR" || code === "EEXIST" || (dirResult.left._tag === "SystemError" && dirResult.left.reason === "BadResource")) {
        return yield* new CacheOpenError({ path: file, reason: `its directory ${dir} cannot be created: ${dirResult.left.message}` })
      }
      yield* warn(`cannot create the directory ${dir} (${code ?? dirResult.left.message}): the cache works in memory and flushes will fail`)
    }

    const writeError = (operation: string, e: { readonly code: string | undefined; readonly reason: string }) =>
      new CacheWriteError({ path: file, operation, reason: e.reason, ...(e.code === undefined ? {} : { code: e.code }) })
    const recovery = makeRecovery({ fs, file, disk, writer, warn, writeError })

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
              yield* lock.acquire(file, options.lock)
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
        const lease = yield* lock.acquire(file, options.lock).pipe(Effect.mapError(lockError))
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
            try: () => CacheFile.encode(pruned, { lastUpdated: now, hash }),
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

    const semaphore = yield* Effect.makeSemaphore(1)
    const dropWarning = Effect.suspend(() =>
      log.dropWarningDue() ? warn(`more than ${log.maxPendingOps} changes are pending (flushes keep failing): the oldest are dropped`) : Effect.void
    )

    /**
     * A flush. With nothing pending it takes no lock and writes nothing: it refreshes the view from
     * the file (`Unchanged`), so read-only commands never contend for the lock or fail on a
     * read-only mount.
     */
    const flushOnce: Effect.Effect<FlushResult, CacheWriteError> = semaphore.withPermits(1)(
      Effect.gen(function*() {
        yield* dropWarning
        if (yield* disk.isLink(file)) yield* status.setReadOnly(linkReason(yield* fs.readLink(file).pipe(Effect.orElseSucceed(() => "?"))))
        const readOnly = yield* status.readOnlyReason
        if (Option.isSome(readOnly)) return FlushResult.Skipped({ path: file, reason: readOnly.value })
        const pending = log.pending()
        if (pending.ops.length === 0) {
          // A file that cannot be read was warned about when it was first met; the view stays as it is.
          if ((yield* disk.readMain)._tag !== "Unreadable") yield* load
          return FlushResult.Unchanged({ path: file })
        }
        const result = yield* flushLocked(pending, yield* Clock.currentTimeMillis)
        status.succeeded()
        return result
      })
    )

    const flush = flushOnce.pipe(Effect.tapError(status.reportFailure(false)), annotate)
    const flushWarned = flushOnce.pipe(Effect.tapError(status.reportFailure(true)), annotate)

    // ---- changes -----------------------------------------------------------------------------------
    /** Appends one change: O(1), one synchronous step; the view is brought up to date when read. */
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
        const loadable = loadableRecords(parsed.records)
        const bad = [...parsed.bad, ...loadable.bad]
        if (loadable.records.length > 0) yield* record(() => Journal.Op.Import({ records: loadable.records }))
        if (bad.length > 0) {
          yield* Effect.logWarning(`import of ${from}: ${bad.length} bad entr${bad.length === 1 ? "y" : "ies"} skipped, first: ${bad[0]!.location}: ${bad[0]!.reason}`).pipe(annotate)
        }
        return { source: from, format: parsed.format, records: loadable.records.length, entries: parsed.entries, bad } satisfies ImportReport
      })

    /** Imports a regular file; anything else (a FIFO, a device, a directory) fails at once, never blocks. */
    const importFile = (source: string) =>
      fs.stat(source).pipe(
        Effect.filterOrFail(
          (info) => info.type === "File",
          (info) => new CacheImportError({ source, reason: `it is a ${info.type.toLowerCase()}, not a regular file` })
        ),
        Effect.zipRight(fs.readFileString(source)),
        Effect.mapError((e) => e._tag === "CacheImportError" ? e : new CacheImportError({ source, reason: e.message })),
        Effect.flatMap((text) => importText(text, source))
      )

    const info = Effect.gen(function*() {
      yield* dropWarning
      const view = log.view()
      return yield* status.info({
        origin: resolved.origin,
        staleAfterMs,
        now: yield* Clock.currentTimeMillis,
        pendingOps: log.size,
        droppedOps: log.droppedOps,
        peers: PeerTable.size(view),
        addresses: PeerTable.addressCount(view)
      })
    })

    // ---- open, background flush, final flush -----------------------------------------------------
    yield* load.pipe(annotate)
    yield* FlushLoop.start({
      flush: flushWarned,
      pending: () => log.size,
      flushInterval: Duration.decode(options.flushInterval ?? Duration.minutes(5)),
      shutdownTimeout: Duration.decode(options.shutdownTimeout ?? Duration.seconds(5)),
      warn,
      info: (message) => Effect.logInfo(message).pipe(annotate)
    })

    return {
      path: file,
      snapshot: Effect.sync(() => log.view()),
      add: (address, o) =>
        record((at) => Journal.Op.Add({ address, at, source: o.source, ...(o.capabilities === undefined ? {} : { capabilities: o.capabilities }) })),
      recordSuccess: (address, o) =>
        Effect.sync(() => {
          log.append(successOp(address, clock.unsafeCurrentTimeMillis(), o))
        }),
      recordFailure: (address) =>
        Effect.sync(() => {
          log.append(Journal.failure(address, clock.unsafeCurrentTimeMillis()))
        }),
      setProtocols: (peerId, protocols) => record((at) => Journal.Op.Protocols({ peerId, protocols: [...protocols], at })),
      remove: (address) => record((at) => Journal.Op.Remove({ address, at })),
      flush,
      reload: semaphore.withPermits(1)(load).pipe(annotate),
      isStale: Effect.map(info, (i) => i.stale),
      info,
      importFile,
      importText
    } satisfies CacheStore["Type"]
  })
