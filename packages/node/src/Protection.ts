/**
 * Per-key protection against cascading failure: a circuit breaker, a health window and a recovery ramp
 * for every endpoint or peer, created on demand and evicted when idle.
 *
 * The state machines are the pure ones of `@bootstrap-cache/core` ({@link CircuitBreaker}, {@link Health},
 * {@link Recovery}); this service runs them with the calling fiber's `Clock` (time, latency) and `Random`
 * (jitter, ramp admission), so `TestClock` and a seeded `Random` make every behaviour reproducible.
 * `Random` is asked for a draw only when a decision reads one — admitting a call while a recovery ramp
 * throttles, and completing a call that may trip the breaker (a counted failure, or any call during a
 * ramp) — so the common call (closed breaker, success) costs no draw; the draws taken follow the seeded
 * sequence all the same.
 *
 * Cost: a call on a closed breaker is two synchronous steps (admit; complete) plus Effect's
 * interruption-safety frame, about 1 µs over the bare effect (`npm run bench -- --only breaker-overhead`).
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const protection = yield* Protection
 *   const body = yield* protection.execute("peer-7", fetchContacts("peer-7"))
 *   //    ^ fails with CircuitOpenError | CircuitTooManyRequestsError | CircuitThrottledError | the call's own error
 * }).pipe(Effect.provide(Protection.layer({ breaker: { timeout: "30 seconds" } })))
 * ```
 *
 * @since 0.1.0
 */
import { CircuitBreaker, Health, Recovery } from "@bootstrap-cache/core"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as MetricLabel from "effect/MetricLabel"
import * as PubSub from "effect/PubSub"
import type * as Queue from "effect/Queue"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

// ---------------------------------------------------------------------------------------------------
// Phases, errors, events
// ---------------------------------------------------------------------------------------------------

/**
 * The externally visible phase of a key: the breaker state, plus `"recovering"` for a closed breaker
 * whose recovery ramp is still throttling traffic.
 *
 * @since 0.1.0
 */
export const Phase = Schema.Literal("closed", "recovering", "half-open", "open")

/** @since 0.1.0 */
export type Phase = typeof Phase.Type

/**
 * The breaker of `key` is open: no call goes through for `retryAfterMs` ms (gobreaker `ErrOpenState`).
 *
 * @since 0.1.0
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
 */
export interface StateChange {
  readonly key: string
  readonly from: Phase
  readonly to: Phase
  readonly at: number
  readonly generation: number
}

/**
 * Everything known about one key at a moment.
 *
 * - `tracked`: false when the key has no breaker yet (or was evicted): the fields then describe a
 *   fresh, closed one;
 * - `retryAfterMs`: ms until an open breaker turns half-open (0 otherwise);
 * - `recovery`: the ramp, while `phase` is `"recovering"`: `rate` (admitted share, [0, 1]), `progress`
 *   (successes / S, [0, 1]), counts, `startedAt` (epoch ms).
 *
 * @since 0.1.0
 */
export interface KeyStatus {
  readonly key: string
  readonly tracked: boolean
  readonly phase: Phase
  readonly state: CircuitBreaker.State
  readonly generation: number
  readonly counts: CircuitBreaker.Counts
  readonly trips: number
  readonly retryAfterMs: number
  readonly slowCallThresholdMs: number | undefined
  readonly health: Health.Report
  readonly recovery: {
    readonly rate: number
    readonly progress: number
    readonly successes: number
    readonly failures: number
    readonly admitted: number
    readonly throttled: number
    readonly startedAt: number
  } | undefined
}

/**
 * Counts of tracked keys per phase and per health class.
 *
 * @since 0.1.0
 */
