/**
 * `record-outcome`: dial outcomes recorded per second on a 30,000-peer table, against a mutable `Map`
 * of counters keyed by address (the least any cache must do). Target ≥ 1,000,000/s and ratio ≤ 5.
 */
import { PeerTable } from "@bootstrap-cache/core"
import { tableOf, T0 } from "./fixtures.js"
import { type Result, timeSync } from "./harness.js"

export const run = (quick: boolean): Array<Result> => {
  const n = 30_000
  const { table, addresses } = tableOf(n)
  const ops = quick ? 50_000 : 300_000
  const samples = quick ? 3 : 7

  // Baseline: the same outcomes as counter increments in a mutable Map.
  const counters = new Map<string, { successes: number; failures: number; consecutiveFailures: number }>()
  for (const a of addresses) counters.set(a.key, { successes: 0, failures: 0, consecutiveFailures: 0 })
  const baselineMs = timeSync(() => {
    for (let i = 0; i < ops; i++) {
      const c = counters.get(addresses[(i * 7919) % n]!.key)!
      if (i % 4 === 0) {
        c.failures++
        c.consecutiveFailures++
      } else {
        c.successes++
        c.consecutiveFailures = 0
      }
    }
  }, { samples, iterations: 1 })

  let t = table
  const tableMs = timeSync(() => {
    for (let i = 0; i < ops; i++) {
      const a = addresses[(i * 7919) % n]!
      t = i % 4 === 0 ? PeerTable.recordFailure(t, a, T0 + i) : PeerTable.recordSuccess(t, a, T0 + i, { rttMs: 40 })
    }
    return t
  }, { samples, iterations: 1 })

  const perSecond = ops / (tableMs / 1000)
  const baselinePerSecond = ops / (baselineMs / 1000)
  const ratio = baselinePerSecond / perSecond
  return [{
    name: "record-outcome",
    value: Math.round(perSecond),
    unit: "ops/s",
    baseline: Math.round(baselinePerSecond),
    baselineName: "mutable Map of counters",
    ratio,
    target: "≥ 1,000,000/s and ratio ≤ 5",
    met: perSecond >= 1_000_000 && ratio <= 5,
    note: `PeerTable.recordSuccess/recordFailure (persistent HashMap) on ${n} peers`
  }]
}
