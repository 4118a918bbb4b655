/**
 * The file-backed `CacheStore`: opening (the head first, the whole file in the background), changes,
 * flushes and `info`. Loading and the locked
 * read → replay → write live in `fileSync`, reading in `diskFile`, writing in `atomicWrite`, recovery
 * of a corrupt file in `recover`, the journal in `pendingLog`, the timers in `flushLoop`, imports in
 * `importer`.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { type CacheFile, Journal, PeerTable } from "@bootstrap-cache/core"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as CachePaths from "../../CachePaths.js"
import {
  CacheOpenError,
  type CacheStore,
  type CacheStoreOptions,
  CacheWriteError,
  FlushResult,
  MAX_IMPORT_BYTES,
  sha256
} from "../../CacheStore.js"
import * as FileLock from "../../FileLock.js"
import { resolve as resolvePath } from "../cachePaths/resolve.js"
import { millisOr } from "../duration.js"
import { errnoOf } from "../errno.js"
import { makeWriter } from "./atomicWrite.js"
import { validBytes, validRtt } from "./boundary.js"
import { type DiskFile, makeDiskFile, nextMacrotask, runPausing } from "./diskFile.js"
import { makeDefaultPrune, makeFileSync } from "./fileSync.js"
import * as FlushLoop from "./flushLoop.js"
import { makeImporter } from "./importer.js"
import { PendingLog } from "./pendingLog.js"
import { makeRecovery } from "./recover.js"
import { makeStatus, type Status } from "./status.js"

type Annotate = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

/** What the pieces of an open store share. */
interface Opened {
  readonly fs: FileSystem.FileSystem
  readonly file: string
  /** The file's stat taken at open; none when it was missing or could not be taken. */
  readonly stat: Option.Option<FileSystem.File.Info>
  readonly origin: CachePaths.Resolved["origin"]
  readonly hash: NonNullable<CacheStoreOptions["hash"]>
  readonly staleAfterMs: number
  readonly annotate: Annotate
  readonly clock: Clock.Clock
  readonly disk: DiskFile
  readonly status: Status
  readonly log: PendingLog
  readonly sync: ReturnType<typeof makeFileSync>
  readonly semaphore: Effect.Semaphore
  readonly dropWarning: Effect.Effect<void>
  /** Completed once the whole file is installed (at once when there is no head to start from). */
  readonly loaded: Deferred.Deferred<void>
  /** Completed at the first change recorded: a flush will write (see `prepareInBackground`). */
  readonly changed: Deferred.Deferred<void>
}

/**
 * Fails when the path exists and is not a file (a directory, a FIFO, a device); else gives its stat
 * when it exists (its directory then needs no creating). The first read of the file starts from this
 * stat: one stat answers the type, the size (head or whole file) and the identity. `taken` is the
 * stat resolving the path took of the file, if it took one.
 */
const checkTarget = (fs: FileSystem.FileSystem, file: string, taken: Option.Option<FileSystem.File.Info> | undefined) =>
  Effect.gen(function*() {
    const targetInfo = taken ?? (yield* Effect.option(fs.stat(file)))
    if (Option.isSome(targetInfo) && targetInfo.value.type !== "File") {
      return yield* new CacheOpenError({ path: file, reason: `it is a ${targetInfo.value.type.toLowerCase()}, not a file` })
    }
    return targetInfo
  })

/** A cache path that is a symbolic link is read through, never written (see the README's threat model). */
const readOnlyIfLink = (fs: FileSystem.FileSystem, disk: DiskFile, status: Status, file: string) =>
  Effect.gen(function*() {
    if (!(yield* disk.isLink(file))) return
    const target = yield* fs.readLink(file).pipe(Effect.orElseSucceed(() => "?"))
    yield* status.setReadOnly(
      `the cache file is a symbolic link (to ${target}); the store never writes through a link: give the target as the path, or replace the link with a file`
    )
  })

/**
 * Creates the file's directory. A path through a file cannot work at all and fails the open; any
 * other failure (permissions, a read-only mount) leaves a store that works in memory.
 */
