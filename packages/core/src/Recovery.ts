/**
 * A gradual-recovery ramp after a circuit breaker closes, as a pure state machine.
 *
 * A peer that just passed its half-open probes is not trusted with all traffic at once: the admitted
 * share of calls grows from `initialRate` to 1.0, one step per `interval` (slow start; Envoy's
 * "slow start mode", Polly/resilience4j warm-up):
 *
 * | mode          | share during interval k = 0, 1, 2, …                        |
 * | ------------- | ----------------------------------------------------------- |
 * | `LINEAR`      | `min(1, initialRate + k · increment)`                       |
 * | `EXPONENTIAL` | `min(1, initialRate · factorᵏ)`                             |
 * | `STEP`        | `initialRate`, then `max(initialRate, steps[k − 1])`, then 1 |
 *
 * The ramp is enforced: {@link admit} rejects a call when the injected draw (uniform in [0, 1)) is not
 * below the share, so the admitted fraction converges to the share. Such a rejection is throttling, not
 * a peer failure. The ramp **completes** after `successes` (S) successful calls, and **fails** — the
 * caller should reopen the breaker with `CircuitBreaker.reopen`, which continues the open-backoff streak —
 * after `failures` (F) failed calls or when `maxDuration` passes before completion.
 *
 * Results carry the `epoch` given at {@link start}; a result from another epoch changes nothing (the
 * generation guard of gobreaker, applied to the ramp).
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import { dual } from "effect/Function"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Schema from "effect/Schema"

/**
 * How the share grows: `LINEAR`, `EXPONENTIAL` or `STEP` (see the module table).
 *
 * @since 0.1.0
 */
export const Mode = Schema.Literal("LINEAR", "EXPONENTIAL", "STEP")

/** @since 0.1.0 */
export type Mode = typeof Mode.Type

/**
 * `ramping` (throttled), `complete` (all traffic admitted) or `failed` (reopen the breaker).
 *
 * @since 0.1.0
 */
export const Phase = Schema.Literal("ramping", "complete", "failed")

/** @since 0.1.0 */
export type Phase = typeof Phase.Type

/**
 * Options for {@link makeConfig}; durations are `Duration.DurationInput` (a bare number is ms).
 *
 * @since 0.1.0
 */
export interface Options {
  /** Default `"LINEAR"`. */
  readonly mode?: Mode
  /** Share admitted in the first interval, in (0, 1]. Default 0.1. */
  readonly initialRate?: number
  /** Length of one step. Default 10 s. */
  readonly interval?: Duration.DurationInput
  /** LINEAR: share added per interval, in (0, 1]. Default 0.2. */
  readonly increment?: number
  /** EXPONENTIAL: share multiplier per interval, > 1. Default 2. */
  readonly factor?: number
  /** STEP: the shares of intervals 1, 2, … (each in (0, 1]); 1 after the list. Default [0.25, 0.5, 0.75]. */
  readonly steps?: ReadonlyArray<number>
  /** Successful calls that complete the recovery (S). Default 20. */
  readonly successes?: number
  /** Failed calls that fail the recovery (F). Default 3. */
  readonly failures?: number
  /** Longest recovery; past it an incomplete recovery fails. Default 5 min. */
  readonly maxDuration?: Duration.DurationInput
  /**
   * After a recovery ends (complete or failed), no new one starts for this long: the breaker stays open
   * at least until then (bitswap breaker `RecoveryConfig.CooldownPeriod`). Applied by `KeyProtection`.
   * Default 30 s.
   */
  readonly cooldown?: Duration.DurationInput
}

/**
 * Resolved {@link Options}: durations in ms, rates in (0, 1].
 *
 * @since 0.1.0
 */
export interface Config {
  readonly mode: Mode
  readonly initialRate: number
  readonly intervalMs: number
  readonly increment: number
  readonly factor: number
  readonly steps: ReadonlyArray<number>
  readonly successes: number
  readonly failures: number
  readonly maxDurationMs: number
  readonly cooldownMs: number
}

const toMs = (input: Duration.DurationInput): number => {
  const ms = Duration.toMillis(Duration.decode(input))
  return Number.isNaN(ms) ? 0 : ms
}

const rate = (x: number | undefined, fallback: number) =>
  x === undefined || !(x > 0) ? fallback : Math.min(1, x)

