/**
 * What the protection of a key, and of a whole table of keys, says at a moment: one report a program
 * can read, one boolean it can branch on (`isHealthy`) and one line a log or the CLI can print
 * (`summary`) — the bitswap circuit breaker's `status.IsHealthy()` and `GetSummary()`.
 *
 * @since 0.1.0
 */
import * as CircuitBreaker from "./CircuitBreaker.js"
import * as Health from "./Health.js"
import * as KeyProtection from "./KeyProtection.js"
import * as Recovery from "./Recovery.js"

/**
 * The recovery ramp of a key in phase `"recovering"`: `rate` (admitted share, [0, 1]), `progress`
 * (successes / S, [0, 1]), call counts, `startedAt` (epoch ms).
 *
 * @since 0.1.0
 * @category models
 */
export interface RampReport {
  readonly rate: number
  readonly progress: number
  readonly successes: number
  readonly failures: number
  readonly admitted: number
  readonly throttled: number
  readonly startedAt: number
}

/**
 * Everything known about one key at a moment.
 *
 * - `phase`, `state`, `generation`, `counts`, `trips`: the breaker (see `CircuitBreaker`);
 * - `retryAfterMs`: ms until an open breaker turns half-open (0 otherwise);
 * - `slowCallThresholdMs`: the slow-call threshold in force (ms), if the rule is on;
 * - `health`: the `Health.Report` of the window;
 * - `recovery`: the ramp, while `phase` is `"recovering"`;
 * - `cooldownMs`: ms left of the recovery cooldown (0 when none runs);
 * - `isHealthy`: see {@link isHealthy}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Report {
  readonly phase: KeyProtection.Phase
  readonly state: CircuitBreaker.State
  readonly generation: number
  readonly counts: CircuitBreaker.Counts
  readonly trips: number
  readonly retryAfterMs: number
  readonly slowCallThresholdMs: number | undefined
  readonly health: Health.Report
  readonly recovery: RampReport | undefined
  readonly cooldownMs: number
  readonly isHealthy: boolean
}

/**
 * A key is healthy when its breaker is closed with no ramp throttling it, and its health window does
 * not speak against it: `HEALTHY`, or `UNKNOWN` (too few samples to judge). `DEGRADED`, `UNHEALTHY`,
 * a ramp, a half-open or an open breaker all make it unhealthy.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isHealthy = (phase: KeyProtection.Phase, health: Health.Status): boolean =>
  phase === "closed" && (health === "HEALTHY" || health === "UNKNOWN")

/**
 * The {@link Report} of a key at `now` (epoch ms), observed without changing it (`KeyProtection.at`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const report = <E>(self: KeyProtection.KeyProtection<E>, now: number): Report => {
  const seen = KeyProtection.at(self, now)
  const { breaker } = seen
  const ramp = seen.recovery
  const phase = KeyProtection.phase(seen)
  const health = Health.report(seen.health, now)
  return {
    phase,
    state: breaker.state,
    generation: breaker.generation,
    counts: breaker.counts,
    trips: breaker.trips,
    retryAfterMs: CircuitBreaker.retryAfterMs(breaker, now),
    slowCallThresholdMs: CircuitBreaker.slowCallThresholdMs(breaker),
    health,
    recovery: ramp === undefined ? undefined : {
      rate: Recovery.rateAt(ramp, now),
      progress: Recovery.progress(ramp),
      successes: ramp.successes,
      failures: ramp.failures,
      admitted: ramp.admitted,
      throttled: ramp.throttled,
      startedAt: ramp.startedAt
    },
    cooldownMs: Math.max(0, seen.cooldownUntil - now),
    isHealthy: isHealthy(phase, health.status)
  }
}

const seconds = (ms: number) => ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`
const percent = (x: number) => `${Math.round(x * 100)}%`

/**
 * One printable line for a key, e.g.
 * `peer-7: open, retry in 42 s, 3 trips; health UNHEALTHY (0% of 7 ok)` or
 * `peer-2: recovering at 30% (progress 45%); health HEALTHY (100% of 12 ok, latency 80 ms)`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const summary = (key: string, r: Report): string => {
  const phase = r.phase === "open"
    ? `open, retry in ${seconds(r.retryAfterMs)}, ${r.trips} trip${r.trips === 1 ? "" : "s"}`
    : r.phase === "recovering" && r.recovery !== undefined
    ? `recovering at ${percent(r.recovery.rate)} (progress ${percent(r.recovery.progress)})`
    : r.phase
  const cooldown = r.cooldownMs > 0 ? `, cooldown ${seconds(r.cooldownMs)}` : ""
  const h = r.health
  const window = h.samples === 0
    ? "no samples"
    : `${percent(h.successRate)} of ${h.samples} ok${Number.isNaN(h.latencyMs) ? "" : `, latency ${Math.round(h.latencyMs)} ms`}`
  return `${key}: ${phase}${cooldown}; health ${h.status} (${window})${r.isHealthy ? "" : " — not healthy"}`
}

/**
 * Counts over a table of keys: `keys`, per phase, per health class, and `healthyKeys` (keys that are
 * {@link isHealthy}). The table `isHealthy` when no more than half of its keys are unhealthy (true for
 * an empty table): one dead peer among many does not make the whole table unhealthy, a majority does.
 *
 * @since 0.1.0
 * @category models
 */
export interface Overall {
  readonly keys: number
  readonly byPhase: Readonly<Record<KeyProtection.Phase, number>>
  readonly byHealth: Readonly<Record<Health.Status, number>>
  readonly healthyKeys: number
  readonly isHealthy: boolean
}

/**
 * The {@link Overall} counts of a set of key reports.
 *
 * @since 0.1.0
 * @category constructors
 */
export const overall = (reports: Iterable<Report>): Overall => {
  const byPhase: Record<KeyProtection.Phase, number> = { closed: 0, recovering: 0, "half-open": 0, open: 0 }
  const byHealth: Record<Health.Status, number> = { HEALTHY: 0, DEGRADED: 0, UNHEALTHY: 0, UNKNOWN: 0 }
  let keys = 0
  let healthyKeys = 0
  for (const r of reports) {
    keys++
    byPhase[r.phase]++
    byHealth[r.health.status]++
    if (r.isHealthy) healthyKeys++
  }
  return { keys, byPhase, byHealth, healthyKeys, isHealthy: 2 * healthyKeys >= keys }
}

/**
 * One printable line for a table, e.g.
 * `healthy: 12 keys, 10 healthy; 9 closed, 1 recovering, 0 half-open, 2 open; health 8 HEALTHY, 1 DEGRADED, 2 UNHEALTHY, 1 UNKNOWN`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const overallSummary = (o: Overall): string => {
  const p = o.byPhase
  const h = o.byHealth
  return `${o.isHealthy ? "healthy" : "unhealthy"}: ${o.keys} key${o.keys === 1 ? "" : "s"}, ${o.healthyKeys} healthy; ` +
    `${p.closed} closed, ${p.recovering} recovering, ${p["half-open"]} half-open, ${p.open} open; ` +
    `health ${h.HEALTHY} HEALTHY, ${h.DEGRADED} DEGRADED, ${h.UNHEALTHY} UNHEALTHY, ${h.UNKNOWN} UNKNOWN`
}
