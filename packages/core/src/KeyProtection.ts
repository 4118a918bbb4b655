/**
 * One key's protection as a pure step: a {@link CircuitBreaker}, a {@link Health} window and a
 * {@link Recovery} ramp composed into one immutable value. {@link admit} decides whether a call may
 * start; {@link complete} records how it ended. Time (`now`, epoch ms) and randomness (`draw`, uniform
 * in [0, 1)) arrive as arguments, so a sequence of steps is reproducible.
 *
 * The `Protection` service of `@bootstrap-cache/node` keeps one of these per key and adds the clock,
 * the random draws, metrics and the change stream.
 *
 * @since 0.1.0
 */
import { dual } from "effect/Function"
import type { Pipeable } from "effect/Pipeable"
import * as Schema from "effect/Schema"
import * as CircuitBreaker from "./CircuitBreaker.js"
import * as Health from "./Health.js"
import * as Recovery from "./Recovery.js"
import * as data from "./internal/keyProtectionData.js"
import * as step from "./internal/keyProtectionStep.js"

// ---------------------------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------------------------

/**
 * The visible phase of a key: the breaker state, plus `"recovering"` for a closed breaker whose
 * recovery ramp still throttles traffic.
 *
 * @since 0.1.0
 * @category models
 */
export const Phase = Schema.Literal("closed", "recovering", "half-open", "open")

/** @since 0.1.0 */
export type Phase = typeof Phase.Type

/**
 * Options for {@link makeConfig}: the policies of the three state machines. `recovery: false` turns
 * the ramp (and its cooldown) off.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<E = unknown> {
  readonly breaker?: CircuitBreaker.Options<E> | undefined
  readonly health?: Health.Options | undefined
  readonly recovery?: Recovery.Options | false | undefined
}

/**
 * Resolved {@link Options}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Config<E = unknown> {
  readonly breaker: CircuitBreaker.Config<E>
  readonly health: Health.Config
  readonly recovery: Recovery.Config | undefined
}

/**
 * Resolves {@link Options} with each module's defaults.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeConfig = <E = unknown>(options: Options<E> = {}): Config<E> => ({
  breaker: CircuitBreaker.makeConfig(options.breaker),
  health: Health.makeConfig(options.health),
  recovery: options.recovery === false ? undefined : Recovery.makeConfig(options.recovery)
})

/**
 * One key's state:
 * - `breaker`: the circuit breaker;
 * - `health`: the window of recent outcomes (exclusions are not recorded);
 * - `recovery`: the ramp running after the breaker closed, `undefined` when none runs;
 * - `cooldownUntil` (epoch ms, 0 for none): the end of the recovery cooldown; until then the breaker
 *   is held open, so no new recovery can start.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyProtection<E = unknown> extends Pipeable {
  readonly config: Config<E>
  readonly breaker: CircuitBreaker.CircuitBreaker<E>
  readonly health: Health.Health
  readonly recovery: Recovery.Recovery | undefined
  readonly cooldownUntil: number
}

const isKeyProtection = (u: unknown): u is KeyProtection<unknown> => u instanceof data.KeyProtectionImpl

/**
 * A fresh key at `now` (epoch ms): closed breaker, empty health window, no ramp. Accepts
 * {@link Options} or a resolved {@link Config}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E = unknown>(options: Options<E> | Config<E>, now: number): KeyProtection<E> => {
  const config = isConfig(options) ? options : makeConfig(options)
  return data.make(config, CircuitBreaker.make(config.breaker, now), Health.make(config.health), undefined, 0)
}

const isConfig = <E>(u: Options<E> | Config<E>): u is Config<E> =>
  u.breaker !== undefined && typeof (u.breaker as CircuitBreaker.Config<E>).timeoutMs === "number" &&
  u.health !== undefined && typeof (u.health as Health.Config).windowCalls === "number"

/**
 * The phase of the state as it is (without applying lazy transitions; see {@link phaseAt}).
 *
 * @since 0.1.0
 * @category getters
 */
export const phase: <E>(self: KeyProtection<E>) => Phase = data.phase

// ---------------------------------------------------------------------------------------------------
// Steps
// ---------------------------------------------------------------------------------------------------

/**
 * An admitted call: run it, then hand this back to {@link complete}. `generation` is the breaker
 * generation, `epoch` the ramp epoch (`undefined` without a ramp), `startedAt` epoch ms.
 *
 * @since 0.1.0
 * @category models
 */
