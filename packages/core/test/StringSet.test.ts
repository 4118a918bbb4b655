/**
 * `StringSet` (the address keys of a bulk load) against the native `Set`: any sequence of adds and
 * lookups, from any expected size (so through its growth), gives the same answers and size.
 */
import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { StringSet } from "../src/internal/stringSet.js"

// A small alphabet, so that keys repeat and hashes collide modulo the table size.
const key = FastCheck.string({ unit: FastCheck.constantFrom("a", "b", "/", "1", "é", "\u{1F600}"), maxLength: 6 })

describe("StringSet", () => {
  it.prop(
    "answers every add and lookup as a native Set does, from any expected size",
    [FastCheck.array(FastCheck.tuple(FastCheck.boolean(), key), { maxLength: 300 }), FastCheck.nat(64)],
    ([ops, expected]) => {
      const set = new StringSet(expected)
      const native = new Set<string>()
      for (const [add, k] of ops) {
        if (add) {
          expect(set.add(k)).toBe(!native.has(k))
          native.add(k)
        } else {
          expect(set.has(k)).toBe(native.has(k))
        }
        expect(set.size).toBe(native.size)
      }
      for (const k of native) expect(set.has(k)).toBe(true)
    },
    { fastCheck: { seed: 24, numRuns: 300 } }
  )
})
