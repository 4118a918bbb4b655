/**
 * `record-outcome`: dial outcomes recorded per second through what a user calls —
 * `CacheStore.recordSuccess` / `recordFailure` on a store holding 30,000 peers (opened on a file the
 * store wrote), N calls inside one Effect program — against a mutable `Map` of counters keyed by
 * address (the least any cache must do), the same outcomes of the same address objects, timed in each
 * sample just before the store's calls, in the same state of the heap (a baseline timed once, apart
 * from the store, varies several-fold between runs). Target ≥ 1,000,000/s and ratio ≤ 5.
 *
 * Each sample runs on a freshly opened store (default settings but no background flush, read-only so
 * closing it writes nothing): N stays below the default `maxPendingOps` (100 000), so the journal is
 * what a node has between two flushes.
 *
 * `record-outcome-with-snapshot`: the same calls plus the first `snapshot` read after them. A store
 * may defer applying outcomes to its table until it is read (the calls then only append to a log);
 * this row charges that deferred work to the outcomes, so nothing is hidden.
 *
 * `record-outcome-table`: the same outcomes applied to the pure `PeerTable` (persistent HashMap),
 * without the store's journal, `Ref` and `Clock`.
 */
import { PeerTable } from "@bootstrap-cache/core"
import { CacheStore } from "@bootstrap-cache/node"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { performance } from "node:perf_hooks"
import { tableOf, T0 } from "./fixtures.js"
import { keep, median, type Result, timeSync } from "./harness.js"
import { platform, shared30k } from "./storeFiles.js"

type Counters = { successes: number; failures: number; consecutiveFailures: number }

export const run = async (quick: boolean): Promise<Array<Result>> => {
  const n = 30_000
  const { table, addresses } = tableOf(n)
  const ops = quick ? 50_000 : 100_000
  const samples = quick ? 3 : 7
  const warmup = 2

  // The store: what a user calls, on a store loaded from a 30k-peer file.
  const stored = await shared30k()

  // Baseline: the same outcomes of the same address objects as counter increments in a mutable Map.
  const counters = new Map<string, Counters>()
  for (const a of stored.addresses) counters.set(a.key, { successes: 0, failures: 0, consecutiveFailures: 0 })
  const mapLoop = () => {
    const m = stored.addresses.length
    for (let i = 0; i < ops; i++) {
      const c = counters.get(stored.addresses[(i * 7919) % m]!.key)!
      if (i % 4 === 0) {
        c.failures++
        c.consecutiveFailures++
      } else {
        c.successes++
        c.consecutiveFailures = 0
      }
    }
  }
  const baselineTimes: Array<number> = []
  const storeTimes: Array<number> = []
  const withSnapshotTimes: Array<number> = []
  let pending = 0
  for (let s = 0; s < warmup + samples; s++) {
    const scope = Effect.runSync(Scope.make())
    try {
      const store = await Effect.runPromise(
        CacheStore.make({ path: stored.file, flushInterval: Duration.infinity, readOnly: true }).pipe(
          Scope.extend(scope),
          Effect.provide(platform)
        )
      )
      const at = stored.addresses
      const m = at.length
      const program = Effect.gen(function*() {
        for (let i = 0; i < ops; i++) {
          const a = at[(i * 7919) % m]!
          if (i % 4 === 0) yield* store.recordFailure(a)
          else yield* store.recordSuccess(a, { rttMs: 40 })
        }
      })
      // the baseline is timed in the same state of the heap as the store's calls, just before them
      const mapStart = performance.now()
      mapLoop()
      const mapElapsed = performance.now() - mapStart
      const start = performance.now()
      await Effect.runPromise(program)
      const elapsed = performance.now() - start
      const view = await Effect.runPromise(store.snapshot)
      const withSnapshot = performance.now() - start
      keep(view)
      if (s >= warmup) {
        baselineTimes.push(mapElapsed)
        storeTimes.push(elapsed)
        withSnapshotTimes.push(withSnapshot)
      }
      pending = (await Effect.runPromise(store.info)).pendingOps
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }
  if (pending !== ops) throw new Error(`the store holds ${pending} pending outcomes, expected ${ops}`)
  const baselineMs = median(baselineTimes)
  const storeMs = median(storeTimes)
  const withSnapshotMs = median(withSnapshotTimes)

  // The pure table.
  let t = table
  const tableMs = timeSync(() => {
    for (let i = 0; i < ops; i++) {
      const a = addresses[(i * 7919) % n]!
      t = i % 4 === 0 ? PeerTable.recordFailure(t, a, T0 + i) : PeerTable.recordSuccess(t, a, T0 + i, { rttMs: 40 })
    }
    return t
  }, { samples, iterations: 1 })

  const perSecond = (ms: number) => ops / (ms / 1000)
  const baselinePerSecond = perSecond(baselineMs)
  const storeRatio = baselinePerSecond / perSecond(storeMs)
  const tableRatio = baselinePerSecond / perSecond(tableMs)
  return [
    {
      name: "record-outcome",
      value: Math.round(perSecond(storeMs)),
      unit: "ops/s",
      baseline: Math.round(baselinePerSecond),
      baselineName: "mutable Map of counters",
      ratio: storeRatio,
      target: "≥ 1,000,000/s and ratio ≤ 5",
      met: perSecond(storeMs) >= 1_000_000 && storeRatio <= 5,
      note: `CacheStore.recordSuccess/recordFailure, ${ops} calls in one Effect program, store holding ${stored.peers} peers`
    },
    {
      name: "record-outcome-with-snapshot",
      value: Math.round(perSecond(withSnapshotMs)),
      unit: "ops/s",
      baseline: Math.round(baselinePerSecond),
      baselineName: "mutable Map of counters",
      ratio: baselinePerSecond / perSecond(withSnapshotMs),
      note: `the same ${ops} calls, then one CacheStore.snapshot (pays any outcome application the store deferred)`
    },
    {
      name: "record-outcome-table",
      value: Math.round(perSecond(tableMs)),
      unit: "ops/s",
      baseline: Math.round(baselinePerSecond),
      baselineName: "mutable Map of counters",
      ratio: tableRatio,
      note: `PeerTable.recordSuccess/recordFailure (persistent HashMap) on ${n} peers, no store`
    }
  ]
}