const makeDirectory = (fs: FileSystem.FileSystem, dir: string, file: string, warn: Status["warn"]) =>
  Effect.gen(function*() {
    const dirResult = yield* Effect.either(fs.makeDirectory(dir, { recursive: true }))
    if (Either.isRight(dirResult)) return
    const code = errnoOf(dirResult.left)
    if (code === "ENOTDIR" || code === "EEXIST" || (dirResult.left._tag === "SystemError" && dirResult.left.reason === "BadResource")) {
      return yield* new CacheOpenError({ path: file, reason: `its directory ${dir} cannot be created: ${dirResult.left.message}` })
    }
    yield* warn(`cannot create the directory ${dir} (${code ?? dirResult.left.message}): the cache works in memory and flushes will fail`)
  })

/**
 * Node's `FileLock`, built at the first `acquire`: a store that only reads (or has not written yet)
 * never builds it, so opening does not wait for it.
 */
const lazyLock: Effect.Effect<FileLock.FileLock["Type"]> = Effect.map(
  Effect.cached(FileLock.make),
  (built) => ({ acquire: (file, options) => Effect.flatMap(built, (lock) => lock.acquire(file, options)) })
)

/** Resolves the path, checks it can be a file and wires the parts; reads nothing of the file yet. */
const open = (options: CacheStoreOptions) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const pathApi = yield* Path.Path
    const lock = yield* Effect.serviceOption(FileLock.FileLock).pipe(
      Effect.flatMap(Option.match({ onNone: () => lazyLock, onSome: Effect.succeed }))
    )
    const resolved = yield* resolvePath({ ...options.paths, ...(options.path === undefined ? {} : { path: options.path }) })
    const file = resolved.path
    const hash = options.hash ?? sha256
    const staleAfterMs = millisOr(options.staleAfter, 24 * 3_600_000)
    const annotate = Effect.annotateLogs({ path: file })
    // Changes are timed by the Clock the store is built with (TestClock in tests), read synchronously
    // so that recording an outcome is one step.
    const clock = yield* Effect.clock

    const stat = yield* checkTarget(fs, file, resolved.stat)
    const disk = makeDiskFile(fs, file, hash)
    const status = makeStatus({ file, annotate, readOnly: options.readOnly === true })
    const { warn } = status
    const log = new PendingLog(Math.max(1, options.maxPendingOps ?? 100_000))
    const writer = makeWriter({ fs, path: pathApi, file, warn })
    // A store made read-only by its options keeps that reason: a link would change nothing now, and
    // every flush checks again.
    if (options.readOnly !== true) yield* readOnlyIfLink(fs, disk, status, file)
    // A store that never writes creates nothing either: a read-only open of a missing path leaves no directory behind.
    if (Option.isNone(stat) && options.readOnly !== true) yield* makeDirectory(fs, pathApi.dirname(file), file, warn)

    const writeError = (operation: string, e: { readonly code: string | undefined; readonly reason: string }) =>
      new CacheWriteError({ path: file, operation, reason: e.reason, ...(e.code === undefined ? {} : { code: e.code }) })
    const recovery = makeRecovery({ fs, file, disk, writer, warn, writeError })
    const sync = makeFileSync({
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
      prune: options.prune === undefined ? makeDefaultPrune() : { prune: options.prune },
      writeError
    })
    const semaphore = yield* Effect.makeSemaphore(1)
    const dropWarning = Effect.suspend(() =>
      log.dropWarningDue() ? warn(`more than ${log.maxPendingOps} changes are pending (flushes keep failing): the oldest are dropped`) : Effect.void
    )
    const loaded = yield* Deferred.make<void>()
    const changed = yield* Deferred.make<void>()
    return {
      fs,
      file,
      stat,
      origin: resolved.origin,
      hash,
      staleAfterMs,
      annotate,
      clock,
      disk,
      status,
      log,
      sync,
      semaphore,
      dropWarning,
      loaded,
      changed
    } satisfies Opened
  })

/**
 * A flush. With nothing pending it takes no lock and writes nothing: it refreshes the view from
 * the file (`Unchanged`), so read-only commands never contend for the lock or fail on a
 * read-only mount.
 */
