import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as SelectionHeap from "../src/internal/selectionHeap.js"

describe("internal/selectionHeap", () => {
  it.prop(
    "the bounded heap's prefix equals the first m of a full sort (ties in the rotated pool order)",
    [
      // Few distinct qualities, so ties are common.
      FastCheck.array(FastCheck.integer({ min: 0, max: 6 }).map((q) => q / 6), { minLength: 0, maxLength: 200 }),
      FastCheck.array(FastCheck.boolean(), { minLength: 200, maxLength: 200 }),
      FastCheck.nat(),
      FastCheck.integer({ min: 0, max: 220 })
    ],
    ([qualities, excluded, pivotSeed, m]) => {
      const n = qualities.length
      const quality = Float64Array.from(qualities)
      const state = Uint8Array.from(excluded.slice(0, n).map((x) => (x ? SelectionHeap.EXCLUDED : 0)))
      const pivot = n === 0 ? 0 : pivotSeed % n
      const live = state.filter((x) => x !== SelectionHeap.EXCLUDED).length
      const size = Math.min(m, live)
      expect(Array.from(SelectionHeap.topPrefix(quality, n, state, pivot, size))).toEqual(
        Array.from(SelectionHeap.topPrefixBySort(quality, n, state, pivot, size))
      )
    },
    { fastCheck: { seed: 31, numRuns: 300 } }
  )
})
