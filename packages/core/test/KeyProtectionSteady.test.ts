import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as KeyProtection from "../src/KeyProtection.js"
import * as ProtectionStatus from "../src/ProtectionStatus.js"
import { KeyProtectionImpl } from "../src/internal/keyProtectionData.js"
import { admitPlain, completePlain } from "../src/internal/keyProtectionStep.js"

const T0 = 1_700_000_000_000

type KP = KeyProtection.KeyProtection<unknown>

type Step =
  | { readonly _tag: "admit"; readonly draw: number }
  | { readonly _tag: "complete"; readonly pick: number; readonly outcome: "s" | "f" | "x" | "i"; readonly latency: number; readonly draw: number }
  | { readonly _tag: "wait"; readonly ms: number }

const drawArb = FastCheck.double({ min: 0, max: 0.999, noNaN: true })
const stepArb: FastCheck.Arbitrary<Step> = FastCheck.oneof(
  { weight: 5, arbitrary: FastCheck.record({ _tag: FastCheck.constant("admit" as const), draw: drawArb }) },
  {
    weight: 5,
    arbitrary: FastCheck.record({
      _tag: FastCheck.constant("complete" as const),
      pick: FastCheck.nat(),
      outcome: FastCheck.constantFrom("s" as const, "s" as const, "s" as const, "f" as const, "x" as const, "i" as const),
      latency: FastCheck.integer({ min: 0, max: 80 }),
      draw: drawArb
    })
  },
  { weight: 2, arbitrary: FastCheck.record({ _tag: FastCheck.constant("wait" as const), ms: FastCheck.integer({ min: 0, max: 600 }) }) }
)

const configArb = FastCheck.record({
  interval: FastCheck.constantFrom(0, 300, 2_000),
  slowCall: FastCheck.constantFrom(undefined, 40),
  autoTune: FastCheck.boolean(),
  recovery: FastCheck.boolean(),
  failures: FastCheck.integer({ min: 1, max: 4 }),
  window: FastCheck.integer({ min: 1, max: 20 })
})

const configFrom = (c: typeof configArb extends FastCheck.Arbitrary<infer A> ? A : never) =>
  KeyProtection.makeConfig<unknown>({
    breaker: {
      interval: c.interval,
      timeout: 500,
      readyToTrip: (counts) => counts.consecutiveFailures >= c.failures,
      isExcluded: (e) => e === "x",
      ...(c.slowCall === undefined ? {} : { slowCall: { threshold: c.slowCall, autoTune: c.autoTune && { minSamples: 3, window: 5 } } })
    },
    health: { window: { calls: c.window }, maxAge: 2_000, minSamples: 2 },
    recovery: c.recovery && { initialRate: 0.5, successes: 3, failures: 2, maxDuration: 5_000, cooldown: 1_000 }
  })

const outcomeOf = (step: Extract<Step, { _tag: "complete" }>): CircuitBreaker.Outcome<unknown> =>
  step.outcome === "s"
    ? CircuitBreaker.Outcome.success(step.latency)
    : step.outcome === "i"
    ? { _tag: "Interrupted", durationMs: step.latency }
    : CircuitBreaker.Outcome.failure(step.outcome === "x" ? "x" : "boom", step.latency)

/** Whether `s` holds counts of steady steps on top of its breaker (the steps' fast path was taken). */
const countsOnTop = (s: KP) => s instanceof KeyProtectionImpl && (s.addedRequests > 0 || s.addedSuccesses > 0)

