/**
 * The transitions of a breaker: lazy time-driven changes, admission, classification and results,
 * opening with the trip streak, and the operator's forced changes. `(breaker, …, now) => breaker`.
 *
 * @internal
 */
import * as Backoff from "../Backoff.js"
import type { Admission, CircuitBreaker, Classification, Counts, Outcome, Snapshot, State } from "../CircuitBreaker.js"
import { emptyCounts, slowCallThresholdMs, update, withCounts } from "./breakerData.js"
import { recordLatency } from "./breakerLatency.js"

/** `self` in `state` with a new generation, cleared counts and the state's deadline, then `patch`. */
export const newGeneration = <E>(self: CircuitBreaker<E>, state: State, now: number, patch: Partial<Snapshot> = {}) =>
  update(self, {
    state,
    generation: self.generation + 1,
    counts: emptyCounts,
    expiresAt: state === "closed"
      ? (self.config.intervalMs > 0 ? now + self.config.intervalMs : null)
      : state === "open"
      ? now + self.config.timeoutMs
      : null,
    changedAt: state === self.state ? self.changedAt : now,
    ...patch
  })


/** `CircuitBreaker.advance`: the lazy transitions at `now`. */
export const advanceStep = <E>(self: CircuitBreaker<E>, now: number): CircuitBreaker<E> => {
  if (self.expiresAt === null || now < self.expiresAt) return self
  switch (self.state) {
    case "closed":
      return newGeneration(self, "closed", now)
    case "open":
      return newGeneration(self, "half-open", now)
    case "half-open":
      return self
  }
}

/** `CircuitBreaker.beforeRequest`. */
export const beforeRequestStep = <E>(self: CircuitBreaker<E>, now: number): Admission<E> => {
  const breaker = advanceStep(self, now)
  if (breaker.state === "open") {
    return {
      admitted: false,
      breaker,
      state: "open",
      reason: "open",
      retryAfterMs: Math.max(0, (breaker.expiresAt ?? now) - now)
    }
  }
  if (breaker.state === "half-open" && validRequests(breaker.counts) >= breaker.config.maxRequests) {
    return {
      admitted: false,
      breaker,
      state: "half-open",
      reason: "too-many-requests",
      retryAfterMs: breaker.config.probeRetryAfterMs
    }
  }
  return { admitted: true, breaker: countRequest(breaker), state: breaker.state, generation: breaker.generation }
}

/** `self` with one more admitted request (an admission the breaker's state allows). */
export const countRequest = <E>(self: CircuitBreaker<E>): CircuitBreaker<E> => {
  const c = self.counts
  return withCounts(self, {
    requests: c.requests + 1,
    totalSuccesses: c.totalSuccesses,
    totalFailures: c.totalFailures,
    totalExclusions: c.totalExclusions,
    consecutiveSuccesses: c.consecutiveSuccesses,
    consecutiveFailures: c.consecutiveFailures
  })
}

/** `CircuitBreaker.validRequests`. */
export const validRequests = (counts: Counts): number => Math.max(0, counts.requests - counts.totalExclusions)

/** `CircuitBreaker.classify`. */
export const classifyStep = <E>(self: CircuitBreaker<E>, outcome: Outcome<E>): Classification => {
  if (outcome._tag === "Interrupted") return "excluded"
  if (outcome._tag === "Failure") {
    if (self.config.isExcluded(outcome.error)) return "excluded"
    if (!self.config.isSuccessful(outcome.error)) return "failure"
  }
  const threshold = slowCallThresholdMs(self)
  return threshold !== undefined && outcome.durationMs !== undefined && outcome.durationMs > threshold
    ? "slow"
    : "success"
}

