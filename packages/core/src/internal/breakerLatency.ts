/**
 * The slow-call rule's latencies: the threshold in force (fixed or auto-tuned from the latency
 * window) and the window after a result.
 *
 * @internal
 */
import type { CircuitBreaker, Classification, Config, Outcome } from "../CircuitBreaker.js"

/** `CircuitBreaker.slowCallThresholdMs`. */
export const slowCallThresholdMs = <E>(self: CircuitBreaker<E>): number | undefined => {
  const { autoTune, slowCallMs } = self.config
  if (slowCallMs === undefined) return undefined
  if (autoTune === undefined || self.latencies.length < autoTune.minSamples) return slowCallMs
  const memo = thresholds.get(self.latencies)
  if (memo !== undefined && memo.config === self.config) return memo.threshold
  const q = quantile(self.latencies, autoTune.quantile)
  const threshold = Math.min(autoTune.maxMs, Math.max(autoTune.minMs, autoTune.multiplier * q))
  thresholds.set(self.latencies, { config: self.config, threshold })
  return threshold
}

/**
 * The tuned threshold depends only on the configuration and the latency window, and a window (an
 * immutable array) is shared by every breaker until the next latency: sorting it once per window
 * instead of once per call.
 */
const thresholds = new WeakMap<ReadonlyArray<number>, { readonly config: Config<any>; readonly threshold: number }>()

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
