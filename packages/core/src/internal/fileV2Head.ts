/**
 * The head of a version 2 file (its `k` best peers at the write, `fileV2.headIndices`) found without
 * scoring every peer at every save. A peer's score only falls as time passes (`Score.addressTerm` is
 * `successRate × (1 − ageDecay) − rttPenalty`, the decay growing with age and the rest fixed), so a
 * score computed earlier is an upper bound on the same record's score later. The ranker keeps every
 * peer's last score and the peers sorted by it; a save scores exactly the peers changed since, then
 * the others in that order, and stops at the first whose bound is below the `k`th best found: no
 * peer after it can enter. A clock that went back, a new key order or many changed peers score
 * everything again. Gives `headIndices`' answer (ties included: the smaller index first); a
 * differential test checks it.
 *
 * @internal
 */
import type * as PeerRecord from "../PeerRecord.js"
import { peerScore } from "./fileV2.js"
import { sortSteps } from "./sortSteps.js"

/** Scores may differ from a true bound by rounding: candidates within this margin are scored. */
const MARGIN = 1e-9
/** Beyond this many peers changed since the bounds were sorted, they are sorted again. */
const MAX_DIRTY = 1_024

export class HeadRanker {
  /** Each peer's score at some time ≤ `boundsAt`: a bound on its score from then on. */
  private bound = new Float64Array(0)
  /** Peer indices by `bound`, highest first. */
  private byBound = new Int32Array(0)
  private boundsAt = Number.POSITIVE_INFINITY
  /** Peers changed since `byBound` was sorted (their bound says nothing). */
  private readonly dirty = new Set<number>()
  private dirtyFlags = new Uint8Array(0)

  /** Forgets everything: the next ranking scores every peer (the key order changed). */
  reset(): void {
    this.boundsAt = Number.POSITIVE_INFINITY
  }

  /** The record at `i` changed. */
  changed(i: number): void {
    if (i >= this.dirtyFlags.length || this.dirtyFlags[i] === 1) return
    this.dirtyFlags[i] = 1
    this.dirty.add(i)
  }

  /** `headIndices(records, k, now)`. */
  rank(records: ReadonlyArray<PeerRecord.PeerRecord>, k: number, now: number): Array<number> {
    if (k <= 0 || records.length === 0) return []
    if (now < this.boundsAt || this.bound.length !== records.length || this.dirty.size > MAX_DIRTY) this.rescore(records, now)
    const best: Array<number> = []
    const scores: Array<number> = []
    const offer = (i: number, score: number) => {
      if (best.length === k && !before(score, i, scores[k - 1]!, best[k - 1]!)) return
      let at = best.length
      while (at > 0 && before(score, i, scores[at - 1]!, best[at - 1]!)) at--
      best.splice(at, 0, i)
      scores.splice(at, 0, score)
      if (best.length > k) {
        best.pop()
        scores.pop()
      }
    }
    for (const i of this.dirty) offer(i, peerScore(records[i]!, now))
    const order = this.byBound
    for (let j = 0; j < order.length; j++) {
      const i = order[j]!
      if (best.length === k && this.bound[i]! < scores[k - 1]! - MARGIN) break
      if (this.dirtyFlags[i] === 0) offer(i, peerScore(records[i]!, now))
    }
    return best
  }

  /** Scores every peer at `now` and sorts them by it. */
  private rescore(records: ReadonlyArray<PeerRecord.PeerRecord>, now: number): void {
    const n = records.length
    const bound = new Float64Array(n)
    for (let i = 0; i < n; i++) bound[i] = peerScore(records[i]!, now)
    const order = new Int32Array(n)
    for (let i = 0; i < n; i++) order[i] = i
    order.sort(byBoundOf(bound))
    this.install(bound, order, now)
  }

  /**
   * What a first `rank` at `now` (or later) would compute, a slice at a time: every peer scored,
   * pausing after every `perStep` peers, and sorted by `sortSteps`. The ranker is changed only at
   * the end, so a generator abandoned midway leaves it as it was.
   */
  *rescoreSteps(records: ReadonlyArray<PeerRecord.PeerRecord>, now: number, perStep: number): Generator<number, void, void> {
    const n = records.length
    const bound = new Float64Array(n)
    for (let i = 0; i < n; i++) {
      bound[i] = peerScore(records[i]!, now)
      if ((i + 1) % perStep === 0) yield i + 1
    }
    const indices: Array<number> = new Array(n)
    for (let i = 0; i < n; i++) indices[i] = i
    const order = yield* sortSteps(indices, byBoundOf(bound), perStep)
    this.install(bound, Int32Array.from(order), now)
  }

  private install(bound: Float64Array<ArrayBuffer>, order: Int32Array<ArrayBuffer>, now: number): void {
    this.bound = bound
    this.byBound = order
    this.boundsAt = now
    this.dirty.clear()
    this.dirtyFlags = new Uint8Array(bound.length)
  }
}

/** Highest bound first, then the smaller index: a total order, so every sort gives the same. */
const byBoundOf = (bound: Float64Array<ArrayBuffer>) => (a: number, b: number): number => bound[b]! - bound[a]! || a - b

/** Whether (score `s`, index `i`) ranks before (`t`, `j`): higher score, then smaller index. */
const before = (s: number, i: number, t: number, j: number): boolean => s > t || (s === t && i < j)
