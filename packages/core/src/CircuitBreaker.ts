/**
 * A circuit breaker as a pure state machine: `(breaker, event, now) => breaker`.
 *
 * The semantics are those of sony/gobreaker v2 (`gobreaker.go`, `counter.go`):
 *
 * - **closed**: every request is admitted. Results update {@link Counts}; after a counted failure
 *   `readyToTrip(counts)` decides whether to open (default: more than 5 consecutive failures). When
 *   `interval` > 0 the counts are cleared every `interval` ms (a new generation).
 * - **open**: every request is rejected with reason `"open"` until `timeout` ms have passed, then the
 *   breaker is half-open. Transitions are lazy: computed from `now` on the next event, never by a timer.
 * - **half-open**: at most `maxRequests` non-excluded requests are admitted (more are rejected with
 *   `"too-many-requests"`); `maxRequests` consecutive successes close the breaker, any failure reopens it.
 * - Every state change and every interval reset starts a new **generation** and clears the counts. A
 *   result reported with an older generation changes nothing, so late results cannot flip a breaker.
 * - `isExcluded(error)` results count as neither success nor failure and free their half-open slot
 *   (gobreaker v2 `TotalExclusions`, `validRequests`).
 *
 * Beyond gobreaker:
 * - `openBackoff`: the open period grows exponentially on consecutive trips (`timeout`, `timeout·factor`, …
 *   up to `max`, jittered with an injected draw, see {@link Backoff}); the streak resets when the breaker
 *   closes (or, with `resetAfter`, once it has stayed closed that long).
 * - `slowCall`: a successful call that took longer than a threshold counts as a failure (resilience4j's
 *   slow-call rule); the threshold can follow the observed latency distribution (`autoTune`).
 * - Interrupted calls are exclusions: they release their half-open slot instead of wedging the breaker.
 * - A breaker's data exports to JSON ({@link Snapshot}) and imports back, so it survives restarts.
 *
 * Differences from gobreaker, all deliberate:
 * - a deadline is reached when `now >= deadline` (gobreaker: `now > deadline`), so `retryAfterMs` is
 *   exact — a request made `retryAfterMs` later is admitted;
 * - `isSuccessful` and `isExcluded` are consulted for failures only: a success is always a success
 *   (gobreaker calls them with a nil error too; with its defaults the result is the same);
 * - there is no `OnStateChange` callback (a pure function has no side effects): compare `state` before and
 *   after, or use the `changes` Stream of `@bootstrap-cache/node` Protection;
 * - gobreaker's rolling-window `BucketPeriod` (newer than v2.0) is not implemented: `interval` is the
 *   fixed window of v2.0, the next one counted from the moment the reset is observed (`toNewGeneration(now)`).
 *
 * All times are epoch milliseconds (`now`), all durations milliseconds; randomness arrives as a uniform
 * draw in [0, 1).
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import { dual } from "effect/Function"
import type * as ParseResult from "effect/ParseResult"
import type { Pipeable } from "effect/Pipeable"
import * as Schema from "effect/Schema"
import type * as Backoff from "./Backoff.js"
import * as config from "./internal/breakerConfig.js"
import * as data from "./internal/breakerData.js"
import * as latency from "./internal/breakerLatency.js"
import {
  advanceStep,
  beforeRequestStep,
  classifyStep,
  holdOpenUntilStep,
  onResultImpl,
  openPeriodMs as openPeriodMsStep,
  reopenImpl,
  resetStep,
  retryAfterMsStep,
  tripImpl,
  validRequests as validRequestsStep
} from "./internal/breakerStep.js"

// ---------------------------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------------------------

/**
 * The three states of a breaker (gobreaker `StateClosed`, `StateHalfOpen`, `StateOpen`; same strings as
 * gobreaker's `State.String()`).
 *
 * @since 0.1.0
 */
export const State = Schema.Literal("closed", "half-open", "open")

