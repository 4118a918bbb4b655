/**
 * The slow-call rule's latencies: the threshold in force (fixed or auto-tuned from the latency
 * window) and the window after a result.
 *
 * @internal
 */
import type { CircuitBreaker, Classification, Config, Outcome } from "../CircuitBreaker.js"

/**
 * The slow-call threshold (ms) a configuration puts in force over a latency window: the fixed one, or
 * once the window holds `minSamples`, the tuned one. A breaker computes it when its window changes
 * and keeps it (see `breakerData`), so a call's classification does not sort the window.
 */
export const thresholdOf = (config: Config<any>, latencies: ReadonlyArray<number>): number | undefined => {
  const { autoTune, slowCallMs } = config
  if (slowCallMs === undefined) return undefined
  if (autoTune === undefined || latencies.length < autoTune.minSamples) return slowCallMs
  return Math.min(autoTune.maxMs, Math.max(autoTune.minMs, autoTune.multiplier * quantile(latencies, autoTune.quantile)))
}

/**
 * The `q`-quantile (q in [0, 1]) of a list of numbers, nearest-rank method; `NaN` when empty.
 *
 * @since 0.1.0
 */
export const quantile = (values: ReadonlyArray<number>, q: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)))
  return sorted[rank - 1]!
}

/** The latency window after a result of kind `kind` (failures and calls without a duration add none). */
export const recordLatency = <E>(self: CircuitBreaker<E>, outcome: Outcome<E>, kind: Classification) => {
  const window = self.config.autoTune?.window
  if (window === undefined || outcome.durationMs === undefined || kind === "failure") return self.latencies
  const next = self.latencies.length >= window ? self.latencies.slice(self.latencies.length - window + 1) : [...self.latencies]
  next.push(Math.max(0, outcome.durationMs))
  return next
}