export interface OverallStatus {
  readonly keys: number
  readonly byPhase: Readonly<Record<Phase, number>>
  readonly byHealth: Readonly<Record<Health.Status, number>>
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
 * | `recovery`        | `Recovery` defaults (LINEAR from 10 %, +20 % every 10 s, S = 20, F = 3, 5 min); `false` turns it off. A ramp that fails (F failures, the maximum time, or a trip while ramping) reopens the breaker with `CircuitBreaker.reopen`: the open-backoff streak goes on |
 * | `idleTimeout`     | 10 min: keys without calls for this long are evicted, except open and half-open breakers (a dead peer keeps its backoff streak) unless over `maxKeys` |
 * | `maxKeys`         | 100 000: beyond this the least recently used keys are evicted    |
 * | `changesCapacity` | 1 024 state changes buffered per subscriber (oldest dropped)     |
 *
 * @since 0.1.0
 */
export interface ProtectionOptions {
  readonly breaker?: CircuitBreaker.Options<unknown>
  readonly health?: Health.Options
  readonly recovery?: Recovery.Options | false
  readonly idleTimeout?: Duration.DurationInput
  readonly maxKeys?: number
  readonly changesCapacity?: number
}

/**
 * The defaults of {@link ProtectionOptions} that differ from the core modules' own.
 *
 * @since 0.1.0
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
 * Effect `Metric`s of every {@link Protection} (not tagged by key, to bound cardinality):
 * calls (admitted), successes, failures (including slow calls), rejections (tagged `reason`:
 * `open` | `too-many-requests` | `throttled`), and the gauge of breakers not closed (open or half-open).
 *
 * @since 0.1.0
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
    description: "breakers currently open or half-open, as last observed"
  })
} as const

const rejectionMetric = {
  open: Metric.tagged(metrics.rejections, "reason", "open"),
  "too-many-requests": Metric.tagged(metrics.rejections, "reason", "too-many-requests"),
  throttled: Metric.tagged(metrics.rejections, "reason", "throttled")
} as const

/**
 * What was last written to `metrics.openBreakers` (by any instance), so that a call writes the gauge only
 * when it would change it: the gauge still reads the count of the instance that last ran a call, as when
 * every call set it, without a metric update per call.
 */
const lastGauge: { value: number; labels: ReadonlyArray<MetricLabel.MetricLabel> | undefined } = {
  value: Number.NaN,
  labels: undefined
}

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
 * - `status(key)`, `overall`: see {@link KeyStatus}, {@link OverallStatus}.
 * - `changes`: a `Stream` of {@link StateChange}s from the moment it is run; `subscribe` gives a queue
 *   subscribed at once (deterministic in tests).
 * - `reset(key)` / `trip(key)`: force a breaker closed / open.
 * - `snapshot` / `restore`: the breakers as {@link CircuitBreaker.Snapshot}s, to survive restarts.
 *
 * @since 0.1.0
 */
export class Protection extends Context.Tag("@bootstrap-cache/node/Protection")<Protection, {
  readonly execute: <A, E, R>(key: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | ProtectionRejection, R>
  readonly status: (key: string) => Effect.Effect<KeyStatus>
  readonly overall: Effect.Effect<OverallStatus>
  readonly changes: Stream.Stream<StateChange>
  readonly subscribe: Effect.Effect<Queue.Dequeue<StateChange>, never, Scope.Scope>
  readonly reset: (key: string) => Effect.Effect<void>
  readonly trip: (key: string) => Effect.Effect<void>
  readonly snapshot: Effect.Effect<ReadonlyArray<readonly [key: string, snapshot: CircuitBreaker.Snapshot]>>
  readonly restore: (entries: Iterable<readonly [key: string, snapshot: CircuitBreaker.Snapshot]>) => Effect.Effect<void>
}>() {}

/**
 * `effect` run under the protection of `key` (the {@link Protection} service's `execute`), in both call
 * styles: `protect(effect, key)` and `effect.pipe(protect(key))`.
 *
 * @since 0.1.0
 */
export const protect: {
  (key: string): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | ProtectionRejection, R | Protection>
  <A, E, R>(effect: Effect.Effect<A, E, R>, key: string): Effect.Effect<A, E | ProtectionRejection, R | Protection>
} = dual(
  2,
  <A, E, R>(effect: Effect.Effect<A, E, R>, key: string) => Effect.flatMap(Protection, (p) => p.execute(key, effect))
)

class Entry {
  inFlight = 0
  /** Set when removed from the table: a result arriving later belongs to nobody. */
  evicted = false
  constructor(
    public breaker: CircuitBreaker.CircuitBreaker<unknown>,
    public health: Health.Health,
    public recovery: Recovery.Recovery | undefined,
    public lastUsed: number
  ) {}
}

class Ticket {
  constructor(
    readonly key: string,
    readonly entry: Entry,
    readonly generation: number,
    readonly epoch: number | undefined,
    readonly startedAt: number
  ) {}
}

/**
 * The draw passed to the state machines on paths where no decision reads one: a closed breaker without
 * a recovery ramp admitting a call, or completing a success or exclusion (see `execute`).
 */
const unusedDraw = 0.5

/**
 * `matchCauseEffect` handlers from two functions. The functions are written as arguments, where the
 * `keepNames` transform of esbuild (tsx) does not wrap them in a per-call `Object.defineProperty`.
 */
const handlers = <A, E, B, E2, R2, C, E3, R3>(
  onSuccess: (a: A) => Effect.Effect<B, E2, R2>,
  onFailure: (cause: Cause.Cause<E>) => Effect.Effect<C, E3, R3>
) => ({ onSuccess, onFailure })

const phaseOf = (breaker: CircuitBreaker.CircuitBreaker<unknown>, recovery: Recovery.Recovery | undefined): Phase =>
  breaker.state === "closed" && recovery !== undefined && recovery.phase === "ramping" ? "recovering" : breaker.state

const notClosed = (phase: Phase) => phase === "open" || phase === "half-open"

const toMs = (input: Duration.DurationInput) => Duration.toMillis(Duration.decode(input))

/**
 * Builds the service in a scope (the change hub is shut down with it). See {@link ProtectionOptions}.
 *
 * @since 0.1.0
 */
export const make = (options: ProtectionOptions = {}): Effect.Effect<Context.Tag.Service<Protection>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const breakerConfig = CircuitBreaker.makeConfig<unknown>(options.breaker ?? defaults.breaker)
    const healthConfig = Health.makeConfig(options.health)
    const recoveryConfig = options.recovery === false ? undefined : Recovery.makeConfig(options.recovery)
    const idleMs = options.idleTimeout === undefined ? defaults.idleTimeoutMs : Math.max(0, toMs(options.idleTimeout))
    const maxKeys = Math.max(1, Math.floor(options.maxKeys ?? defaults.maxKeys))
    const hub = yield* Effect.acquireRelease(
      PubSub.sliding<StateChange>(Math.max(1, options.changesCapacity ?? defaults.changesCapacity)),
      PubSub.shutdown
    )