export interface Ticket {
  readonly generation: number
  readonly epoch: number | undefined
  readonly startedAt: number
}

/**
 * Why a call was not run: `"open"` (gobreaker `ErrOpenState`), `"too-many-requests"` (half-open with
 * all probe slots taken, gobreaker `ErrTooManyRequests`), `"throttled"` (outside the recovery ramp's
 * admitted share; not a failure of the peer).
 *
 * @since 0.1.0
 * @category models
 */
export type Reason = "open" | "too-many-requests" | "throttled"

/**
 * The answer of {@link admit}; in both cases `state` is the new state to keep.
 *
 * - `Admitted`: the answer is itself the {@link Ticket} of the call;
 * - `Rejected`: `reason`, the `phase` at rejection, `retryAfterMs` (ms until the breaker turns
 *   half-open, the probe hint, or the ramp's next step) and `rate` (the ramp's admitted share in
 *   [0, 1]; 0 unless throttled).
 *
 * @since 0.1.0
 * @category models
 */
export type Admission<E = unknown> =
  | {
    readonly _tag: "Admitted"
    readonly state: KeyProtection<E>
    readonly generation: number
    readonly epoch: number | undefined
    readonly startedAt: number
  }
  | {
    readonly _tag: "Rejected"
    readonly state: KeyProtection<E>
    readonly reason: Reason
    readonly phase: Phase
    readonly retryAfterMs: number
    readonly rate: number
  }

/**
 * Whether {@link admit} reads its `draw` for this state: only while a recovery ramp runs (its share is
 * drawn against, and its time limit may reopen the breaker with a jittered period). A caller can skip
 * drawing a random number otherwise.
 *
 * @since 0.1.0
 * @category predicates
 */
export const admitReadsDraw = <E>(self: KeyProtection<E>): boolean => self.recovery !== undefined

/**
 * Asks to start a call at `now`. Applies the lazy transitions, then the ramp (admitted iff
 * `draw < share`, Recovery), then the breaker (gobreaker `beforeRequest`). `draw` is uniform in
 * [0, 1); see {@link admitReadsDraw} for when it is read.
 *
 * @since 0.1.0
 * @category steps
 */
export const admit: {
  (now: number, draw: number): <E>(self: KeyProtection<E>) => Admission<E>
  <E>(self: KeyProtection<E>, now: number, draw: number): Admission<E>
} = function(this: unknown, self: any, now: any, draw?: any) {
  // `dual(3, …)` written out: a data-first call reaches the step without `apply` over `arguments`
  return arguments.length >= 3 ? step.admitStep(self, now, draw) : (s: KeyProtection<unknown>) => step.admitStep(s, self, now)
} as any

/**
 * How `outcome` counts for this key at `now` (see `CircuitBreaker.classify`).
 *
 * @since 0.1.0
 * @category getters
 */
export const classify: <E>(self: KeyProtection<E>, outcome: CircuitBreaker.Outcome<E>, now: number) => CircuitBreaker.Classification =
  step.classify

/**
 * Whether {@link complete} reads its `draw` for a result of this classification: a counted failure
 * (it may trip the breaker, whose open period is jittered) or any result while a ramp runs.
 *
 * @since 0.1.0
 * @category predicates
 */
export const completeReadsDraw = <E>(self: KeyProtection<E>, kind: CircuitBreaker.Classification): boolean =>
  (kind !== "success" && kind !== "excluded") || self.recovery !== undefined

/**
 * The answer of {@link complete}: the new `state` and how the result was counted (`kind`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Completion<E = unknown> {
  readonly state: KeyProtection<E>
  readonly kind: CircuitBreaker.Classification
}

/**
 * Records the end of the call admitted with `ticket`, at `now`.
 *
 * - health: the result (not an exclusion) with latency `now − startedAt`;
 * - breaker: gobreaker `afterRequest` (a stale generation changes nothing);
 * - half-open → closed starts a recovery ramp (unless recovery is off);
 * - during a ramp: results count towards S or F (a slow call is a failure); a failed ramp, or a trip
 *   while ramping, reopens with `CircuitBreaker.reopen` (the backoff streak goes on);
 * - a ramp that ends, complete or failed, starts the cooldown: every open period before its end is
 *   stretched to it (`CircuitBreaker.holdOpenUntil`), so the effective open period is
 *   `max(open-backoff period, cooldown left)`.
 *
 * `draw` (uniform in [0, 1)) jitters an open period when this result opens the breaker; see
 * {@link completeReadsDraw} for when it is read.
 *
 * @since 0.1.0
 * @category steps
 */
