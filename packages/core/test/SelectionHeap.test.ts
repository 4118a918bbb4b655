import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as SelectionHeap from "../src/internal/selectionHeap.js"
import * as SelectionIndex from "../src/internal/selectionIndex.js"

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

  it.prop(
    "the head's prefix equals the first m of a full sort whenever the head holds m peers that are not excluded",
    [
      FastCheck.array(FastCheck.integer({ min: 0, max: 6 }).map((q) => q / 6), { minLength: 0, maxLength: 200 }),
      FastCheck.array(FastCheck.integer({ min: 0, max: 3 }), { minLength: 200, maxLength: 200 }),
      FastCheck.nat(),
      FastCheck.integer({ min: 0, max: 60 }),
      FastCheck.integer({ min: 1, max: 40 })
    ],
    ([qualities, marks, pivotSeed, m, headSize]) => {
      const n = qualities.length
      const quality = Float64Array.from(qualities)
      const state = Uint8Array.from(marks.slice(0, n).map((x) => (x === 0 ? SelectionHeap.EXCLUDED : 0)))
      const pivot = n === 0 ? 0 : pivotSeed % n
      const head = SelectionIndex.headOf(quality, n, headSize)
      expect(head.indices.length).toBeGreaterThanOrEqual(Math.min(n, headSize))
      const inHead = Array.from(head.indices).filter((i) => state[i] !== SelectionHeap.EXCLUDED).length
      if (inHead < m) return
      expect(Array.from(SelectionHeap.topPrefix(quality, n, state, pivot, m, head.indices))).toEqual(
        Array.from(SelectionHeap.topPrefixBySort(quality, n, state, pivot, m))
      )
    },
    { fastCheck: { seed: 32, numRuns: 300 } }
  )

  it.prop(
    "member lists hold every index once, grouped by key, ascending, with each index's rank in its group",
    [FastCheck.array(FastCheck.integer({ min: 0, max: 9 }), { maxLength: 100 })],
    ([keys]) => {
      const index = SelectionIndex.membersOf(Int32Array.from(keys), keys.length, 10)
      for (let k = 0; k < 10; k++) {
        const expected = keys.flatMap((key, i) => (key === k ? [i] : []))
        const got = Array.from(index.members.subarray(index.start[k]!, index.start[k + 1]!))
        expect(got).toEqual(expected)
        got.forEach((i, r) => expect(index.rank[i]).toBe(r))
      }
    },
    { fastCheck: { seed: 33, numRuns: 200 } }
  )
})
