/**
 * The key protection record: its class and its visible phase.
 *
 * @internal
 */
import { pipeArguments } from "effect/Pipeable"
import type * as CircuitBreaker from "../CircuitBreaker.js"
import type * as Health from "../Health.js"
import type { Config, KeyProtection, Phase } from "../KeyProtection.js"
import type * as Recovery from "../Recovery.js"

// Fields are declared and assigned in the constructor (not class fields, which the ES2022 output
// defines one by one before assigning them): a state is built on every step of a call.
export class KeyProtectionImpl<E> implements KeyProtection<E> {
  declare readonly config: Config<E>
  declare readonly breaker: CircuitBreaker.CircuitBreaker<E>
  declare readonly health: Health.Health
  declare readonly recovery: Recovery.Recovery | undefined
  declare readonly cooldownUntil: number
  constructor(
    config: Config<E>,
    breaker: CircuitBreaker.CircuitBreaker<E>,
    health: Health.Health,
    recovery: Recovery.Recovery | undefined,
    cooldownUntil: number
  ) {
    const self = this as { -readonly [K in keyof KeyProtectionImpl<E>]: KeyProtectionImpl<E>[K] }
    self.config = config
    self.breaker = breaker
    self.health = health
    self.recovery = recovery
    self.cooldownUntil = cooldownUntil
  }
  pipe() {
    return pipeArguments(this, arguments)
  }
}

/** `KeyProtection.phase`. */
export const phase = <E>(self: KeyProtection<E>): Phase =>
  self.breaker.state === "closed" && self.recovery !== undefined && self.recovery.phase === "ramping"
    ? "recovering"
    : self.breaker.state