const flushOnce = (s: Opened): Effect.Effect<FlushResult, CacheWriteError> =>
  Effect.zipRight(Deferred.await(s.loaded), s.semaphore.withPermits(1)(
    Effect.gen(function*() {
      yield* s.dropWarning
      yield* readOnlyIfLink(s.fs, s.disk, s.status, s.file)
      const readOnly = yield* s.status.readOnlyReason
      if (Option.isSome(readOnly)) return FlushResult.Skipped({ path: s.file, reason: readOnly.value })
      const pending = s.log.pending()
      if (pending.ops.length === 0) {
        // A file that cannot be read was warned about when it was first met; the view stays as it is.
        if ((yield* s.disk.readMain)._tag !== "Unreadable") yield* s.sync.load
        return FlushResult.Unchanged({ path: s.file })
      }
      const result = yield* s.sync.flushLocked(pending, yield* Clock.currentTimeMillis)
      s.status.succeeded()
      return result
    })
  ))

/** Marks that a change was recorded (see `prepareInBackground`): one read of a field after the first. */
const markChanged = (s: Opened): void => {
  Deferred.unsafeDone(s.changed, Exit.void)
}

/** Appends one change: O(1), one synchronous step; the view is brought up to date when read. */
const recorder = (s: Opened) => (make: (at: number) => Journal.Op): Effect.Effect<void> =>
  Effect.suspend(() => {
    s.log.append(make(s.clock.unsafeCurrentTimeMillis()))
    markChanged(s)
    return s.dropWarning
  })

/** `info` of the view as it is now: while the file decodes, of its head. */
const infoNow = (s: Opened) =>
  Effect.gen(function*() {
    yield* s.dropWarning
    const view = s.log.view()
    return yield* s.status.info({
      origin: s.origin,
      staleAfterMs: s.staleAfterMs,
      now: yield* Clock.currentTimeMillis,
      pendingOps: s.log.size,
      droppedOps: s.log.droppedOps,
      peers: PeerTable.size(view),
      addresses: PeerTable.addressCount(view)
    })
  })

/** What is loaded so far: `complete` is read first, so a complete view is never reported as a head. */
const headView = (s: Opened) =>
  Effect.zipWith(Deferred.isDone(s.loaded), Effect.sync(() => s.log.view()), (complete, table) => ({ table, complete }))

/** The head as the view until the whole file is installed: the file's best peers, their version and age. */
const installHead = (s: Opened, head: CacheFile.Head) =>
  Effect.suspend(() => {
    s.log.rebase(PeerTable.fromRecords(head.records), s.log.headSeq)
    return s.status.headInstalled(head)
  })

/** How many peers `PeerTable.indexSteps` indexes between turns of the event loop. */
const PEERS_PER_INDEX_STEP = 8192

/** Builds a table's address index (`PeerTable.indexSteps`), giving the event loop a turn between slices. */
const buildIndexPausing = (table: PeerTable.PeerTable): Effect.Effect<void> =>
  runPausing(() => PeerTable.indexSteps(table, PEERS_PER_INDEX_STEP))

/**
 * Once a change is recorded and the whole file is in, builds what the first flush would build before
 * writing (the encoder's key order, lines and head scores, the prune's memory: `fileSync`'s
 * `prepareSteps`) a slice at a time in a fiber of the scope, a turn of the event loop between
 * slices, so that the first flush costs what a steady one does instead of one block of a few hundred
 * ms. A store that never records a change (`list`, `stats`) never starts it; a read-only store skips
 * it; a flush that comes first finishes the rest at once, with the same bytes.
 */
const prepareInBackground = (s: Opened) =>
  Effect.forkScoped(
    Effect.gen(function*() {
      yield* Deferred.await(s.changed)
      yield* Deferred.await(s.loaded)
      if (Option.isSome(yield* s.status.readOnlyReason)) return
      yield* nextMacrotask
      yield* runPausing(() => s.sync.prepareSteps(s.clock.unsafeCurrentTimeMillis()))
    }).pipe(s.annotate)
  )

