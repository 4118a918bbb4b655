/**
 * Per-key protection against cascading failure: a circuit breaker, a health window and a recovery ramp
 * for every endpoint or peer, created on demand and evicted when idle.
 *
 * The state machines are the pure ones of `@bootstrap-cache/core` ({@link CircuitBreaker}, {@link Health},
 * {@link Recovery}); this service runs them with Effect's `Clock` (time, latency) and `Random` (jitter,
 * ramp admission), so `TestClock` and a seeded `Random` make every behaviour reproducible.
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
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
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
 * A phase change of one key, observed at `at` (epoch ms). Open → half-open is lazy, so it is reported
 * when a call first observes it. `generation` is the breaker generation after the change.
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
 * | `recovery`        | `Recovery` defaults (LINEAR from 10 %, +20 % every 10 s, S = 20, F = 3, 5 min); `false` turns it off |
 * | `idleTimeout`     | 10 min: keys without calls for this long are evicted (never an open breaker before its deadline) |
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

// ---------------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------------

/**
 * The protection service.
 *
 * - `execute(key, effect)`: runs `effect` under `key`'s breaker, health window and recovery ramp. Fails
 *   with a {@link ProtectionRejection} without running it when rejected; otherwise returns its result.
 *   Success → success; a failure is classified by the breaker's `isExcluded`/`isSuccessful`; a defect is
 *   a failure; an interruption is an exclusion (frees a half-open slot). Latency is measured with `Clock`.
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
  constructor(
    public breaker: CircuitBreaker.CircuitBreaker<unknown>,
    public health: Health.Health,
    public recovery: Recovery.Recovery | undefined,
    public lastUsed: number
  ) {}
}

interface Ticket {
  readonly key: string
  readonly entry: Entry
  readonly generation: number
  readonly epoch: number | undefined
  readonly startedAt: number
}

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
          entry.breaker = CircuitBreaker.trip(entry.breaker, now, draw)
          entry.recovery = undefined
        } else if (entry.recovery.phase === "complete") entry.recovery = undefined
      }
      setPhase(key, entry, from, now, changes)
    }

    const evict = (key: string, entry: Entry) => {
      entries.delete(key)
      if (notClosed(phaseOf(entry.breaker, entry.recovery))) notClosedCount--
    }

    /** Bounded, amortised O(1) eviction from the least recently used end. */
    const sweep = (now: number) => {
      let budget = 64
      for (const [key, entry] of entries) {
        if (budget-- <= 0) break
        const overflow = entries.size > maxKeys
        const idle = now - entry.lastUsed >= idleMs
        if (!overflow && !idle) break
        const guarded = entry.inFlight > 0 ||
          (!overflow && CircuitBreaker.stateAt(entry.breaker, now) === "open")
        if (guarded) {
          entries.delete(key)
          entries.set(key, entry)
          continue
        }
        evict(key, entry)
      }
    }

    const touch = (key: string, now: number): Entry => {
      let entry = entries.get(key)
      if (entry === undefined) entry = fresh(now)
      else entries.delete(key)
      entries.set(key, entry)
      entry.lastUsed = now
      return entry
    }

    const publish = (changes: ReadonlyArray<StateChange>) =>
      Effect.zipRight(
        changes.length === 0 ? Effect.void : Effect.zipRight(
          PubSub.publishAll(hub, changes),
          Effect.forEach(changes, (c) =>
            Effect.logDebug("circuit phase change").pipe(
              Effect.annotateLogs({ key: c.key, from: c.from, to: c.to, generation: c.generation })
            ), { discard: true })
        ),
        Effect.suspend(() => Metric.set(metrics.openBreakers, notClosedCount))
      )

    type Admission =
      | { readonly _tag: "Admitted"; readonly ticket: Ticket }
      | { readonly _tag: "Rejected"; readonly error: ProtectionRejection }

    const admit = (key: string, now: number, draw: number, changes: Array<StateChange>): Admission => {
      const entry = touch(key, now)
      sweep(now)
      settle(key, entry, phaseOf(entry.breaker, entry.recovery), now, draw, changes)
      let epoch: number | undefined
      if (entry.recovery !== undefined && entry.breaker.state === "closed") {
        const ramp = Recovery.admit(entry.recovery, now, draw)
        entry.recovery = ramp.recovery
        if (!ramp.admitted) {
          return {
            _tag: "Rejected",
            error: new CircuitThrottledError({ key, state: "recovering", retryAfterMs: ramp.retryAfterMs, rate: ramp.rate })
          }
        }
        epoch = ramp.epoch
      }
      const from = phaseOf(entry.breaker, entry.recovery)
      const a = CircuitBreaker.beforeRequest(entry.breaker, now)
      entry.breaker = a.breaker
      setPhase(key, entry, from, now, changes)
      if (!a.admitted) {
        const state = phaseOf(a.breaker, entry.recovery)
        return {
          _tag: "Rejected",
          error: a.reason === "open"
            ? new CircuitOpenError({ key, state, retryAfterMs: a.retryAfterMs })
            : new CircuitTooManyRequestsError({ key, state, retryAfterMs: a.retryAfterMs })
        }
      }
      entry.inFlight++
      return { _tag: "Admitted", ticket: { key, entry, generation: a.generation, epoch, startedAt: now } }
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
      now: number,
      draw: number,
      changes: Array<StateChange>
    ): CircuitBreaker.Classification => {
      const { entry, key } = ticket
      entry.inFlight = Math.max(0, entry.inFlight - 1)
      entry.lastUsed = now
      const kind = CircuitBreaker.classify(CircuitBreaker.advance(entry.breaker, now), outcome)
      if (entries.get(key) !== entry) return kind // evicted meanwhile: the result belongs to nobody
      if (kind !== "excluded") {
        entry.health = Health.record(entry.health, { ok: kind === "success", latencyMs: now - ticket.startedAt }, now)
      }
      const from = phaseOf(entry.breaker, entry.recovery)
      settle(key, entry, from, now, draw, changes)
      const settled = phaseOf(entry.breaker, entry.recovery)
      const before = entry.breaker.state
      entry.breaker = CircuitBreaker.onResult(entry.breaker, ticket.generation, outcome, now, draw)
      if (entry.breaker.state === "closed" && before === "half-open" && recoveryConfig !== undefined) {
        entry.recovery = Recovery.start(recoveryConfig, entry.breaker.generation, now)
      } else if (entry.breaker.state !== "closed") {
        entry.recovery = undefined
      } else if (entry.recovery !== undefined && ticket.epoch !== undefined) {
        entry.recovery = Recovery.onResult(entry.recovery, ticket.epoch, kind === "slow" ? "failure" : kind, now)
        if (entry.recovery.phase === "failed") {
          entry.breaker = CircuitBreaker.trip(entry.breaker, now, draw)
          entry.recovery = undefined
        } else if (entry.recovery.phase === "complete") entry.recovery = undefined
      }
      setPhase(key, entry, settled, now, changes)
      return kind
    }

    const execute = <A, E, R>(key: string, effect: Effect.Effect<A, E, R>) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const draw = yield* Random.next
          const changes: Array<StateChange> = []
          const admission = admit(key, now, draw, changes)
          yield* publish(changes)
          if (admission._tag === "Rejected") {
            const reason = admission.error._tag === "CircuitOpenError"
              ? "open"
              : admission.error._tag === "CircuitTooManyRequestsError"
              ? "too-many-requests"
              : "throttled"
            yield* Metric.increment(Metric.tagged(metrics.rejections, "reason", reason))
            return yield* Effect.fail(admission.error)
          }
          yield* Metric.increment(metrics.calls)
          const exit = yield* Effect.exit(restore(effect))
          const end = yield* Clock.currentTimeMillis
          const endDraw = yield* Random.next
          const done: Array<StateChange> = []
          const kind = complete(admission.ticket, outcomeOf(exit, end - now), end, endDraw, done)
          yield* publish(done)
          if (kind === "success") yield* Metric.increment(metrics.successes)
          else if (kind !== "excluded") yield* Metric.increment(metrics.failures)
          return yield* exit
        })
      ) as Effect.Effect<A, E | ProtectionRejection, R>

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
