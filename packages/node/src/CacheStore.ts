/**
 * The persistent peer cache: one JSON file shared by every process on the machine (nodes and
 * clients), kept crash-safe, multi-process-safe and lossless.
 *
 * A process reads the file when the Layer is built. A version 2 file larger than its head is opened
 * in two steps: the head (the best peers at the last write, with their own checksum,
 * `CacheFile.decodeHead`) is read from the file's first 64 KB at once and is what `head` gives, while
 * the whole file is decoded in a background fiber of the Layer's scope; `snapshot`, `info`, `flush`
 * and `reload` wait for it. Its changes (`add`, `recordSuccess`,
 * `recordFailure`, `setProtocols`, `remove`, imports) go to its journal (`Journal` in the core) in
 * O(1), and `snapshot` is the file plus those changes. A **flush** takes the lock (`FileLock`), reads
 * the file as other processes left it, replays its own journal onto it (counters add up: N processes
 * × M outcomes = N·M), prunes, and writes atomically (exclusive temp file → fsync → `.bak` → rename →
 * fsync of the directory). A flush with nothing to write takes no lock. Flushes run every
 * `flushInterval` and once more when the scope closes (bounded by `shutdownTimeout`).
 *
 * | situation | behaviour |
 * |---|---|
 * | crash at any instant | the file is the old or the new one, never a mix; strays are removed by the next flush |
 * | corrupt file (bad JSON, truncated, bad checksum, wrong shape, a decoder that throws) | moved aside to `<file>.corrupt-<timestamp>` byte-identical (never deleted), a warning, `<file>.bak` loaded if valid, else an empty cache |
 * | a record this version cannot read | left out with a warning; the file is copied to `<file>.rejected-<timestamp>` before it is next overwritten |
 * | file from a newer format version, the `readOnly` option, a cache path that is a symbolic link | read, never written (flushes are `Skipped`) |
 * | read-only file or directory, read-only file system, full disk, I/O error | reads work; the flush fails with {@link CacheWriteError}, warned once per kind of failure until a flush succeeds; the old file stays intact; changes are kept |
 * | unreadable file (permission, I/O) | an empty view with a warning; flushes fail rather than overwrite what could not be read |
 *
 * Writes never leave the cache directory and never go through a link the store did not make (the
 * threat model is in the README's store section). Nothing throws out of the store: recording never
 * fails, `flush` fails only with {@link CacheWriteError}, the Layer only with {@link CacheOpenError}.
 * Time comes from Effect's `Clock` (so `TestClock` drives changes, flushes and staleness).
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import { Prune } from "@bootstrap-cache/core"
import type { CacheFile, CacheImport, PeerAddress, PeerRecord, PeerTable } from "@bootstrap-cache/core"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { createHash } from "node:crypto"
import type * as CachePaths from "./CachePaths.js"
import type * as FileLock from "./FileLock.js"
import * as memory from "./internal/cacheStore/memory.js"
import * as internal from "./internal/cacheStore/store.js"
import * as ConfigHelpers from "./internal/config.js"

// ---------------------------------------------------------------------------------------------------
// Errors and results
// ---------------------------------------------------------------------------------------------------

/**
 * The store cannot be opened at `path`: the path cannot be a file (it is a directory, or a parent is
 * a file). Permission problems and corrupt files do not fail the open (see the module docs).
 *
 * @since 0.1.0
 * @category errors
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
 * `write`, `rename`, `encode`, …), `code` the OS error when there is one (`EACCES`, `EROFS`, `ENOSPC`, `EIO`,
 * `ELOCKED` for a lock timeout, `ECOMPROMISED` for a lock taken over, `EREADONLY` for a file without write bits), `reason` the details (for a lock timeout: the holder's pid and host).
 * The file on disk is left as it was and the changes are kept for the next flush.
 *
 * @since 0.1.0
 * @category errors
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
 * @category errors
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
 * @category models
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
 * @category models
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
 * @category models
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
 * What `head` gives: the `table` a start can dial from now, and whether it is `complete`. While the
 * whole file is still decoding, `table` is the file's head (its best peers when it was written) plus
 * this process's changes, and `complete` is false; afterwards it is the same table as `snapshot`.
 *
 * @since 0.2.0
 * @category models
 */
export interface HeadView {
  readonly table: PeerTable.PeerTable
  readonly complete: boolean
}

