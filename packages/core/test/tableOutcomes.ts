/** Recorded outcomes for the selection's derivation tests: a table a few outcomes away from another. */
import * as FastCheck from "effect/FastCheck"
import * as HashMap from "effect/HashMap"
import { PeerTable } from "@bootstrap-cache/core"

const HOUR = 3_600_000

/** Recorded outcomes on a table's own addresses: `[address index, success?, ms after the base time]`. */
export const outcomes = FastCheck.array(FastCheck.tuple(FastCheck.nat(), FastCheck.boolean(), FastCheck.integer({ min: 0, max: 2 * HOUR })), {
  maxLength: 8
})

/** `table` with `ops` recorded, each at `base` + its ms (epoch ms). */
export const apply = (table: PeerTable.PeerTable, ops: ReadonlyArray<readonly [number, boolean, number]>, base: number) => {
  const addresses = [...HashMap.values(table.peers)].flatMap((p) => p.addresses.map((r) => r.address))
  let t = table
  for (const [i, ok, dt] of ops) {
    if (addresses.length === 0) break
    const a = addresses[i % addresses.length]!
    t = ok ? PeerTable.recordSuccess(t, a, base + dt, { rttMs: 20 + dt / 1000 }) : PeerTable.recordFailure(t, a, base + dt)
  }
  return t
}
