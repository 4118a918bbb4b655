/**
 * The selection pool of a table from the pool of an earlier version of it (same dial policy,
 * transports and score configuration), without walking the table's map: the two persistent maps
 * share all but the peers whose records changed, which are found by comparing them.
 *
 * At the same `now` the earlier pool's qualities carry over and the changed peers are scored again.
 * At a later `now` nothing is scored but the changed peers and those whose netgroup can move
 * ({@link SelectionLazy}: qualities only fall with time, so a selection scores what it needs). At an
 * earlier `now` every peer is scored again from the pool's arrays.
 *
 * @internal
 */
import * as HashMap from "effect/HashMap"
import * as HashMapDiff from "./hashMapDiff.js"
import * as SelectionLazy from "./selectionLazy.js"
import type { Pool } from "./selectionPool.js"
import { bestDialable } from "./selectionScore.js"
import * as PeerRecord from "../PeerRecord.js"

/** A derivation changes at most this many peers; more, and a full pass is as cheap. */
const MAX_CHANGES = 64

/** Whether `i` is in the ascending `list`. */
const holds = (list: Int32Array, i: number): boolean => {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (list[mid]! < i) lo = mid + 1
    else hi = mid
  }
  return lo < list.length && list[lo] === i
}

/**
 * The pool indices of the changed keys, or undefined when a change is more than a record's values: a
 * peer that enters or leaves the pool, or changes netgroup (scored at the base's `now`), source group,
 * or whether its addresses span netgroups.
 */
const changedPeers = (
  base: Pool,
  positions: Map<string, number>,
  peersMap: HashMap.HashMap<string, PeerRecord.PeerRecord>,
  changed: ReadonlyArray<string>,
  peers: Array<PeerRecord.PeerRecord>
): Array<number> | undefined => {
  const out = SelectionLazy.termOut()
  const touched: Array<number> = []
  for (const key of changed) {
    const peer = HashMap.unsafeGet(peersMap, key)
    const i = positions.get(key)
    const address = bestDialable(peer, base.now, base.config, base.loopback, base.priv, base.supports, out)
    if (i === undefined) {
      if (address === undefined) continue
      return undefined
    }
    if (address === undefined || address.netgroup !== base.addresses[i]!.netgroup || out.mixed !== holds(base.mixed, i)) return undefined
    const old = base.peers[i]!.sources[0]
    const first = peer.sources[0]
    if (first !== old && (first === undefined || old === undefined || PeerRecord.sourceGroup(first) !== PeerRecord.sourceGroup(old))) {
      return undefined
    }
    peers[i] = peer
    touched.push(i)
  }
  return touched
}

/**
 * The lazy state of a pool derived at a later `now` than `base` (taking over the base's arrays), or
 * undefined when too many peers are stale. `sameNow`: the base's computed qualities still hold.
 */
const lazyAfter = (base: Pool, touched: ReadonlyArray<number>, sameNow: boolean): SelectionLazy.Lazy | undefined => {
  const prior = base.lazy
  const stale = prior === undefined ? new Uint8Array(base.n) : prior.stale
  const staleList: Array<number> = prior === undefined ? [] : Array.from(prior.staleList)
  for (const i of touched) {
    if (stale[i] === 1) continue
    stale[i] = 1
    staleList.push(i)
  }
  if (staleList.length > SelectionLazy.MAX_STALE) return undefined
  // An ordinary pool's qualities are exact at its `now`: the bounds from there on.
  const bound = prior?.bound ?? { upper: base.quality, since: base.now, top: undefined, threshold: Number.NEGATIVE_INFINITY }
  const scored = prior === undefined ? new Uint8Array(base.n) : sameNow ? prior.scored : prior.scored.fill(0)
  return { bound, stale, staleList: Int32Array.from(staleList), scored }
}

/**
 * The pool of `peersMap` derived from `base` at `now`, or undefined when they differ in more than the
 * values of at most {@link MAX_CHANGES} keys, or in which peers the pool holds or how it groups them.
 * The result equals the pool a full pass gives, except that a lazy one computes its qualities on
 * demand. Unless the maps differ in shape, `base` is retired: the result patches its arrays in place.
 */
export const derive = (
  base: Pool,
  positionsOf: () => Map<string, number>,
  peersMap: HashMap.HashMap<string, PeerRecord.PeerRecord>,
  now: number
): Pool | undefined => {
  const changed = base.peersMap === peersMap ? [] : HashMapDiff.changedKeys(base.peersMap, peersMap, MAX_CHANGES)
  if (changed === undefined) return undefined
  const positions = positionsOf()
  base.retired = true
  const touched = changedPeers(base, positions, peersMap, changed, base.peers)
  if (touched === undefined) return undefined
  for (const i of touched) base.relay[i] = PeerRecord.isRelay(base.peers[i]!) ? 1 : 0
  const same = now === base.now
  // A bound holds from its `since` on; an ordinary pool's qualities are bounds from its own `now`.
  const bounded = now >= (base.lazy?.bound.since ?? base.now)
  const lazy = (same && base.lazy === undefined) || !bounded ? undefined : lazyAfter(base, touched, same)
  const patch = same && (base.lazy === undefined || lazy !== undefined)
  // A fresh bound keeps the base's qualities as its bounds: the pool computes its own.
  const quality = lazy !== undefined && base.lazy === undefined ? new Float64Array(base.n) : base.quality
  const pool: Pool = { ...base, peersMap, now, quality, positions, head: undefined, runs: 0, lazy, retired: false }
  const out = SelectionLazy.termOut()
  const score = (i: number): boolean => {
    if (!SelectionLazy.rescore(pool, i, out)) return false
    if (lazy !== undefined) lazy.scored[i] = 1
    return true
  }
  if (patch) {
    for (const i of touched) if (!score(i)) return undefined
  } else if (lazy !== undefined) {
    // Stale peers have no bound, and a peer whose addresses span netgroups may have moved: scored now.
    for (let j = 0; j < lazy.staleList.length; j++) if (!score(lazy.staleList[j]!)) return undefined
    for (let j = 0; j < base.mixed.length; j++) if (!score(base.mixed[j]!)) return undefined
  } else {
    for (let i = 0; i < base.n; i++) if (!score(i)) return undefined
  }
  // Same peers in the same groups: the member lists carry over; the head follows the qualities.
  return pool
}