    const entries = new Map<string, Entry>()
    let notClosedCount = 0

    // All bookkeeping below is synchronous (inside Effect.sync): JavaScript runs it without interleaving,
    // so each read-modify-write of an entry is atomic without a lock.

    const fresh = (now: number) =>
      new Entry(CircuitBreaker.make(breakerConfig, now), Health.make(healthConfig), undefined, now)

    const setPhase = (key: string, entry: Entry, from: Phase, now: number, changes: Array<StateChange>) => {
      const to = phaseOf(entry.breaker, entry.recovery)
      if (to === from) return
      if (notClosed(to) !== notClosed(from)) notClosedCount += notClosed(to) ? 1 : -1
      changes.push({ key, from, to, at: now, generation: entry.breaker.generation })
    }

    /** Applies the breaker's and the ramp's own transitions, recording phase changes. */
    const settle = (key: string, entry: Entry, from: Phase, now: number, draw: number, changes: Array<StateChange>) => {
      entry.breaker = CircuitBreaker.advance(entry.breaker, now)
      if (entry.breaker.state !== "closed") entry.recovery = undefined
      else if (entry.recovery !== undefined) {
        entry.recovery = Recovery.advance(entry.recovery, now)
        if (entry.recovery.phase === "failed") {
          entry.breaker = CircuitBreaker.reopen(entry.breaker, now, draw)
          entry.recovery = undefined
        } else if (entry.recovery.phase === "complete") entry.recovery = undefined
      }
      setPhase(key, entry, from, now, changes)
    }

