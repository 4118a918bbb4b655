/**
 * The key protection record: its class and its visible phase.
 *
 * A record keeps its breaker as `base` plus the requests and successes counted on top of it by steady
 * steps (`addedRequests`, `addedSuccesses`): a success in the closed state changes only the breaker's
 * counts, so those steps build no breaker and no counts. {@link KeyProtectionImpl.breaker} is `base`
 * with them added, built at its first read and kept.
 *
 * @internal
 */
import { pipeArguments } from "effect/Pipeable"
import type * as CircuitBreaker from "../CircuitBreaker.js"
import type * as Health from "../Health.js"
import type { Config, KeyProtection, Phase } from "../KeyProtection.js"
import type * as Recovery from "../Recovery.js"
import { withCounts } from "./breakerData.js"

// Fields are declared and assigned in the constructor (not class fields, which the ES2022 output
// defines one by one before assigning them): a state is built on every step of a call.
export class KeyProtectionImpl<E> implements KeyProtection<E> {
  declare readonly config: Config<E>
  /** The breaker without the counts of steady steps; its state, generation and deadlines are the breaker's. */
  declare readonly base: CircuitBreaker.CircuitBreaker<E>
  declare readonly health: Health.Health
  declare readonly recovery: Recovery.Recovery | undefined
  declare readonly cooldownUntil: number
  /** Admissions counted on top of `base` (each one more `requests`). */
  declare readonly addedRequests: number
  /** Successes counted on top of `base` (`totalSuccesses`, `consecutiveSuccesses`; clears `consecutiveFailures`). */
  declare readonly addedSuccesses: number
  /** `breaker`, once read. */
  declare private built: CircuitBreaker.CircuitBreaker<E> | undefined
  constructor(
    config: Config<E>,
    base: CircuitBreaker.CircuitBreaker<E>,
    health: Health.Health,
    recovery: Recovery.Recovery | undefined,
    cooldownUntil: number,
    addedRequests: number,
    addedSuccesses: number
  ) {
    const self = this as { -readonly [K in keyof KeyProtectionImpl<E>]: KeyProtectionImpl<E>[K] }
    self.config = config
    self.base = base
    self.health = health
    self.recovery = recovery
    self.cooldownUntil = cooldownUntil
    self.addedRequests = addedRequests
    self.addedSuccesses = addedSuccesses
    this.built = undefined
  }
  get breaker(): CircuitBreaker.CircuitBreaker<E> {
    if (this.addedRequests === 0 && this.addedSuccesses === 0) return this.base
    if (this.built === undefined) {
      const c = this.base.counts
      const successes = this.addedSuccesses
      this.built = withCounts(this.base, {
        requests: c.requests + this.addedRequests,
        totalSuccesses: c.totalSuccesses + successes,
        totalFailures: c.totalFailures,
        totalExclusions: c.totalExclusions,
        consecutiveSuccesses: c.consecutiveSuccesses + successes,
        consecutiveFailures: successes > 0 ? 0 : c.consecutiveFailures
      })
    }
    return this.built
  }
  pipe() {
    return pipeArguments(this, arguments)
  }
}

/** A state with `breaker` as it is (nothing counted on top of it). */
export const make = <E>(
  config: Config<E>,
  breaker: CircuitBreaker.CircuitBreaker<E>,
  health: Health.Health,
  recovery: Recovery.Recovery | undefined,
  cooldownUntil: number
): KeyProtection<E> => new KeyProtectionImpl(config, breaker, health, recovery, cooldownUntil, 0, 0)

/** The breaker of `self` as far as its state, generation and deadlines go (its counts may lag). */
export const shapeOf = <E>(self: KeyProtection<E>): CircuitBreaker.CircuitBreaker<E> =>
  self instanceof KeyProtectionImpl ? self.base : self.breaker

/** `KeyProtection.phase`. */
export const phase = <E>(self: KeyProtection<E>): Phase => {
  const state = shapeOf(self).state
  return state === "closed" && self.recovery !== undefined && self.recovery.phase === "ramping" ? "recovering" : state
}
