/**
 * The changes a process made since its last flush, and its view of the cache: the base table last
 * read or written plus those changes, replayed lazily (recording is an O(1) append).
 */
import { Journal, type PeerAddress, PeerTable } from "@bootstrap-cache/core"

/** The changes a flush writes: sequence numbers `[from, to)` of the pending log. */
export interface PendingOps {
  readonly ops: ReadonlyArray<Journal.Op>
  readonly to: number
}

/** Replays operations `[from, end)` onto a table, in order (`Journal.replayOps`). */
export const replayOps = (table: PeerTable.PeerTable, ops: ReadonlyArray<Journal.Op>, from = 0): PeerTable.PeerTable =>
  Journal.replayOps(table, ops, from)

/**
 * The process's pending changes and its view, kept mutably (every method is synchronous, so fibers
 * see it change atomically).
 *
 * - Operations get consecutive sequence numbers; `[headSeq, end)` are pending (not yet written).
 * - The view is `viewTable` + the operations `[viewSeq, end)`, applied lazily when it is read and
 *   memoised until the next change: recording is an O(1) append (the journal holds exactly the
 *   counter increments the lossless merge replays), reading the view costs what was recorded since.
 */
export class PendingLog {
  private ops: Array<Journal.Op> = []
  /**
   * Outcomes recorded after `ops`, not yet built into operations: the per-outcome path appends to
   * these columns (no object per outcome) and every reader first turns them into `ops` ({@link settle}).
   * `rttMs` and `bytes` hold `NaN` for none (the values recorded are finite, see `successOp`).
   */
  private readonly tail = new OutcomeColumns()
  /** Sequence number of `ops[0]`. */
  private offset = 0
  headSeq = 0
  private viewTable: PeerTable.PeerTable = PeerTable.empty
  private viewSeq = 0
  droppedOps = 0
  constructor(readonly maxPendingOps: number) {}

  get size(): number {
    return this.offset + this.ops.length + this.tail.length - this.headSeq
  }

  private dropWarned = false

  /** True once, after the first drop. */
  dropWarningDue(): boolean {
    if (this.droppedOps === 0 || this.dropWarned) return false
    this.dropWarned = true
    return true
  }

  /** Appends an operation; beyond `maxPendingOps` pending, the oldest are dropped (`droppedOps`). */
  append(op: Journal.Op): void {
    this.settle()
    this.ops.push(op)
    this.bound()
  }

  /**
   * Appends `Journal.success(address, at, rttMs, bytes)` without building it yet (the same operation
   * every reader sees; see `tail`). `rttMs` and `bytes` are finite or undefined.
   */
  appendSuccess(address: PeerAddress.PeerAddress, at: number, rttMs: number | undefined, bytes: number | undefined): void {
    this.tail.push(address, at, rttMs ?? Number.NaN, bytes ?? Number.NaN)
    if (this.size > this.maxPendingOps) this.bound()
  }

  /** Appends `Journal.failure(address, at)` without building it yet (see {@link appendSuccess}). */
  appendFailure(address: PeerAddress.PeerAddress, at: number): void {
    this.tail.push(address, at, FAILURE, Number.NaN)
    if (this.size > this.maxPendingOps) this.bound()
  }

  /** Builds the outcomes of `tail` into `ops`, in order. */
  private settle(): void {
    if (this.tail.length > 0) this.tail.drainInto(this.ops)
  }

  /** Beyond `maxPendingOps` pending, drops the oldest (`droppedOps`). */
  private bound(): void {
    if (this.size <= this.maxPendingOps) return
    this.settle()
    // Over the bound (flushes keep failing): the view keeps the oldest change, the file never gets it.
    this.view()
    const excess = this.offset + this.ops.length - this.headSeq - this.maxPendingOps
    this.headSeq += excess
    this.droppedOps += excess
    this.compact()
  }

  /** The view, brought up to date. */
  view(): PeerTable.PeerTable {
    this.settle()
    const end = this.offset + this.ops.length
    if (this.viewSeq < end) {
      this.viewTable = replayOps(this.viewTable, this.ops, this.viewSeq - this.offset)
      this.viewSeq = end
    }
    return this.viewTable
  }

  /** The pending operations now (a copy: later changes do not alter it). */
  pending(): PendingOps {
    this.settle()
    return { ops: this.ops.slice(this.headSeq - this.offset), to: this.offset + this.ops.length }
  }

  /**
   * A new base table (read or written) that holds every operation before `flushedTo`: those stop
   * being pending, and the view becomes the base plus the rest.
   */
  rebase(table: PeerTable.PeerTable, flushedTo: number): void {
    this.settle()
    this.headSeq = Math.max(this.headSeq, flushedTo)
    this.viewTable = table
    this.viewSeq = this.headSeq
    this.compact()
  }

  private compact(): void {
    const dead = this.headSeq - this.offset
    if (dead > 1024 && dead * 2 > this.ops.length) {
      this.ops = this.ops.slice(dead)
      this.offset = this.headSeq
    }
  }
}

/** The `rttMs` column's mark of a failure (a recorded RTT is finite). */
const FAILURE = Number.NEGATIVE_INFINITY

/** Outcomes per chunk of {@link OutcomeColumns}. */
const CHUNK = 1024

/**
 * One chunk of outcomes as parallel columns, allocated at its full size: the numbers live in one
 * `Float64Array` (`at`, `rttMs`, `bytes` of outcome i at 3i, 3i+1, 3i+2), whose bytes are outside the
 * JavaScript heap, so the scavenger copies only the addresses of the outcomes it finds alive.
 */
class Chunk {
  readonly addresses: Array<PeerAddress.PeerAddress | undefined> = new Array(CHUNK)
  readonly numbers = new Float64Array(3 * CHUNK)
  length = 0
}

/**
 * Outcomes as parallel columns: numbers stay unboxed, and appending allocates nothing per outcome.
 * The columns are cut in chunks of {@link CHUNK}: arrays grown to 100 000 entries are copied into
 * ever larger blocks of the large-object space, which costs more per append than the append itself.
 */
class OutcomeColumns {
  private full: Array<Chunk> = []
  private last = new Chunk()

  get length(): number {
    return this.full.length * CHUNK + this.last.length
  }

  push(address: PeerAddress.PeerAddress, at: number, rttMs: number, bytes: number): void {
    let last = this.last
    if (last.length === CHUNK) {
      this.full.push(last)
      last = this.last = new Chunk()
    }
    const i = last.length++
    last.addresses[i] = address
    const n = last.numbers
    n[3 * i] = at
    n[3 * i + 1] = rttMs
    n[3 * i + 2] = bytes
  }

  /**
   * Appends the outcomes to `ops` as `Journal` operations, oldest first, and empties the columns (the
   * last chunk is kept for the next outcomes: a store that reads after every outcome allocates nothing).
   */
  drainInto(ops: Array<Journal.Op>): void {
    for (const chunk of this.full) drainChunk(chunk, ops)
    drainChunk(this.last, ops)
    this.full = []
    this.last.addresses.fill(undefined, 0, this.last.length)
    this.last.length = 0
  }
}

const drainChunk = ({ addresses, length, numbers }: Chunk, ops: Array<Journal.Op>): void => {
  for (let i = 0; i < length; i++) {
    const at = numbers[3 * i]!
    const rtt = numbers[3 * i + 1]!
    const bytes = numbers[3 * i + 2]!
    ops.push(
      rtt === FAILURE
        ? Journal.failure(addresses[i]!, at)
        : Journal.success(addresses[i]!, at, Number.isNaN(rtt) ? undefined : rtt, Number.isNaN(bytes) ? undefined : bytes)
    )
  }
}