/**
 * Decodes the whole file in a fiber of the scope, a turn of the event loop after the head was
 * installed, so that what the caller starts from the head (the first dials) is under way first; the
 * decode itself gives the event loop a turn between slices of lines (`decodeTextPausing`), so dials in
 * flight complete while it runs. The changes recorded meanwhile are replayed onto it
 * (`PendingLog.rebase`). The load holds the flush permit; `loaded` is completed when it is in, or when
 * the scope closes first (the final flush then merges the journal into the file as read under the
 * lock, as always). Then the view's address index is built a slice at a time too (a decoded table
 * builds it at its first read otherwise, at once), so that a later change does not wait for it.
 */
const loadInBackground = (s: Opened) =>
  Effect.gen(function*() {
    yield* Effect.addFinalizer(() => Deferred.succeed(s.loaded, undefined))
    const load = Effect.zipRight(nextMacrotask, s.semaphore.withPermits(1)(s.sync.load))
    const index = Effect.zipRight(nextMacrotask, buildIndexPausing(s.log.view()))
    yield* Effect.forkScoped(load.pipe(Effect.zipRight(Deferred.succeed(s.loaded, undefined)), Effect.zipRight(index), s.annotate))
  })

/** Builds the store (see `CacheStore.layer`); its background and final flush live in the scope. */
export const make = (
  options: CacheStoreOptions = {}
): Effect.Effect<CacheStore["Type"], CacheOpenError, FileSystem.FileSystem | Path.Path | Scope.Scope> =>
  Effect.gen(function*() {
    const s = yield* open(options)
    const { annotate, clock, file, log } = s
    const record = recorder(s)
    const storeInfo = infoNow(s)
    const whenLoaded = <A>(self: Effect.Effect<A>) => Effect.zipRight(Deferred.await(s.loaded), self)

    // The open's stat serves the first read; a file that was missing is looked for again.
    const head = Option.isSome(s.stat) ? yield* s.disk.readHeadOf(s.stat.value) : Option.none()
    const load = Option.match(s.stat, {
      onNone: () => s.sync.load,
      onSome: (info) => s.sync.loadFrom(s.disk.readMainFrom(Effect.succeed(Either.right(info))))
    })
    if (Option.isSome(head)) yield* installHead(s, head.value)
    else yield* Effect.zipRight(load.pipe(annotate), Deferred.succeed(s.loaded, undefined))
    yield* FlushLoop.start({
      flush: flushOnce(s).pipe(Effect.tapError(s.status.reportFailure(true)), annotate),
      pending: () => log.size,
      flushInterval: Duration.decode(options.flushInterval ?? Duration.minutes(5)),
      shutdownTimeout: Duration.decode(options.shutdownTimeout ?? Duration.seconds(5)),
      warn: s.status.warn,
      info: (message) => Effect.logInfo(message).pipe(annotate)
    })
    if (Option.isSome(head)) yield* loadInBackground(s)
    yield* prepareInBackground(s)

    return {
      path: file,
      snapshot: whenLoaded(Effect.sync(() => log.view())),
      head: headView(s),
      add: (address, o) =>
        record((at) => Journal.Op.Add({ address, at, source: o.source, ...(o.capabilities === undefined ? {} : { capabilities: o.capabilities }) })),
      recordSuccess: (address, o) =>
        Effect.sync(() => {
          const now = clock.unsafeCurrentTimeMillis()
          log.appendSuccess(address, now, validRtt(o?.rttMs), validBytes(o?.bytes))
          markChanged(s)
        }),
      recordFailure: (address) =>
        Effect.sync(() => {
          log.appendFailure(address, clock.unsafeCurrentTimeMillis())
          markChanged(s)
        }),
      setProtocols: (peerId, protocols) => record((at) => Journal.Op.Protocols({ peerId, protocols: [...protocols], at })),
      remove: (address) => record((at) => Journal.Op.Remove({ address, at })),
      flush: flushOnce(s).pipe(Effect.tapError(s.status.reportFailure(false)), annotate),
      reload: whenLoaded(s.semaphore.withPermits(1)(s.sync.load)).pipe(annotate),
      isStale: Effect.map(storeInfo, (i) => i.stale),
      info: whenLoaded(storeInfo),
      ...makeImporter({ fs: s.fs, hash: s.hash, annotate, record, maxBytes: options.maxImportBytes ?? MAX_IMPORT_BYTES })
    } satisfies CacheStore["Type"]
  })
