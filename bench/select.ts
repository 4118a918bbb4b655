/**
 * `select-10-of-Nk`: one epsilon-greedy `Selection.select` of 10 peers (ε and netgroup rule at their
 * defaults, draws from a seeded generator) on tables of 1k, 10k, 30k and 100k peers. Baseline: the
 * naive approach — score every peer with `Score.peer`, sort them all, take 10. Target ≤ 1 ms at 30k.
 *
 * Two rows per size, so no per-table memoisation can hide the cost:
 * - `select-10-of-Nk`: the first call on a fresh table instance (the table after one more
 *   `PeerTable.recordSuccess`, as between two selections of a node), each call on its own instance;
 * - `select-10-of-Nk-repeat`: repeated calls on one and the same table instance.
 */
import { PeerTable, Score, Selection } from "@bootstrap-cache/core"
import { tableOf, T0 } from "./fixtures.js"
import { keep, type Result, seeded, timeSync } from "./harness.js"

const COUNT = 10

const naive = (table: PeerTable.PeerTable, now: number) => {
  const scored: Array<{ readonly quality: number; readonly key: string }> = []
  for (const [key, peer] of table.peers) scored.push({ quality: Score.peer(peer, now), key })
  scored.sort((a, b) => b.quality - a.quality || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  return scored.slice(0, COUNT)
}

export const run = (quick: boolean): Array<Result> => {
  const sizes = [1_000, 10_000, 30_000, 100_000]
  const now = T0 + 3_600_000
  const draws = seeded(42)
  const nextDraws = () => Array.from({ length: Selection.drawsNeeded(COUNT) }, draws)
  const results: Array<Result> = []
  for (const n of sizes) {
    const label = `${n / 1000}k`
    const { table, addresses } = tableOf(n, 7)
    const samples = quick ? 3 : 7
    const warmup = 2
    // Enough calls per sample for a stable figure, fewer for the big tables.
    const iterations = Math.max(2, Math.round((quick ? 20_000 : 200_000) / n))
    // A distinct table instance per call of the "fresh" loop (built before timing; persistent, so
    // each is one path copy away from the base).
    const fresh = Array.from({ length: (samples + warmup) * iterations }, (_, i) =>
      PeerTable.recordSuccess(table, addresses[(i * 7919) % n]!, now - 1_000 + i, { rttMs: 25 }))
    let k = 0
    const freshMs = timeSync(() => Selection.select(fresh[k++]!, { now, count: COUNT, draws: nextDraws() }), { samples, iterations, warmup })
    const repeatMs = timeSync(() => Selection.select(table, { now, count: COUNT, draws: nextDraws() }), { samples, iterations, warmup })
    let b = 0
    const baselineMs = timeSync(() => naive(fresh[b++ % fresh.length]!, now), { samples, iterations, warmup })
    const picks = Selection.select(table, { now, count: COUNT, draws: nextDraws() })
    if (picks.length !== COUNT) throw new Error(`select returned ${picks.length} picks of ${COUNT} at ${label}`)
    keep(fresh)
    const at30k = n === 30_000
    results.push(
      {
        name: `select-10-of-${label}`,
        value: freshMs,
        unit: "ms",
        baseline: baselineMs,
        baselineName: "Score.peer of every peer, full sort, take 10",
        ratio: freshMs / baselineMs,
        ...(at30k ? { target: "≤ 1 ms", met: freshMs <= 1 } : {}),
        note: `first call on a fresh table instance (after one recordSuccess), ${PeerTable.size(table)} peers`
      },
      {
        name: `select-10-of-${label}-repeat`,
        value: repeatMs,
        unit: "ms",
        baseline: baselineMs,
        baselineName: "Score.peer of every peer, full sort, take 10",
        ratio: repeatMs / baselineMs,
        ...(at30k ? { target: "≤ 1 ms", met: repeatMs <= 1 } : {}),
        note: "repeated calls on the same table instance"
      }
    )
  }
  return results
}