/** @since 0.1.0 */
export type State = typeof State.Type

const Count = Schema.Number.pipe(Schema.int(), Schema.nonNegative())

/**
 * Request counts of the current generation (gobreaker `Counts`, v2 with `TotalExclusions`). All are
 * non-negative integers and all are cleared on every new generation.
 *
 * - `requests`: admitted requests (incremented by {@link beforeRequest}).
 * - `totalSuccesses`, `totalFailures`, `totalExclusions`: reported results by classification.
 * - `consecutiveSuccesses`, `consecutiveFailures`: current run length; an exclusion breaks neither.
 *
 * @since 0.1.0
 */
export const Counts = Schema.Struct({
  requests: Count,
  totalSuccesses: Count,
  totalFailures: Count,
  totalExclusions: Count,
  consecutiveSuccesses: Count,
  consecutiveFailures: Count
})

/** @since 0.1.0 */
export type Counts = typeof Counts.Type

/**
 * All counts zero.
 *
 * @since 0.1.0
 */
export const emptyCounts: Counts = data.emptyCounts

/**
 * The outcome of a call, as reported to {@link onResult}. `durationMs` (ms, ≥ 0) is the call's latency;
 * it feeds the slow-call rule and auto-tuning and may be omitted when neither is configured.
 *
 * - `Success`: the call returned a value.
 * - `Failure`: the call failed with `error`; `isExcluded(error)` and `isSuccessful(error)` classify it.
 * - `Interrupted`: the caller gave up (cancellation); counted as an exclusion.
 *
 * @since 0.1.0
 */
export type Outcome<E = unknown> =
  | { readonly _tag: "Success"; readonly durationMs?: number | undefined }
  | { readonly _tag: "Failure"; readonly error: E; readonly durationMs?: number | undefined }
  | { readonly _tag: "Interrupted"; readonly durationMs?: number | undefined }

/**
 * Constructors for {@link Outcome}.
 *
 * @since 0.1.0
 */
export const Outcome = {
  success: (durationMs?: number): Outcome<never> => ({ _tag: "Success", durationMs }),
  failure: <E>(error: E, durationMs?: number): Outcome<E> => ({ _tag: "Failure", error, durationMs }),
  interrupted: (durationMs?: number): Outcome<never> => ({ _tag: "Interrupted", durationMs })
} as const

/**
 * How a result was counted: `"success"`, `"failure"` (including `"slow"`, a success over the slow-call
 * threshold) or `"excluded"` (neither).
 *
 * @since 0.1.0
 */
export type Classification = "success" | "failure" | "slow" | "excluded"

// ---------------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------------

/**
 * Options for auto-tuning the slow-call threshold: `threshold = clamp(multiplier · pQ, min, max)` where
 * `pQ` is the `quantile` of the latencies of the last `window` successful calls. Until `minSamples`
 * latencies are known the configured `slowCall.threshold` applies.
 *
 * @since 0.1.0
 */
export interface AutoTuneOptions {
  /** Quantile of the latency window, in (0, 1]. Default 0.95 (p95). */
  readonly quantile?: number
  /** Multiple of the quantile, > 0. Default 3. */
  readonly multiplier?: number
  /** Latencies kept, ≥ 1. Default 100. */
  readonly window?: number
  /** Latencies needed before the tuned value is used, ≥ 1. Default 20. */
  readonly minSamples?: number
  /** Lower bound of the tuned threshold. Default 100 ms. */
  readonly min?: Duration.DurationInput
  /** Upper bound of the tuned threshold. Default 60 s. */
  readonly max?: Duration.DurationInput
}

/**
 * Options for {@link make}. Durations are `Duration.DurationInput` (a bare number is milliseconds).
 * Field names and defaults follow gobreaker `Settings`.
 *
 * @since 0.1.0
 */
