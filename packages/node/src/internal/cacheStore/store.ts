/**
 * The file-backed `CacheStore`: opening, changes, flushes, imports and `info`. Loading and the locked
 * read → replay → write live in `fileSync`, reading in `diskFile`, writing in `atomicWrite`, recovery
 * of a corrupt file in `recover`, the journal in `pendingLog`, the timers in `flushLoop`.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { CacheImport, Journal, PeerTable } from "@bootstrap-cache/core"
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
import { makeFileSync } from "./fileSync.js"
import * as FlushLoop from "./flushLoop.js"
import { PendingLog } from "./pendingLog.js"
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

    const { flushLocked, load } = makeFileSync({
      fs,
      file,
      lock,
      lockOptions: options.lock,
      disk,
      writer,
      recovery,
      status,
      log,
      hash,
      prune,
      writeError
    })

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
