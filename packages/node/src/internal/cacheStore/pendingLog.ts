/**
 * The changes a process made since its last flush, and its view of the cache: the base table last
 * read or written plus those changes, replayed lazily (recording is an O(1) append).
 */
import { Journal, PeerTable } from "@bootstrap-cache/core"

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
  /** Sequence number of `ops[0]`. */
  private offset = 0
  headSeq = 0
  private viewTable: PeerTable.PeerTable = PeerTable.empty
  private viewSeq = 0
  droppedOps = 0
  constructor(readonly maxPendingOps: number) {}

  get size(): number {
    return this.offset + this.ops.length - this.headSeq
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
    this.ops.push(op)
    if (this.offset + this.ops.length - this.headSeq <= this.maxPendingOps) return
    // Over the bound (flushes keep failing): the view keeps the oldest change, the file never gets it.
    this.view()
    const excess = this.offset + this.ops.length - this.headSeq - this.maxPendingOps
    this.headSeq += excess
    this.droppedOps += excess
    this.compact()
  }

  /** The view, brought up to date. */
  view(): PeerTable.PeerTable {
    const end = this.offset + this.ops.length
    if (this.viewSeq < end) {
      this.viewTable = replayOps(this.viewTable, this.ops, this.viewSeq - this.offset)
      this.viewSeq = end
    }
    return this.viewTable
  }

  /** The pending operations now (a copy: later changes do not alter it). */
  pending(): PendingOps {
    return { ops: this.ops.slice(this.headSeq - this.offset), to: this.offset + this.ops.length }
  }

  /**
   * A new base table (read or written) that holds every operation before `flushedTo`: those stop
   * being pending, and the view becomes the base plus the rest.
   */
  rebase(table: PeerTable.PeerTable, flushedTo: number): void {
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