    const evict = (key: string, entry: Entry) => {
      entries.delete(key)
      entry.evicted = true
      if (notClosed(phaseOf(entry.breaker, entry.recovery))) notClosedCount--
    }

    // Sweeping looks at the least recently used end and stops at the first entry it may not evict. Until
    // that entry (`sweepHead`) is idle, or moves, or the table overflows, a sweep would stop there again:
    // `sweepAt` (epoch ms) skips those sweeps.
    let sweepAt = Number.NEGATIVE_INFINITY
    let sweepHead: Entry | undefined

    /** Bounded, amortised O(1) eviction from the least recently used end. */
    const sweep = (now: number) => {
      let budget = 64
      for (const [key, entry] of entries) {
        if (budget-- <= 0) {
          sweepAt = Number.NEGATIVE_INFINITY // more may be due: go on at the next call
          return
        }
        const overflow = entries.size > maxKeys
        const idle = now - entry.lastUsed >= idleMs
        if (!overflow && !idle) {
          sweepHead = entry
          sweepAt = entry.lastUsed + idleMs
          return
        }
        // An open or half-open breaker is a dead peer's memory (its backoff streak): idleness alone
        // does not evict it, only overflow does.
        const guarded = entry.inFlight > 0 ||
          (!overflow && CircuitBreaker.stateAt(entry.breaker, now) !== "closed")
        if (guarded) {
          entries.delete(key)
          entries.set(key, entry)
          newest = entry
          continue
        }
        evict(key, entry)
      }
      sweepHead = undefined
      sweepAt = Number.NEGATIVE_INFINITY
    }

    /** The most recently inserted entry (the Map's last), which a touch need not move. */
    let newest: Entry | undefined

    const touch = (key: string, now: number, known: Entry | undefined = entries.get(key)): Entry => {
      let entry = known
      if (entry === undefined) {
        entry = fresh(now)
        entries.set(key, entry)
        newest = entry
      } else if (entry !== newest) {
        entries.delete(key)
        entries.set(key, entry)
        newest = entry
        if (entry === sweepHead) sweepAt = Number.NEGATIVE_INFINITY // the head moved: look again
      }
      entry.lastUsed = now
      return entry
    }

    /** Writes the open-breakers gauge if this instance's count is not what it last read. */
    const syncGauge = (labels: ReadonlyArray<MetricLabel.MetricLabel>) => {
      if (lastGauge.value !== notClosedCount || lastGauge.labels !== labels) {
        lastGauge.value = notClosedCount
        lastGauge.labels = labels
        metrics.openBreakers.unsafeUpdate(notClosedCount, labels)
      }
    }

    /** Phase changes to the hub and the debug log (only run when there are some). */
    const announce = (changes: ReadonlyArray<StateChange>) =>
      Effect.zipRight(
        PubSub.publishAll(hub, changes),
        Effect.forEach(changes, (c) =>
          Effect.logDebug("circuit phase change").pipe(
            Effect.annotateLogs({ key: c.key, from: c.from, to: c.to, generation: c.generation })
          ), { discard: true })
      )

    /** The gauge, then `changes` announced. */
    const publish = (changes: ReadonlyArray<StateChange>) =>
      Effect.withFiberRuntime<void>((fiber) => {
        syncGauge(fiber.getFiberRef(FiberRef.currentMetricLabels))
        return changes.length === 0 ? Effect.void : announce(changes)
      })

    /** Phase changes of the current synchronous step (everything between two Effect steps is atomic). */
    let pending: Array<StateChange> = []
    const takePending = (): ReadonlyArray<StateChange> => {
      const changes = pending
      pending = []
      return changes
    }

