/**
 * A selection pool at a later `now` than the pool it was derived from, whose qualities are computed
 * where a selection needs them rather than for every peer.
 *
 * The rule it rests on: a quality only falls as time passes. Of the score's terms only the age decay
 * depends on `now`, and it grows with the age (`maxAgeDecay × (1 − 2^(−age / halfLifeMs))`, age 0 for
 * a timestamp in the future); the success rate it multiplies is in [0,1], the RTT and capability
 * terms are constant, the best address is a maximum of such terms and the clamp is monotone. So a
 * quality computed at `since` is an upper bound of the same record's quality at any later time, and
 * the first m peers of the exploit order at `now` are found by scoring peers in the order of their
 * bounds, stopping at the first bound below the m-th best quality found (every peer after it scores
 * lower). Peers whose record changed after `since` ({@link Lazy.stale}) have no bound and are always
 * scored. A peer whose dialable addresses span netgroups is scored when the pool is derived, since its
 * netgroup (the best address's) can change with `now`.
 *
 * @internal
 */
import * as SelectionHeap from "./selectionHeap.js"
import * as SelectionIndex from "./selectionIndex.js"
import type { Pool } from "./selectionPool.js"
import { bestDialable, qualityOf, type TermOut } from "./selectionScore.js"
import * as Score from "../Score.js"

/** Upper bounds of a pool lineage's qualities: each peer's quality at `since` (epoch ms). */
export interface Bound {
  /** By pool index: an upper bound of the peer's quality at any `now` ≥ `since`, unless it is stale. */
  readonly upper: Float64Array
  readonly since: number
  /** The peers of bound ≥ `threshold`, highest bound first ({@link topOf}); built on first need and grown by walks. */
  top: Int32Array | undefined
  threshold: number
}

/** What a lazily scored pool knows: the bounds, the peers without one, and which qualities are computed. */
export interface Lazy {
  readonly bound: Bound
  /** 1 for a peer whose record changed after `bound.since` (its bound says nothing); `staleList` lists them. */
  readonly stale: Uint8Array
  readonly staleList: Int32Array
  /** 1 for a peer whose address and quality at the pool's `now` are in the pool's arrays. */
  readonly scored: Uint8Array
}

/**
 * What a bound may be exceeded by through rounding (`Math.exp` is not guaranteed monotone to the
 * last bit): far below any difference in quality that matters, so a peer within it of the cut-off is
 * scored rather than skipped.
 */
const SLACK = 1e-9

/**
 * How many of the highest bounds a walk first takes in order; a walk that needs more takes four times
 * as many, and one that would need more than half the pool scores the pool whole instead.
 */
export const FIRST_TOP = 64

/** Stale peers a lazy pool carries at most; more, and the pool is scored whole (and bounds start again from it). */
export const MAX_STALE = 256

/** A fresh scratch object for {@link bestDialable}. */
export const termOut = (): TermOut => ({ term: 0, mixed: false })

/**
 * Scores pool index `i` at the pool's `now` into its `addresses` and `quality`; false when its best
 * dialable address is no longer in the netgroup the pool files it under (or it has none).
 */
export const rescore = (pool: Pool, i: number, out: TermOut): boolean => {
  const peer = pool.peers[i]!
  // A pooled peer with a single address is pooled by that address: no dial-policy or transport test needed.
  const single = peer.addresses.length === 1
  const address = single
    ? peer.addresses[0]!.address
    : bestDialable(peer, pool.now, pool.config, pool.loopback, pool.priv, pool.supports, out)
  if (address === undefined || address.netgroup !== pool.addresses[i]!.netgroup) return false
  const term = single ? Score.addressTerm(peer.addresses[0]!, pool.now, pool.config) : out.term
  pool.addresses[i] = address
  pool.quality[i] = qualityOf(peer, pool.relay[i] === 1, term, pool.config)
  return true
}

/** Makes sure pool index `i`'s address and quality at the pool's `now` are computed. */
export const ensureScored = (pool: Pool, i: number): void => {
  const lazy = pool.lazy
  if (lazy === undefined || lazy.scored[i] === 1) return
  rescore(pool, i, termOut())
  lazy.scored[i] = 1
}