/**
 * Resolves {@link Options} with the documented defaults (clamping out-of-range values).
 *
 * @since 0.1.0
 */
export const makeConfig = (options: Options = {}): Config => ({
  mode: options.mode ?? "LINEAR",
  initialRate: rate(options.initialRate, 0.1),
  intervalMs: Math.max(1, options.interval === undefined ? 10_000 : toMs(options.interval)),
  increment: rate(options.increment, 0.2),
  factor: options.factor !== undefined && options.factor > 1 ? options.factor : 2,
  steps: (options.steps ?? [0.25, 0.5, 0.75]).map((s) => rate(s, 1)),
  successes: Math.max(1, Math.floor(options.successes ?? 20)),
  failures: Math.max(1, Math.floor(options.failures ?? 3)),
  maxDurationMs: Math.max(1, options.maxDuration === undefined ? 300_000 : toMs(options.maxDuration)),
  cooldownMs: Math.max(0, options.cooldown === undefined ? 30_000 : toMs(options.cooldown))
})

/**
 * The serialisable progress of a ramp: `epoch` (opaque, from {@link start}), `startedAt` (epoch ms),
 * `successes`, `failures`, `admitted`, `throttled` (calls), `phase`.
 *
 * @since 0.1.0
 */
export const Progress = Schema.Struct({
  epoch: Schema.Number,
  startedAt: Schema.Number,
  successes: Schema.NonNegativeInt,
  failures: Schema.NonNegativeInt,
  admitted: Schema.NonNegativeInt,
  throttled: Schema.NonNegativeInt,
  phase: Phase
})

/** @since 0.1.0 */
export type Progress = typeof Progress.Type

/**
 * A ramp: its {@link Config} and {@link Progress}. Immutable; pipeable.
 *
 * @since 0.1.0
 */
export interface Recovery extends Progress, Pipeable {
  readonly config: Config
}

const Proto = {
  pipe() {
    return pipeArguments(this, arguments)
  }
}

const build = (config: Config, progress: Progress): Recovery => Object.assign(Object.create(Proto), progress, { config })

const update = (self: Recovery, patch: Partial<Progress>): Recovery =>
  build(self.config, { ...toProgress(self), ...patch })

/**
 * Starts a ramp at `now` (epoch ms) for `epoch` (for example the breaker generation that closed).
 * Accepts {@link Options} or a resolved {@link Config}.
 *
 * @since 0.1.0
 */
export const start = (options: Options | Config, epoch: number, now: number): Recovery =>
  build("maxDurationMs" in options ? options : makeConfig(options), {
    epoch,
    startedAt: now,
    successes: 0,
    failures: 0,
    admitted: 0,
    throttled: 0,
    phase: "ramping"
  })

/**
 * The admitted share (in (0, 1]) of the ramp schedule at `elapsedMs` ms after the start, ignoring the
 * phase. See the module table.
 *
 * @since 0.1.0
 */
export const scheduledRate = (config: Config, elapsedMs: number): number => {
  const k = Math.max(0, Math.floor(elapsedMs / config.intervalMs))
  const share = rawRate(config, k)
  // 0.1 + 3 · 0.3 is 0.9999999999999999 in floating point: a ramp that has arrived admits everything
  return share > 1 - 1e-9 ? 1 : share
}

const rawRate = (config: Config, k: number): number => {
  switch (config.mode) {
    case "LINEAR":
      return Math.min(1, config.initialRate + k * config.increment)
    case "EXPONENTIAL":
      return Math.min(1, config.initialRate * Math.pow(config.factor, k))
    case "STEP":
      return k === 0 ? config.initialRate : Math.min(1, Math.max(config.initialRate, config.steps[k - 1] ?? 1))
  }
}

/**
 * Applies the time limit at `now`: a ramp still `ramping` `maxDuration` ms after its start has failed.
 *
 * @since 0.1.0
 */
export const advance: {
  (now: number): (self: Recovery) => Recovery
  (self: Recovery, now: number): Recovery
} = dual(2, (self: Recovery, now: number): Recovery =>
  self.phase === "ramping" && now - self.startedAt >= self.config.maxDurationMs ? update(self, { phase: "failed" }) : self)

/**
 * The admitted share at `now`, in [0, 1]: the schedule while ramping, 1 once complete, 0 once failed.
 *
 * @since 0.1.0
 */
