/**
 * The `CacheStore` in memory (`CacheStore.layerMemory`): the same journal, merge, prune and record
 * boundary as the file-backed store, with a variable for the file.
 */
import { CacheFile, CacheImport, Journal, PeerTable } from "@bootstrap-cache/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import {
  CacheImportError,
  type CacheInfo,
  CacheStore,
  type CacheWriteError,
  defaultPrune,
  FlushResult,
  type ImportReport,
  MemoryCacheFile,
  type MemoryFileContents,
  type MemoryOptions,
  sha256
} from "../../CacheStore.js"
import { millisOr } from "../duration.js"
import { loadableRecords, successOp } from "./boundary.js"

export const make = (
  options: MemoryOptions = {}
): Effect.Effect<{ readonly store: CacheStore["Type"]; readonly file: MemoryCacheFile["Type"] }> =>
  Effect.gen(function*() {
    // As the real store: changes are timed by the Clock the store is built with.
    const clock = yield* Effect.clock
    const initial = options.initial
    const path = options.path ?? "memory:peers.json"
    const prune = options.prune ?? defaultPrune
    const staleAfterMs = millisOr(options.staleAfter, 24 * 3_600_000)
    const readOnlyReason = options.readOnly === true ? Option.some("the readOnly option is set") : Option.none<string>()
    const files = options.files ?? {}

    let file: Option.Option<MemoryFileContents> = initial === undefined
      ? Option.none()
      : Option.some({ table: initial, lastUpdated: options.lastUpdated ?? clock.unsafeCurrentTimeMillis() })
    let pending: Array<Journal.Op> = []
    let view: PeerTable.PeerTable = initial ?? PeerTable.empty
    let writes = 0
    let writeError: CacheWriteError | undefined
    let lastFlush = Option.none<FlushResult>()
    const warnings: Array<string> = []

    const fileTable = () => Option.match(file, { onNone: () => PeerTable.empty, onSome: (f) => f.table })
    const replay = (table: PeerTable.PeerTable) => pending.reduce(Journal.applyOp, table)
    const record = (op: Journal.Op) =>
      Effect.sync(() => {
        pending.push(op)
        view = Journal.applyOp(view, op)
      })
    const encode = (contents: MemoryFileContents) =>
      CacheFile.encodeCompact(contents.table, { lastUpdated: contents.lastUpdated, hash: sha256 })

    const semaphore = yield* Effect.makeSemaphore(1)
    const flush: Effect.Effect<FlushResult, CacheWriteError> = semaphore.withPermits(1)(
      Effect.suspend((): Effect.Effect<FlushResult, CacheWriteError> => {
        if (Option.isSome(readOnlyReason)) return Effect.succeed(FlushResult.Skipped({ path, reason: readOnlyReason.value }))
        if (writeError !== undefined) {
          warnings.push(writeError.message)
          return Effect.fail(writeError)
        }
        const n = pending.length
        if (n === 0) {
          view = fileTable()
          return Effect.succeed(FlushResult.Unchanged({ path }))
        }
        const now = clock.unsafeCurrentTimeMillis()
        const merged = replay(fileTable())
        const pruned = prune(merged, now)
        const contents = { table: pruned, lastUpdated: now }
        const bytes = new TextEncoder().encode(encode(contents)).length
        file = Option.some(contents)
        writes++
        pending = []
        view = pruned
        const result = FlushResult.Written({
          path,
          applied: n,
          peers: PeerTable.size(pruned),
          addresses: PeerTable.addressCount(pruned),
          pruned: Math.max(0, PeerTable.addressCount(merged) - PeerTable.addressCount(pruned)),
          bytes
        })
        lastFlush = Option.some(result)
        return Effect.succeed(result)
      })
    )

    const info = Effect.sync((): CacheInfo => {
      const now = clock.unsafeCurrentTimeMillis()
      const lastUpdated = Option.map(file, (f) => f.lastUpdated)
      return {
        path,
        origin: "option",
        version: Option.map(file, () => CacheFile.VERSION),
        lastUpdated,
        stale: Option.match(lastUpdated, { onNone: () => true, onSome: (t) => now - t > staleAfterMs }),
        readOnly: Option.isSome(readOnlyReason),
        readOnlyReason,
        pendingOps: pending.length,
        droppedOps: 0,
        peers: PeerTable.size(view),
        addresses: PeerTable.addressCount(view),
        warnings: warnings.slice(-20),
        lastFlush
      }
    })

    const importText = (text: string, from: string) =>
      Effect.gen(function*() {
        const now = clock.unsafeCurrentTimeMillis()
        const parsed = yield* Either.match(CacheImport.parse(text, { now, from, hash: sha256 }), {
          onLeft: (e) => Effect.fail(new CacheImportError({ source: from, reason: e.message })),
          onRight: Effect.succeed
        })
        const loadable = loadableRecords(parsed.records)
        if (loadable.records.length > 0) yield* record(Journal.Op.Import({ records: loadable.records }))
        return {
          source: from,
          format: parsed.format,
          records: loadable.records.length,
          entries: parsed.entries,
          bad: [...parsed.bad, ...loadable.bad]
        } satisfies ImportReport
      })

    const store = CacheStore.of({
      path,
      snapshot: Effect.sync(() => view),
      add: (address, o) =>
        Effect.suspend(() =>
          record(Journal.Op.Add({
            address,
            at: clock.unsafeCurrentTimeMillis(),
            source: o.source,
            ...(o.capabilities === undefined ? {} : { capabilities: o.capabilities })
          }))
        ),
      recordSuccess: (address, o) => Effect.suspend(() => record(successOp(address, clock.unsafeCurrentTimeMillis(), o))),
      recordFailure: (address) => Effect.suspend(() => record(Journal.failure(address, clock.unsafeCurrentTimeMillis()))),
      setProtocols: (peerId, protocols) =>
        Effect.suspend(() => record(Journal.Op.Protocols({ peerId, protocols: [...protocols], at: clock.unsafeCurrentTimeMillis() }))),
      remove: (address) => Effect.suspend(() => record(Journal.Op.Remove({ address, at: clock.unsafeCurrentTimeMillis() }))),
      flush,
      reload: semaphore.withPermits(1)(Effect.sync(() => {
        view = replay(fileTable())
      })),
      isStale: Effect.map(info, (i) => i.stale),
      info,
      importFile: (source) =>
        Object.prototype.hasOwnProperty.call(files, source)
          ? importText(files[source]!, source)
          : Effect.fail(new CacheImportError({ source, reason: "no such file (ENOENT) in the memory store's files" })),
      importText
    })

    const memoryFile = MemoryCacheFile.of({
      contents: Effect.sync(() => file),
      text: Effect.sync(() => Option.map(file, encode)),
      writes: Effect.sync(() => writes),
      write: (table, lastUpdated) =>
        Effect.sync(() => {
          file = Option.some({ table, lastUpdated: lastUpdated ?? clock.unsafeCurrentTimeMillis() })
        }),
      failWrites: (error) =>
        Effect.sync(() => {
          writeError = error
        })
    })
    return { store, file: memoryFile }
  })

