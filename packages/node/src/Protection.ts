/**
 * Per-key protection against cascading failure: a circuit breaker, a health window and a recovery ramp
 * for every endpoint or peer, created on demand and evicted when idle.
 *
 * Each key's state is the pure `KeyProtection` of `@bootstrap-cache/core`; this service keeps them in a
 * bounded table and runs them with the calling fiber's `Clock` and `Random`, so `TestClock` and a
 * seeded `Random` make every behaviour reproducible. Its body lives in `internal/protection/`.
 *
 * ```ts
 * import { Protection } from "@bootstrap-cache/node"
 *
 * const program = Effect.gen(function*() {
 *   const protection = yield* Protection.Protection
 *   const body = yield* protection.execute("peer-7", fetchContacts("peer-7"))
 *   //    ^ fails with CircuitOpenError | CircuitTooManyRequestsError | CircuitThrottledError | the call's own error
 * }).pipe(Effect.provide(Protection.layer({ breaker: { timeout: "30 seconds" } })))
 * ```
 *
 * @since 0.1.0
 */
import { type CircuitBreaker, type Health, KeyProtection, type ProtectionStatus, type Recovery } from "@bootstrap-cache/core"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schema from "effect/Schema"
import type * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/protection/service.js"

// ---------------------------------------------------------------------------------------------------
// Phases, errors, events
// ---------------------------------------------------------------------------------------------------

/**
 * The externally visible phase of a key: the breaker state, plus `"recovering"` for a closed breaker
 * whose recovery ramp is still throttling traffic.
 *
 * @since 0.1.0
 * @category models
 */
export const Phase = KeyProtection.Phase

/** @since 0.1.0 */
export type Phase = KeyProtection.Phase

/**
 * The breaker of `key` is open: no call goes through for `retryAfterMs` ms (gobreaker `ErrOpenState`).
 *
 * @since 0.1.0
 * @category errors
 */
export class CircuitOpenError extends Schema.TaggedError<CircuitOpenError>()("CircuitOpenError", {
  key: Schema.String,
  state: Phase,
  retryAfterMs: Schema.Number
}) {
  override get message() {
    return `circuit breaker for ${this.key} is open; retry in ${this.retryAfterMs} ms`
  }
}

/**
 * The breaker of `key` is half-open and all its probe slots are taken (gobreaker `ErrTooManyRequests`);
 * `retryAfterMs` is the configured `probeRetryAfter` hint.
 *
 * @since 0.1.0
 * @category errors
 */
export class CircuitTooManyRequestsError
  extends Schema.TaggedError<CircuitTooManyRequestsError>()("CircuitTooManyRequestsError", {
    key: Schema.String,
    state: Phase,
    retryAfterMs: Schema.Number
  })
{
  override get message() {
    return `circuit breaker for ${this.key} is half-open with all probes in flight; retry in ${this.retryAfterMs} ms`
  }
}

/**
 * `key` is recovering and this call fell outside the admitted share `rate` (in [0, 1]); `retryAfterMs`
 * is the time until the share next rises. Not counted as a failure of the peer.
 *
 * @since 0.1.0
 * @category errors
 */
export class CircuitThrottledError extends Schema.TaggedError<CircuitThrottledError>()("CircuitThrottledError", {
  key: Schema.String,
  state: Phase,
  retryAfterMs: Schema.Number,
  rate: Schema.Number
}) {
  override get message() {
    return `${this.key} is recovering at ${Math.round(this.rate * 100)}% of traffic; retry in ${this.retryAfterMs} ms`
  }
}

/**
 * Any rejection by {@link Protection}: the call was not run.
 *
 * @since 0.1.0
 * @category errors
 */
export type ProtectionRejection = CircuitOpenError | CircuitTooManyRequestsError | CircuitThrottledError

/**
 * A phase change of one key, observed at `at` (epoch ms): the equivalent of gobreaker's
 * `OnStateChange(name, from, to)`, with `"recovering"` between half-open and closed when a recovery ramp
 * runs. Open → half-open is lazy, so it is reported when a call first observes it (as in gobreaker);
 * `status` and `overall` observe without reporting. Interval resets are not phase changes.
 * `generation` is the breaker generation after the change.
 *
 * @since 0.1.0
 * @category models
 */
