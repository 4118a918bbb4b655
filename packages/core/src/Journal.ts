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
import * as CacheImport from "./CacheImport.js"
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
 * - `Import`: many records merged in as one operation (an imported file; `CacheImport.merge`: idempotent, counters by maximum).
 * - `Protocols`: the protocols peer `peerId` advertised at `at` (from identify), replacing the list
 *   it had; advertising the circuit relay hop protocol marks it relay-capable
 *   ({@link PeerTable.setProtocols}). An unknown peer is left alone.
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
  Protocols: { readonly peerId: string; readonly protocols: ReadonlyArray<string>; readonly at: number }
}>

/**
 * Constructors and matchers of {@link Op}: `Op.Add({ address, at, source })`, `Op.Success(…)`, …
 *
 * @since 0.1.0
 */
export const Op = Data.taggedEnum<Op>()

/** The prototype `Data` gives its values (structural equality and hashing). */
const DataProto: object = Object.getPrototypeOf(Data.struct({}))

// Classes of fixed shape whose instances are the same `Data` values `Op.Success` / `Op.Failure` build
// (same own keys, same prototype behaviour), several times cheaper to make: for the per-outcome path.
class SuccessOp {
  declare readonly address: PeerAddress.PeerAddress
  declare readonly at: number
  declare readonly rttMs?: number
  declare readonly bytes?: number
  declare readonly _tag: "Success"
  constructor(address: PeerAddress.PeerAddress, at: number, rttMs: number | undefined, bytes: number | undefined) {
    const self = this as { -readonly [K in keyof SuccessOp]: SuccessOp[K] }
    self.address = address
    self.at = at
    if (rttMs !== undefined) self.rttMs = rttMs
    if (bytes !== undefined) self.bytes = bytes
    self._tag = "Success"
  }
}
Object.setPrototypeOf(SuccessOp.prototype, DataProto)

class FailureOp {
  declare readonly address: PeerAddress.PeerAddress
  declare readonly at: number
  declare readonly _tag: "Failure"
  constructor(address: PeerAddress.PeerAddress, at: number) {
    const self = this as { -readonly [K in keyof FailureOp]: FailureOp[K] }
    self.address = address
    self.at = at
    self._tag = "Failure"
  }
}
Object.setPrototypeOf(FailureOp.prototype, DataProto)

/**
 * A `Success` operation, equal to what `Op.Success` builds (a `Data` value) at a fraction of the cost
 * (`Op.…` goes through a Proxy and copies its argument): for the per-outcome hot path. `rttMs` (ms)
 * and `bytes` are left out when undefined.
 *
 * @since 0.1.0
 */
export const success = (address: PeerAddress.PeerAddress, at: number, rttMs?: number, bytes?: number): Op =>
  new SuccessOp(address, at, rttMs, bytes) as Op

/**
 * A `Failure` operation, equal to what `Op.Failure` builds (see {@link success}).
 *
 * @since 0.1.0
 */
export const failure = (address: PeerAddress.PeerAddress, at: number): Op => new FailureOp(address, at) as Op

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
 * Applies one operation to a table with the {@link PeerTable} function of the same meaning
 * (data-first, for loops that replay many operations).
 *
 * @since 0.1.0
 */
export const applyOp = (table: PeerTable.PeerTable, op: Op): PeerTable.PeerTable => {
  switch (op._tag) {
    case "Add":
      return PeerTable.add(table, op.address, {
        now: op.at,
        source: op.source,
        ...(op.capabilities === undefined ? {} : { capabilities: op.capabilities })
      })
    case "Success":
      return PeerTable.recordSuccessWith(table, op.address, op.at, op.rttMs, op.bytes)
    case "Failure":
      return PeerTable.recordFailure(table, op.address, op.at)
    case "Remove":
      return PeerTable.remove(table, op.address)
    case "Upsert":
      return PeerTable.upsert(table, op.record)
    case "Import":
      return CacheImport.merge(table, op.records)
    case "Protocols":
      return PeerTable.setProtocols(table, op.peerId, op.protocols)
  }
}

/**
 * Applies one operation to a table with the {@link PeerTable} function of the same meaning.
 *
 * @since 0.1.0
 */
export const apply: {
  (op: Op): (table: PeerTable.PeerTable) => PeerTable.PeerTable
  (table: PeerTable.PeerTable, op: Op): PeerTable.PeerTable
} = dual(2, applyOp)

/**
 * Replays operations `[from, end)` of an array onto a table, in order, as one transient batch
 * (`PeerTable.mutate`): the same table as {@link applyOp} on each in turn. Each run of consecutive
 * `Success` / `Failure` operations is applied with `PeerTable.recordOutcomes` (one table write per
 * peer touched, not per outcome). O(ops + peers touched × log n).
 *
 * @since 0.2.0
 */
export const replayOps = (table: PeerTable.PeerTable, ops: ReadonlyArray<Op>, from = 0): PeerTable.PeerTable =>
  from >= ops.length ? table : PeerTable.mutate(table, (out) => {
    let i = from
    while (i < ops.length) {
      const op = ops[i]!
      if (op._tag !== "Success" && op._tag !== "Failure") {
        out = applyOp(out, op)
        i++
        continue
      }
      const run: Array<PeerTable.Outcome> = []
      for (let next = ops[i]; next !== undefined && (next._tag === "Success" || next._tag === "Failure"); next = ops[++i]) run.push(next)
      out = PeerTable.recordOutcomes(out, run)
    }
    return out
  })

/**
 * Replays a journal onto a table, in order: O(ops × log n), as one transient batch
 * ({@link replayOps}).
 *
 * @since 0.1.0
 */
export const replay: {
  (journal: Journal): (table: PeerTable.PeerTable) => PeerTable.PeerTable
  (table: PeerTable.PeerTable, journal: Journal): PeerTable.PeerTable
} = dual(2, (table: PeerTable.PeerTable, journal: Journal): PeerTable.PeerTable => replayOps(table, Chunk.toReadonlyArray(journal)))
