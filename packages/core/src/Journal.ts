/**
 * The change log a process keeps between two flushes of the shared cache file: the operations it
 * performed (addresses heard of, dial outcomes, removals, imported records), in order, so that a flush
 * can replay **its own changes** onto whatever other processes have written meanwhile instead of
 * overwriting their work with a stale copy.
 *
 * Replaying uses the {@link PeerTable} functions themselves, so an operation means the same thing
 * whether it is applied to the process's in-memory view or to the table read back from disk. Outcome
 * counters therefore add up across processes: N processes that each record M outcomes for one address
 * and flush leave exactly N × M outcomes in the file (the "lossless merge" rule of the cache store).
 *
 * The journal is a `Chunk`: appending and dropping the flushed prefix are cheap, and a journal value is
 * immutable, so a flush can replay a prefix while new operations keep arriving.
 *
 * Pure: times arrive in the operations (epoch ms).
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Data from "effect/Data"
import { dual } from "effect/Function"
import type * as PeerAddress from "./PeerAddress.js"
import type * as PeerRecord from "./PeerRecord.js"
import * as PeerTable from "./PeerTable.js"

/**
 * One change made by this process.
 *
 * - `Add`: `address` heard of at `at` (epoch ms) from `source`, with optional capability flags
 *   ({@link PeerTable.add}).
 * - `Success`: a successful dial at `at`, with its round-trip time in ms and bytes exchanged
 *   ({@link PeerTable.recordSuccess}).
 * - `Failure`: a failed dial at `at` ({@link PeerTable.recordFailure}).
 * - `Remove`: the address was removed at `at` ({@link PeerTable.remove}).
 * - `Upsert`: a whole record merged in ({@link PeerTable.upsert}: counters add).
 * - `Import`: many records merged in as one operation (an imported file; each as `Upsert`).
 *
 * @since 0.1.0
 */
export type Op = Data.TaggedEnum<{
  Add: {
    readonly address: PeerAddress.PeerAddress
    readonly at: number
    readonly source: PeerRecord.Source
    readonly capabilities?: Partial<PeerRecord.Capabilities>
  }
  Success: {
    readonly address: PeerAddress.PeerAddress
    readonly at: number
    readonly rttMs?: number
    readonly bytes?: number
  }
  Failure: { readonly address: PeerAddress.PeerAddress; readonly at: number }
  Remove: { readonly address: PeerAddress.PeerAddress; readonly at: number }
  Upsert: { readonly record: PeerRecord.PeerRecord }
  Import: { readonly records: ReadonlyArray<PeerRecord.PeerRecord> }
}>

/**
 * Constructors and matchers of {@link Op}: `Op.Add({ address, at, source })`, `Op.Success(…)`, …
 *
 * @since 0.1.0
 */
export const Op = Data.taggedEnum<Op>()

/**
 * A journal: the operations in the order they were made.
 *
 * @since 0.1.0
 */
export type Journal = Chunk.Chunk<Op>

/**
 * The empty journal.
 *
 * @since 0.1.0
 */
export const empty: Journal = Chunk.empty()

/**
 * Appends an operation.
 *
 * @since 0.1.0
 */
export const append: {
  (op: Op): (self: Journal) => Journal
  (self: Journal, op: Op): Journal
} = dual(2, (self: Journal, op: Op): Journal => Chunk.append(self, op))

/**
 * Number of operations.
 *
 * @since 0.1.0
 */
export const size = (self: Journal): number => Chunk.size(self)

/**
 * Drops the first `n` operations (the ones a successful flush has written).
 *
 * @since 0.1.0
 */
export const drop: {
  (n: number): (self: Journal) => Journal
  (self: Journal, n: number): Journal
} = dual(2, (self: Journal, n: number): Journal => Chunk.drop(self, n))

/**
 * Applies one operation to a table with the {@link PeerTable} function of the same meaning.
 *
 * @since 0.1.0
 */
export const apply: {
  (op: Op): (table: PeerTable.PeerTable) => PeerTable.PeerTable
  (table: PeerTable.PeerTable, op: Op): PeerTable.PeerTable
} = dual(2, (table: PeerTable.PeerTable, op: Op): PeerTable.PeerTable => {
  switch (op._tag) {
    case "Add":
      return PeerTable.add(table, op.address, {
        now: op.at,
        source: op.source,
        ...(op.capabilities === undefined ? {} : { capabilities: op.capabilities })
      })
    case "Success":
      return PeerTable.recordSuccess(table, op.address, op.at, {
        ...(op.rttMs === undefined ? {} : { rttMs: op.rttMs }),
        ...(op.bytes === undefined ? {} : { bytes: op.bytes })
      })
    case "Failure":
      return PeerTable.recordFailure(table, op.address, op.at)
    case "Remove":
      return PeerTable.remove(table, op.address)
    case "Upsert":
      return PeerTable.upsert(table, op.record)
    case "Import": {
      let out = table
      for (const record of op.records) out = PeerTable.upsert(out, record)
      return out
    }
  }
})

/**
 * Replays a journal onto a table, in order: O(ops × log n).
 *
 * @since 0.1.0
 */
export const replay: {
  (journal: Journal): (table: PeerTable.PeerTable) => PeerTable.PeerTable
  (table: PeerTable.PeerTable, journal: Journal): PeerTable.PeerTable
} = dual(2, (table: PeerTable.PeerTable, journal: Journal): PeerTable.PeerTable => {
  let out = table
  for (const op of journal) out = apply(out, op)
  return out
})