export const complete: {
  <E>(ticket: Ticket, outcome: CircuitBreaker.Outcome<E>, now: number, draw: number): (self: KeyProtection<E>) => Completion<E>
  <E>(self: KeyProtection<E>, ticket: Ticket, outcome: CircuitBreaker.Outcome<NoInfer<E>>, now: number, draw: number): Completion<E>
} = function(this: unknown, self: any, ticket: any, outcome: any, now: any, draw?: any) {
  // `dual(5, …)` written out, as for `admit`
  return arguments.length >= 5
    ? step.completeStep(self, ticket, outcome, now, draw)
    : (s: KeyProtection<unknown>) => step.completeStep(s, self, ticket, outcome, now)
} as any

/**
 * When a key is steady, and what keeps it so. A key is steady while its breaker is closed, no ramp
 * runs and the slow-call rule does not tune itself; then, until the epoch ms `until` (the breaker's
 * interval end; `Infinity` without an interval), an admission only counts a request and a success of
 * at most `maxLatencyMs` (ms; the slow-call threshold, `Infinity` without the rule) of a call admitted
 * in `generation` only counts a success and adds a health sample: no phase, deadline or generation
 * changes. A caller may then count those calls itself and hand them over with {@link applySteady}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Steady {
  readonly until: number
  readonly maxLatencyMs: number
  readonly generation: number
}

/**
 * The {@link Steady} condition of this state, or `undefined` when every call must go through
 * {@link admit} and {@link complete} (a breaker not closed, a running ramp, an auto-tuned slow-call rule).
 *
 * @since 0.1.0
 * @category getters
 */
export const steady: <E>(self: KeyProtection<E>) => Steady | undefined = step.steady

/**
 * A steady run handed over at once: `admitted` admissions and `successes` successes, the i-th
 * completed at `at[i]` (epoch ms) after `latencyMs[i]` (ms). The same state as the {@link admit} and
 * {@link complete} steps of those calls one by one, in any interleaving of admissions and completions
 * with the completions in this order, provided {@link steady} of this state held for each: every step
 * before its `until`, every success within `maxLatencyMs` and admitted in its `generation`. The
 * `Protection` service of `@bootstrap-cache/node` counts a key's steady calls in a mutable cell this way
 * and reaches the full steps only for what may change more than counters.
 *
 * @since 0.1.0
 * @category steps
 */
export const applySteady: <E>(
  self: KeyProtection<E>,
  admitted: number,
  at: ArrayLike<number>,
  latencyMs: ArrayLike<number>,
  successes: number
) => KeyProtection<E> = step.applySteady

/**
 * Forces the breaker open at `now` (`CircuitBreaker.trip`), ending any ramp; the open period is held
 * to a running cooldown like any other.
 *
 * @since 0.1.0
 * @category steps
 */
export const trip: {
  (now: number, draw?: number): <E>(self: KeyProtection<E>) => KeyProtection<E>
  <E>(self: KeyProtection<E>, now: number, draw?: number): KeyProtection<E>
} = dual(
  (args) => isKeyProtection(args[0]),
  <E>(self: KeyProtection<E>, now: number, draw = 0.5): KeyProtection<E> =>
    data.make(
      self.config,
      CircuitBreaker.holdOpenUntil(CircuitBreaker.trip(self.breaker, now, draw), self.cooldownUntil),
      self.health,
      undefined,
      self.cooldownUntil
    )
)

/**
 * Forces the breaker closed at `now` (`CircuitBreaker.reset`), with no ramp and no cooldown (an
 * operator's decision overrides both). The health window is kept.
 *
 * @since 0.1.0
 * @category steps
 */
export const reset: {
  (now: number): <E>(self: KeyProtection<E>) => KeyProtection<E>
  <E>(self: KeyProtection<E>, now: number): KeyProtection<E>
} = dual(2, <E>(self: KeyProtection<E>, now: number): KeyProtection<E> =>
  data.make(self.config, CircuitBreaker.reset(self.breaker, now), self.health, undefined, 0))

// ---------------------------------------------------------------------------------------------------
// Observation
// ---------------------------------------------------------------------------------------------------

