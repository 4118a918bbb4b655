/**
 * Health of one endpoint from a sliding window of call outcomes and latencies, as a pure state machine:
 * `record(health, sample, now) => health`, `report(health, now) => Report`.
 *
 * Classification (first rule that matches), over the samples in the window at `now`:
 *
 * 1. **UNHEALTHY** if the last `maxConsecutiveErrors` samples are all failures;
 * 2. **UNKNOWN** if fewer than `minSamples` samples;
 * 3. **HEALTHY** if success rate ≥ `healthyRate` (0.95) and the latency quantile ≤ `maxLatency`;
 * 4. **DEGRADED** if success rate ≥ `degradedRate` (0.80) — including fast enough but slow;
 * 5. **UNHEALTHY** otherwise.
 *
 * The latency quantile (default p95) is taken over successful calls only: failures are often either
 * instant refusals or timeouts, and would bias it both ways. The thresholds follow common SRE practice
 * (an availability SLO of 95 %, p95 latency objectives — Google SRE book, "Service Level Objectives").
 *
 * Windows: the last `N` calls, or the calls completed less than `T` ms before `now` (capped at the newest
 * `maxSamples`). Either way, samples more than `maxAge` ms old (`now − at > maxAge`) are dropped, so an
 * endpoint that stopped being called drifts back to UNKNOWN instead of keeping a stale verdict.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import { dual } from "effect/Function"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Schema from "effect/Schema"

/**
 * Health classes, worst last: `HEALTHY`, `DEGRADED`, `UNHEALTHY`, and `UNKNOWN` (too few samples).
 *
 * @since 0.1.0
 */
export const Status = Schema.Literal("HEALTHY", "DEGRADED", "UNHEALTHY", "UNKNOWN")

/** @since 0.1.0 */
export type Status = typeof Status.Type

/**
 * One observed call: `at` (epoch ms of completion), `ok` (counted as a success), `latencyMs` (≥ 0).
 *
 * @since 0.1.0
 */
export const Sample = Schema.Struct({
  at: Schema.Number,
  ok: Schema.Boolean,
  latencyMs: Schema.Number.pipe(Schema.nonNegative())
})

/** @since 0.1.0 */
export type Sample = typeof Sample.Type

/**
 * Options for {@link make}; durations are `Duration.DurationInput` (a bare number is milliseconds).
 *
 * @since 0.1.0
 */
export interface Options {
  /** `{ calls: N }` (last N calls) or `{ duration: T }` (last T). Default `{ calls: 50 }`. */
  readonly window?: { readonly calls: number } | { readonly duration: Duration.DurationInput }
  /** Samples older than this are dropped. Default 10 min. */
  readonly maxAge?: Duration.DurationInput
  /** Below this many samples the status is UNKNOWN. Default 5. */
  readonly minSamples?: number
  /** Success-rate floor for HEALTHY, in [0, 1]. Default 0.95. */
  readonly healthyRate?: number
  /** Success-rate floor for DEGRADED, in [0, 1]. Default 0.80. */
  readonly degradedRate?: number
  /** Latency ceiling for HEALTHY, applied to `latencyQuantile`. Default 1 s. */
  readonly maxLatency?: Duration.DurationInput
  /** Quantile of successful-call latencies compared with `maxLatency`, in (0, 1]. Default 0.95. */
  readonly latencyQuantile?: number
  /** This many failures in a row make the endpoint UNHEALTHY at once (K). Default 5. */
  readonly maxConsecutiveErrors?: number
  /** Cap on samples kept by a `duration` window. Default 1000. */
  readonly maxSamples?: number
}

/**
 * Resolved {@link Options}: durations in ms; `windowCalls` is the count cap (for a time window, `maxSamples`),
 * `windowMs` the time span (Infinity for a count window).
 *
 * @since 0.1.0
 */
export interface Config {
  readonly windowCalls: number
  readonly windowMs: number
  readonly maxAgeMs: number
  readonly minSamples: number
  readonly healthyRate: number
  readonly degradedRate: number
  readonly maxLatencyMs: number
  readonly latencyQuantile: number
  readonly maxConsecutiveErrors: number
}

const toMs = (input: Duration.DurationInput): number => {
  const ms = Duration.toMillis(Duration.decode(input))
  return Number.isNaN(ms) ? 0 : ms
}

const ratio = (x: number | undefined, fallback: number) =>
  x === undefined || Number.isNaN(x) ? fallback : Math.min(1, Math.max(0, x))