/** `CircuitBreaker.onResult`. */
export const onResultImpl = <E>(
  self: CircuitBreaker<E>,
  generation: number,
  outcome: Outcome<E>,
  now: number,
  draw = 0.5
): CircuitBreaker<E> => {
  const breaker = advanceStep(self, now)
  if (breaker.generation !== generation || breaker.state === "open") return breaker
  const kind = classifyStep(breaker, outcome)
  const c = breaker.counts
  if (kind === "excluded") {
    return withCounts(breaker, { ...c, totalExclusions: c.totalExclusions + 1 })
  }
  const latencies = recordLatency(breaker, outcome, kind)
  if (kind === "success") {
    const counts: Counts = {
      requests: c.requests,
      totalSuccesses: c.totalSuccesses + 1,
      totalFailures: c.totalFailures,
      totalExclusions: c.totalExclusions,
      consecutiveSuccesses: c.consecutiveSuccesses + 1,
      consecutiveFailures: 0
    }
    if (breaker.state === "half-open" && counts.consecutiveSuccesses >= breaker.config.maxRequests) {
      return newGeneration(breaker, "closed", now, { latencies })
    }
    return withCounts(breaker, counts, latencies)
  }
  const counts: Counts = {
    ...c,
    totalFailures: c.totalFailures + 1,
    consecutiveFailures: c.consecutiveFailures + 1,
    consecutiveSuccesses: 0
  }
  if (breaker.state === "half-open" || breaker.config.readyToTrip(counts)) {
    return open(withCounts(breaker, breaker.counts, latencies), now, draw)
  }
  return withCounts(breaker, counts, latencies)
}

/** `CircuitBreaker.openPeriodMs`. */
export const openPeriodMs = <E>(self: CircuitBreaker<E>, trip: number, draw: number): number => {
  const policy = self.config.openBackoff
  if (policy === undefined) return self.config.timeoutMs
  const ms = Backoff.delay(policy, trip - 1, draw, trip > 1 ? self.lastOpenMs : undefined)
  return Math.max(self.config.timeoutMs, Math.round(ms))
}

/** Opens `self` at `now` as the next trip of its streak (a new streak when it stayed closed long enough). */
export const open = <E>(self: CircuitBreaker<E>, now: number, draw: number, continueStreak = false): CircuitBreaker<E> => {
  const streak = !continueStreak && self.state === "closed" && now - self.changedAt >= self.config.backoffResetAfterMs
    ? 0
    : self.trips
  const trips = streak + 1
  const periodMs = openPeriodMs(self, trips, draw)
  return newGeneration(self, "open", now, { trips, lastOpenMs: periodMs, expiresAt: now + periodMs })
}

/** `CircuitBreaker.trip`. */
export const tripImpl = <E>(self: CircuitBreaker<E>, now: number, draw = 0.5): CircuitBreaker<E> => {
  const breaker = advanceStep(self, now)
  return breaker.state === "open" ? breaker : open(breaker, now, draw)
}

/** `CircuitBreaker.reopen`. */
export const reopenImpl = <E>(self: CircuitBreaker<E>, now: number, draw = 0.5): CircuitBreaker<E> => {
  const breaker = advanceStep(self, now)
  return breaker.state === "open" ? breaker : open(breaker, now, draw, true)
}

/** `CircuitBreaker.reset`. */
export const resetStep = <E>(self: CircuitBreaker<E>, now: number): CircuitBreaker<E> =>
  newGeneration(self, "closed", now, { trips: 0, lastOpenMs: 0, changedAt: now })

/** `CircuitBreaker.holdOpenUntil`. */
export const holdOpenUntilStep = <E>(self: CircuitBreaker<E>, until: number): CircuitBreaker<E> =>
  self.state === "open" && self.expiresAt !== null && self.expiresAt < until ? update(self, { expiresAt: until }) : self

/** `CircuitBreaker.retryAfterMs`. */
export const retryAfterMsStep = <E>(self: CircuitBreaker<E>, now: number): number => {
  const breaker = advanceStep(self, now)
  return breaker.state === "open" && breaker.expiresAt !== null ? Math.max(0, breaker.expiresAt - now) : 0
}
