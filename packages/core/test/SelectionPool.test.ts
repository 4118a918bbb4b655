import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as HashMap from "effect/HashMap"
import { PeerTable, Selection } from "@bootstrap-cache/core"
import { PolicyArbitraries } from "@bootstrap-cache/testkit"
import * as HashMapDiff from "../src/internal/hashMapDiff.js"

const HOUR = 3_600_000

/** Recorded outcomes on a table's own addresses: `[address index, success?, ms after NOW]`. */
const outcomes = FastCheck.array(FastCheck.tuple(FastCheck.nat(), FastCheck.boolean(), FastCheck.integer({ min: 0, max: 2 * HOUR })), {
  maxLength: 8
})

const apply = (table: PeerTable.PeerTable, ops: ReadonlyArray<readonly [number, boolean, number]>) => {
  const addresses = [...HashMap.values(table.peers)].flatMap((p) => p.addresses.map((r) => r.address))
  let t = table
  for (const [i, ok, dt] of ops) {
    if (addresses.length === 0) break
    const a = addresses[i % addresses.length]!
    t = ok ? PeerTable.recordSuccess(t, a, PolicyArbitraries.NOW + dt, { rttMs: 20 + dt / 1000 }) : PeerTable.recordFailure(t, a, PolicyArbitraries.NOW + dt)
  }
  return t
}

const view = (picks: ReadonlyArray<Selection.Pick>) => picks.map((p) => [p.peerKey, p.address.key, p.quality, p.kind])

describe("Selection's pool derivation", () => {
  it.prop(
    "selecting on a table derived from the last one scored gives what a full pass gives (same or later now)",
    [PolicyArbitraries.table({ groups: 8, hosts: 8, undialable: 0.2 }, 60, 1), outcomes, FastCheck.integer({ min: 0, max: 3 }), FastCheck.nat()],
    ([table, ops, later, seed]) => {
      const now = PolicyArbitraries.NOW + 3 * HOUR
      const options = (at: number) => ({ now: at, count: 12, draws: Array.from({ length: 13 }, (_, i) => ((seed + i * 7919) % 1000) / 1000) })
      Selection.select(table, options(now))
      const next = apply(table, ops)
      const at = now + later * HOUR
      const derived = Selection.select(next, options(at))
      // The reference: a table with the same records but no shared structure, after an unrelated pool.
      Selection.select(PeerTable.empty, options(at))
      const rebuilt = PeerTable.fromRecords(PeerTable.toRecords(next))
      expect(derived.map((p) => p.peer)).toEqual(derived.map((p) => HashMap.unsafeGet(next.peers, p.peerKey)))
      const reference = Selection.select(rebuilt, options(at))
      // Same peers in the same order only if the rebuilt map iterates alike; compare as sets when not.
      const sameOrder = [...HashMap.keys(next.peers)].join() === [...HashMap.keys(rebuilt.peers)].join()
      if (sameOrder) expect(view(derived)).toEqual(view(reference))
      else expect(new Set(derived.map((p) => p.quality))).toEqual(new Set(reference.map((p) => p.quality)))
    },
    { fastCheck: { seed: 41, numRuns: 200 }, timeout: 60_000 }
  )

  it.prop(
    "changedKeys names exactly the keys whose values changed, or gives up",
    [FastCheck.uniqueArray(FastCheck.string({ minLength: 1, maxLength: 6 }), { maxLength: 80 }), FastCheck.array(FastCheck.nat(), { maxLength: 10 })],
    ([keys, edits]) => {
      const a = HashMap.fromIterable(keys.map((k, i) => [k, i] as const))
      let b = a
      const expected = new Set<string>()
      for (const e of edits) {
        if (keys.length === 0) break
        const k = keys[e % keys.length]!
        b = HashMap.set(b, k, -e - 1)
        expected.add(k)
      }
      const changed = HashMapDiff.changedKeys(a, b, 64)
      expect(changed === undefined ? undefined : new Set(changed)).toEqual(expected)
      // A key added is a change of shape.
      expect(HashMapDiff.changedKeys(a, HashMap.set(a, "\u0000new", 1), 64)).toBeUndefined()
    },
    { fastCheck: { seed: 42, numRuns: 300 } }
  )
})