/**
 * Resolves {@link Options} with the documented defaults (clamping out-of-range values).
 *
 * @since 0.1.0
 */
export const makeConfig = (options: Options = {}): Config => {
  const window = options.window ?? { calls: 50 }
  const maxSamples = Math.max(1, Math.floor(options.maxSamples ?? 1000))
  const healthyRate = ratio(options.healthyRate, 0.95)
  return {
    windowCalls: "calls" in window ? Math.max(1, Math.floor(window.calls)) : maxSamples,
    windowMs: "calls" in window ? Infinity : Math.max(1, toMs(window.duration)),
    maxAgeMs: Math.max(1, options.maxAge === undefined ? 600_000 : toMs(options.maxAge)),
    minSamples: Math.max(1, Math.floor(options.minSamples ?? 5)),
    healthyRate,
    degradedRate: Math.min(healthyRate, ratio(options.degradedRate, 0.8)),
    maxLatencyMs: Math.max(0, options.maxLatency === undefined ? 1_000 : toMs(options.maxLatency)),
    latencyQuantile: Math.max(Number.EPSILON, ratio(options.latencyQuantile, 0.95)),
    maxConsecutiveErrors: Math.max(1, Math.floor(options.maxConsecutiveErrors ?? 5))
  }
}

/**
 * The health of one endpoint: its {@link Config} and the samples in the window (oldest first).
 * Immutable; pipeable.
 *
 * `record` is O(1) amortised: the samples live in an append-only buffer shared between successive
 * values, each of which sees only its own slice of it, with running counts (successes, trailing
 * failures) kept beside. Appending to a value that is not the newest of its buffer copies its window
 * first, so every value keeps its samples whatever is done with the others. `samples` is materialised
 * on first read; the latency quantile is computed by {@link report}.
 *
 * @since 0.1.0
 */
export interface Health extends Pipeable {
  readonly config: Config
  readonly samples: ReadonlyArray<Sample>
}

/** Append-only columns; a value reads only `[start, end)` of them and never writes below `end`. */
interface Columns {
  readonly at: Array<number>
  readonly latencyMs: Array<number>
  readonly ok: Array<boolean>
}

const noColumns: Columns = { at: [], latencyMs: [], ok: [] }

// Fields are declared and assigned in the constructor (not class fields, which the ES2022 output
// defines one by one before assigning them): a value is built on every recorded call. They change
// only while a step builds a value nobody else has seen yet (`appendInPlace`).
class HealthImpl implements Health {
  declare private materialised: ReadonlyArray<Sample> | undefined
  declare readonly config: Config
  declare columns: Columns
  declare start: number
  declare end: number
  /** Successful samples in `[start, end)`. */
  declare successes: number
  /** Failures at the end of everything appended so far (capped by the window size when read). */
  declare tailFailures: number
  constructor(config: Config, columns: Columns, start: number, end: number, successes: number, tailFailures: number) {
    ;(this as { config: Config }).config = config
    this.columns = columns
    this.start = start
    this.end = end
    this.successes = successes
    this.tailFailures = tailFailures
    this.materialised = undefined
  }
  get samples(): ReadonlyArray<Sample> {
    if (this.materialised === undefined) {
      const { at, latencyMs, ok } = this.columns
      const out: Array<Sample> = []
      for (let i = this.start; i < this.end; i++) out.push({ at: at[i]!, ok: ok[i]!, latencyMs: latencyMs[i]! })
      this.materialised = out
    }
    return this.materialised
  }
  pipe() {
    return pipeArguments(this, arguments)
  }
}

/**
 * An empty window (status UNKNOWN). Accepts {@link Options} or a resolved {@link Config}.
 *
 * @since 0.1.0
 */
export const make = (options: Options | Config = {}): Health =>
  new HealthImpl("windowCalls" in options ? options : makeConfig(options), noColumns, 0, 0, 0, 0)

/**
 * A window holding `samples` (oldest first, as {@link Health.samples} gives them), for restoring a
 * saved window. Samples are kept as given; the window's rules apply on the next `record` or `report`.
 *
 * @since 0.1.0
 */
export const fromSamples = (options: Options | Config, samples: ReadonlyArray<Sample>): Health => {
  const config = "windowCalls" in options ? options : makeConfig(options)
  const kept = samples.slice(-config.windowCalls)
  const columns: Columns = {
    at: kept.map((s) => s.at),
    latencyMs: kept.map((s) => Math.max(0, s.latencyMs)),
    ok: kept.map((s) => s.ok)
  }
  let successes = 0
  let tail = 0
  for (const s of kept) {
    if (s.ok) successes++
    tail = s.ok ? 0 : tail + 1
  }
  return new HealthImpl(config, kept.length === 0 ? noColumns : columns, 0, kept.length, successes, tail)
}