/**
 * The state as seen at `now`, without reporting anything: the breaker's lazy transitions applied, the
 * ramp dropped once it no longer throttles (timed out, or the breaker left closed). A ramp that timed
 * out reopens the breaker only on the next {@link admit} or {@link complete}, which draw its period.
 *
 * @since 0.1.0
 * @category getters
 */
export const at: {
  (now: number): <E>(self: KeyProtection<E>) => KeyProtection<E>
  <E>(self: KeyProtection<E>, now: number): KeyProtection<E>
} = dual(2, <E>(self: KeyProtection<E>, now: number): KeyProtection<E> => {
  const breaker = CircuitBreaker.advance(self.breaker, now)
  let recovery = breaker.state === "closed" && self.recovery !== undefined ? Recovery.advance(self.recovery, now) : undefined
  if (recovery !== undefined && recovery.phase !== "ramping") recovery = undefined
  return breaker === self.breaker && recovery === self.recovery
    ? self
    : data.make(self.config, breaker, self.health, recovery, self.cooldownUntil)
})

// ---------------------------------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------------------------------

/**
 * The serialisable state of a key: the breaker's {@link CircuitBreaker.Snapshot} fields, plus
 * - `health`: the samples of the health window (oldest first);
 * - `recovery`: the running ramp's `Recovery.Progress`;
 * - `cooldownUntil`: epoch ms, the end of the recovery cooldown;
 * - `savedAt`: epoch ms when the snapshot was taken. A ramp is paused while nobody runs it: restored at
 *   `now`, its `startedAt` moves by `now − savedAt`.
 *
 * The extra fields are optional, so a plain `CircuitBreaker.Snapshot` is a valid snapshot too (the key
 * comes back with an empty window and no ramp).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Snapshot = Schema.Struct({
  ...CircuitBreaker.SnapshotFields,
  health: Schema.optional(Schema.Array(Health.Sample)),
  recovery: Schema.optional(Recovery.Progress),
  cooldownUntil: Schema.optional(Schema.Number.pipe(Schema.finite())),
  savedAt: Schema.optional(Schema.Number.pipe(Schema.finite()))
}).pipe(Schema.filter(CircuitBreaker.openHasDeadline))

/** @since 0.1.0 */
export type Snapshot = typeof Snapshot.Type

/**
 * The state as a {@link Snapshot}, taken at `now` (epoch ms).
 *
 * @since 0.1.0
 * @category snapshots
 */
export const toSnapshot: {
  (now: number): <E>(self: KeyProtection<E>) => Snapshot
  <E>(self: KeyProtection<E>, now: number): Snapshot
} = dual(2, <E>(self: KeyProtection<E>, now: number): Snapshot => {
  const base = {
    ...CircuitBreaker.toSnapshot(self.breaker),
    health: Health.prune(self.health, now).samples,
    cooldownUntil: self.cooldownUntil,
    savedAt: now
  }
  return self.recovery === undefined ? base : { ...base, recovery: Recovery.toProgress(self.recovery) }
})

/**
 * Rebuilds a key from a {@link Snapshot} at `now` (epoch ms) with a configuration, which may differ
 * from the one it was saved with. The breaker follows `CircuitBreaker.fromSnapshot` (a half-open
 * breaker comes back open and due, its lost probes forgotten); the health window keeps its samples; a
 * ramp comes back only on a closed breaker with recovery on, with its clock paused for the time the
 * key was not running (`savedAt`).
 *
 * @since 0.1.0
 * @category snapshots
 */
export const fromSnapshot = <E = unknown>(options: Options<E> | Config<E>, snapshot: Snapshot, now: number): KeyProtection<E> => {
  const config = isConfig(options) ? options : makeConfig(options)
  const breaker = CircuitBreaker.fromSnapshot(config.breaker, snapshot)
  const health = snapshot.health === undefined ? Health.make(config.health) : Health.fromSamples(config.health, snapshot.health)
  const saved = snapshot.recovery
  const recovery = saved === undefined || saved.phase !== "ramping" || breaker.state !== "closed" || config.recovery === undefined
    ? undefined
    : Recovery.fromProgress(config.recovery, {
      ...saved,
      startedAt: saved.startedAt + Math.max(0, snapshot.savedAt === undefined ? 0 : now - snapshot.savedAt)
    })
  return data.make(config, breaker, health, recovery, snapshot.cooldownUntil ?? 0)
}