    const admit = (
      key: string,
      known: Entry | undefined,
      now: number,
      draw: number,
      changes: Array<StateChange>
    ): Ticket | ProtectionRejection => {
      const entry = touch(key, now, known)
      if (now >= sweepAt || entries.size > maxKeys) sweep(now)
      if (entry.recovery !== undefined || entry.breaker.expiresAt !== null) {
        settle(key, entry, phaseOf(entry.breaker, entry.recovery), now, draw, changes)
      }
      let epoch: number | undefined
      if (entry.recovery !== undefined && entry.breaker.state === "closed") {
        const ramp = Recovery.admit(entry.recovery, now, draw)
        entry.recovery = ramp.recovery
        if (!ramp.admitted) {
          return new CircuitThrottledError({ key, state: "recovering", retryAfterMs: ramp.retryAfterMs, rate: ramp.rate })
        }
        epoch = ramp.epoch
      }
      const from = phaseOf(entry.breaker, entry.recovery)
      const a = CircuitBreaker.beforeRequest(entry.breaker, now)
      entry.breaker = a.breaker
      setPhase(key, entry, from, now, changes)
      if (!a.admitted) {
        const state = phaseOf(a.breaker, entry.recovery)
        return a.reason === "open"
          ? new CircuitOpenError({ key, state, retryAfterMs: a.retryAfterMs })
          : new CircuitTooManyRequestsError({ key, state, retryAfterMs: a.retryAfterMs })
      }
      entry.inFlight++
      return new Ticket(key, entry, a.generation, epoch, now)
    }

    const outcomeOf = <A, E>(exit: Exit.Exit<A, E>, durationMs: number): CircuitBreaker.Outcome<unknown> => {
      if (Exit.isSuccess(exit)) return CircuitBreaker.Outcome.success(durationMs)
      if (Cause.isInterruptedOnly(exit.cause)) return CircuitBreaker.Outcome.interrupted(durationMs)
      const failure = Cause.failureOption(exit.cause)
      return CircuitBreaker.Outcome.failure(
        failure._tag === "Some" ? failure.value : Cause.squash(exit.cause),
        durationMs
      )
    }

    const complete = (
      ticket: Ticket,
      outcome: CircuitBreaker.Outcome<unknown>,
      kind: CircuitBreaker.Classification,
      now: number,
      draw: number,
      changes: Array<StateChange>
    ): void => {
      const { entry, key } = ticket
      entry.inFlight = Math.max(0, entry.inFlight - 1)
      entry.lastUsed = now
      if (entry.evicted) return // evicted meanwhile: the result belongs to nobody
      if (kind !== "excluded") {
        entry.health = Health.record(entry.health, { ok: kind === "success", latencyMs: now - ticket.startedAt }, now)
      }
      if (entry.recovery !== undefined || entry.breaker.expiresAt !== null) {
        settle(key, entry, phaseOf(entry.breaker, entry.recovery), now, draw, changes)
      }
      const settled = phaseOf(entry.breaker, entry.recovery)
      const prior = entry.breaker
      entry.breaker = CircuitBreaker.onResult(prior, ticket.generation, outcome, now, draw)
      if (entry.breaker.state === "closed" && prior.state === "half-open" && recoveryConfig !== undefined) {
        entry.recovery = Recovery.start(recoveryConfig, entry.breaker.generation, now)
      } else if (entry.breaker.state !== "closed") {
        // tripped by readyToTrip while ramping: the breaker never recovered, its backoff streak goes on
        if (prior.state === "closed" && entry.recovery !== undefined) {
          entry.breaker = CircuitBreaker.reopen(prior, now, draw)
        }
        entry.recovery = undefined
      } else if (entry.recovery !== undefined && ticket.epoch !== undefined) {
        entry.recovery = Recovery.onResult(entry.recovery, ticket.epoch, kind === "slow" ? "failure" : kind, now)
        if (entry.recovery.phase === "failed") {
          entry.breaker = CircuitBreaker.reopen(entry.breaker, now, draw)
          entry.recovery = undefined
        } else if (entry.recovery.phase === "complete") entry.recovery = undefined
      }
      setPhase(key, entry, settled, now, changes)
    }

