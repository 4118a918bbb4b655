/**
 * The `CacheStore` in memory (`CacheStore.layerMemory`): the same journal, merge, prune and record
 * boundary as the file-backed store, with a variable for the file.
 */
import { CacheFile, CacheImport, Journal, PeerTable } from "@bootstrap-cache/core"
import type * as Clock from "effect/Clock"
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

/** The mutable state behind one memory store: the "file", the journal since it, and the bookkeeping. */
interface State {
  readonly clock: Clock.Clock
  readonly path: string
  readonly prune: NonNullable<MemoryOptions["prune"]>
  readonly staleAfterMs: number
  readonly readOnlyReason: Option.Option<string>
  readonly files: NonNullable<MemoryOptions["files"]>
  readonly warnings: Array<string>
  file: Option.Option<MemoryFileContents>
  pending: Array<Journal.Op>
  view: PeerTable.PeerTable
  writes: number
  writeError: CacheWriteError | undefined
  lastFlush: Option.Option<FlushResult>
}

/** Reads the options into a fresh state; an `initial` table is the file's contents from the start. */
const makeState = (options: MemoryOptions, clock: Clock.Clock): State => {
  const initial = options.initial
  return {
    clock,
    path: options.path ?? "memory:peers.json",
    prune: options.prune ?? defaultPrune,
    staleAfterMs: millisOr(options.staleAfter, 24 * 3_600_000),
    readOnlyReason: options.readOnly === true ? Option.some("the readOnly option is set") : Option.none<string>(),
    files: options.files ?? {},
    warnings: [],
    file: initial === undefined
      ? Option.none()
      : Option.some({ table: initial, lastUpdated: options.lastUpdated ?? clock.unsafeCurrentTimeMillis() }),
    pending: [],
    view: initial ?? PeerTable.empty,
    writes: 0,
    writeError: undefined,
    lastFlush: Option.none()
  }
}

const now = (s: State) => s.clock.unsafeCurrentTimeMillis()
const fileTable = (s: State) => Option.match(s.file, { onNone: () => PeerTable.empty, onSome: (f) => f.table })
const replay = (s: State, table: PeerTable.PeerTable) => s.pending.reduce(Journal.applyOp, table)
const encode = (contents: MemoryFileContents) =>
  CacheFile.encodeCompact(contents.table, { lastUpdated: contents.lastUpdated, hash: sha256 })

/** Appends a change to the journal and applies it to the view. */
const record = (s: State, op: Journal.Op) =>
  Effect.sync(() => {
    s.pending.push(op)
    s.view = Journal.applyOp(s.view, op)
  })

/**
 * One flush, run under the store's semaphore: skipped when read-only, fails with the error set by
 * `failWrites`, otherwise merges the journal into the file, prunes and writes.
 */
const flushOnce = (s: State): Effect.Effect<FlushResult, CacheWriteError> => {
  if (Option.isSome(s.readOnlyReason)) {
    return Effect.succeed(FlushResult.Skipped({ path: s.path, reason: s.readOnlyReason.value }))
  }
  if (s.writeError !== undefined) {
    s.warnings.push(s.writeError.message)
    return Effect.fail(s.writeError)
  }
  const n = s.pending.length
  if (n === 0) {
    s.view = fileTable(s)
    return Effect.succeed(FlushResult.Unchanged({ path: s.path }))
  }
  const at = now(s)
  const merged = replay(s, fileTable(s))
  const pruned = s.prune(merged, at)
  const contents = { table: pruned, lastUpdated: at }
  const bytes = new TextEncoder().encode(encode(contents)).length
  s.file = Option.some(contents)
  s.writes++
  s.pending = []
  s.view = pruned
  const result = FlushResult.Written({
    path: s.path,
    applied: n,
    peers: PeerTable.size(pruned),
    addresses: PeerTable.addressCount(pruned),
    pruned: Math.max(0, PeerTable.addressCount(merged) - PeerTable.addressCount(pruned)),
    bytes
  })
  s.lastFlush = Option.some(result)
  return Effect.succeed(result)
}

