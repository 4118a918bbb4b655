/**
 * The steps of a key: lazy transitions, admission and the record of a result, composing the breaker,
 * the health window and the recovery ramp.
 *
 * @internal
 */
import * as CircuitBreaker from "../CircuitBreaker.js"
import * as Health from "../Health.js"
import type { Admission, Completion, KeyProtection, Reason, Steady, Ticket } from "../KeyProtection.js"
import * as Recovery from "../Recovery.js"
import { countRequest } from "./breakerStep.js"
import { KeyProtectionImpl, make, phase, shapeOf } from "./keyProtectionData.js"

/** `KeyProtection.classify`. */
export const classify = <E>(self: KeyProtection<E>, outcome: CircuitBreaker.Outcome<E>, now: number): CircuitBreaker.Classification =>
  // a success is a success unless the slow-call rule is on (the common case, without the breaker's lookups)
  outcome._tag === "Success" && self.config.breaker.slowCallMs === undefined
    ? "success"
    : CircuitBreaker.classify(CircuitBreaker.advance(self.breaker, now), outcome)

const endCooldown = <E>(self: KeyProtection<E>, now: number) =>
  self.config.recovery === undefined ? self.cooldownUntil : now + self.config.recovery.cooldownMs

/** Reopens after a failed ramp: the backoff streak goes on, and the cooldown holds the breaker open. */
const failRamp = <E>(
  self: KeyProtection<E>,
  health: Health.Health,
  breaker: CircuitBreaker.CircuitBreaker<E>,
  now: number,
  draw: number
) => {
  const cooldownUntil = endCooldown(self, now)
  const reopened = CircuitBreaker.holdOpenUntil(CircuitBreaker.reopen(breaker, now, draw), cooldownUntil)
  return make(self.config, reopened, health, undefined, cooldownUntil)
}

/** The lazy transitions at `now`: the breaker's deadlines and the ramp's time limit. */
export const settle = <E>(self: KeyProtection<E>, now: number, draw: number): KeyProtection<E> => {
  // the common case: no deadline on the breaker (closed without interval), no ramp
  const shape = shapeOf(self)
  if (self.recovery === undefined && (shape.expiresAt === null || now < shape.expiresAt)) return self
  const breaker = CircuitBreaker.advance(self.breaker, now)
  const recovery = self.recovery
  if (recovery === undefined) {
    return breaker === self.breaker ? self : make(self.config, breaker, self.health, undefined, self.cooldownUntil)
  }
  if (breaker.state !== "closed") {
    return make(self.config, breaker, self.health, undefined, self.cooldownUntil)
  }
  const ramp = Recovery.advance(recovery, now)
  if (ramp.phase === "failed") return failRamp(self, self.health, breaker, now, draw)
  return breaker === self.breaker && ramp === recovery
    ? self
    : make(self.config, breaker, self.health, ramp, self.cooldownUntil)
}

const rejected = <E>(state: KeyProtection<E>, reason: Reason, retryAfterMs: number, rate: number): Admission<E> => ({
  _tag: "Rejected",
  state,
  reason,
  phase: phase(state),
  retryAfterMs,
  rate
})

/**
 * The breaker of `self` when a step at `now` finds it steady: closed, before its deadline, no ramp
 * (then an admission only counts a request, and a success of its generation that is not slow only
 * counts a success and a health sample); `undefined` otherwise.
 */
const steadyAt = <E>(self: KeyProtection<E>, now: number): CircuitBreaker.CircuitBreaker<E> | undefined => {
  if (self.recovery !== undefined || !(self instanceof KeyProtectionImpl)) return undefined
  const base = self.base
  return base.state === "closed" && (base.expiresAt === null || now < base.expiresAt) ? base : undefined
}

/** An admission: the answer is the call's ticket. */
class Admitted<E> {
  declare readonly _tag: "Admitted"
  declare readonly state: KeyProtection<E>
  declare readonly generation: number
  declare readonly epoch: number | undefined
  declare readonly startedAt: number
  constructor(state: KeyProtection<E>, generation: number, epoch: number | undefined, startedAt: number) {
    const self = this as { -readonly [K in keyof Admitted<E>]: Admitted<E>[K] }
    self._tag = "Admitted"
    self.state = state
    self.generation = generation
    self.epoch = epoch
    self.startedAt = startedAt
  }
}

/**
 * `KeyProtection.admit`. A steady state only counts the request on top of its breaker (what
 * {@link admitPlain} gives, without building a breaker).
 */
export const admitStep = <E>(self: KeyProtection<E>, now: number, draw: number): Admission<E> => {
  const base = steadyAt(self, now)
  if (base === undefined) return admitPlain(self, now, draw)
  const s = self as KeyProtectionImpl<E>
  const state = new KeyProtectionImpl(s.config, base, s.health, undefined, s.cooldownUntil, s.addedRequests + 1, s.addedSuccesses)
  return new Admitted(state, base.generation, undefined, now)
}