describe("KeyProtection steady steps", () => {
  let onTop = 0
  it.prop(
    "admit and complete give, step by step, what their definitions give (breaker, health, ramp, answers)",
    { config: configArb, steps: FastCheck.array(stepArb, { minLength: 20, maxLength: 120 }) },
    ({ config, steps }) => {
      const c = configFrom(config)
      let now = T0
      let fast: KP = KeyProtection.make(c, now)
      let plain: KP = fast
      let inFlight: Array<KeyProtection.Ticket> = []
      for (const step of steps) {
        if (step._tag === "wait") {
          now += step.ms
          continue
        }
        if (step._tag === "admit") {
          const a = KeyProtection.admit(fast, now, step.draw)
          const b = admitPlain(plain, now, step.draw)
          const { state: _a, ...answer } = a
          const { state: _b, ...expected } = b
          expect(answer).toEqual(expected)
          fast = a.state
          plain = b.state
          if (a._tag === "Admitted") inFlight.push(a)
        } else {
          if (inFlight.length === 0) continue
          const ticket = inFlight[step.pick % inFlight.length]!
          inFlight = inFlight.filter((t) => t !== ticket)
          const at = Math.max(now, ticket.startedAt + step.latency)
          now = at
          const a = KeyProtection.complete(fast, ticket, outcomeOf(step), at, step.draw)
          const b = completePlain(plain, ticket, outcomeOf(step), at, step.draw)
          expect(a.kind).toBe(b.kind)
          fast = a.state
          plain = b.state
        }
        if (countsOnTop(fast)) onTop++
        expect(KeyProtection.toSnapshot(fast, now)).toEqual(KeyProtection.toSnapshot(plain, now))
        expect(KeyProtection.phase(fast)).toBe(KeyProtection.phase(plain))
        expect(KeyProtection.steady(fast)).toEqual(KeyProtection.steady(plain))
      }
      expect(ProtectionStatus.report(fast, now)).toEqual(ProtectionStatus.report(plain, now))
    },
    { timeout: 30_000, fastCheck: { seed: 31, numRuns: 150 } }
  )

  it("the property above compared many states that held steady counts on top of their breaker", () => {
    expect(onTop).toBeGreaterThan(1_000)
  })

  it("a closed success builds no breaker, and the breaker read afterwards is built once and holds the counts", () => {
    const s = KeyProtection.make({}, T0)
    const a = KeyProtection.admit(s, T0, 0.5)
    expect(a._tag).toBe("Admitted")
    if (a._tag !== "Admitted") return
    const done = KeyProtection.complete(a.state, a, CircuitBreaker.Outcome.success(3), T0 + 3, 0.5)
    expect(done.kind).toBe("success")
    expect(countsOnTop(done.state)).toBe(true)
    expect((done.state as KeyProtectionImpl<unknown>).base).toBe(s.breaker)
    const breaker = done.state.breaker
    expect(done.state.breaker).toBe(breaker)
    expect(breaker.counts).toEqual({
      requests: 1,
      totalSuccesses: 1,
      totalFailures: 0,
      totalExclusions: 0,
      consecutiveSuccesses: 1,
      consecutiveFailures: 0
    })
    expect(done.state.health.samples).toEqual([{ at: T0 + 3, ok: true, latencyMs: 3 }])
  })

  it("a success after failures clears the failure streak on top of the breaker", () => {
    let s: KP = KeyProtection.make({}, T0)
    for (let i = 0; i < 3; i++) {
      const a = KeyProtection.admit(s, T0 + i, 0.5)
      if (a._tag !== "Admitted") throw new Error("rejected")
      s = KeyProtection.complete(a.state, a, CircuitBreaker.Outcome.failure("boom", 1), T0 + i, 0.5).state
    }
    expect(s.breaker.counts.consecutiveFailures).toBe(3)
    const a = KeyProtection.admit(s, T0 + 10, 0.5)
    if (a._tag !== "Admitted") throw new Error("rejected")
    const next = KeyProtection.complete(a.state, a, CircuitBreaker.Outcome.success(1), T0 + 11, 0.5).state
    expect(countsOnTop(next)).toBe(true)
    expect(next.breaker.counts).toMatchObject({ requests: 4, totalFailures: 3, consecutiveFailures: 0, consecutiveSuccesses: 1 })
  })
})