export interface StateChange {
  readonly key: string
  readonly from: Phase
  readonly to: Phase
  readonly at: number
  readonly generation: number
}
/**
 * Everything known about one key at a moment: the core's `ProtectionStatus.Report` (phase, breaker
 * state and counts, `retryAfterMs`, health report, running ramp, `cooldownMs` left, `isHealthy`), plus
 * - `key`;
 * - `tracked`: false when the key has no entry (never used, or evicted): the fields then describe a
 *   fresh, closed one;
 * - `summary`: one printable line (`ProtectionStatus.summary`).
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyStatus extends ProtectionStatus.Report {
  readonly key: string
  readonly tracked: boolean
  readonly summary: string
}

/**
 * Counts of tracked keys per phase and per health class, `healthyKeys`, `isHealthy` (no more than half
 * the keys unhealthy; see `ProtectionStatus.Overall`) and one printable `summary` line.
 *
 * @since 0.1.0
 * @category models
 */
export interface OverallStatus extends ProtectionStatus.Overall {
  readonly summary: string
}

// ---------------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------------

/**
 * Options of the service. Durations are `Duration.DurationInput` (a bare number is ms).
 *
 * | option            | default                                                          |
 * | ----------------- | ---------------------------------------------------------------- |
 * | `breaker`         | when omitted: gobreaker defaults (1 probe, 60 s open, trip after > 5 failures in a row) plus `openBackoff` up to 10 min whose streak survives 5 min of closed time; when given, exactly `CircuitBreaker.makeConfig(breaker)` |
 * | `health`          | `Health` defaults (last 50 calls, 10 min max age, HEALTHY ≥ 0.95 and p95 ≤ 1 s) |
 * | `recovery`        | `Recovery` defaults (LINEAR from 10 %, +20 % every 10 s, S = 20, F = 3, 5 min, cooldown 30 s); `false` turns it off. A ramp that fails (F failures, the maximum time, or a trip while ramping) reopens the breaker with `CircuitBreaker.reopen`: the open-backoff streak goes on. After a ramp ends or fails, the breaker is held open until the cooldown has passed: its open period is `max(open-backoff period, cooldown left)` |
 * | `idleTimeout`     | 10 min: keys without calls for this long are evicted, except open and half-open breakers (a dead peer keeps its backoff streak) unless over `maxKeys` |
 * | `maxKeys`         | 100 000: beyond this the least recently used keys are evicted    |
 * | `changesCapacity` | 1 024 state changes buffered per subscriber (oldest dropped)     |
 * | `name`            | `protection-1`, `protection-2`, … in creation order: the `protection` label of this instance's metrics |
 *
 * @since 0.1.0
 * @category models
 */
export interface ProtectionOptions {
  readonly breaker?: CircuitBreaker.Options<unknown>
  readonly health?: Health.Options
  readonly recovery?: Recovery.Options | false
  readonly idleTimeout?: Duration.DurationInput
  readonly maxKeys?: number
  readonly changesCapacity?: number
  readonly name?: string
}

/**
 * The defaults of {@link ProtectionOptions} that differ from the core modules' own.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults = {
  breaker: { openBackoff: { max: "10 minutes", resetAfter: "5 minutes" } } satisfies CircuitBreaker.Options<unknown>,
  idleTimeoutMs: 600_000,
  maxKeys: 100_000,
  changesCapacity: 1_024
} as const

// ---------------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------------

/**
 * The Effect `Metric`s of {@link Protection} (not tagged by key, to bound cardinality): calls
 * (admitted), successes, failures (including slow calls), rejections (tagged `reason`: `open` |
 * `too-many-requests` | `throttled`), and the gauge of breakers not closed (open or half-open).
 *
 * Every update is labelled `protection` = the instance's `name` first, then the calling fiber's metric
 * labels (`Effect.tagMetrics`), so each instance has its own series: the gauge of one instance is that
 * instance's count of breakers not closed. Read an instance's series with {@link metricsOf}.
 *
 * @since 0.1.0
 * @category metrics
 */
export const metrics = {
  calls: Metric.counter("bootstrap_cache_protection_calls_total", { description: "calls admitted by a breaker" }),
  successes: Metric.counter("bootstrap_cache_protection_successes_total", { description: "calls counted as successes" }),
  failures: Metric.counter("bootstrap_cache_protection_failures_total", {
    description: "calls counted as failures (slow calls included)"
  }),
  rejections: Metric.counter("bootstrap_cache_protection_rejections_total", {
    description: "calls rejected without running (tag reason)"
  }),
  openBreakers: Metric.gauge("bootstrap_cache_protection_open_breakers", {
    description: "breakers of this instance currently open or half-open"
  })
} as const