/**
 * What an import did: the `source`, the detected `format`, the number of peer `records` and address
 * `entries` merged (pending until the next flush), and the `bad` entries that were skipped, each
 * with its location (`line 3`, `peers[2].addresses[1]`) and reason.
 *
 * @since 0.1.0
 * @category models
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
 * - `snapshot`: the last read of the file plus this process's pending changes; while the file is still
 *   decoding (see the module docs), it waits for it.
 * - `head`: at once, what is loaded so far (see {@link HeadView}): the head of a file still decoding,
 *   else the snapshot. For dialling the best peers before the whole table is in.
 * - `add`, `recordSuccess` (RTT in ms, bytes), `recordFailure`, `remove`: change the view (seen by
 *   the next `snapshot`) and are written on the next flush. One synchronous step each; never fail.
 *   An RTT or byte count the file cannot hold (negative, non-finite, past 2^53) is left out.
 * - `setProtocols(peerId, protocols)`: the protocols a peer advertises (identify), replacing its
 *   list; the circuit relay hop protocol marks it relay-capable. Journalled like any change, so it
 *   survives flushes and merges with other processes. An unknown peer is left alone.
 * - `flush`: lock → read → apply own changes → prune/cap → atomic write → unlock; with nothing
 *   pending, no lock: the view is refreshed from the file (`Unchanged`). Fails only with
 *   {@link CacheWriteError} (the file untouched, the changes kept); the failure is also logged, one
 *   warning per kind of failure until a flush succeeds, shared with the background and final flushes.
 * - `reload`: re-reads the file (without the lock: writes are atomic renames) and re-applies the
 *   pending changes.
 * - `isStale`: the file's `lastUpdated` is older than `staleAfter` (known from the head: never waits).
 * - `info`: see {@link CacheInfo}; waits for the whole file, as `snapshot`.
 * - `importFile(path)`, `importText(text, from)`: merge a bootstrap-cache file, a foreign cache
 *   (Safe Network, Autonomi v0/v1, Chiral) or a multiaddr list; pending until the next flush. A
 *   record the cache file could not hold is reported in `bad`, never journalled. `importFile` reads
 *   only a regular file of at most {@link MAX_IMPORT_BYTES} (checked on the open file, never more
 *   read than the cap and one byte); anything else fails with {@link CacheImportError}.
 *
 * @since 0.1.0
 * @category services
 */
export class CacheStore extends Context.Tag("@bootstrap-cache/node/CacheStore")<CacheStore, {
  readonly path: string
  readonly snapshot: Effect.Effect<PeerTable.PeerTable>
  readonly head: Effect.Effect<HeadView>
  readonly add: (
    address: PeerAddress.PeerAddress,
    options: { readonly source: PeerRecord.Source; readonly capabilities?: Partial<PeerRecord.Capabilities> }
  ) => Effect.Effect<void>
  readonly recordSuccess: (
    address: PeerAddress.PeerAddress,
    options?: { readonly rttMs?: number; readonly bytes?: number }
  ) => Effect.Effect<void>
  readonly recordFailure: (address: PeerAddress.PeerAddress) => Effect.Effect<void>
  readonly setProtocols: (peerId: string, protocols: ReadonlyArray<string>) => Effect.Effect<void>
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
 * | `maxImportBytes` | {@link MAX_IMPORT_BYTES} (16 MiB) | the largest file `importFile` reads |
 *
 * @since 0.1.0
 * @category models
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
  readonly maxImportBytes?: number
}

/**
 * The size cap of an import (`importFile`, and the CLI's `import` of a file or URL): 16 MiB
 * (16 777 216 bytes), room for a full cache of 30 000 peers in either file format.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_IMPORT_BYTES = 16 * 1024 * 1024

/**
 * SHA-256 hex with `node:crypto`.
 *
 * @since 0.1.0
 * @category utils
 */
export const sha256: CacheFile.Hash = (text) => createHash("sha256").update(text).digest("hex")

/**
 * The default pruning: the core's `Prune.prune` with its default configuration.
 *
 * @since 0.1.0
 * @category utils
 */
export const defaultPrune = (table: PeerTable.PeerTable, now: number): PeerTable.PeerTable => Prune.prune(table, now).table

