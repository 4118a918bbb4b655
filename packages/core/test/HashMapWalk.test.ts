import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as HashMap from "effect/HashMap"
import { ReduceOrder } from "../src/internal/hashMapWalk.js"

describe("internal/hashMapWalk", () => {
  it.prop(
    "visits every entry once, in HashMap.reduce's order, whatever the slices (maps grown, shrunk, built in one batch)",
    [
      FastCheck.uniqueArray(FastCheck.string({ maxLength: 8 }), { maxLength: 3_000 }),
      FastCheck.array(FastCheck.nat(), { maxLength: 200 }),
      FastCheck.integer({ min: 1, max: 700 }),
      FastCheck.boolean()
    ],
    ([keys, removals, perSlice, batch]) => {
      let map = batch
        ? HashMap.mutate(HashMap.empty<string, number>(), (m) => keys.forEach((k, i) => HashMap.set(m, k, i)))
        : keys.reduce((m, k, i) => HashMap.set(m, k, i), HashMap.empty<string, number>())
      for (const r of removals) if (keys.length > 0) map = HashMap.remove(map, keys[r % keys.length]!)
      const expected = HashMap.reduce(map, [] as Array<[string, number]>, (out, v, k) => (out.push([k, v]), out))
      const walk = new ReduceOrder(map)
      const seen: Array<[string, number]> = []
      let slices = 0
      for (let taken = walk.take(perSlice, (v, k) => seen.push([k, v])); taken !== "done"; taken = walk.take(perSlice, (v, k) => seen.push([k, v]))) {
        expect(taken).toBe("more")
        expect(seen.length).toBe(++slices * perSlice)
      }
      expect(seen).toEqual(expected)
    },
    { fastCheck: { seed: 71, numRuns: 200 } }
  )
})
