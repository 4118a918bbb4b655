/**
 * A sort a slice at a time, for a caller that must not hold its thread for a whole sort of tens of
 * thousands of items: a bottom-up merge sort whose runs of `perStep` items are each sorted by the
 * engine's sort, then merged pass by pass, pausing after every `perStep` runs' worth of comparisons.
 * Stable, like `Array.prototype.sort`, so it gives exactly that sort's order for the same `compare`.
 *
 * @internal
 */

/** Runs merged per pause, in units of `perStep` items (a merge step is much cheaper than a sort's). */
const MERGED_PER_PAUSE = 8

/**
 * `items` sorted by `compare` (a copy; `items` is left as it is), pausing (yielding the number of
 * items placed so far in the current pass) after every run of `perStep` items sorted and every
 * `8 × perStep` items merged.
 */
export function* sortSteps<A>(
  items: ReadonlyArray<A>,
  compare: (a: A, b: A) => number,
  perStep: number
): Generator<number, Array<A>, void> {
  const n = items.length
  const run = Math.max(1, Math.floor(perStep))
  let from: Array<A> = new Array(n)
  for (let lo = 0; lo < n; lo += run) {
    const sorted = items.slice(lo, Math.min(n, lo + run)).sort(compare)
    for (let k = 0; k < sorted.length; k++) from[lo + k] = sorted[k]!
    if (lo + run < n) yield lo + run
  }
  let into: Array<A> = new Array(n)
  const budget = run * MERGED_PER_PAUSE
  for (let width = run; width < n; width *= 2) {
    let placed = 0
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n)
      const hi = Math.min(lo + 2 * width, n)
      let i = lo
      let j = mid
      let k = lo
      while (k < hi) {
        const start = k
        const end = Math.min(hi, k + budget - placed)
        // Equal items take the left run's first: the merge is stable.
        while (k < end) into[k++] = j >= hi || (i < mid && compare(from[i]!, from[j]!) <= 0) ? from[i++]! : from[j++]!
        placed += k - start
        if (placed >= budget) {
          placed = 0
          yield k
        }
      }
    }
    const t = from
    from = into
    into = t
  }
  return from
}

