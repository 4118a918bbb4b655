/**
 * Indexes of a selection pool, built on demand and kept with the pool, so that a selection on a
 * pool already used costs what it picks and skips rather than a pass over every peer:
 *
 * - {@link Members}: the peers of each netgroup, or of each source group, in pool order, and each
 *   peer's rank among them (a counting sort, O(n + groups)). They depend only on which peers the
 *   pool holds, so a pool derived from another (same peers, same groups) shares them.
 * - {@link Head}: every peer whose quality is at least that of the {@link HEAD_SIZE}-th best. The
 *   first m peers of the exploit order, whatever the tie rotation, lie in it while it holds m
 *   peers that are not excluded (every peer outside it has a lower quality than all inside it).
 *
 * @internal
 */
import * as SelectionHeap from "./selectionHeap.js"

/** Pool indices grouped by a key: `members[start[k] … start[k+1])` are the peers of key k, ascending. */
export interface Members {
  readonly start: Int32Array
  readonly members: Int32Array
  /** Each peer's position among the peers of its key. */
  readonly rank: Int32Array
}

/** Groups `0 … n−1` by `key[i]` in `[0, keys)`, each group in ascending order. */
export const membersOf = (key: Int32Array, n: number, keys: number): Members => {
  const start = new Int32Array(keys + 1)
  for (let i = 0; i < n; i++) start[key[i]! + 1]!++
  for (let k = 0; k < keys; k++) start[k + 1]! += start[k]!
  const members = new Int32Array(n)
  const rank = new Int32Array(n)
  const fill = start.slice(0, keys)
  for (let i = 0; i < n; i++) {
    const k = key[i]!
    const at = fill[k]!++
    members[at] = i
    rank[i] = at - start[k]!
  }
  return { start, members, rank }
}

/** How many of the best peers a {@link Head} holds at least. */
export const HEAD_SIZE = 256

/** The peers of quality ≥ `threshold` (the {@link HEAD_SIZE}-th best quality), ascending. */
export interface Head {
  readonly threshold: number
  readonly indices: Int32Array
}

/** The head of `quality[0 … n−1]` (at least its `size` best): one bounded-heap pass and one scan. */
export const headOf = (quality: Float64Array, n: number, size = HEAD_SIZE): Head => {
  const top = SelectionHeap.topPrefix(quality, n, new Uint8Array(0), 0, Math.min(n, size))
  const threshold = top.length === 0 ? Number.NEGATIVE_INFINITY : quality[top[top.length - 1]!]!
  let held = 0
  for (let i = 0; i < n; i++) if (quality[i]! >= threshold) held++
  const indices = new Int32Array(held)
  let j = 0
  for (let i = 0; i < n; i++) if (quality[i]! >= threshold) indices[j++] = i
  return { threshold, indices }
}