export interface Options<E = unknown> {
  /**
   * Half-open: the calls admitted per half-open period (admitted minus excluded, gobreaker v2
   * `validRequests`), and the consecutive successes that close the breaker. 0 means 1 (gobreaker). Default 1.
   */
  readonly maxRequests?: number
  /**
   * Closed state only: every `interval` the counts are cleared and a new generation starts, so results
   * of calls admitted before are ignored (gobreaker `Interval`). 0 = never. Default 0.
   */
  readonly interval?: Duration.DurationInput
  /** Open period before half-open; ≤ 0 means the default (gobreaker). Default 60 s. */
  readonly timeout?: Duration.DurationInput
  /**
   * Called with the counts (already including the failure) after each counted failure in the closed
   * state; `true` opens the breaker (gobreaker `ReadyToTrip`). Default: `consecutiveFailures > 5`.
   */
  readonly readyToTrip?: (counts: Counts) => boolean
  /** A failure for which this returns true counts as a success (gobreaker `IsSuccessful`). Default: never. */
  readonly isSuccessful?: (error: E) => boolean
  /** A failure for which this returns true counts as neither (gobreaker v2 `IsExcluded`). Checked first. Default: never. */
  readonly isExcluded?: (error: E) => boolean
  /**
   * Exponential open period on consecutive trips; `true` for the defaults. Off by default (gobreaker).
   * Trip n (1-based) opens for `max(timeout, Backoff.delay({ min: timeout, max, factor, jitter }, n − 1, draw))`.
   */
  readonly openBackoff?: boolean | {
    /** Longest open period. Default 10 min. */
    readonly max?: Duration.DurationInput
    /** Growth per consecutive trip, ≥ 1. Default 2. */
    readonly factor?: number
    /** Default `"equal"`: a spread of [t/2, t) clamped to at least `timeout`. */
    readonly jitter?: Backoff.Jitter
    /** The trip streak resets once the breaker has stayed closed this long. Default 0 (on close). */
    readonly resetAfter?: Duration.DurationInput
  }
  /** A success slower than `threshold` counts as a failure (resilience4j slow-call rule). Off by default. */
  readonly slowCall?: {
    readonly threshold: Duration.DurationInput
    /** Let the threshold follow the latency distribution; `true` for the defaults. Default off. */
    readonly autoTune?: boolean | AutoTuneOptions
  }
  /** `retryAfterMs` hint for `"too-many-requests"` rejections (probes in flight). Default 1 s. */
  readonly probeRetryAfter?: Duration.DurationInput
}

/**
 * A resolved configuration: every option has its value, durations are milliseconds.
 *
 * @since 0.1.0
 */
export interface Config<E = unknown> {
  readonly maxRequests: number
  readonly intervalMs: number
  readonly timeoutMs: number
  readonly readyToTrip: (counts: Counts) => boolean
  readonly isSuccessful: (error: E) => boolean
  readonly isExcluded: (error: E) => boolean
  readonly openBackoff: Backoff.Policy | undefined
  readonly backoffResetAfterMs: number
  readonly slowCallMs: number | undefined
  readonly autoTune: {
    readonly quantile: number
    readonly multiplier: number
    readonly window: number
    readonly minSamples: number
    readonly minMs: number
    readonly maxMs: number
  } | undefined
  readonly probeRetryAfterMs: number
}

/**
 * gobreaker's default `ReadyToTrip`: more than 5 consecutive failures.
 *
 * @since 0.1.0
 */
export const defaultReadyToTrip: (counts: Counts) => boolean = config.defaultReadyToTrip

/**
 * The default open period, 60 000 ms (gobreaker `defaultTimeout`).
 *
 * @since 0.1.0
 */
export const defaultTimeoutMs = config.defaultTimeoutMs

/**
 * Resolves {@link Options} into a {@link Config} with the documented defaults. Out-of-range numbers are
 * clamped, never thrown (`maxRequests` ≤ 0 → 1, `timeout` ≤ 0 → 60 s, `interval` ≤ 0 → never).
 *
 * @since 0.1.0
 */