export const rateAt: {
  (now: number): (self: Recovery) => number
  (self: Recovery, now: number): number
} = dual(2, (self: Recovery, now: number): number => {
  const r = advance(self, now)
  return r.phase === "complete" ? 1 : r.phase === "failed" ? 0 : scheduledRate(r.config, now - r.startedAt)
})

/**
 * The answer of {@link admit}. Rejected: `rate` is the share in force, `retryAfterMs` the ms until the
 * next step raises it (or until the time limit, if the share is final); `phase` tells a failed ramp
 * (reopen the breaker) from throttling.
 *
 * @since 0.1.0
 */
export type Admission =
  | { readonly admitted: true; readonly recovery: Recovery; readonly epoch: number; readonly rate: number }
  | {
    readonly admitted: false
    readonly recovery: Recovery
    readonly phase: Phase
    readonly rate: number
    readonly retryAfterMs: number
  }

/**
 * Decides whether a call at `now` may go ahead: admitted iff `draw < rateAt(now)`, with `draw` uniform
 * in [0, 1). Counts `admitted` or `throttled`. A complete ramp admits everything; a failed one nothing.
 *
 * @since 0.1.0
 */
export const admit: {
  (now: number, draw: number): (self: Recovery) => Admission
  (self: Recovery, now: number, draw: number): Admission
} = dual(3, (self: Recovery, now: number, draw: number): Admission => {
  const r = advance(self, now)
  const share = rateAt(r, now)
  if (draw < share) {
    return { admitted: true, recovery: update(r, { admitted: r.admitted + 1 }), epoch: r.epoch, rate: share }
  }
  const elapsed = now - r.startedAt
  const nextStep = (Math.floor(elapsed / r.config.intervalMs) + 1) * r.config.intervalMs - elapsed
  const untilLimit = r.config.maxDurationMs - elapsed
  return {
    admitted: false,
    recovery: r.phase === "ramping" ? update(r, { throttled: r.throttled + 1 }) : r,
    phase: r.phase,
    rate: share,
    retryAfterMs: Math.max(0, Math.min(nextStep, untilLimit))
  }
})

/**
 * Reports the result of a call admitted in `epoch` at `now`: `"success"` counts towards completion (S),
 * `"failure"` towards failure (F), `"excluded"` towards neither. A result from another epoch, or after the
 * ramp ended, changes nothing.
 *
 * @since 0.1.0
 */
export const onResult: {
  (epoch: number, result: "success" | "failure" | "excluded", now: number): (self: Recovery) => Recovery
  (self: Recovery, epoch: number, result: "success" | "failure" | "excluded", now: number): Recovery
} = dual(
  4,
  (self: Recovery, epoch: number, result: "success" | "failure" | "excluded", now: number): Recovery =>
    onResultImpl(self, epoch, result, now)
)

const onResultImpl = (
  self: Recovery,
  epoch: number,
  result: "success" | "failure" | "excluded",
  now: number
): Recovery => {
  const r = advance(self, now)
  if (r.epoch !== epoch || r.phase !== "ramping" || result === "excluded") return r
  if (result === "success") {
    const successes = r.successes + 1
    return update(r, { successes, phase: successes >= r.config.successes ? "complete" : "ramping" })
  }
  const failures = r.failures + 1
  return update(r, { failures, phase: failures >= r.config.failures ? "failed" : "ramping" })
}

/**
 * Fraction of the way to completion, in [0, 1]: `successes / S` (1 once complete).
 *
 * @since 0.1.0
 */
export const progress = (self: Recovery): number =>
  self.phase === "complete" ? 1 : Math.min(1, self.successes / self.config.successes)

/**
 * The serialisable progress (without the configuration).
 *
 * @since 0.1.0
 */
export const toProgress = (self: Recovery): Progress => ({
  epoch: self.epoch,
  startedAt: self.startedAt,
  successes: self.successes,
  failures: self.failures,
  admitted: self.admitted,
  throttled: self.throttled,
  phase: self.phase
})

/**
 * Rebuilds a ramp from {@link Progress} and a configuration.
 *
 * @since 0.1.0
 */
export const fromProgress = (options: Options | Config, progress: Progress): Recovery =>
  build("maxDurationMs" in options ? options : makeConfig(options), progress)