/**
 * The first sample of `[start, end)` still in the window at `now`: past the aged prefix (as `prune`
 * always did), then past the count cap.
 */
const windowStart = (config: Config, at: ReadonlyArray<number>, start: number, end: number, now: number): number => {
  while (start < end && !(now - at[start]! <= config.maxAgeMs && now - at[start]! < config.windowMs)) start++
  return Math.max(start, end - config.windowCalls)
}

/** The successful samples in `[from, to)`. */
const okIn = (ok: ReadonlyArray<boolean>, from: number, to: number): number => {
  let n = 0
  for (let i = from; i < to; i++) if (ok[i]) n++
  return n
}

/** `self` at `now` without the samples out of the window. */
const pruneImpl = (self: HealthImpl, now: number): HealthImpl => {
  const { columns, end } = self
  const start = windowStart(self.config, columns.at, self.start, end, now)
  return start === self.start
    ? self
    : new HealthImpl(self.config, columns, start, end, self.successes - okIn(columns.ok, self.start, start), self.tailFailures)
}

/**
 * Drops the samples that fell out of the window or aged past `maxAge` at `now` (epoch ms).
 *
 * @since 0.1.0
 */
export const prune: {
  (now: number): (self: Health) => Health
  (self: Health, now: number): Health
} = dual(2, (self: Health, now: number): Health => pruneImpl(self as HealthImpl, now))

/**
 * Records a sample completed at `now` into `h`, a value no one else has seen yet: prunes at `now`,
 * makes room in a full window, then appends.
 */
const appendInPlace = (h: HealthImpl, ok: boolean, latencyMs: number, now: number): void => {
  const { config } = h
  let { columns, end } = h
  let start = windowStart(config, columns.at, h.start, end, now)
  if (end - start >= config.windowCalls) start++
  let successes = h.successes - okIn(columns.ok, h.start, start)
  // Copy when another value already appended past our end (never overwrite what it sees), or when the
  // dead prefix outgrew the live window (amortised O(1): at most one copy per window's worth of appends).
  if (columns === noColumns || end !== columns.at.length || (start >= 32 && start >= end - start)) {
    columns = {
      at: columns.at.slice(start, end),
      latencyMs: columns.latencyMs.slice(start, end),
      ok: columns.ok.slice(start, end)
    }
    end -= start
    start = 0
  }
  columns.at.push(now)
  columns.latencyMs.push(Math.max(0, latencyMs))
  columns.ok.push(ok)
  if (ok) successes++
  h.columns = columns
  h.start = start
  h.end = end + 1
  h.successes = successes
  h.tailFailures = ok ? 0 : h.tailFailures + 1
}

const recordImpl = (self: HealthImpl, ok: boolean, latencyMs: number, now: number) => {
  const next = new HealthImpl(self.config, self.columns, self.start, self.end, self.successes, self.tailFailures)
  appendInPlace(next, ok, latencyMs, now)
  return next
}

/**
 * Adds the outcome of a call completed at `now` (epoch ms): `ok` is whether it counted as a success,
 * `latencyMs` its duration (ms). Then prunes. O(1) amortised (plus the samples pruned).
 *
 * @since 0.1.0
 */
export const record: {
  (sample: { readonly ok: boolean; readonly latencyMs: number }, now: number): (self: Health) => Health
  (self: Health, sample: { readonly ok: boolean; readonly latencyMs: number }, now: number): Health
} = function(this: unknown, self: any, sample: any, now?: any) {
  // `dual(3, …)` written out: a data-first call reaches the body without `apply` over `arguments`
  return arguments.length >= 3
    ? recordImpl(self, sample.ok, sample.latencyMs, now)
    : (h: Health) => recordImpl(h as HealthImpl, self.ok, self.latencyMs, sample)
} as any

/**
 * {@link record} with the sample's fields as arguments: `ok` (counted as a success), `latencyMs` (ms),
 * completed at `now` (epoch ms). For a per-call step that need not build a sample.
 *
 * @since 0.1.0
 */
export const recordCall = (self: Health, ok: boolean, latencyMs: number, now: number): Health =>
  recordImpl(self as HealthImpl, ok, latencyMs, now)

