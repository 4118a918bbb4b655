/**
 * Resolving {@link CircuitBreaker.Options} into a {@link CircuitBreaker.Config}: defaults, clamping,
 * durations to milliseconds.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Backoff from "../Backoff.js"
import type { Config, Counts, Options } from "../CircuitBreaker.js"

/** gobreaker's default `ReadyToTrip` (`CircuitBreaker.defaultReadyToTrip`). */
export const defaultReadyToTrip = (counts: Counts): boolean => counts.consecutiveFailures > 5

/** gobreaker's `defaultTimeout`, ms (`CircuitBreaker.defaultTimeoutMs`). */
export const defaultTimeoutMs = 60_000

const toMs = (input: Duration.DurationInput): number => {
  const ms = Duration.toMillis(Duration.decode(input))
  return Number.isNaN(ms) ? 0 : Math.min(ms, Number.MAX_SAFE_INTEGER)
}

const never = () => false

/** `CircuitBreaker.makeConfig`. */
export const makeConfig = <E = unknown>(options: Options<E> = {}): Config<E> => {
  const maxRequests = Math.max(1, Math.floor(options.maxRequests ?? 1) || 1)
  const intervalMs = Math.max(0, options.interval === undefined ? 0 : toMs(options.interval))
  const timeoutRaw = options.timeout === undefined ? defaultTimeoutMs : toMs(options.timeout)
  const timeoutMs = timeoutRaw > 0 ? timeoutRaw : defaultTimeoutMs
  const ob = options.openBackoff === true ? {} : options.openBackoff || undefined
  const openBackoff = ob === undefined ? undefined : Backoff.make({
    min: timeoutMs,
    max: Math.max(timeoutMs, ob.max === undefined ? 600_000 : toMs(ob.max)),
    factor: ob.factor ?? 2,
    jitter: ob.jitter ?? "equal"
  })
  const slowCallMs = options.slowCall === undefined ? undefined : Math.max(0, toMs(options.slowCall.threshold))
  const at = options.slowCall?.autoTune === true ? {} : options.slowCall?.autoTune || undefined
  const autoTune = at === undefined ? undefined : (() => {
    const minMs = Math.max(0, at.min === undefined ? 100 : toMs(at.min))
    return {
      quantile: Math.min(1, Math.max(Number.EPSILON, at.quantile ?? 0.95)),
      multiplier: Math.max(Number.EPSILON, at.multiplier ?? 3),
      window: Math.max(1, Math.floor(at.window ?? 100)),
      minSamples: Math.max(1, Math.floor(at.minSamples ?? 20)),
      minMs,
      maxMs: Math.max(minMs, at.max === undefined ? 60_000 : toMs(at.max))
    }
  })()
  return {
    maxRequests,
    intervalMs,
    timeoutMs,
    readyToTrip: options.readyToTrip ?? defaultReadyToTrip,
    isSuccessful: options.isSuccessful ?? never,
    isExcluded: options.isExcluded ?? never,
    openBackoff,
    backoffResetAfterMs: ob?.resetAfter === undefined ? 0 : Math.max(0, toMs(ob.resetAfter)),
    slowCallMs,
    autoTune,
    probeRetryAfterMs: options.probeRetryAfter === undefined ? 1_000 : Math.max(0, toMs(options.probeRetryAfter)),
  }
}

/** Whether `u` is an already resolved configuration. */
export const isConfig = <E>(u: Options<E> | Config<E>): u is Config<E> =>
  typeof (u as Config<E>).timeoutMs === "number" && typeof (u as Config<E>).readyToTrip === "function" &&
  typeof (u as Config<E>).probeRetryAfterMs === "number"