/**
 * Scores every peer not scored yet, after which the pool is an ordinary one. Their netgroups cannot
 * have moved: peers whose addresses span netgroups, and changed peers, were scored when the pool was derived.
 */
export const materialize = (pool: Pool): void => {
  const lazy = pool.lazy
  if (lazy === undefined) return
  const out = termOut()
  for (let i = 0; i < pool.n; i++) if (lazy.scored[i] === 0) rescore(pool, i, out)
  pool.lazy = undefined
}

/**
 * At least the `size` highest bounds' peers (all of those tied with the last), highest first, ties by
 * pool index: a prefix of any longer such list, so a walk can go on from where it stopped.
 */
const topOf = (bound: Bound, n: number, size: number): Int32Array => {
  if (bound.top === undefined || (bound.top.length < size && bound.top.length < n)) {
    const head = SelectionIndex.headOf(bound.upper, n, size)
    const upper = bound.upper
    bound.threshold = head.threshold
    bound.top = head.indices.slice().sort((a, b) => upper[b]! - upper[a]! || a - b)
  }
  return bound.top
}

/** The m highest of the values offered (a min-heap of them); `cut` is the m-th highest once m were offered. */
class Cut {
  readonly heap: Float64Array
  size = 0
  constructor(readonly m: number) {
    this.heap = new Float64Array(m)
  }
  get cut(): number {
    return this.size < this.m ? Number.NEGATIVE_INFINITY : this.heap[0]!
  }
  offer(q: number): void {
    const heap = this.heap
    if (this.size < this.m) {
      let i = this.size++
      while (i > 0 && heap[(i - 1) >> 1]! > q) {
        heap[i] = heap[(i - 1) >> 1]!
        i = (i - 1) >> 1
      }
      heap[i] = q
      return
    }
    if (!(q > heap[0]!)) return
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= this.m) break
      const c = l + 1 < this.m && heap[l + 1]! < heap[l]! ? l + 1 : l
      if (!(heap[c]! < q)) break
      heap[i] = heap[c]!
      i = c
    }
    heap[i] = q
  }
}

/**
 * The first `m` peers of the exploit order ({@link SelectionHeap.topPrefix}'s answer on the pool's
 * qualities at `now`), scoring only the stale peers and those whose bound reaches the m-th best
 * quality found; undefined when the walk would take more than half the pool's bounds (the caller then
 * scores the pool whole).
 */
export const lazyTop = (pool: Pool, lazy: Lazy, state: Uint8Array, pivot: number, m: number): Int32Array | undefined => {
  if (m === 0) return new Int32Array(0)
  const bound = lazy.bound
  const out = termOut()
  const candidates: Array<number> = []
  const cut = new Cut(m)
  for (let j = 0; j < lazy.staleList.length; j++) {
    const i = lazy.staleList[j]!
    if (state[i] === SelectionHeap.EXCLUDED) continue
    candidates.push(i)
    cut.offer(pool.quality[i]!)
  }
  let top = topOf(bound, pool.n, FIRST_TOP)
  let j = 0
  for (;;) {
    for (; j < top.length; j++) {
      const i = top[j]!
      if (bound.upper[i]! + SLACK < cut.cut) break
      if (state[i] === SelectionHeap.EXCLUDED || lazy.stale[i] === 1) continue
      if (lazy.scored[i] === 0) {
        rescore(pool, i, out)
        lazy.scored[i] = 1
      }
      candidates.push(i)
      cut.offer(pool.quality[i]!)
    }
    // Stopped by a bound below the cut, or every peer walked, or every peer outside the top (whose
    // bounds are below the threshold) is below the cut: the candidates hold the answer.
    if (j < top.length || top.length >= pool.n || bound.threshold + SLACK < cut.cut) break
    if (top.length * 4 > pool.n >> 1) return undefined
    top = topOf(bound, pool.n, top.length * 4)
  }
  return SelectionHeap.topPrefix(pool.quality, pool.n, state, pivot, m, Int32Array.from(candidates).sort())
}