    /**
     * Records the completion of `ticket` with `draw`, then hands back the call's own `exit`. `known` is
     * the classification when computed in this same synchronous step (else it is computed here).
     */
    const settleCall = <A, E>(
      ticket: Ticket,
      outcome: CircuitBreaker.Outcome<unknown>,
      known: CircuitBreaker.Classification | undefined,
      end: number,
      labels: ReadonlyArray<MetricLabel.MetricLabel>,
      exit: Exit.Exit<A, E>,
      draw: number
    ): Effect.Effect<A, E> => {
      const kind = known ?? CircuitBreaker.classify(CircuitBreaker.advance(ticket.entry.breaker, end), outcome)
      complete(ticket, outcome, kind, end, draw, pending)
      syncGauge(labels)
      if (kind === "success") metrics.successes.unsafeUpdate(1, labels)
      else if (kind !== "excluded") metrics.failures.unsafeUpdate(1, labels)
      return pending.length === 0 ? exit : Effect.zipRight(announce(takePending()), exit)
    }

    /**
     * Completes an admitted call with its `exit`, then returns that exit. Synchronous unless a decision
     * needs a draw from `Random`: a counted failure (it may trip the breaker, whose open period is
     * jittered) or a call under a recovery ramp (the ramp may fail and trip it).
     */
    const finish = <A, E>(
      ticket: Ticket,
      clock: Clock.Clock,
      labels: ReadonlyArray<MetricLabel.MetricLabel>,
      exit: Exit.Exit<A, E>
    ): Effect.Effect<A, E> => {
      const end = clock.unsafeCurrentTimeMillis()
      const outcome = outcomeOf(exit, end - ticket.startedAt)
      const entry = ticket.entry
      const kind = CircuitBreaker.classify(CircuitBreaker.advance(entry.breaker, end), outcome)
      const needsDraw = (kind !== "success" && kind !== "excluded") || entry.recovery !== undefined
      return needsDraw
        ? Effect.flatMap(Random.next, (draw) => settleCall(ticket, outcome, undefined, end, labels, exit, draw))
        : settleCall(ticket, outcome, kind, end, labels, exit, unusedDraw)
    }

    /** Admits a call of `key` with `draw` and runs it (`restore`d to the caller's interruptibility), or rejects it. */
    const begin = <A, E, R>(
      fiber: Fiber.RuntimeFiber<A, E | ProtectionRejection>,
      restore: <AX, EX, RX>(effect: Effect.Effect<AX, EX, RX>) => Effect.Effect<AX, EX, RX>,
      key: string,
      effect: Effect.Effect<A, E, R>,
      known: Entry | undefined,
      draw: number
    ): Effect.Effect<A, E | ProtectionRejection, R> => {
      const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
      const labels = fiber.getFiberRef(FiberRef.currentMetricLabels)
      const admission = admit(key, known, clock.unsafeCurrentTimeMillis(), draw, pending)
      syncGauge(labels)
      let next: Effect.Effect<A, E | ProtectionRejection, R>
      if (admission instanceof Ticket) {
        metrics.calls.unsafeUpdate(1, labels)
        next = Effect.matchCauseEffect(
          restore(effect),
          handlers(
            (a: A) => finish(admission, clock, labels, Exit.succeed(a)),
            (cause: Cause.Cause<E>) => finish(admission, clock, labels, Exit.failCause(cause))
          )
        )
      } else {
        const reason = admission._tag === "CircuitOpenError"
          ? "open"
          : admission._tag === "CircuitTooManyRequestsError"
          ? "too-many-requests"
          : "throttled"
        rejectionMetric[reason].unsafeUpdate(1, labels)
        next = Effect.fail(admission)
      }
      return pending.length === 0 ? next : Effect.zipRight(announce(takePending()), next)
    }

    /**
     * The hot path, in one synchronous step to admit and one to complete: time comes from the fiber's
     * `Clock` service (`unsafeCurrentTimeMillis`, which `TestClock` implements), metrics are updated with
     * `unsafeUpdate` and the fiber's metric labels, and `Random` is asked for a draw only when a decision
     * reads it (a recovery ramp admitting, a breaker that may trip). Admission and the handler that
     * completes the call are installed uninterruptibly, so an admitted call always releases its slot.
     */
    const execute = <A, E, R>(key: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | ProtectionRejection, R> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.withFiberRuntime<A, E | ProtectionRejection, R>((fiber) => {
          const known = entries.get(key)
          // a recovery ramp admits with a draw (and may fail, tripping the breaker with one); the entry
          // is looked up again after the draw, another fiber may have run meanwhile
          return known === undefined || known.recovery === undefined
            ? begin(fiber, restore, key, effect, known, unusedDraw)
            : Effect.flatMap(Random.next, (draw) => begin(fiber, restore, key, effect, entries.get(key), draw))
        })
      )