export const makeConfig: <E = unknown>(options?: Options<E>) => Config<E> = config.makeConfig

// ---------------------------------------------------------------------------------------------------
// The breaker
// ---------------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: typeof data.TypeId = data.TypeId

/** @since 0.1.0 */
export type TypeId = typeof TypeId

/**
 * The fields of {@link Snapshot}, for schemas that extend it (`KeyProtection.Snapshot`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const SnapshotFields = {
  state: State,
  generation: Count,
  counts: Counts,
  expiresAt: Schema.NullOr(Schema.Number.pipe(Schema.finite())),
  changedAt: Schema.Number.pipe(Schema.finite()),
  trips: Count,
  lastOpenMs: Schema.Number.pipe(Schema.nonNegative(), Schema.finite()),
  latencies: Schema.Array(Schema.Number.pipe(Schema.nonNegative(), Schema.finite()))
}

/**
 * The snapshot rule that an open breaker has a deadline, for schemas built from {@link SnapshotFields}.
 *
 * @since 0.1.0
 * @category schemas
 */
export const openHasDeadline = (s: { readonly state: State; readonly expiresAt: number | null }): true | string =>
  s.state !== "open" || s.expiresAt !== null || "an open breaker needs expiresAt (epoch ms)"

/**
 * The serialisable part of a breaker (everything but the configuration's functions).
 *
 * - `state`, `generation` (integer, +1 on every state change and interval reset), `counts`;
 * - `expiresAt` (epoch ms or null): closed → next interval reset (null when `interval` = 0);
 *   open → end of the open period; half-open → null;
 * - `changedAt` (epoch ms): last state change;
 * - `trips`: consecutive trips in the current streak (drives `openBackoff`), `lastOpenMs`: the last open
 *   period (ms, for decorrelated jitter);
 * - `latencies`: recent successful-call latencies (ms, oldest first) for auto-tuning, else empty.
 *
 * Decoding rejects an open breaker without a deadline (`expiresAt` null), which would never reopen.
 * Encode with `Schema.encodeSync(CircuitBreaker.SnapshotFromJson)` or {@link toJson}.
 *
 * @since 0.1.0
 */
export const Snapshot = Schema.Struct(SnapshotFields).pipe(Schema.filter(openHasDeadline))

/** @since 0.1.0 */
export type Snapshot = typeof Snapshot.Type

/**
 * A {@link Snapshot} as a JSON string (`Schema.parseJson`).
 *
 * @since 0.1.0
 */
export const SnapshotFromJson = Schema.parseJson(Snapshot)

/**
 * A breaker: its {@link Config} and the {@link Snapshot} data. Immutable; every operation returns a new
 * breaker. Pipeable, so `pipe(breaker, CircuitBreaker.reset(now))` works.
 *
 * @since 0.1.0
 */
export interface CircuitBreaker<E = unknown> extends Snapshot, Pipeable {
  readonly [TypeId]: TypeId
  readonly config: Config<E>
}

/**
 * True for values made by this module.
 *
 * @since 0.1.0
 */
export const isCircuitBreaker: (u: unknown) => u is CircuitBreaker<unknown> = data.isCircuitBreaker

/**
 * A closed breaker whose first interval starts at `now` (epoch ms), generation 0, counts zero.
 * Accepts {@link Options} (resolved with {@link makeConfig}) or an already resolved {@link Config}.
 *
 * @example
 * ```ts
 * const cb = CircuitBreaker.make({ maxRequests: 3, timeout: "30 seconds" }, now) // now: epoch ms, from your clock
 * ```
 *
 * @since 0.1.0
 */
export const make: <E = unknown>(options: Options<E> | Config<E>, now: number) => CircuitBreaker<E> = data.make

/**
 * The serialisable data of a breaker.
 *
 * @since 0.1.0
 */
