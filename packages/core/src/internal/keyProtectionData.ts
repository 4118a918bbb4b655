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

export class KeyProtectionImpl<E> implements KeyProtection<E> {
  constructor(
    readonly config: Config<E>,
    readonly breaker: CircuitBreaker.CircuitBreaker<E>,
    readonly health: Health.Health,
    readonly recovery: Recovery.Recovery | undefined,
    readonly cooldownUntil: number
  ) {}
  pipe() {
    return pipeArguments(this, arguments)
  }
}

/** `KeyProtection.phase`. */
export const phase = <E>(self: KeyProtection<E>): Phase =>
  self.breaker.state === "closed" && self.recovery !== undefined && self.recovery.phase === "ramping"
    ? "recovering"
    : self.breaker.state
