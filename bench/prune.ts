/**
 * `prune-30k-9.7k-evictions`: `Prune.prune` of a 30 000-peer table whose capacity is 20 300, so
 * 9 700 peers are evicted, against the baseline of the same table pruned at the default capacity
 * (nothing evicted) in the same run. Target: ratio ≤ 2 — evicting costs about one more pass, not
 * one persistent table update and one formatted message per eviction. A second pair does the same
 * with 9 700 new (never-answered) peers of one source in one /16 beside 20 300 tried ones, which
 * the new bucket cap and the capacity evict.
 */
import { PeerAddress, PeerTable, Prune } from "@bootstrap-cache/core"
import { healthyTableOf, T0 } from "./fixtures.js"
import { keep, type Result, timeSync } from "./harness.js"

const EVICTIONS = 9_700

/** 20 300 healthy peers and 9 700 new ones listed by one flooding endpoint, over a few /16s. */
const floodedTable = (): PeerTable.PeerTable => {
  const { table } = healthyTableOf(30_000 - EVICTIONS, 11)
  const source = { _tag: "endpoint", url: "https://flood.example/peers" } as const
  return PeerTable.mutate(table, (t) => {
    for (let i = 0; i < EVICTIONS; i++) {
      t = PeerTable.add(t, PeerAddress.unsafeParse(`/ip4/185.${199 + (i >> 14)}.${(i >> 6) & 255}.${1 + (i & 63)}/tcp/4001`), { now: T0, source })
    }
    return t
  })
}

export const run = (quick: boolean): Array<Result> => {
  const options = { samples: quick ? 3 : 7, iterations: 1, warmup: 2 }
  const results: Array<Result> = []
  const cases = [
    { name: "prune-30k-9.7k-evictions", table: healthyTableOf(30_000, 9).table, capacity: 30_000 - EVICTIONS, what: "capacity evictions of tried peers" },
    { name: "prune-30k-flooded", table: floodedTable(), capacity: 30_000 - EVICTIONS, what: "a one-source /16 flood: bucket cap, then capacity" }
  ]
  for (const c of cases) {
    const evicting = Prune.makeConfig({ capacity: c.capacity })
    const free = Prune.makeConfig({ capacity: 30_000, maxNewPerBucket: 30_000 })
    const removed = Prune.prune(c.table, T0, evicting).removed.length
    const kept = Prune.prune(c.table, T0, free).removed.length
    if (removed < EVICTIONS || kept !== 0) throw new Error(`${c.name}: ${removed} removals with the cap, ${kept} without`)
    const value = timeSync(() => Prune.prune(c.table, T0, evicting), options)
    const baseline = timeSync(() => Prune.prune(c.table, T0, free), options)
    keep(c.table)
    results.push({
      name: c.name,
      value,
      unit: "ms",
      baseline,
      baselineName: "Prune.prune of the same table with room for every peer (0 evictions)",
      ratio: value / baseline,
      target: "≤ 2× the eviction-free prune",
      met: value / baseline <= 2,
      note: `${removed} removals (${c.what}), ${PeerTable.size(c.table)} peers`
    })
  }
  return results
}