export const toSnapshot: <E>(self: CircuitBreaker<E>) => Snapshot = data.toSnapshot

/**
 * Rebuilds a breaker from a {@link Snapshot} and a configuration. The snapshot's lazy transitions are
 * applied on the next event, so an open breaker restored after its deadline is half-open at once.
 *
 * The snapshot is reconciled with the configuration, which may have changed since it was taken:
 * - closed: the interval deadline follows the configuration's `interval` (none when it is 0; when the
 *   snapshot had none, `changedAt + interval`, so counts kept for longer than an interval clear at once);
 * - half-open: restored as open and due (deadline `changedAt`), so the next event starts a fresh
 *   half-open generation. The probes admitted before the snapshot died with the process and their
 *   results never arrive; kept as they were, they would hold every half-open slot forever (cockatiel
 *   restores a half-open breaker as open the same way);
 * - open without a deadline (not a decodable snapshot): `changedAt + timeout`;
 * - the auto-tuning window is trimmed to the configuration's `window` (emptied without auto-tuning).
 *
 * @since 0.1.0
 */
export const fromSnapshot: <E = unknown>(options: Options<E> | Config<E>, snapshot: Snapshot) => CircuitBreaker<E> =
  data.fromSnapshot

/**
 * The breaker as a JSON string ({@link SnapshotFromJson}).
 *
 * @since 0.1.0
 */
export const toJson = <E>(self: CircuitBreaker<E>): string => Schema.encodeSync(SnapshotFromJson)(toSnapshot(self))

/**
 * Parses a JSON string written by {@link toJson} and rebuilds the breaker with `options`.
 * Fails with a `ParseError` (in the `Left`) when the text is not JSON or not a valid {@link Snapshot}.
 *
 * @since 0.1.0
 */
export const fromJson = <E = unknown>(
  options: Options<E> | Config<E>,
  json: string
): Either.Either<CircuitBreaker<E>, ParseResult.ParseError> => {
  return Either.map(Schema.decodeUnknownEither(SnapshotFromJson)(json), (snapshot) => fromSnapshot(options, snapshot))
}

// ---------------------------------------------------------------------------------------------------
// Transitions
// ---------------------------------------------------------------------------------------------------

/**
 * Applies the lazy, time-driven transitions at `now` (gobreaker `currentState`): an open breaker whose
 * period has ended becomes half-open; a closed breaker whose interval has ended starts a new generation
 * with cleared counts. Every other function calls this first, so calling it yourself is only needed to
 * observe the state (see {@link stateAt}).
 *
 * @since 0.1.0
 */
export const advance: {
  (now: number): <E>(self: CircuitBreaker<E>) => CircuitBreaker<E>
  <E>(self: CircuitBreaker<E>, now: number): CircuitBreaker<E>
} = function(this: unknown, self: any, now?: any) {
  // `dual(2, …)` written out: every step calls this, and a data-first call skips `apply` over `arguments`
  return arguments.length >= 2 ? advanceStep(self, now) : (s: CircuitBreaker<unknown>) => advanceStep(s, self)
} as any

/**
 * The state at `now` (epoch ms), after lazy transitions.
 *
 * @since 0.1.0
 */
export const stateAt: {
  (now: number): <E>(self: CircuitBreaker<E>) => State
  <E>(self: CircuitBreaker<E>, now: number): State
} = dual(2, <E>(self: CircuitBreaker<E>, now: number): State => advance(self, now).state)

/**
 * The answer of {@link beforeRequest}.
 *
 * - admitted: run the call, then report its outcome with `generation`;
 * - rejected: `reason` is `"open"` (gobreaker `ErrOpenState`; `retryAfterMs` = ms until half-open) or
 *   `"too-many-requests"` (gobreaker `ErrTooManyRequests`; half-open slots all taken; `retryAfterMs` =
 *   the configured `probeRetryAfter` hint).
 *
 * In both cases `breaker` is the new state to keep.
 *
 * @since 0.1.0
 */
