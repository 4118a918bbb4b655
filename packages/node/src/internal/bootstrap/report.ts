/**
 * What a bootstrap reports besides its result: the run's metrics and log line, and the helpers that
 * name a failure.
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type { BootstrapResult } from "../../Bootstrap.js"
import { metrics } from "../../Bootstrap.js"
import type { ProtectionRejection } from "../../Protection.js"

/** A breaker's refusal (the dial never ran). */
export const isRejection = (e: unknown): e is ProtectionRejection =>
  typeof e === "object" && e !== null && "_tag" in e &&
  (e._tag === "CircuitOpenError" || e._tag === "CircuitTooManyRequestsError" || e._tag === "CircuitThrottledError")

/** The message of an error, else its string form. */
export const describe = (e: unknown): string =>
  typeof e === "object" && e !== null && "message" in e && typeof e.message === "string" ? e.message : String(e)

/** Updates the run metrics and logs the summary line of `result`. */
export const bookMetrics = (result: BootstrapResult) =>
  Effect.gen(function*() {
    yield* Metric.increment(Metric.tagged(metrics.runs, "endpoints", result.endpointsUsed ? "used" : "unused"))
    yield* Metric.set(metrics.hitRate, result.hitRate)
    yield* Metric.set(metrics.connected, result.connected.length)
    if (Option.isSome(result.timeToFirstPeerMs)) yield* Metric.update(metrics.timeToFirstPeer, result.timeToFirstPeerMs.value)
    if (Option.isSome(result.timeToTargetMs)) yield* Metric.update(metrics.timeToTarget, result.timeToTargetMs.value)
    yield* Effect.logInfo(
      `bootstrap done: ${result.connected.length}/${result.target} peers, ${result.dials} dials, ${result.failures} failures, ${result.cancelled} cancelled`
    ).pipe(
      Effect.annotateLogs({
        hitRate: result.hitRate,
        timeToFirstPeerMs: Option.getOrElse(result.timeToFirstPeerMs, () => -1),
        timeToTargetMs: Option.getOrElse(result.timeToTargetMs, () => -1),
        endpointsUsed: result.endpointsUsed,
        cancelled: result.cancelled,
        pruned: result.pruned
      })
    )
  })
