/**
 * Per-endpoint circuit breakers of the contacts fetcher: a private `Protection` instance keyed by
 * endpoint URL, so the fetcher's breaker settings do not leak into (or depend on) the peers'
 * protection.
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { type BreakerOptions, type BreakerStatus, defaults } from "../../ContactsFetcher.js"
import * as Protection from "../../Protection.js"

/**
 * Rejection by an endpoint's breaker. Internal: surfaces as an {@link EndpointFailure} `breaker-open`.
 */
export class BreakerRejected extends Data.TaggedError("BreakerRejected")<{
  readonly key: string
  readonly retryAfterMs: number
}> {}

/**
 * The seam for per-endpoint protection: `execute(key, effect)` runs `effect` when the key's breaker
 * admits it and records the outcome, or fails with {@link BreakerRejected} without running it.
 * Backed by a private `Protection` instance, so the fetcher's breaker settings do not leak into (or
 * depend on) the peers' protection.
 */
export interface Guard {
  readonly execute: <A, E>(key: string, effect: Effect.Effect<A, E>) => Effect.Effect<A, E | BreakerRejected>
  readonly status: Effect.Effect<ReadonlyArray<BreakerStatus>>
}

export const makeGuard = (options: BreakerOptions = {}): Effect.Effect<Guard, never, Scope.Scope> =>
  Effect.gen(function*() {
    const threshold = Math.max(1, Math.floor(options.failureThreshold ?? defaults.breaker.failureThreshold))
    const maxOpen = options.maxOpen ?? defaults.breaker.maxOpenMs
    const protection = yield* Protection.make({
      breaker: {
        timeout: options.minOpen ?? defaults.breaker.minOpenMs,
        readyToTrip: (counts) => counts.consecutiveFailures >= threshold,
        openBackoff: {
          max: maxOpen,
          factor: options.factor ?? defaults.breaker.factor,
          jitter: options.jitter ?? defaults.breaker.jitter
        }
      },
      // An endpoint that has just recovered is fetched rarely: no ramp, one probe is enough.
      recovery: false,
      // Keep a key (its trip streak) long enough for the open period to keep growing between fetches.
      idleTimeout: Duration.times(Duration.decode(maxOpen), 4)
    })
    const seen = new Set<string>()
    const execute = <A, E>(key: string, effect: Effect.Effect<A, E>): Effect.Effect<A, E | BreakerRejected> =>
      Effect.suspend(() => {
        seen.add(key)
        return protection.execute(key, effect).pipe(
          Effect.catchIf(
            (e): e is Protection.ProtectionRejection =>
              e instanceof Protection.CircuitOpenError ||
              e instanceof Protection.CircuitTooManyRequestsError ||
              e instanceof Protection.CircuitThrottledError,
            (e) => new BreakerRejected({ key, retryAfterMs: e.retryAfterMs })
          )
        )
      })
    const status = Effect.suspend(() =>
      Effect.forEach([...seen], (endpoint) =>
        Effect.map(protection.status(endpoint), (s): BreakerStatus => ({
          endpoint,
          state: s.state,
          retryAfterMs: s.retryAfterMs,
          consecutiveFailures: s.counts.consecutiveFailures,
          trips: s.trips
        })))
    )
    return { execute, status }
  })