/** The store's `info`, read from the state when run. */
const infoOf = (s: State) =>
  Effect.sync((): CacheInfo => {
    const at = now(s)
    const lastUpdated = Option.map(s.file, (f) => f.lastUpdated)
    return {
      path: s.path,
      origin: "option",
      version: Option.map(s.file, () => CacheFile.VERSION),
      lastUpdated,
      stale: Option.match(lastUpdated, { onNone: () => true, onSome: (t) => at - t > s.staleAfterMs }),
      readOnly: Option.isSome(s.readOnlyReason),
      readOnlyReason: s.readOnlyReason,
      pendingOps: s.pending.length,
      droppedOps: 0,
      peers: PeerTable.size(s.view),
      addresses: PeerTable.addressCount(s.view),
      warnings: s.warnings.slice(-20),
      lastFlush: s.lastFlush
    }
  })

/** Parses an import and journals its loadable records as one `Import` op. */
const importText = (s: State, text: string, from: string) =>
  Effect.gen(function*() {
    const parsed = yield* Either.match(CacheImport.parse(text, { now: now(s), from, hash: sha256 }), {
      onLeft: (e) => Effect.fail(new CacheImportError({ source: from, reason: e.message })),
      onRight: Effect.succeed
    })
    const loadable = loadableRecords(parsed.records)
    if (loadable.records.length > 0) yield* record(s, Journal.Op.Import({ records: loadable.records }))
    return {
      source: from,
      format: parsed.format,
      records: loadable.records.length,
      entries: parsed.entries,
      bad: [...parsed.bad, ...loadable.bad]
    } satisfies ImportReport
  })

/** Imports one of the `files` given in the options, as the file-backed store imports from disk. */
const importFile = (s: State, source: string) =>
  Object.prototype.hasOwnProperty.call(s.files, source)
    ? importText(s, s.files[source]!, source)
    : Effect.fail(new CacheImportError({ source, reason: "no such file (ENOENT) in the memory store's files" }))

/** The `CacheStore` service over the state; flush and reload take the one permit of `semaphore`. */
const makeStore = (s: State, semaphore: Effect.Semaphore): CacheStore["Type"] => {
  const info = infoOf(s)
  return CacheStore.of({
    path: s.path,
    snapshot: Effect.sync(() => s.view),
    head: Effect.sync(() => ({ table: s.view, complete: true })),
    add: (address, o) =>
      Effect.suspend(() =>
        record(
          s,
          Journal.Op.Add({
            address,
            at: now(s),
            source: o.source,
            ...(o.capabilities === undefined ? {} : { capabilities: o.capabilities })
          })
        )
      ),
    recordSuccess: (address, o) => Effect.suspend(() => record(s, successOp(address, now(s), o))),
    recordFailure: (address) => Effect.suspend(() => record(s, Journal.failure(address, now(s)))),
    setProtocols: (peerId, protocols) =>
      Effect.suspend(() => record(s, Journal.Op.Protocols({ peerId, protocols: [...protocols], at: now(s) }))),
    remove: (address) => Effect.suspend(() => record(s, Journal.Op.Remove({ address, at: now(s) }))),
    flush: semaphore.withPermits(1)(Effect.suspend(() => flushOnce(s))),
    reload: semaphore.withPermits(1)(Effect.sync(() => {
      s.view = replay(s, fileTable(s))
    })),
    isStale: Effect.map(info, (i) => i.stale),
    info,
    importFile: (source) => importFile(s, source),
    importText: (text, from) => importText(s, text, from)
  })
}

/** The test handle on the state's "file": read it, overwrite it, count writes, make flushes fail. */
const makeMemoryFile = (s: State): MemoryCacheFile["Type"] =>
  MemoryCacheFile.of({
    contents: Effect.sync(() => s.file),
    text: Effect.sync(() => Option.map(s.file, encode)),
    writes: Effect.sync(() => s.writes),
    write: (table, lastUpdated) =>
      Effect.sync(() => {
        s.file = Option.some({ table, lastUpdated: lastUpdated ?? now(s) })
      }),
    failWrites: (error) =>
      Effect.sync(() => {
        s.writeError = error
      })
  })

/** Builds a memory store and its file; changes are timed by the Clock in the context, as in the real store. */
export const make = (
  options: MemoryOptions = {}
): Effect.Effect<{ readonly store: CacheStore["Type"]; readonly file: MemoryCacheFile["Type"] }> =>
  Effect.gen(function*() {
    const state = makeState(options, yield* Effect.clock)
    const semaphore = yield* Effect.makeSemaphore(1)
    return { store: makeStore(state, semaphore), file: makeMemoryFile(state) }
  })
