/**
 * The peer-level view of {@link Prune.prune}: one scored entry per peer, the eviction order over
 * entries, the first few of a list in an order, and the removal record with its lazily written detail.
 *
 * @internal
 */
import type * as PeerAddress from "../PeerAddress.js"
import * as PeerRecord from "../PeerRecord.js"
import type { Reason, Removal } from "../Prune.js"
import * as Score from "../Score.js"
import { type BadReason, isWorkingAddress } from "./pruneAddress.js"

export interface Entry {
  readonly key: string
  readonly peer: PeerRecord.PeerRecord
  readonly quality: number
  readonly netgroup: string
  readonly working: boolean
  /** Ever answered ({@link PeerRecord.isTried}). */
  readonly tried: boolean
  /** {@link PeerRecord.sourceGroupOf}. */
  readonly source: string
  readonly bad: BadReason | undefined
}

/** Eviction order: lowest quality, then least recently seen, then greater key — first. */
export const evictionOrder = (a: Entry, b: Entry): number =>
  a.quality !== b.quality
    ? a.quality - b.quality
    : a.peer.lastSeen !== b.peer.lastSeen
    ? a.peer.lastSeen - b.peer.lastSeen
    : a.key < b.key
    ? 1
    : a.key > b.key
    ? -1
    : 0

/** The reverse of {@link evictionOrder}: the peers kept longest first. */
export const keepOrder = (a: Entry, b: Entry): number => evictionOrder(b, a)

/** Sifts down in a heap of entries whose root comes last in `order`. */
const siftLast = (heap: Array<Entry>, size: number, at: number, order: (a: Entry, b: Entry) => number): void => {
  let i = at
  for (;;) {
    const l = 2 * i + 1
    if (l >= size) return
    const r = l + 1
    const c = r < size && order(heap[r]!, heap[l]!) > 0 ? r : l
    if (order(heap[c]!, heap[i]!) <= 0) return
    const t = heap[i]!
    heap[i] = heap[c]!
    heap[c] = t
    i = c
  }
}

/**
 * The first `count` entries in `order`, in that order: a bounded heap when `count` is small next to
 * the candidates (a flush over capacity by a few peers does not sort 30 000), else a sort.
 */
export const firstIn = (candidates: Array<Entry>, count: number, order: (a: Entry, b: Entry) => number): Array<Entry> => {
  if (count <= 0) return []
  if (count * 8 >= candidates.length) return candidates.sort(order).slice(0, count)
  const heap: Array<Entry> = candidates.slice(0, count)
  for (let k = (count >> 1) - 1; k >= 0; k--) siftLast(heap, count, k, order)
  for (let i = count; i < candidates.length; i++) {
    const e = candidates[i]!
    if (order(e, heap[0]!) >= 0) continue
    heap[0] = e
    siftLast(heap, count, 0, order)
  }
  return heap.sort(order)
}

/** The peer-level quality and netgroup of a peer: those of its best address (as {@link Score.best}). */
export const scoreEntry = (
  key: string,
  peer: PeerRecord.PeerRecord,
  bad: Entry["bad"],
  now: number,
  score: Score.Config
): Entry => {
  const records = peer.addresses
  let bestRaw = Number.NEGATIVE_INFINITY
  let best: PeerRecord.AddressRecord | undefined
  let working = false
  let tried = false
  for (let j = 0; j < records.length; j++) {
    const r = records[j]!
    if (!working && isWorkingAddress(r)) working = true
    if (r.successes > 0) tried = true
    const raw = Score.addressTerm(r, now, score)
    if (raw > bestRaw) {
      bestRaw = raw
      best = r
    }
  }
  return {
    key,
    peer,
    quality: best === undefined ? 0 : Score.clamp01(bestRaw + Score.capabilityAdjustment(peer, score)),
    netgroup: best === undefined ? "" : best.address.netgroup,
    working,
    tried,
    source: PeerRecord.sourceGroupOf(peer),
    bad
  }
}

/** A removal whose `detail` sentence is written only when read (a flood evicts thousands). */
export class LazyRemoval implements Removal {
  readonly #records: ReadonlyArray<PeerRecord.AddressRecord>
  readonly #explain: () => string
  #addresses: ReadonlyArray<PeerAddress.PeerAddress> | undefined
  #detail: string | undefined
  constructor(
    readonly peerKey: string,
    records: ReadonlyArray<PeerRecord.AddressRecord>,
    readonly wholePeer: boolean,
    readonly reason: Reason,
    explain: () => string
  ) {
    this.#records = records
    this.#explain = explain
  }
  get addresses(): ReadonlyArray<PeerAddress.PeerAddress> {
    return (this.#addresses ??= this.#records.map((r) => r.address))
  }
  get detail(): string {
    return (this.#detail ??= this.#explain())
  }
  toJSON() {
    return { peerKey: this.peerKey, addresses: this.addresses, wholePeer: this.wholePeer, reason: this.reason, detail: this.detail }
  }
}