export type Admission<E = unknown> =
  | {
    readonly admitted: true
    readonly breaker: CircuitBreaker<E>
    readonly state: State
    readonly generation: number
  }
  | {
    readonly admitted: false
    readonly breaker: CircuitBreaker<E>
    readonly state: State
    readonly reason: "open" | "too-many-requests"
    readonly retryAfterMs: number
  }

/**
 * Asks to start a call at `now` (gobreaker `beforeRequest`). Open rejects; half-open admits while fewer
 * than `maxRequests` non-excluded requests of this generation were admitted; closed admits. An admission
 * increments `counts.requests`.
 *
 * @since 0.1.0
 */
export const beforeRequest: {
  (now: number): <E>(self: CircuitBreaker<E>) => Admission<E>
  <E>(self: CircuitBreaker<E>, now: number): Admission<E>
} = function(this: unknown, self: any, now?: any) {
  // `dual(2, …)` written out, as for `advance`
  return arguments.length >= 2 ? beforeRequestStep(self, now) : (s: CircuitBreaker<unknown>) => beforeRequestStep(s, self)
} as any

/**
 * Admitted requests that were not excluded: gobreaker v2 `validRequests`.
 *
 * @since 0.1.0
 */
export const validRequests: (counts: Counts) => number = validRequestsStep

/**
 * The slow-call threshold in force (ms), or `undefined` when the rule is off. With auto-tuning and at
 * least `minSamples` latencies: `clamp(multiplier · quantile(latencies), min, max)`; before that, the
 * configured threshold.
 *
 * @since 0.1.0
 */
export const slowCallThresholdMs: <E>(self: CircuitBreaker<E>) => number | undefined = data.slowCallThresholdMs

/**
 * The `q`-quantile (q in [0, 1]) of a list of numbers, nearest-rank method; `NaN` when empty.
 *
 * @since 0.1.0
 */
export const quantile: (values: ReadonlyArray<number>, q: number) => number = latency.quantile

/**
 * How `outcome` counts under this breaker's configuration: interruptions and `isExcluded` failures are
 * `"excluded"` (checked first, as in gobreaker v2), `isSuccessful` failures and successes are
 * `"success"` unless slower than {@link slowCallThresholdMs} (`"slow"`, counted as a failure).
 *
 * @since 0.1.0
 */
export const classify: {
  <E>(outcome: Outcome<E>): (self: CircuitBreaker<E>) => Classification
  <E>(self: CircuitBreaker<E>, outcome: Outcome<NoInfer<E>>): Classification
} = function(this: unknown, self: any, outcome?: any) {
  // `dual(2, …)` written out, as for `advance`
  return arguments.length >= 2 ? classifyStep(self, outcome) : (s: CircuitBreaker<unknown>) => classifyStep(s, self)
} as any

/**
 * Reports the outcome of a call admitted with `generation` (gobreaker `afterRequest`), at `now`.
 *
 * - A stale generation (the breaker changed state or reset its interval since admission) changes
 *   nothing (lazy transitions at `now` still apply).
 * - closed: a success updates counts; a failure updates counts and trips when `readyToTrip(counts)`.
 * - half-open: a success updates counts and closes after `maxRequests` consecutive successes; a failure
 *   reopens.
 * - excluded: `totalExclusions` + 1, which frees a half-open slot.
 *
 * `draw` (uniform in [0, 1), default 0.5) jitters the open period when `openBackoff` is on and this
 * result trips the breaker.
 *
 * @since 0.1.0
 */