/**
 * {@link metrics} tagged with the `protection` label of the instance named `name` (its
 * `Protection.name`): `Metric.value(Protection.metricsOf(p.name).openBreakers)`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const metricsOf = (name: string): typeof metrics => ({
  calls: Metric.tagged(metrics.calls, "protection", name),
  successes: Metric.tagged(metrics.successes, "protection", name),
  failures: Metric.tagged(metrics.failures, "protection", name),
  rejections: Metric.tagged(metrics.rejections, "protection", name),
  openBreakers: Metric.tagged(metrics.openBreakers, "protection", name)
})

// ---------------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------------

/**
 * The protection service.
 *
 * - `execute(key, effect)`: runs `effect` under `key`'s breaker, health window and recovery ramp. Fails
 *   with a {@link ProtectionRejection} without running it when rejected; otherwise returns its result.
 *   Success → success; a failure `E` is classified by the breaker's `isExcluded`/`isSuccessful`; a defect
 *   is classified the same way with the squashed cause as its error (gobreaker hands a panic to
 *   `IsExcluded`/`IsSuccessful` as an error), so by default it is a failure; an interruption is an
 *   exclusion (frees a half-open slot). Latency is measured with `Clock`.
 * - `status(key)`, `overall`: see {@link KeyStatus}, {@link OverallStatus} (each with `isHealthy` and
 *   a printable `summary`).
 * - `changes`: a `Stream` of {@link StateChange}s from the moment it is run; `subscribe` gives a queue
 *   subscribed at once (deterministic in tests).
 * - `reset(key)` / `trip(key)`: force a breaker closed (no ramp, no cooldown) / open.
 * - `snapshot` / `restore`: every key as a `KeyProtection.Snapshot` (a `CircuitBreaker.Snapshot` plus
 *   the health window, the running ramp and the cooldown), to survive restarts. `restore` also takes
 *   plain `CircuitBreaker.Snapshot`s. A breaker saved half-open comes back open and due.
 * - `name`: the `protection` label of this instance's metrics.
 *
 * @since 0.1.0
 * @category tags
 */
export class Protection extends Context.Tag("@bootstrap-cache/node/Protection")<Protection, {
  readonly name: string
  readonly execute: <A, E, R>(key: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | ProtectionRejection, R>
  readonly status: (key: string) => Effect.Effect<KeyStatus>
  readonly overall: Effect.Effect<OverallStatus>
  readonly changes: Stream.Stream<StateChange>
  readonly subscribe: Effect.Effect<Queue.Dequeue<StateChange>, never, Scope.Scope>
  readonly reset: (key: string) => Effect.Effect<void>
  readonly trip: (key: string) => Effect.Effect<void>
  readonly snapshot: Effect.Effect<ReadonlyArray<readonly [key: string, snapshot: KeyProtection.Snapshot]>>
  readonly restore: (entries: Iterable<readonly [key: string, snapshot: KeyProtection.Snapshot]>) => Effect.Effect<void>
}>() {}

/**
 * `effect` run under the protection of `key` (the {@link Protection} service's `execute`), in both call
 * styles: `protect(effect, key)` and `effect.pipe(protect(key))`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const protect: {
  (key: string): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | ProtectionRejection, R | Protection>
  <A, E, R>(effect: Effect.Effect<A, E, R>, key: string): Effect.Effect<A, E | ProtectionRejection, R | Protection>
} = dual(
  2,
  <A, E, R>(effect: Effect.Effect<A, E, R>, key: string) => Effect.flatMap(Protection, (p) => p.execute(key, effect))
)

/**
 * Builds the service in a scope (the change hub is shut down with it). See {@link ProtectionOptions}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: ProtectionOptions) => Effect.Effect<Protection["Type"], never, Scope.Scope> = internal.make

/**
 * The {@link Protection} service as a Layer (scoped: its change hub closes with the Layer).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: ProtectionOptions = {}): Layer.Layer<Protection> => Layer.scoped(Protection, make(options))

/**
 * {@link layer} with its options read from `Config`: a `Config<ProtectionOptions>` (`Config.all({ … })`,
 * `Config.succeed(options)`, or a `Config.map` of the keys an application chooses) or a struct of
 * `Config`s per option (`Config.Config.Wrap`, as Effect's own `layerConfig`s take). Fails with the
 * `ConfigError` of a missing or malformed value when the Layer is built.
 *
 * There is no ready-made `Protection.config`: most options are the core's breaker, health and recovery
 * policies (`readyToTrip`, `isSuccessful` … are functions), so the keys an application exposes are its
 * own choice, e.g. `Config.map(Config.duration("protectionIdleTimeout"), (idleTimeout) => ({ idleTimeout }))`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (config: Config.Config.Wrap<ProtectionOptions>): Layer.Layer<Protection, ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