    const statusAt = (key: string, now: number): KeyStatus => {
      const entry = entries.get(key)
      const breaker = CircuitBreaker.advance(entry?.breaker ?? CircuitBreaker.make(breakerConfig, now), now)
      let recovery = entry?.recovery
      if (breaker.state !== "closed") recovery = undefined
      else if (recovery !== undefined) recovery = Recovery.advance(recovery, now)
      const ramping = recovery !== undefined && recovery.phase === "ramping" ? recovery : undefined
      return {
        key,
        tracked: entry !== undefined,
        phase: phaseOf(breaker, ramping),
        state: breaker.state,
        generation: breaker.generation,
        counts: breaker.counts,
        trips: breaker.trips,
        retryAfterMs: CircuitBreaker.retryAfterMs(breaker, now),
        slowCallThresholdMs: CircuitBreaker.slowCallThresholdMs(breaker),
        health: Health.report(entry?.health ?? Health.make(healthConfig), now),
        recovery: ramping === undefined ? undefined : {
          rate: Recovery.rateAt(ramping, now),
          progress: Recovery.progress(ramping),
          successes: ramping.successes,
          failures: ramping.failures,
          admitted: ramping.admitted,
          throttled: ramping.throttled,
          startedAt: ramping.startedAt
        }
      }
    }

    const status = (key: string) => Effect.map(Clock.currentTimeMillis, (now) => statusAt(key, now))

    const overall = Effect.map(Clock.currentTimeMillis, (now): OverallStatus => {
      const byPhase: Record<Phase, number> = { closed: 0, recovering: 0, "half-open": 0, open: 0 }
      const byHealth: Record<Health.Status, number> = { HEALTHY: 0, DEGRADED: 0, UNHEALTHY: 0, UNKNOWN: 0 }
      for (const key of entries.keys()) {
        const s = statusAt(key, now)
        byPhase[s.phase]++
        byHealth[s.health.status]++
      }
      return { keys: entries.size, byPhase, byHealth }
    })

    const manual = (key: string, f: (b: CircuitBreaker.CircuitBreaker<unknown>, now: number, draw: number) => CircuitBreaker.CircuitBreaker<unknown>) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const draw = yield* Random.next
        const changes: Array<StateChange> = []
        const entry = touch(key, now)
        const from = phaseOf(entry.breaker, entry.recovery)
        entry.breaker = f(entry.breaker, now, draw)
        entry.recovery = undefined
        setPhase(key, entry, from, now, changes)
        yield* publish(changes)
      })

    const snapshot = Effect.sync(() =>
      Array.from(entries, ([key, entry]) => [key, CircuitBreaker.toSnapshot(entry.breaker)] as const)
    )

    const restoreAll = (list: Iterable<readonly [string, CircuitBreaker.Snapshot]>) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const changes: Array<StateChange> = []
        for (const [key, snap] of list) {
          const entry = touch(key, now)
          const from = phaseOf(entry.breaker, entry.recovery)
          entry.breaker = CircuitBreaker.fromSnapshot(breakerConfig, snap)
          entry.recovery = undefined
          setPhase(key, entry, from, now, changes)
        }
        yield* publish(changes)
      })

    return Protection.of({
      execute,
      status,
      overall,
      changes: Stream.fromPubSub(hub),
      subscribe: PubSub.subscribe(hub),
      reset: (key) => manual(key, (b, now) => CircuitBreaker.reset(b, now)),
      trip: (key) => manual(key, (b, now, draw) => CircuitBreaker.trip(b, now, draw)),
      snapshot,
      restore: restoreAll
    })
  })

/**
 * The {@link Protection} service as a Layer (scoped: its change hub closes with the Layer).
 *
 * @since 0.1.0
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
 */
export const layerConfig = (config: Config.Config.Wrap<ProtectionOptions>): Layer.Layer<Protection, ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
