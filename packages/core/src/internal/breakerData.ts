/**
 * The breaker record: its class, constructors that copy it with changes, and conversion from and to
 * its snapshot data.
 *
 * @internal
 */
import { pipeArguments } from "effect/Pipeable"
import type { CircuitBreaker, Config, Counts, Options, Snapshot, State } from "../CircuitBreaker.js"
import { isConfig, makeConfig } from "./breakerConfig.js"
import { thresholdOf } from "./breakerLatency.js"

/** The `CircuitBreaker.TypeId` symbol. */
export const TypeId: unique symbol = Symbol.for("@bootstrap-cache/core/CircuitBreaker")

/** All counts zero (`CircuitBreaker.emptyCounts`). */
export const emptyCounts: Counts = {
  requests: 0,
  totalSuccesses: 0,
  totalFailures: 0,
  totalExclusions: 0,
  consecutiveSuccesses: 0,
  consecutiveFailures: 0
}

// Fields are declared and assigned in the constructor (not class fields, which the ES2022 output
// defines one by one before assigning them): a breaker is built on every step of a call.
class CircuitBreakerImpl<E> implements CircuitBreaker<E> {
  declare readonly [TypeId]: typeof TypeId
  declare readonly config: Config<E>
  declare readonly state: State
  declare readonly generation: number
  declare readonly counts: Counts
  declare readonly expiresAt: number | null
  declare readonly changedAt: number
  declare readonly trips: number
  declare readonly lastOpenMs: number
  declare readonly latencies: ReadonlyArray<number>
  /** The slow-call threshold in force over `latencies` (ms), computed with the window. */
  declare readonly slowCallThresholdMs: number | undefined
  constructor(
    config: Config<E>,
    state: State,
    generation: number,
    counts: Counts,
    expiresAt: number | null,
    changedAt: number,
    trips: number,
    lastOpenMs: number,
    latencies: ReadonlyArray<number>,
    slowCallThresholdMs: number | undefined
  ) {
    const self = this as { -readonly [K in keyof CircuitBreakerImpl<E>]: CircuitBreakerImpl<E>[K] }
    self.config = config
    self.state = state
    self.generation = generation
    self.counts = counts
    self.expiresAt = expiresAt
    self.changedAt = changedAt
    self.trips = trips
    self.lastOpenMs = lastOpenMs
    self.latencies = latencies
    self.slowCallThresholdMs = slowCallThresholdMs
  }
  pipe() {
    return pipeArguments(this, arguments)
  }
  toJSON() {
    return toSnapshot(this)
  }
}

Object.defineProperty(CircuitBreakerImpl.prototype, TypeId, { value: TypeId })

export const build = <E>(config: Config<E>, data: Snapshot): CircuitBreaker<E> =>
  new CircuitBreakerImpl(
    config,
    data.state,
    data.generation,
    data.counts,
    data.expiresAt,
    data.changedAt,
    data.trips,
    data.lastOpenMs,
    data.latencies,
    thresholdOf(config, data.latencies)
  )

export const update = <E>(self: CircuitBreaker<E>, patch: Partial<Snapshot>): CircuitBreaker<E> =>
  new CircuitBreakerImpl(
    self.config,
    patch.state ?? self.state,
    patch.generation ?? self.generation,
    patch.counts ?? self.counts,
    patch.expiresAt !== undefined ? patch.expiresAt : self.expiresAt,
    patch.changedAt ?? self.changedAt,
    patch.trips ?? self.trips,
    patch.lastOpenMs ?? self.lastOpenMs,
    patch.latencies ?? self.latencies,
    patch.latencies === undefined || patch.latencies === self.latencies ? slowCallThresholdMs(self) : thresholdOf(self.config, patch.latencies)
  )

/** `self` with other counts (the hot path: one allocation besides the counts). */
export const withCounts = <E>(self: CircuitBreaker<E>, counts: Counts, latencies = self.latencies): CircuitBreaker<E> =>
  new CircuitBreakerImpl(
    self.config,
    self.state,
    self.generation,
    counts,
    self.expiresAt,
    self.changedAt,
    self.trips,
    self.lastOpenMs,
    latencies,
    latencies === self.latencies ? slowCallThresholdMs(self) : thresholdOf(self.config, latencies)
  )

/** `CircuitBreaker.slowCallThresholdMs`. */
export const slowCallThresholdMs = <E>(self: CircuitBreaker<E>): number | undefined =>
  self instanceof CircuitBreakerImpl ? self.slowCallThresholdMs : thresholdOf(self.config, self.latencies)

/** `CircuitBreaker.isCircuitBreaker`. */
export const isCircuitBreaker = (u: unknown): u is CircuitBreaker<unknown> =>
  u instanceof CircuitBreakerImpl || (typeof u === "object" && u !== null && TypeId in u)

/** `CircuitBreaker.make`. */
export const make = <E = unknown>(options: Options<E> | Config<E>, now: number): CircuitBreaker<E> => {
  const config = isConfig(options) ? options : makeConfig(options)
  return build(config, {
    state: "closed",
    generation: 0,
    counts: emptyCounts,
    expiresAt: config.intervalMs > 0 ? now + config.intervalMs : null,
    changedAt: now,
    trips: 0,
    lastOpenMs: 0,
    latencies: []
  })
}

/** `CircuitBreaker.toSnapshot`. */
export const toSnapshot = <E>(self: CircuitBreaker<E>): Snapshot => ({
  state: self.state,
  generation: self.generation,
  counts: self.counts,
  expiresAt: self.expiresAt,
  changedAt: self.changedAt,
  trips: self.trips,
  lastOpenMs: self.lastOpenMs,
  latencies: self.latencies
})

/** `CircuitBreaker.fromSnapshot`. */
export const fromSnapshot = <E = unknown>(options: Options<E> | Config<E>, snapshot: Snapshot): CircuitBreaker<E> => {
  const config = isConfig(options) ? options : makeConfig(options)
  const window = config.autoTune?.window ?? 0
  const state: State = snapshot.state === "half-open" ? "open" : snapshot.state
  const expiresAt = snapshot.state === "closed"
    ? (config.intervalMs === 0 ? null : snapshot.expiresAt ?? snapshot.changedAt + config.intervalMs)
    : snapshot.state === "half-open"
    ? snapshot.changedAt
    : snapshot.expiresAt ?? snapshot.changedAt + config.timeoutMs
  return build(config, {
    ...snapshot,
    state,
    expiresAt,
    latencies: window === 0 ? [] : snapshot.latencies.slice(-window)
  })
}
