/**
 * `Selection.poolSteps`: the selection's pass over a table (`selectionPool`'s full pass) made a slice
 * at a time, in the full pass's order, and kept with the table as `poolOf` keeps a pool.
 *
 * @internal
 */
import * as HashMap from "effect/HashMap"
import { ReduceOrder } from "./hashMapWalk.js"
import { addPeer, build, Builder, fullPool, install, keyOf, type Pool, type PoolOptions, remembered } from "./selectionPool.js"
import type * as PeerRecord from "../PeerRecord.js"
import type * as PeerTable from "../PeerTable.js"

/**
 * The pool `poolOf` would make by a full pass, made a slice at a time — `peersPerStep` peers, then
 * their positions — and kept as `poolOf` keeps it. Stops early, giving positions to that pool instead,
 * when the table meanwhile keeps a pool for the same `now` and key (a selection ran between two slices).
 */
export const poolSteps = function*(table: PeerTable.PeerTable, options: PoolOptions, peersPerStep: number): Generator<number, void, void> {
  if (HashMap.size(table.peers) === 0) return
  const k = keyOf(options)
  const now = options.now
  let pool = remembered(table, now, k)
  if (pool === undefined) {
    const b = new Builder(HashMap.size(table.peers), now, k.config, k.loopback, k.priv, k.supports, false)
    // The pool's order is `HashMap.reduce`'s (the full pass's): the walk visits the peers so.
    const walk = new ReduceOrder(table.peers)
    const add = (peer: PeerRecord.PeerRecord, key: string) => void addPeer(b, peer, key)
    let taken = walk.take(peersPerStep, add)
    let done = 0
    while (taken === "more") {
      done += peersPerStep
      yield done
      pool = remembered(table, now, k)
      if (pool !== undefined) break
      taken = walk.take(peersPerStep, add)
    }
    // A map whose shape the walk does not know is passed over whole, by the full pass.
    pool ??= install(table, taken === "done" ? build(table.peers, b) : fullPool(table, options))
  }
  yield* positionSteps(pool, peersPerStep)
}

/** Builds `pool.positions` (what `positionsOf` builds at once) a slice of `perStep` peers at a time. */
const positionSteps = function*(pool: Pool, perStep: number): Generator<number, void, void> {
  if (pool.positions !== undefined) return
  const positions = new Map<string, number>()
  for (let i = 0; i < pool.n; i++) {
    positions.set(pool.keys[i]!, i)
    if ((i + 1) % perStep === 0 && i + 1 < pool.n) {
      yield i + 1
      if (pool.positions !== undefined) return
    }
  }
  pool.positions = positions
}