/**
 * Adds `count` successful calls at once: the i-th completed at `at[i]` (epoch ms) and took
 * `latencyMs[i]` (ms). The same value as `record`ing them one by one in that order, built as one new
 * value (for a caller that batches a run of successes).
 *
 * @since 0.1.0
 */
export const recordSuccesses = (
  self: Health,
  at: ArrayLike<number>,
  latencyMs: ArrayLike<number>,
  count: number
): Health => {
  if (count <= 0) return self
  const h = self as HealthImpl
  if (count > h.config.windowCalls && nonDecreasing(at, count)) return lastSuccesses(h.config, at, latencyMs, count)
  const next = new HealthImpl(h.config, h.columns, h.start, h.end, h.successes, h.tailFailures)
  for (let i = 0; i < count; i++) appendInPlace(next, true, latencyMs[i]!, at[i]!)
  return next
}

const nonDecreasing = (at: ArrayLike<number>, count: number): boolean => {
  for (let i = 1; i < count; i++) if (!(at[i - 1]! <= at[i]!)) return false
  return true
}

/**
 * {@link recordSuccesses} of more successes than the window holds, completed in time order: built at
 * once. Recorded one by one, the count cap leaves only the last `windowCalls` of them, and with times in
 * order a sample is stale exactly when every earlier one is, so each record drops the stale prefix and
 * the last one leaves the samples not stale at the last time (never the last itself).
 */
const lastSuccesses = (config: Config, at: ArrayLike<number>, latencyMs: ArrayLike<number>, count: number): HealthImpl => {
  const now = at[count - 1]!
  let from = count - config.windowCalls
  while (!(now - at[from]! <= config.maxAgeMs && now - at[from]! < config.windowMs)) from++
  const n = count - from
  // sized at once: a steady caller hands a run over every few hundred calls, and this is its cost
  const columns: Columns = { at: new Array(n), latencyMs: new Array(n), ok: new Array(n) }
  for (let i = 0; i < n; i++) {
    columns.at[i] = at[from + i]!
    columns.latencyMs[i] = Math.max(0, latencyMs[from + i]!)
    columns.ok[i] = true
  }
  return new HealthImpl(config, columns, 0, n, n, 0)
}

/**
 * The health verdict at `now`:
 * - `status`: see the module rules;
 * - `samples`: samples in the window; `successRate` in [0, 1] (NaN with no samples);
 * - `latencyMs`: the configured quantile of successful-call latencies (ms; NaN with none);
 * - `consecutiveErrors`: failures at the end of the window;
 * - `slow`: whether `latencyMs` exceeds `maxLatency`.
 *
 * @since 0.1.0
 */
export interface Report {
  readonly status: Status
  readonly samples: number
  readonly successRate: number
  readonly latencyMs: number
  readonly consecutiveErrors: number
  readonly slow: boolean
}

/**
 * Classifies the window at `now` (see the module rules).
 *
 * @since 0.1.0
 */
export const report: {
  (now: number): (self: Health) => Report
  (self: Health, now: number): Report
} = dual(2, (self: Health, now: number): Report => {
  const { columns, config, end, start, successes, tailFailures } = pruneImpl(self as HealthImpl, now)
  const n = end - start
  const latencies: Array<number> = []
  for (let i = start; i < end; i++) if (columns.ok[i]) latencies.push(columns.latencyMs[i]!)
  const consecutiveErrors = Math.min(tailFailures, n)
  const successRate = n === 0 ? Number.NaN : successes / n
  const latencyMs = quantile(latencies, config.latencyQuantile)
  const slow = latencyMs > config.maxLatencyMs
  const status: Status = consecutiveErrors >= config.maxConsecutiveErrors
    ? "UNHEALTHY"
    : n < config.minSamples
    ? "UNKNOWN"
    : successRate >= config.healthyRate && !slow
    ? "HEALTHY"
    : successRate >= config.degradedRate
    ? "DEGRADED"
    : "UNHEALTHY"
  return { status, samples: n, successRate, latencyMs, consecutiveErrors, slow }
})

/**
 * Shorthand for `report(self, now).status`.
 *
 * @since 0.1.0
 */
export const status: {
  (now: number): (self: Health) => Status
  (self: Health, now: number): Status
} = dual(2, (self: Health, now: number): Status => report(self, now).status)

/**
 * Nearest-rank `q`-quantile (q in (0, 1]) of `values`; NaN when empty.
 *
 * @since 0.1.0
 */
export const quantile = (values: ReadonlyArray<number>, q: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)))
  return sorted[rank - 1]!
}