/** `KeyProtection.admit` by its definition: lazy transitions, the ramp, then the breaker. */
export const admitPlain = <E>(self: KeyProtection<E>, now: number, draw: number): Admission<E> => {
  const s = settle(self, now, draw)
  let recovery = s.recovery
  let epoch: number | undefined
  if (recovery !== undefined) {
    const ramp = Recovery.admit(recovery, now, draw)
    if (!ramp.admitted) {
      return rejected(
        make(s.config, s.breaker, s.health, ramp.recovery, s.cooldownUntil),
        "throttled",
        ramp.retryAfterMs,
        ramp.rate
      )
    }
    recovery = ramp.recovery
    epoch = ramp.epoch
  }
  const current = CircuitBreaker.advance(s.breaker, now)
  if (current.state === "closed") {
    // a closed breaker admits (gobreaker `beforeRequest`), without building its admission
    const state = make(s.config, countRequest(current), s.health, recovery, s.cooldownUntil)
    return new Admitted(state, current.generation, epoch, now)
  }
  const a = CircuitBreaker.beforeRequest(current, now)
  const state = make(s.config, a.breaker, s.health, recovery, s.cooldownUntil)
  if (!a.admitted) return rejected(state, a.reason, a.retryAfterMs, 0)
  return new Admitted(state, a.generation, epoch, now)
}

/**
 * `KeyProtection.complete`. On a steady state, a success of the breaker's generation that is not slow
 * (and no self-tuning slow-call rule, whose latency window it would change) only counts a success on
 * top of the breaker and a health sample (what {@link completePlain} gives, without building a breaker).
 */
export const completeStep = <E>(
  self: KeyProtection<E>,
  ticket: Ticket,
  outcome: CircuitBreaker.Outcome<E>,
  now: number,
  draw: number
): Completion<E> => {
  const base = outcome._tag === "Success" ? steadyAt(self, now) : undefined
  if (base === undefined || ticket.generation !== base.generation || base.config.autoTune !== undefined) {
    return completePlain(self, ticket, outcome, now, draw)
  }
  const slowMs = base.config.slowCallMs
  if (slowMs !== undefined && outcome.durationMs !== undefined && outcome.durationMs > slowMs) {
    return completePlain(self, ticket, outcome, now, draw)
  }
  const s = self as KeyProtectionImpl<E>
  const health = Health.recordCall(s.health, true, now - ticket.startedAt, now)
  return {
    state: new KeyProtectionImpl(s.config, base, health, undefined, s.cooldownUntil, s.addedRequests, s.addedSuccesses + 1),
    kind: "success"
  }
}

/** `KeyProtection.complete` by its definition: classify, health, lazy transitions, then the result. */
export const completePlain = <E>(
  self: KeyProtection<E>,
  ticket: Ticket,
  outcome: CircuitBreaker.Outcome<E>,
  now: number,
  draw: number
): Completion<E> => {
  const kind = classify(self, outcome, now)
  const health = kind === "excluded"
    ? self.health
    : Health.recordCall(self.health, kind === "success", now - ticket.startedAt, now)
  return { state: afterResult(settle(self, now, draw), health, ticket, outcome, kind, now, draw), kind }
}

const afterResult = <E>(
  s: KeyProtection<E>,
  health: Health.Health,
  ticket: Ticket,
  outcome: CircuitBreaker.Outcome<E>,
  kind: CircuitBreaker.Classification,
  now: number,
  draw: number
): KeyProtection<E> => {
  const prior = s.breaker
  const breaker = CircuitBreaker.onResult(prior, ticket.generation, outcome, now, draw)
  const { config } = s
  if (breaker.state === "closed") {
    if (prior.state === "half-open") {
      const ramp = config.recovery === undefined ? undefined : Recovery.start(config.recovery, breaker.generation, now)
      return make(config, breaker, health, ramp, s.cooldownUntil)
    }
    if (s.recovery === undefined || ticket.epoch === undefined) {
      return breaker === prior && health === s.health ? s : make(config, breaker, health, s.recovery, s.cooldownUntil)
    }
    const ramp = Recovery.onResult(s.recovery, ticket.epoch, kind === "slow" ? "failure" : kind, now)
    if (ramp.phase === "failed") return failRamp(s, health, breaker, now, draw)
    if (ramp.phase === "complete") return make(config, breaker, health, undefined, endCooldown(s, now))
    return make(config, breaker, health, ramp, s.cooldownUntil)
  }
  // tripped while ramping: the breaker never recovered, so the ramp failed
  if (prior.state === "closed" && s.recovery !== undefined) return failRamp(s, health, prior, now, draw)
  if (breaker === prior && health === s.health) return s
  return make(config, CircuitBreaker.holdOpenUntil(breaker, s.cooldownUntil), health, undefined, s.cooldownUntil)
}


/** `KeyProtection.steady`. */
export const steady = <E>(self: KeyProtection<E>): Steady | undefined => {
  const { config } = self
  const breaker = shapeOf(self)
  if (breaker.state !== "closed" || self.recovery !== undefined || config.breaker.autoTune !== undefined) return undefined
  return {
    until: breaker.expiresAt ?? Number.POSITIVE_INFINITY,
    maxLatencyMs: config.breaker.slowCallMs ?? Number.POSITIVE_INFINITY,
    generation: breaker.generation
  }
}

/** `KeyProtection.applySteady`. */
export const applySteady = <E>(
  self: KeyProtection<E>,
  admitted: number,
  at: ArrayLike<number>,
  latencyMs: ArrayLike<number>,
  successes: number
): KeyProtection<E> => {
  if (admitted === 0 && successes === 0) return self
  const s = self as KeyProtectionImpl<E>
  const health = Health.recordSuccesses(s.health, at, latencyMs, successes)
  return new KeyProtectionImpl(
    s.config,
    s.base,
    health,
    s.recovery,
    s.cooldownUntil,
    s.addedRequests + admitted,
    s.addedSuccesses + successes
  )
}