/**
 * Builds the store (see {@link layer}); its background flush fiber and final flush live in the
 * surrounding scope. Fails with {@link CacheOpenError} when the path cannot be a file.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options?: CacheStoreOptions
) => Effect.Effect<CacheStore["Type"], CacheOpenError, FileSystem.FileSystem | Path.Path | Scope.Scope> = internal.make

/**
 * The store as a Layer: opens (or creates) the cache file, runs the background flush, and flushes
 * once more when the Layer's scope closes. Uses the `FileLock` from the context when there is one
 * (tests inject theirs), else `FileLock.make`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: CacheStoreOptions = {}): Layer.Layer<CacheStore, CacheOpenError, FileSystem.FileSystem | Path.Path> =>
  Layer.scoped(CacheStore, make(options))

// ---------------------------------------------------------------------------------------------------
// In memory
// ---------------------------------------------------------------------------------------------------

/**
 * What the in-memory "file" of {@link layerMemory} holds: the table last written (or the initial
 * one) and its `lastUpdated` (epoch ms).
 *
 * @since 0.1.0
 * @category models
 */
export interface MemoryFileContents {
  readonly table: PeerTable.PeerTable
  readonly lastUpdated: number
}

/**
 * The in-memory file behind {@link layerMemory}, for assertions and for simulating the world
 * outside the process.
 *
 * - `contents`: what the file holds now (none before the first write when the store started empty).
 * - `text`: the same as the real store would have written it (`CacheFile.encodeCompact`, SHA-256 checksum).
 * - `writes`: flushes that wrote the file.
 * - `write(table, lastUpdated?)`: replaces the file as another process would (`lastUpdated` defaults to
 *   the Clock's now): the store sees it at its next `flush` (its pending changes are replayed onto it,
 *   counters adding up) or `reload`.
 * - `failWrites(error)`: every flush fails with `error` (the file untouched, the changes kept) until called with `undefined`, as a read-only directory or a full disk would.
 *
 * @since 0.1.0
 * @category services
 */
export class MemoryCacheFile extends Context.Tag("@bootstrap-cache/node/CacheStore/MemoryCacheFile")<MemoryCacheFile, {
  readonly contents: Effect.Effect<Option.Option<MemoryFileContents>>
  readonly text: Effect.Effect<Option.Option<string>>
  readonly writes: Effect.Effect<number>
  readonly write: (table: PeerTable.PeerTable, lastUpdated?: number) => Effect.Effect<void>
  readonly failWrites: (error: CacheWriteError | undefined) => Effect.Effect<void>
}>() {}

/**
 * Options of {@link layerMemory}.
 *
 * | option | default | meaning |
 * |---|---|---|
 * | `initial` | none (no file) | the table the "file" holds when the store opens |
 * | `path` | `"memory:peers.json"` | the `path` the store reports (in `info`, flush results, errors) |
 * | `lastUpdated` | the Clock's now when built | epoch ms of the initial table (set it in the past to test staleness) |
 * | `staleAfter` | 24 hours | as {@link CacheStoreOptions} |
 * | `prune` | {@link defaultPrune} | applied to the merged table on every flush, as the real store does |
 * | `readOnly` | `false` | flushes are `Skipped` |
 * | `files` | none | files `importFile` can read, by path; other paths fail with {@link CacheImportError} |
 *
 * @since 0.1.0
 * @category models
 */
export interface MemoryOptions {
  readonly initial?: PeerTable.PeerTable
  readonly path?: string
  readonly lastUpdated?: number
  readonly staleAfter?: Duration.DurationInput
  readonly prune?: (table: PeerTable.PeerTable, now: number) => PeerTable.PeerTable
  readonly readOnly?: boolean
  readonly files?: Readonly<Record<string, string>>
}

/**
 * Builds the in-memory store and its file (see {@link layerMemory}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: (
  options?: MemoryOptions
) => Effect.Effect<{ readonly store: CacheStore["Type"]; readonly file: MemoryCacheFile["Type"] }> = memory.make

/**
 * The full `CacheStore` service in memory, plus its {@link MemoryCacheFile}: code that depends on
 * `CacheStore` runs in a unit test with no disk. Same semantics as the real store minus the disk:
 * changes are journalled with the time of the Clock the Layer is built with and seen at once by
 * `snapshot`; `flush` replays them onto the "file" as it is now (counters add up with what
 * `MemoryCacheFile.write` put there), prunes, and writes (`Written`), or is `Unchanged` with nothing
 * pending, `Skipped` when `readOnly`; `importText` goes through the same record boundary as the real
 * store. No background or final flush: a test flushes when it means to.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (options: MemoryOptions = {}): Layer.Layer<CacheStore | MemoryCacheFile> =>
  Layer.effectContext(
    Effect.map(makeMemory(options), ({ file, store }) => Context.make(CacheStore, store).pipe(Context.add(MemoryCacheFile, file)))
  )

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
 * @category config
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
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<CacheStoreOptions>
): Layer.Layer<CacheStore, CacheOpenError | ConfigError.ConfigError, FileSystem.FileSystem | Path.Path> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
