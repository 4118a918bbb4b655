/**
 * The exploit order's prefix for {@link Selection.select}: the first `m` peers of a pool by quality
 * (highest first), ties in the pool's order rotated to start at `pivot`. A bounded heap, because a
 * selection needs the best few of tens of thousands of scored peers, on every refill of a bootstrap;
 * {@link topPrefixBySort} is the plain path it must agree with (a differential test checks both).
 *
 * @internal
 */

/** The per-peer state value that keeps a peer out of the prefix (the caller's exclusion). */
export const EXCLUDED = 1

/**
 * Whether pool index `i` comes after `j` in the exploit order: lower quality, or equal quality and
 * later in the pool's order rotated to start at index `pivot`.
 */
const after = (quality: Float64Array, pivot: number, n: number, i: number, j: number): boolean => {
  const qi = quality[i]!
  const qj = quality[j]!
  if (qi !== qj) return qi < qj
  const ri = i >= pivot ? i - pivot : i - pivot + n
  const rj = j >= pivot ? j - pivot : j - pivot + n
  return ri > rj
}

/** Sifts down in a heap whose root is the element that comes last in the exploit order. */
const siftLast = (heap: Int32Array, size: number, at: number, quality: Float64Array, pivot: number, n: number): void => {
  let i = at
  for (;;) {
    const l = 2 * i + 1
    if (l >= size) return
    const r = l + 1
    const c = r < size && after(quality, pivot, n, heap[r]!, heap[l]!) ? r : l
    if (!after(quality, pivot, n, heap[c]!, heap[i]!)) return
    const t = heap[i]!
    heap[i] = heap[c]!
    heap[c] = t
    i = c
  }
}

/**
 * The first `m` peers of `0 … n−1` whose `state` is not {@link EXCLUDED}, in the exploit order: one
 * pass keeping a bounded heap (O(n log m), and nearly O(n) since most peers lose to the heap's last
 * at the first comparison), then a heap sort of the m. With `among` (ascending pool indices), only
 * those peers are considered.
 */
export const topPrefix = (
  quality: Float64Array,
  n: number,
  state: Uint8Array,
  pivot: number,
  m: number,
  among?: Int32Array
): Int32Array => {
  const heap = new Int32Array(m)
  if (m === 0) return heap
  let size = 0
  const count = among === undefined ? n : among.length
  for (let k = 0; k < count; k++) {
    const i = among === undefined ? k : among[k]!
    if (state[i] === EXCLUDED) continue
    if (size < m) {
      heap[size++] = i
      if (size === m) for (let k = (m >> 1) - 1; k >= 0; k--) siftLast(heap, m, k, quality, pivot, n)
      continue
    }
    const last = heap[0]!
    if (quality[i]! < quality[last]! || !after(quality, pivot, n, last, i)) continue
    heap[0] = i
    siftLast(heap, m, 0, quality, pivot, n)
  }
  if (size < m) for (let k = (size >> 1) - 1; k >= 0; k--) siftLast(heap, size, k, quality, pivot, n)
  for (let end = size - 1; end > 0; end--) {
    const t = heap[0]!
    heap[0] = heap[end]!
    heap[end] = t
    siftLast(heap, end, 0, quality, pivot, n)
  }
  return size < m ? heap.subarray(0, size) : heap
}

/** The plain path: every non-excluded index sorted by the exploit order, the first `m` kept. */
export const topPrefixBySort = (quality: Float64Array, n: number, state: Uint8Array, pivot: number, m: number): Int32Array => {
  const all: Array<number> = []
  for (let i = 0; i < n; i++) if (state[i] !== EXCLUDED) all.push(i)
  all.sort((i, j) => (after(quality, pivot, n, i, j) ? 1 : after(quality, pivot, n, j, i) ? -1 : 0))
  return Int32Array.from(all.slice(0, m))
}
