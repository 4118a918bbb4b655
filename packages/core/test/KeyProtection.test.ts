import { assert, describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { pipe } from "effect/Function"
import * as Schema from "effect/Schema"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as KeyProtection from "../src/KeyProtection.js"
import * as ProtectionStatus from "../src/ProtectionStatus.js"

const T0 = 1_700_000_000_000
const ok = CircuitBreaker.Outcome.success(10)
const boom = CircuitBreaker.Outcome.failure("boom", 10)

type KP = KeyProtection.KeyProtection<unknown>

/** Admits a call at `now` with `draw`, or fails the test. */
const admitted = (s: KP, now: number, draw = 0.5) => {
  const a = KeyProtection.admit(s, now, draw)
  assert(a._tag === "Admitted", `expected an admission, got ${a._tag === "Rejected" ? a.reason : ""}`)
  return a
}

/** Runs one call at `now` to completion with `outcome`. */
const call = (s: KP, outcome: CircuitBreaker.Outcome<unknown>, now: number, draw = 0.5): KP => {
  const a = admitted(s, now, draw)
  return KeyProtection.complete(a.state, a, outcome, now, draw).state
}

const calls = (s: KP, outcome: CircuitBreaker.Outcome<unknown>, n: number, now: number): KP => {
  let state = s
  for (let i = 0; i < n; i++) state = call(state, outcome, now)
  return state
}

const options = {
  breaker: { timeout: 1_000 },
  recovery: { initialRate: 1, successes: 3, failures: 2, cooldown: 30_000 }
} as const

describe("KeyProtection", () => {
  it("passes calls on a closed breaker and records them in the health window", () => {
    const s = calls(KeyProtection.make(options, T0), ok, 3, T0)
    expect(KeyProtection.phase(s)).toBe("closed")
    expect(s.breaker.counts.totalSuccesses).toBe(3)
    expect(s.health.samples.map((x) => x.ok)).toEqual([true, true, true])
  })

  it("trips after readyToTrip and rejects as open with the time left", () => {
    const s = calls(KeyProtection.make(options, T0), boom, 6, T0)
    const r = KeyProtection.admit(s, T0 + 400, 0.5)
    assert(r._tag === "Rejected")
    expect([r.reason, r.phase, r.retryAfterMs]).toEqual(["open", "open", 600])
  })

  it("a probe that closes the breaker starts a ramp; the ramp throttles draws above its share", () => {
    const s0 = calls(KeyProtection.make({ ...options, recovery: { initialRate: 0.25, successes: 3 } }, T0), boom, 6, T0)
    const s1 = call(s0, ok, T0 + 1_000)
    expect(KeyProtection.phase(s1)).toBe("recovering")
    const r = KeyProtection.admit(s1, T0 + 1_000, 0.9)
    assert(r._tag === "Rejected")
    expect([r.reason, r.phase, r.rate]).toEqual(["throttled", "recovering", 0.25])
    expect(KeyProtection.admit(s1, T0 + 1_000, 0.1)._tag).toBe("Admitted")
  })

  describe("recovery cooldown", () => {
    it("after a ramp completes, a new trip stays open until the cooldown has passed", () => {
      let s = calls(KeyProtection.make(options, T0), boom, 6, T0)
      s = call(s, ok, T0 + 1_000) // probe: closes, ramp starts
      s = calls(s, ok, 3, T0 + 2_000) // S = 3: the ramp completes, the cooldown runs to T0 + 32 s
      expect(KeyProtection.phase(s)).toBe("closed")
      expect(s.cooldownUntil).toBe(T0 + 32_000)
      s = calls(s, boom, 6, T0 + 3_000) // trips: timeout 1 s, held to the cooldown
      expect(s.breaker.expiresAt).toBe(T0 + 32_000)
      expect(KeyProtection.admit(s, T0 + 31_999, 0.5)._tag).toBe("Rejected")
      const probe = KeyProtection.admit(s, T0 + 32_000, 0.5)
      expect(probe._tag).toBe("Admitted")
    })

    it("a failed ramp reopens for max(backoff period, cooldown)", () => {
      const withBackoff = (cooldown: number) => {
        let s = KeyProtection.make({
          breaker: { timeout: 1_000, openBackoff: { max: 60_000, jitter: "none" } },
          recovery: { initialRate: 1, successes: 10, failures: 2, cooldown }
        }, T0)
        s = calls(s, boom, 6, T0)
        s = call(s, ok, T0 + 1_000)
        s = calls(s, boom, 2, T0 + 1_500) // F = 2: the ramp fails, reopening (trip 2: 2 s)
        return KeyProtection.at(s, T0 + 1_500)
      }
      expect(withBackoff(0).breaker.expiresAt).toBe(T0 + 1_500 + 2_000)
      expect(withBackoff(30_000).breaker.expiresAt).toBe(T0 + 1_500 + 30_000)
      expect(withBackoff(1_000).breaker.expiresAt).toBe(T0 + 1_500 + 2_000)
    })

    it("reset clears the cooldown", () => {
      let s = calls(KeyProtection.make(options, T0), boom, 6, T0)
      s = call(s, ok, T0 + 1_000)
      s = calls(s, ok, 3, T0 + 2_000)
      s = KeyProtection.reset(s, T0 + 3_000)
      expect(s.cooldownUntil).toBe(0)
      s = calls(s, boom, 6, T0 + 3_000)
      expect(s.breaker.expiresAt).toBe(T0 + 4_000)
    })
  })

  describe("snapshots", () => {
    it("a breaker saved half-open with its probe in flight admits a probe when restored, even a day later", () => {
      let s = calls(KeyProtection.make({ ...options, recovery: false }, T0), boom, 6, T0)
      s = admitted(s, T0 + 1_000).state // the probe: its result dies with the process
      expect(KeyProtection.phase(s)).toBe("half-open")
      expect(KeyProtection.admit(s, T0 + 1_000, 0.5)._tag).toBe("Rejected")
      const snapshot = KeyProtection.toSnapshot(s, T0 + 1_000)
      for (const later of [T0 + 1_000, T0 + 86_400_000]) {
        const restored = KeyProtection.fromSnapshot({ ...options, recovery: false }, snapshot, later)
        const probe = KeyProtection.admit(restored, later, 0.5)
        assert(probe._tag === "Admitted")
        expect(probe.generation).toBeGreaterThan(s.breaker.generation)
        expect(KeyProtection.complete(probe.state, probe, ok, later, 0.5).state.breaker.state).toBe("closed")
      }
    })

    it("carry the health window and a running ramp, whose clock pauses while nobody runs it", () => {
      let s = calls(KeyProtection.make({ ...options, recovery: { initialRate: 0.1, successes: 10 } }, T0), boom, 6, T0)
      s = call(s, ok, T0 + 1_000)
      s = call(s, ok, T0 + 2_000, 0)
      const json = Schema.encodeSync(Schema.parseJson(KeyProtection.Snapshot))(KeyProtection.toSnapshot(s, T0 + 5_000))
      const snapshot = Schema.decodeUnknownSync(Schema.parseJson(KeyProtection.Snapshot))(json)
      const restored = KeyProtection.fromSnapshot(s.config, snapshot, T0 + 3_600_000)
      expect(KeyProtection.phase(restored)).toBe("recovering")
      expect(restored.recovery?.successes).toBe(1)
      expect(restored.recovery?.startedAt).toBe(T0 + 1_000 + 3_600_000 - 5_000)
      expect(restored.health.samples).toEqual(s.health.samples)
      expect(ProtectionStatus.report(restored, T0 + 3_600_000).recovery?.rate).toBe(0.1)
    })

    it("a plain CircuitBreaker snapshot is a valid snapshot", () => {
      const breaker = CircuitBreaker.toSnapshot(CircuitBreaker.make({}, T0))
      const decoded = Schema.decodeUnknownSync(KeyProtection.Snapshot)(breaker)
      const restored = KeyProtection.fromSnapshot({}, decoded, T0)
      expect(KeyProtection.phase(restored)).toBe("closed")
      expect(restored.health.samples).toEqual([])
    })
  })

  it("offers both call styles", () => {
    const s = KeyProtection.make({}, T0)
    const a = pipe(s, KeyProtection.admit(T0, 0.5))
    assert(a._tag === "Admitted")
    expect(pipe(a.state, KeyProtection.complete(a, ok, T0, 0.5)).kind).toBe("success")
    expect(pipe(s, KeyProtection.trip(T0)).breaker.state).toBe("open")
  })

  // -------------------------------------------------------------------------------------------------
  // Properties over random event sequences
  // -------------------------------------------------------------------------------------------------

  type Step =
    | { readonly _tag: "admit"; readonly draw: number }
    | { readonly _tag: "complete"; readonly pick: number; readonly outcome: "s" | "f" | "x"; readonly draw: number }
    | { readonly _tag: "wait"; readonly ms: number }
    | { readonly _tag: "trip" }
    | { readonly _tag: "restore" }

  const stepArb: FastCheck.Arbitrary<Step> = FastCheck.oneof(
    { arbitrary: FastCheck.record({ _tag: FastCheck.constant("admit" as const), draw: FastCheck.double({ min: 0, max: 0.999, noNaN: true }) }), weight: 4 },
    {
      arbitrary: FastCheck.record({
        _tag: FastCheck.constant("complete" as const),
        pick: FastCheck.nat(),
        outcome: FastCheck.constantFrom("s" as const, "f" as const, "x" as const),
        draw: FastCheck.double({ min: 0, max: 0.999, noNaN: true })
      }),
      weight: 4
    },
    { arbitrary: FastCheck.record({ _tag: FastCheck.constant("wait" as const), ms: FastCheck.integer({ min: 0, max: 20_000 }) }), weight: 2 },
    { arbitrary: FastCheck.constant<Step>({ _tag: "trip" }), weight: 1 },
    { arbitrary: FastCheck.constant<Step>({ _tag: "restore" }), weight: 1 }
  )

  const configArb = FastCheck.record({
    maxRequests: FastCheck.integer({ min: 1, max: 3 }),
    timeout: FastCheck.integer({ min: 1, max: 10_000 }),
    failures: FastCheck.integer({ min: 1, max: 4 }),
    initialRate: FastCheck.double({ min: 0.1, max: 1, noNaN: true }),
    rampSuccesses: FastCheck.integer({ min: 1, max: 5 }),
    rampFailures: FastCheck.integer({ min: 1, max: 3 }),
    cooldown: FastCheck.integer({ min: 0, max: 60_000 })
  })

  type ConfigValues = typeof configArb extends FastCheck.Arbitrary<infer A> ? A : never

  const configFrom = (c: ConfigValues) =>
    KeyProtection.makeConfig<unknown>({
      breaker: {
        maxRequests: c.maxRequests,
        timeout: c.timeout,
        readyToTrip: (counts) => counts.consecutiveFailures >= c.failures,
        isExcluded: (e) => e === "x",
        openBackoff: { max: 60_000, jitter: "equal" }
      },
      recovery: {
        initialRate: c.initialRate,
        successes: c.rampSuccesses,
        failures: c.rampFailures,
        maxDuration: 30_000,
        cooldown: c.cooldown
      }
    })

  /** Drives one key through `steps`, calling `check(state, now, inFlight)` after each. */
  const drive = (
    config: KeyProtection.Config<unknown>,
    steps: ReadonlyArray<Step>,
    check: (s: KP, now: number, inFlight: ReadonlyArray<KeyProtection.Ticket>) => void,
    dataLast = false
  ) => {
    let s: KP = KeyProtection.make(config, T0)
    let now = T0
    let inFlight: Array<KeyProtection.Ticket> = []
    for (const step of steps) {
      switch (step._tag) {
        case "wait":
          now += step.ms
          break
        case "admit": {
          const a = dataLast ? pipe(s, KeyProtection.admit(now, step.draw)) : KeyProtection.admit(s, now, step.draw)
          s = a.state
          if (a._tag === "Admitted") inFlight.push(a)
          break
        }
        case "complete": {
          if (inFlight.length === 0) break
          const i = step.pick % inFlight.length
          const ticket = inFlight[i]!
          inFlight = inFlight.filter((_, j) => j !== i)
          const outcome = step.outcome === "s" ? ok : CircuitBreaker.Outcome.failure(step.outcome === "x" ? "x" : "boom", 5)
          s = dataLast
            ? pipe(s, KeyProtection.complete<unknown>(ticket, outcome, now, step.draw)).state
            : KeyProtection.complete(s, ticket, outcome, now, step.draw).state
          break
        }
        case "trip":
          s = KeyProtection.trip(s, now, 0.5)
          break
        case "restore":
          // a restart: every call in flight is lost with the process
          s = KeyProtection.fromSnapshot(config, KeyProtection.toSnapshot(s, now), now)
          inFlight = []
          break
      }
      check(s, now, inFlight)
    }
    return s
  }

  const stepsArb = FastCheck.array(stepArb, { maxLength: 250 })

  it.prop(
    "half-open never has more than maxRequests probes in flight, and a ramp runs only on a closed breaker",
    { config: configArb, steps: stepsArb },
    ({ config, steps }) => {
      drive(configFrom(config), steps, (s, _now, inFlight) => {
        if (s.breaker.state === "half-open") {
          expect(inFlight.filter((t) => t.generation === s.breaker.generation).length).toBeLessThanOrEqual(config.maxRequests)
        }
        if (s.recovery !== undefined) expect(s.breaker.state).toBe("closed")
      })
    },
    { fastCheck: { seed: 11, numRuns: 300 } }
  )

  it.prop(
    "no recovery starts before the cooldown has passed: an open breaker's deadline is never before it",
    { config: configArb, steps: stepsArb },
    ({ config, steps }) => {
      let previous: KP | undefined
      drive(configFrom(config), steps, (s, now) => {
        if (s.breaker.state === "open") expect(s.breaker.expiresAt!).toBeGreaterThanOrEqual(s.cooldownUntil)
        const started = s.recovery !== undefined &&
          (previous?.recovery === undefined || previous.recovery.epoch !== s.recovery.epoch)
        if (started) expect(now).toBeGreaterThanOrEqual(previous?.cooldownUntil ?? 0)
        previous = s
      })
    },
    { fastCheck: { seed: 12, numRuns: 300 } }
  )

  it.prop(
    "a restart never leaves a key that rejects forever: after its open period, a probe is admitted",
    { config: configArb, steps: stepsArb },
    ({ config, steps }) => {
      const c = configFrom(config)
      const s = drive(c, steps, () => {})
      let now = T0 + 1e9
      let restored = KeyProtection.fromSnapshot(c, KeyProtection.toSnapshot(s, now), now)
      // nothing is in flight after a restart: waiting out each rejection (a ramp that timed out reopens
      // once more) reaches an admission; a draw of 0 passes any ramp
      for (let attempt = 0; attempt < 3; attempt++) {
        const a = KeyProtection.admit(restored, now, 0)
        if (a._tag === "Admitted") return
        expect(a.reason).toBe("open")
        restored = a.state
        now += a.retryAfterMs
      }
      assert.fail("still rejected after waiting out three open periods")
    },
    { fastCheck: { seed: 13, numRuns: 300 } }
  )

  it.prop(
    "is deterministic: the same steps and draws give the same state",
    { config: configArb, steps: stepsArb },
    ({ config, steps }) => {
      const c = configFrom(config)
      const a = drive(c, steps, () => {})
      const b = drive(c, steps, () => {})
      expect(KeyProtection.toSnapshot(b, T0)).toEqual(KeyProtection.toSnapshot(a, T0))
    },
    { fastCheck: { seed: 14, numRuns: 100 } }
  )

  it.prop(
    "admit and complete give the same states called data-first and data-last (pipe), step by step",
    { config: configArb, steps: stepsArb },
    ({ config, steps }) => {
      const c = configFrom(config)
      const first: Array<KeyProtection.Snapshot> = []
      const last: Array<KeyProtection.Snapshot> = []
      drive(c, steps, (s, now) => first.push(KeyProtection.toSnapshot(s, now)))
      drive(c, steps, (s, now) => last.push(KeyProtection.toSnapshot(s, now)), true)
      expect(last).toEqual(first)
    },
    { fastCheck: { seed: 15, numRuns: 100 } }
  )

  let steadyTotal = 0
  it.prop(
    "a steady run handed over with applySteady is the state its admit and complete steps reach one by one",
    {
      config: FastCheck.record({
        interval: FastCheck.constantFrom(0, 50, 400),
        slowCall: FastCheck.constantFrom(undefined, 40),
        health: FastCheck.record({ calls: FastCheck.integer({ min: 1, max: 30 }), maxAge: FastCheck.integer({ min: 1, max: 300 }) })
      }),
      warmup: FastCheck.array(FastCheck.constantFrom("s" as const, "f" as const), { maxLength: 5 }),
      steps: FastCheck.array(
        FastCheck.oneof(
          { weight: 4, arbitrary: FastCheck.record({ _tag: FastCheck.constant("admit" as const), gap: FastCheck.integer({ min: 0, max: 12 }) }) },
          {
            weight: 4,
            arbitrary: FastCheck.record({ _tag: FastCheck.constant("succeed" as const), pick: FastCheck.nat(), gap: FastCheck.integer({ min: 0, max: 12 }) })
          },
          { weight: 1, arbitrary: FastCheck.record({ _tag: FastCheck.constant("fold" as const) }) }
        ),
        { minLength: 30, maxLength: 150 }
      )
    },
    ({ config, steps, warmup }) => {
      const c = KeyProtection.makeConfig<unknown>({
        breaker: { interval: config.interval, ...(config.slowCall === undefined ? {} : { slowCall: { threshold: config.slowCall } }) },
        health: { window: { calls: config.health.calls }, maxAge: config.health.maxAge, minSamples: 2 }
      })
      let now = T0
      let plain: KP = KeyProtection.make(c, now)
      for (const w of warmup) plain = call(plain, w === "s" ? ok : boom, now += 3)
      // `cell` is the base state plus the run counted beside it, handed over at each fold
      let base = plain
      let run = { admitted: 0, at: [] as Array<number>, latencyMs: [] as Array<number> }
      const fold = () => {
        base = KeyProtection.applySteady(base, run.admitted, run.at, run.latencyMs, run.at.length)
        run = { admitted: 0, at: [], latencyMs: [] }
      }
      let inFlight: Array<KeyProtection.Ticket> = []
      let steadyRuns = 0
      for (const step of steps) {
        if (step._tag === "fold") {
          fold()
          expect(KeyProtection.toSnapshot(base, now)).toEqual(KeyProtection.toSnapshot(plain, now))
          continue
        }
        now += step.gap
        const steady = KeyProtection.steady(base)
        if (step._tag === "admit") {
          const a = KeyProtection.admit(plain, now, 0.5)
          plain = a.state
          if (a._tag === "Admitted") inFlight.push(a)
          if (steady !== undefined && now < steady.until) run.admitted++
          else {
            fold()
            base = KeyProtection.admit(base, now, 0.5).state
          }
          continue
        }
        if (inFlight.length === 0) continue
        const ticket = inFlight[step.pick % inFlight.length]!
        inFlight = inFlight.filter((t) => t !== ticket)
        const latency = now - ticket.startedAt
        const outcome = CircuitBreaker.Outcome.success(latency)
        plain = KeyProtection.complete(plain, ticket, outcome, now, 0.5).state
        if (steady !== undefined && now < steady.until && latency <= steady.maxLatencyMs && ticket.generation === steady.generation) {
          run.at.push(now)
          run.latencyMs.push(latency)
          steadyRuns++
        } else {
          fold()
          base = KeyProtection.complete(base, ticket, outcome, now, 0.5).state
        }
      }
      fold()
      expect(KeyProtection.toSnapshot(base, now)).toEqual(KeyProtection.toSnapshot(plain, now))
      expect(ProtectionStatus.report(base, now)).toEqual(ProtectionStatus.report(plain, now))
      steadyTotal += steadyRuns
    },
    { fastCheck: { seed: 22, numRuns: 400 } }
  )

  it("the steady property above took the steady path for many calls", () => {
    expect(steadyTotal).toBeGreaterThan(1000)
  })

  it("is not steady while a breaker is open or half-open, a ramp runs or the slow-call rule tunes itself", () => {
    const c = KeyProtection.makeConfig<unknown>({ breaker: { readyToTrip: (n) => n.consecutiveFailures >= 1, timeout: 100 } })
    const s = KeyProtection.make(c, T0)
    expect(KeyProtection.steady(s)).toEqual({ until: Number.POSITIVE_INFINITY, maxLatencyMs: Number.POSITIVE_INFINITY, generation: 0 })
    const open = call(s, boom, T0)
    expect(KeyProtection.steady(open)).toBeUndefined()
    const probe = admitted(open, T0 + 100)
    expect(KeyProtection.steady(probe.state)).toBeUndefined()
    const ramping = KeyProtection.complete(probe.state, probe, ok, T0 + 100, 0.5).state
    expect(KeyProtection.phase(ramping)).toBe("recovering")
    expect(KeyProtection.steady(ramping)).toBeUndefined()
    const tuned = KeyProtection.make({ breaker: { slowCall: { threshold: 100, autoTune: true } } }, T0)
    expect(KeyProtection.steady(tuned)).toBeUndefined()
    expect(KeyProtection.steady(KeyProtection.make({ breaker: { interval: 50, slowCall: { threshold: 40 } } }, T0)))
      .toEqual({ until: T0 + 50, maxLatencyMs: 40, generation: 0 })
  })
})