export const onResult: {
  <E>(generation: number, outcome: Outcome<E>, now: number, draw?: number): (self: CircuitBreaker<E>) => CircuitBreaker<E>
  <E>(self: CircuitBreaker<E>, generation: number, outcome: Outcome<NoInfer<E>>, now: number, draw?: number): CircuitBreaker<E>
} = function(this: unknown, self: any, generation: any, outcome: any, now?: any, draw?: any) {
  // `dual(isCircuitBreaker(first), …)` written out: no arguments array for the predicate
  return isCircuitBreaker(self)
    ? onResultImpl(self, generation, outcome, now, draw)
    : (s: CircuitBreaker<unknown>) => onResultImpl(s, self, generation, outcome, now)
} as any

/**
 * The open period (ms) the breaker would use for trip number `trip` (1-based) with `draw`: `timeout`
 * without `openBackoff`, else `max(timeout, Backoff.delay(policy, trip − 1, draw, lastOpenMs))`.
 *
 * @since 0.1.0
 */
export const openPeriodMs: <E>(self: CircuitBreaker<E>, trip: number, draw: number) => number = openPeriodMsStep

/**
 * Forces the breaker open at `now` (an operator's "isolate", or a recovery ramp that failed). Counts as a
 * trip for `openBackoff`, so the open period follows the streak; `draw` as in {@link onResult}. An
 * already open breaker is returned unchanged.
 *
 * @since 0.1.0
 */
export const trip: {
  (now: number, draw?: number): <E>(self: CircuitBreaker<E>) => CircuitBreaker<E>
  <E>(self: CircuitBreaker<E>, now: number, draw?: number): CircuitBreaker<E>
} = dual(
  (args) => isCircuitBreaker(args[0]),
  <E>(self: CircuitBreaker<E>, now: number, draw?: number): CircuitBreaker<E> => tripImpl(self, now, draw)
)

/**
 * Reopens a breaker whose recovery failed (see `Recovery`: F failures or the maximum recovery time), at
 * `now`: like {@link trip}, but the trip streak always continues (`trips + 1`), even when the breaker has
 * been closed for longer than `openBackoff.resetAfter`. A breaker that closed into a recovery ramp and
 * failed it never recovered, so its next open period keeps growing instead of starting again from
 * `timeout`. `draw` as in {@link onResult}. An open breaker is returned unchanged.
 *
 * @since 0.1.0
 */
export const reopen: {
  (now: number, draw?: number): <E>(self: CircuitBreaker<E>) => CircuitBreaker<E>
  <E>(self: CircuitBreaker<E>, now: number, draw?: number): CircuitBreaker<E>
} = dual(
  (args) => isCircuitBreaker(args[0]),
  <E>(self: CircuitBreaker<E>, now: number, draw?: number): CircuitBreaker<E> => reopenImpl(self, now, draw)
)

/**
 * Forces the breaker closed at `now` with a new generation, cleared counts and no trip streak.
 * A closed breaker only has its counts and streak cleared (still a new generation).
 *
 * @since 0.1.0
 */
export const reset: {
  (now: number): <E>(self: CircuitBreaker<E>) => CircuitBreaker<E>
  <E>(self: CircuitBreaker<E>, now: number): CircuitBreaker<E>
} = dual(2, resetStep)

/**
 * Keeps an open breaker open at least until `until` (epoch ms): its deadline becomes
 * `max(expiresAt, until)`. Any other state, or a later deadline, is returned unchanged. Used for the
 * recovery cooldown (see `KeyProtection`); the backoff streak (`trips`, `lastOpenMs`) is not touched.
 *
 * @since 0.1.0
 */
export const holdOpenUntil: {
  (until: number): <E>(self: CircuitBreaker<E>) => CircuitBreaker<E>
  <E>(self: CircuitBreaker<E>, until: number): CircuitBreaker<E>
} = dual(2, holdOpenUntilStep)

/**
 * Ms until an open breaker becomes half-open at `now`; 0 in any other state.
 *
 * @since 0.1.0
 */
export const retryAfterMs: {
  (now: number): <E>(self: CircuitBreaker<E>) => number
  <E>(self: CircuitBreaker<E>, now: number): number
} = dual(2, retryAfterMsStep)
