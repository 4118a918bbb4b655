import { assert, describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import { pipe } from "effect/Function"
import * as CB from "../src/CircuitBreaker.js"

const T0 = 1_700_000_000_000

/** Admit a call or fail the test. */
const admit = <E>(cb: CB.CircuitBreaker<E>, now: number) => {
  const a = CB.beforeRequest(cb, now)
  if (!a.admitted) throw new Error(`expected admission at ${now}, got ${a.reason}`)
  return a
}

/** Run one call that completes immediately. */
const call = <E>(cb: CB.CircuitBreaker<E>, now: number, outcome: CB.Outcome<NoInfer<E>>) => {
  const a = admit(cb, now)
  return CB.onResult(a.breaker, a.generation, outcome, now)
}

const fail = CB.Outcome.failure("boom")
const ok = CB.Outcome.success()

const failN = <E>(cb: CB.CircuitBreaker<E>, n: number, now: number) => {
  let b = cb
  for (let i = 0; i < n; i++) b = call(b, now, CB.Outcome.failure("boom") as CB.Outcome<E>)
  return b
}

describe("CircuitBreaker", () => {
  describe("configuration", () => {
    it("defaults follow gobreaker Settings", () => {
      const c = CB.makeConfig({ maxRequests: 0, timeout: 0, interval: -5 })
      expect(c.maxRequests).toBe(1)
      expect(c.timeoutMs).toBe(60_000)
      expect(c.intervalMs).toBe(0)
      expect(c.readyToTrip({ ...CB.emptyCounts, consecutiveFailures: 5 })).toBe(false)
      expect(c.readyToTrip({ ...CB.emptyCounts, consecutiveFailures: 6 })).toBe(true)
      expect(c.openBackoff).toBeUndefined()
      expect(c.slowCallMs).toBeUndefined()
      expect(c.autoTune).toBeUndefined()
    })

    it("auto-tuning is off by default, even with a slow-call threshold: the threshold stays fixed", () => {
      let cb = CB.make({ slowCall: { threshold: 100 } }, T0)
      expect(cb.config.autoTune).toBeUndefined()
      for (let i = 0; i < 50; i++) cb = call(cb, T0, CB.Outcome.success(1))
      expect(cb.latencies).toEqual([])
      expect(CB.slowCallThresholdMs(cb)).toBe(100)
      expect(CB.classify(cb, CB.Outcome.success(101))).toBe("slow")
    })

    it("accepts Duration inputs", () => {
      const c = CB.makeConfig({ timeout: "30 seconds", interval: "1 minute", slowCall: { threshold: "250 millis" } })
      expect([c.timeoutMs, c.intervalMs, c.slowCallMs]).toEqual([30_000, 60_000, 250])
    })
  })

  describe("closed", () => {
    it("trips after more than 5 consecutive failures (default readyToTrip)", () => {
      let cb = CB.make({}, T0)
      cb = failN(cb, 5, T0)
      expect(cb.state).toBe("closed")
      expect(cb.counts).toEqual({
        requests: 5,
        totalSuccesses: 0,
        totalFailures: 5,
        totalExclusions: 0,
        consecutiveSuccesses: 0,
        consecutiveFailures: 5
      })
      cb = failN(cb, 1, T0)
      expect(cb.state).toBe("open")
      expect(cb.generation).toBe(1)
      expect(cb.counts).toEqual(CB.emptyCounts)
    })

    it("a success breaks the run of failures", () => {
      let cb = CB.make({}, T0)
      cb = failN(cb, 5, T0)
      cb = call(cb, T0, ok)
      cb = failN(cb, 5, T0)
      expect(cb.state).toBe("closed")
      expect(cb.counts.totalFailures).toBe(10)
      expect(cb.counts.consecutiveFailures).toBe(5)
      expect(cb.counts.consecutiveSuccesses).toBe(0)
    })

    it("uses a custom readyToTrip on the counts after the failure", () => {
      const seen: Array<CB.Counts> = []
      let cb = CB.make({
        readyToTrip: (c) => {
          seen.push(c)
          return c.requests >= 3 && c.totalFailures / c.requests >= 0.6
        }
      }, T0)
      cb = call(cb, T0, ok)
      cb = call(cb, T0, fail)
      expect(cb.state).toBe("closed")
      cb = call(cb, T0, fail)
      expect(cb.state).toBe("open")
      expect(seen.map((c) => c.totalFailures)).toEqual([1, 2])
    })

    it("clears counts every interval with a new generation; results from the old interval are ignored", () => {
      let cb = CB.make({ interval: 10_000 }, T0)
      cb = failN(cb, 3, T0)
      const late = admit(cb, T0 + 5_000)
      cb = late.breaker
      expect(cb.expiresAt).toBe(T0 + 10_000)
      cb = CB.advance(cb, T0 + 10_000)
      expect(cb.generation).toBe(1)
      expect(cb.counts).toEqual(CB.emptyCounts)
      expect(cb.expiresAt).toBe(T0 + 20_000)
      cb = CB.onResult(cb, late.generation, fail, T0 + 10_001)
      expect(cb.counts).toEqual(CB.emptyCounts)
      expect(cb.state).toBe("closed")
    })

    it("the interval clears counts in the closed state only: never while open or half-open", () => {
      let cb = failN(CB.make({ interval: 100, timeout: 1_000, maxRequests: 2 }, T0), 6, T0)
      expect(cb.state).toBe("open")
      const openGeneration = cb.generation
      expect(CB.advance(cb, T0 + 999).generation).toBe(openGeneration) // ten intervals, still the same open period
      cb = admit(CB.advance(cb, T0 + 1_000), T0 + 1_000).breaker
      expect(cb.state).toBe("half-open")
      expect(cb.expiresAt).toBeNull()
      const later = CB.advance(cb, T0 + 1_000_000)
      expect(later.generation).toBe(cb.generation)
      expect(later.counts.requests).toBe(1)
      // the slot taken 999 s ago is still taken: one more probe, then too-many-requests
      const second = admit(later, T0 + 1_000_000)
      expect(CB.beforeRequest(second.breaker, T0 + 1_000_000).admitted).toBe(false)
      // once closed, the interval runs again from the close
      cb = CB.onResult(second.breaker, second.generation, ok, T0 + 1_000_000)
      cb = CB.onResult(cb, second.generation, ok, T0 + 1_000_000)
      expect(cb.state).toBe("closed")
      expect(cb.expiresAt).toBe(T0 + 1_000_100)
    })

    it("interval 0 never clears", () => {
      let cb = CB.make({}, T0)
      cb = failN(cb, 3, T0)
      cb = CB.advance(cb, T0 + 365 * 24 * 3_600_000)
      expect(cb.counts.consecutiveFailures).toBe(3)
      expect(cb.generation).toBe(0)
    })
  })

  describe("open", () => {
    it("rejects until the timeout with an exact retryAfterMs, then goes half-open lazily", () => {
      let cb = failN(CB.make({ timeout: 30_000 }, T0), 6, T0)
      expect(cb.state).toBe("open")
      const r1 = CB.beforeRequest(cb, T0 + 10_000)
      assert(!r1.admitted)
      expect(r1.reason).toBe("open")
      expect(r1.retryAfterMs).toBe(20_000)
      const r2 = CB.beforeRequest(cb, T0 + 29_999)
      assert(!r2.admitted)
      expect(r2.retryAfterMs).toBe(1)
      expect(CB.stateAt(cb, T0 + 29_999)).toBe("open")
      expect(CB.stateAt(cb, T0 + 30_000)).toBe("half-open")
      const r3 = CB.beforeRequest(cb, T0 + 30_000)
      assert(r3.admitted)
      expect(r3.state).toBe("half-open")
      expect(r3.breaker.generation).toBe(cb.generation + 1)
      cb = r3.breaker
      expect(cb.counts.requests).toBe(1)
    })
  })

  describe("half-open", () => {
    const halfOpen = (maxRequests: number) => {
      const cb = failN(CB.make({ maxRequests, timeout: 1_000 }, T0), 6, T0)
      return CB.advance(cb, T0 + 1_000)
    }

    it("maxRequests 0 means 1: one probe, whose success closes the breaker (gobreaker)", () => {
      const cb = halfOpen(0)
      const a = admit(cb, T0 + 1_000)
      const r = CB.beforeRequest(a.breaker, T0 + 1_000)
      assert(!r.admitted)
      expect(r.reason).toBe("too-many-requests")
      expect(CB.onResult(a.breaker, a.generation, ok, T0 + 1_001).state).toBe("closed")
    })

    it("an isSuccessful error is a successful probe; the counts of a half-open period start at zero", () => {
      let cb = CB.make({ maxRequests: 2, timeout: 1_000, isSuccessful: (e: string) => e === "not-found" }, T0)
      cb = CB.advance(failN(cb, 6, T0), T0 + 1_000)
      expect(cb.counts).toEqual(CB.emptyCounts)
      const a = admit(cb, T0 + 1_000)
      cb = CB.onResult(a.breaker, a.generation, CB.Outcome.failure("not-found"), T0 + 1_001)
      expect(cb.state).toBe("half-open")
      expect(cb.counts).toMatchObject({ requests: 1, totalSuccesses: 1, consecutiveSuccesses: 1 })
      const b = admit(cb, T0 + 1_002)
      expect(CB.onResult(b.breaker, b.generation, CB.Outcome.failure("not-found"), T0 + 1_003).state).toBe("closed")
      expect(CB.onResult(b.breaker, b.generation, fail, T0 + 1_003).state).toBe("open")
    })

    it("admits maxRequests calls, rejects more with too-many-requests", () => {
      let cb = halfOpen(3)
      const tickets = [1, 2, 3].map(() => {
        const a = admit(cb, T0 + 1_000)
        cb = a.breaker
        return a.generation
      })
      const r = CB.beforeRequest(cb, T0 + 1_001)
      assert(!r.admitted)
      expect(r.reason).toBe("too-many-requests")
      expect(r.retryAfterMs).toBe(1_000)
      expect(tickets).toEqual([cb.generation, cb.generation, cb.generation])
    })

    it("closes after maxRequests consecutive successes, resetting counts", () => {
      let cb = halfOpen(2)
      const a = admit(cb, T0 + 1_000)
      const b = admit(a.breaker, T0 + 1_000)
      cb = CB.onResult(b.breaker, a.generation, ok, T0 + 1_100)
      expect(cb.state).toBe("half-open")
      cb = CB.onResult(cb, b.generation, ok, T0 + 1_200)
      expect(cb.state).toBe("closed")
      expect(cb.counts).toEqual(CB.emptyCounts)
      expect(cb.changedAt).toBe(T0 + 1_200)
    })

    it("reopens on any failure, and the other probe's late success is ignored", () => {
      let cb = halfOpen(2)
      const a = admit(cb, T0 + 1_000)
      const b = admit(a.breaker, T0 + 1_000)
      cb = CB.onResult(b.breaker, a.generation, fail, T0 + 1_100)
      expect(cb.state).toBe("open")
      expect(cb.expiresAt).toBe(T0 + 2_100)
      const after = CB.onResult(cb, b.generation, ok, T0 + 1_200)
      expect(after.state).toBe("open")
      expect(after.counts).toEqual(CB.emptyCounts)
    })

    it("a late failure from the closed generation cannot reopen a half-open breaker", () => {
      let cb = CB.make({ timeout: 1_000 }, T0)
      const stale = admit(cb, T0)
      cb = failN(stale.breaker, 6, T0)
      cb = CB.advance(cb, T0 + 1_000)
      expect(cb.state).toBe("half-open")
      cb = CB.onResult(cb, stale.generation, fail, T0 + 1_001)
      expect(cb.state).toBe("half-open")
    })

    it("excluded results and interruptions free their slot and count as neither", () => {
      let cb = CB.make({ timeout: 1_000, isExcluded: (e: string) => e === "cancelled" }, T0)
      cb = failN(cb, 6, T0)
      cb = CB.advance(cb, T0 + 1_000)
      const a = admit(cb, T0 + 1_000)
      assert(!CB.beforeRequest(a.breaker, T0 + 1_000).admitted)
      cb = CB.onResult(a.breaker, a.generation, CB.Outcome.failure("cancelled"), T0 + 1_001)
      expect(cb.state).toBe("half-open")
      expect(cb.counts.totalExclusions).toBe(1)
      const b = admit(cb, T0 + 1_002)
      cb = CB.onResult(b.breaker, b.generation, CB.Outcome.interrupted(), T0 + 1_003)
      expect(cb.counts.totalExclusions).toBe(2)
      expect(cb.counts.totalFailures + cb.counts.totalSuccesses).toBe(0)
      const c = admit(cb, T0 + 1_004)
      cb = CB.onResult(c.breaker, c.generation, ok, T0 + 1_005)
      expect(cb.state).toBe("closed")
    })
  })

  describe("classification", () => {
    it("isExcluded is checked before isSuccessful; isSuccessful failures count as successes", () => {
      const cb = CB.make({
        isExcluded: (e: string) => e === "x",
        isSuccessful: (e: string) => e === "x" || e === "not-found"
      }, T0)
      expect(CB.classify(cb, CB.Outcome.failure("x"))).toBe("excluded")
      expect(CB.classify(cb, CB.Outcome.failure("not-found"))).toBe("success")
      expect(CB.classify(cb, CB.Outcome.failure("boom"))).toBe("failure")
      const after = call(cb, T0, CB.Outcome.failure("not-found"))
      expect(after.counts.totalSuccesses).toBe(1)
    })

    it("slow-call rule: a success over the threshold is a failure", () => {
      let cb = CB.make({ slowCall: { threshold: 200 }, readyToTrip: (c) => c.consecutiveFailures >= 2 }, T0)
      expect(CB.classify(cb, CB.Outcome.success(200))).toBe("success")
      expect(CB.classify(cb, CB.Outcome.success(201))).toBe("slow")
      cb = call(cb, T0, CB.Outcome.success(500))
      expect(cb.counts.totalFailures).toBe(1)
      cb = call(cb, T0, CB.Outcome.success(500))
      expect(cb.state).toBe("open")
    })

    it("auto-tuning: the threshold follows a multiple of the windowed p95", () => {
      const options: CB.Options = {
        slowCall: { threshold: 1_000, autoTune: { multiplier: 2, minSamples: 10, window: 20, min: 5, max: 10_000 } }
      }
      let fast = CB.make(options, T0)
      let slow = CB.make(options, T0)
      expect(CB.slowCallThresholdMs(fast)).toBe(1_000)
      for (let i = 1; i <= 20; i++) {
        fast = call(fast, T0, CB.Outcome.success(i)) // p95 of 1..20 = 19
        slow = call(slow, T0, CB.Outcome.success(100 * i)) // p95 = 1900
      }
      expect(CB.slowCallThresholdMs(fast)).toBe(38)
      expect(CB.slowCallThresholdMs(slow)).toBe(3_800)
      expect(CB.classify(fast, CB.Outcome.success(500))).toBe("slow")
      expect(CB.classify(slow, CB.Outcome.success(500))).toBe("success")
      expect(fast.latencies.length).toBe(20)
    })

    it.prop(
      "the threshold in force is always the plain definition over the breaker's own window and configuration",
      {
        latencies: FastCheck.array(FastCheck.integer({ min: 0, max: 5_000 }), { maxLength: 60 }),
        minSamples: FastCheck.integer({ min: 1, max: 12 }),
        window: FastCheck.integer({ min: 1, max: 20 }),
        other: FastCheck.integer({ min: 1, max: 6 })
      },
      ({ latencies, minSamples, other, window }) => {
        const tuned = (multiplier: number): CB.Options => ({
          readyToTrip: () => false,
          slowCall: { threshold: 1_000, autoTune: { multiplier, minSamples, window, min: 5, max: 10_000 } }
        })
        const plain = (cb: CB.CircuitBreaker) => {
          const at = cb.config.autoTune!
          return cb.latencies.length < at.minSamples
            ? 1_000
            : Math.min(at.maxMs, Math.max(at.minMs, at.multiplier * CB.quantile(cb.latencies, at.quantile)))
        }
        let cb = CB.make(tuned(2), T0)
        for (const ms of latencies) {
          cb = call(cb, T0, CB.Outcome.success(ms))
          expect(CB.slowCallThresholdMs(cb)).toBe(plain(cb))
          // the same window under another configuration tunes by that configuration
          const moved = CB.fromSnapshot(tuned(other), CB.toSnapshot(cb))
          expect(CB.slowCallThresholdMs(moved)).toBe(plain(moved))
        }
      },
      { fastCheck: { seed: 24, numRuns: 200 } }
    )
  })

  describe("open backoff", () => {
    const options: CB.Options = {
      timeout: 1_000,
      readyToTrip: (c) => c.consecutiveFailures >= 1,
      openBackoff: { max: 5_000, factor: 2, jitter: "none" }
    }
    const reopen = (cb: CB.CircuitBreaker, now: number) => {
      const b = CB.advance(cb, now)
      expect(b.state).toBe("half-open")
      return call(b, now, fail)
    }

    it("grows the open period on consecutive trips up to the maximum and resets when the breaker closes", () => {
      let cb = call(CB.make(options, T0), T0, fail)
      let now = T0
      const periods = [cb.expiresAt! - now]
      for (let i = 0; i < 4; i++) {
        now = cb.expiresAt!
        cb = reopen(cb, now)
        periods.push(cb.expiresAt! - now)
      }
      expect(periods).toEqual([1_000, 2_000, 4_000, 5_000, 5_000])
      expect(cb.trips).toBe(5)
      now = cb.expiresAt!
      cb = call(CB.advance(cb, now), now, ok)
      expect(cb.state).toBe("closed")
      cb = call(cb, now + 1, fail)
      expect(cb.trips).toBe(1)
      expect(cb.expiresAt! - (now + 1)).toBe(1_000)
    })

    it("with resetAfter the streak survives a short closed period", () => {
      let cb = call(CB.make({ ...options, openBackoff: { jitter: "none", resetAfter: 10_000 } }, T0), T0, fail)
      let now = cb.expiresAt!
      cb = call(CB.advance(cb, now), now, ok)
      cb = call(cb, now + 5_000, fail)
      expect(cb.trips).toBe(2)
      expect(cb.expiresAt! - (now + 5_000)).toBe(2_000)
      now = cb.expiresAt!
      cb = call(CB.advance(cb, now), now, ok)
      cb = call(cb, now + 10_000, fail)
      expect(cb.trips).toBe(1)
    })

    it("jitter uses the injected draw and never goes below the timeout", () => {
      const jittered: CB.Options = { ...options, openBackoff: { max: 60_000, jitter: "full" } }
      let cb = CB.make(jittered, T0)
      const a = admit(cb, T0)
      cb = CB.onResult(a.breaker, a.generation, fail, T0, 0.1)
      expect(cb.expiresAt! - T0).toBe(1_000) // 0.1 · 1000 clamped to timeout
      const now = cb.expiresAt!
      const h = admit(CB.advance(cb, now), now)
      const lo = CB.onResult(h.breaker, h.generation, fail, now, 0.25)
      const hi = CB.onResult(h.breaker, h.generation, fail, now, 0.75)
      expect(lo.expiresAt! - now).toBe(1_000) // max(1000, 0.25 · 2000)
      expect(hi.expiresAt! - now).toBe(1_500)
    })
  })

  describe("reopen (a failed recovery)", () => {
    const options: CB.Options = { timeout: 1_000, openBackoff: { max: 60_000, jitter: "none" } }

    it("continues the trip streak where trip, after the closed period, starts it again", () => {
      let cb = CB.trip(CB.make(options, T0), T0)
      expect([cb.trips, cb.expiresAt! - T0]).toEqual([1, 1_000])
      const now = cb.expiresAt!
      cb = call(CB.advance(cb, now), now, ok)
      expect(cb.state).toBe("closed")
      const later = now + 60_000
      const reopened = CB.reopen(cb, later)
      expect([reopened.state, reopened.trips, reopened.expiresAt! - later]).toEqual(["open", 2, 2_000])
      const tripped = CB.trip(cb, later)
      expect([tripped.trips, tripped.expiresAt! - later]).toEqual([1, 1_000])
      expect(CB.reopen(reopened, later + 1)).toBe(reopened)
      expect(pipe(cb, CB.reopen(later), CB.stateAt(later))).toBe("open")
    })
  })

  describe("manual control, persistence, dual API", () => {
    it("trip forces open, reset forces closed", () => {
      let cb = CB.trip(CB.make({ timeout: 5_000 }, T0), T0)
      expect(cb.state).toBe("open")
      expect(CB.retryAfterMs(cb, T0 + 1_000)).toBe(4_000)
      cb = CB.reset(cb, T0 + 1_000)
      expect(cb.state).toBe("closed")
      expect(cb.trips).toBe(0)
      expect(cb.generation).toBe(2)
    })

    it("round-trips through JSON, keeping state, generation, counts and deadline", () => {
      let cb = failN(CB.make({ timeout: 10_000 }, T0), 6, T0)
      const json = CB.toJson(cb)
      expect(JSON.parse(json).state).toBe("open")
      const back = CB.fromJson({ timeout: 10_000 }, json)
      assert(Either.isRight(back))
      expect(CB.toSnapshot(back.right)).toEqual(CB.toSnapshot(cb))
      expect(CB.stateAt(back.right, T0 + 9_999)).toBe("open")
      expect(CB.stateAt(back.right, T0 + 10_000)).toBe("half-open")
      expect(JSON.stringify(cb)).toBe(json)
      cb = CB.advance(back.right, T0 + 10_000)
      expect(cb.generation).toBe(2)
    })

    it("rejects invalid snapshots, including an open breaker without a deadline", () => {
      expect(Either.isLeft(CB.fromJson({}, "{not json"))).toBe(true)
      expect(Either.isLeft(CB.fromJson({}, JSON.stringify({ state: "ajar" })))).toBe(true)
      const open = CB.toSnapshot(CB.trip(CB.make({}, T0), T0))
      expect(Either.isRight(CB.fromJson({}, JSON.stringify(open)))).toBe(true)
      const wedged = CB.fromJson({}, JSON.stringify({ ...open, expiresAt: null }))
      assert(Either.isLeft(wedged))
      expect(wedged.left.message).toContain("an open breaker needs expiresAt")
      expect(Either.isLeft(CB.fromJson({}, JSON.stringify({ ...open, counts: { ...open.counts, requests: -1 } })))).toBe(true)
    })

    it("a restored breaker follows the configuration's interval", () => {
      const noInterval = CB.toSnapshot(failN(CB.make({}, T0), 3, T0))
      expect(noInterval.expiresAt).toBeNull()
      const withInterval = CB.fromSnapshot({ interval: 10_000 }, noInterval)
      expect(withInterval.expiresAt).toBe(T0 + 10_000)
      expect(CB.advance(withInterval, T0 + 10_000).counts).toEqual(CB.emptyCounts)
      const snap = CB.toSnapshot(CB.make({ interval: 10_000 }, T0))
      expect(CB.fromSnapshot({}, snap).expiresAt).toBeNull()
      // an open breaker without a deadline (not decodable, but a Snapshot value) reopens after timeout
      const open = CB.fromSnapshot({ timeout: 5_000 }, { ...CB.toSnapshot(CB.trip(CB.make({}, T0), T0)), expiresAt: null })
      expect(CB.stateAt(open, T0 + 5_000)).toBe("half-open")
    })

    it("a breaker saved half-open with its probe in flight comes back open and due: the next request is a fresh probe", () => {
      const tripped = CB.trip(CB.make({ timeout: 1_000 }, T0), T0)
      const probe = CB.beforeRequest(tripped, T0 + 1_000)
      assert(probe.admitted)
      expect(CB.beforeRequest(probe.breaker, T0 + 1_000).admitted).toBe(false) // the slot is taken
      const restored = CB.fromSnapshot({ timeout: 1_000 }, CB.toSnapshot(probe.breaker))
      expect(restored.state).toBe("open")
      expect(CB.retryAfterMs(restored, T0 + 86_400_000)).toBe(0)
      const again = CB.beforeRequest(restored, T0 + 86_400_000)
      assert(again.admitted)
      expect(again.generation).toBeGreaterThan(probe.generation)
      expect(CB.stateAt(CB.onResult(again.breaker, again.generation, ok, T0 + 86_400_000), T0 + 86_400_000)).toBe("closed")
    })

    it("offers data-last forms", () => {
      const cb = CB.make({}, T0)
      const a = pipe(cb, CB.beforeRequest(T0))
      assert(a.admitted)
      const after = pipe(a.breaker, CB.onResult(a.generation, ok, T0))
      expect(after.counts.totalSuccesses).toBe(1)
      expect(pipe(after, CB.trip(T0), CB.stateAt(T0))).toBe("open")
      expect(after.pipe(CB.reset(T0)).generation).toBe(1)
    })
  })

  // -------------------------------------------------------------------------------------------------
  // Properties over random event sequences
  // -------------------------------------------------------------------------------------------------

  type Step =
    | { readonly _tag: "request" }
    | { readonly _tag: "result"; readonly pick: number; readonly outcome: "s" | "f" | "x" }
    | { readonly _tag: "wait"; readonly ms: number }

  const stepArb: FastCheck.Arbitrary<Step> = FastCheck.oneof(
    FastCheck.constant<Step>({ _tag: "request" }),
    FastCheck.record({
      _tag: FastCheck.constant("result" as const),
      pick: FastCheck.nat(),
      outcome: FastCheck.constantFrom("s" as const, "f" as const, "x" as const)
    }),
    FastCheck.record({ _tag: FastCheck.constant("wait" as const), ms: FastCheck.integer({ min: 0, max: 3_000 }) })
  )

  const configArb = FastCheck.record({
    maxRequests: FastCheck.integer({ min: 0, max: 4 }),
    timeout: FastCheck.integer({ min: 1, max: 4_000 }),
    interval: FastCheck.constantFrom(0, 500, 2_000),
    failures: FastCheck.integer({ min: 1, max: 4 }),
    backoff: FastCheck.boolean()
  })

  const makeFrom = (c: typeof configArb extends FastCheck.Arbitrary<infer A> ? A : never) =>
    CB.make<string>({
      maxRequests: c.maxRequests,
      timeout: c.timeout,
      interval: c.interval,
      readyToTrip: (counts) => counts.consecutiveFailures >= c.failures,
      isExcluded: (e) => e === "x",
      ...(c.backoff ? { openBackoff: { max: 20_000, jitter: "none" as const } } : {})
    }, T0)

  /** Drives a breaker through `steps`, calling `check(before, after, step, now)` after each. */
  const drive = (
    cb0: CB.CircuitBreaker<string>,
    steps: ReadonlyArray<Step>,
    check: (before: CB.CircuitBreaker<string>, after: CB.CircuitBreaker<string>, step: Step, now: number, inFlight: ReadonlyArray<number>, admitted: boolean | undefined) => void
  ) => {
    let cb = cb0
    let now = T0
    let inFlight: Array<number> = []
    for (const step of steps) {
      const before = cb
      let admitted: boolean | undefined
      switch (step._tag) {
        case "wait":
          now += step.ms
          cb = CB.advance(cb, now)
          break
        case "request": {
          const a = CB.beforeRequest(cb, now)
          admitted = a.admitted
          if (a.admitted) inFlight.push(a.generation)
          cb = a.breaker
          break
        }
        case "result": {
          if (inFlight.length === 0) break
          const i = step.pick % inFlight.length
          const generation = inFlight[i]!
          inFlight = inFlight.filter((_, j) => j !== i)
          const outcome = step.outcome === "s"
            ? CB.Outcome.success()
            : CB.Outcome.failure(step.outcome === "x" ? "x" : "boom")
          cb = CB.onResult(cb, generation, outcome, now)
          break
        }
      }
      check(before, cb, step, now, inFlight, admitted)
    }
    return cb
  }

  it.prop(
    "half-open never admits more than maxRequests calls at once",
    { config: configArb, steps: FastCheck.array(stepArb, { maxLength: 200 }) },
    ({ config, steps }) => {
      drive(makeFrom(config), steps, (_, after, _step, _now, inFlight) => {
        if (after.state !== "half-open") return
        const max = Math.max(1, config.maxRequests)
        expect(inFlight.filter((g) => g === after.generation).length).toBeLessThanOrEqual(max)
        expect(CB.validRequests(after.counts)).toBeLessThanOrEqual(max)
      })
    },
    { fastCheck: { seed: 1, numRuns: 300 } }
  )

  it.prop(
    "an open breaker rejects every request before its deadline and admits one at it",
    { config: configArb, steps: FastCheck.array(stepArb, { maxLength: 200 }) },
    ({ config, steps }) => {
      let deadline: number | undefined
      drive(makeFrom(config), steps, (before, after, step, now, _inFlight, admitted) => {
        if (after.state === "open" && before.state !== "open") {
          deadline = after.expiresAt!
          expect(deadline).toBeGreaterThanOrEqual(now + Math.max(1, config.timeout))
        }
        if (step._tag === "request" && deadline !== undefined && before.state === "open") {
          expect(admitted).toBe(now >= deadline)
        }
      })
    },
    { fastCheck: { seed: 2, numRuns: 300 } }
  )

  it.prop(
    "counts reset and the generation increases on every state change",
    { config: configArb, steps: FastCheck.array(stepArb, { maxLength: 200 }) },
    ({ config, steps }) => {
      drive(makeFrom(config), steps, (before, after, step, _now, _inFlight, admitted) => {
        expect(after.generation).toBeGreaterThanOrEqual(before.generation)
        const changed = CB.advance(before, _now).state !== before.state || after.state !== before.state
        if (after.state !== before.state) {
          expect(after.generation).toBeGreaterThan(before.generation)
          const expected = step._tag === "request" && admitted ? { ...CB.emptyCounts, requests: 1 } : CB.emptyCounts
          expect(after.counts).toEqual(expected)
        } else if (!changed && after.generation === before.generation && step._tag === "wait") {
          expect(after.counts).toEqual(before.counts)
        }
      })
    },
    { fastCheck: { seed: 3, numRuns: 300 } }
  )

  it.prop(
    "a snapshot restores an equivalent breaker",
    { config: configArb, steps: FastCheck.array(stepArb, { maxLength: 100 }) },
    ({ config, steps }) => {
      const cb = drive(makeFrom(config), steps, () => {})
      const back = CB.fromJson(cb.config, CB.toJson(cb))
      assert(Either.isRight(back))
      expect(CB.toSnapshot(back.right)).toEqual(CB.toSnapshot(cb))
      const later = T0 + 1_000_000
      expect(CB.beforeRequest(back.right, later).admitted).toBe(CB.beforeRequest(cb, later).admitted)
    },
    { fastCheck: { seed: 4, numRuns: 100 } }
  )

  it("offers the steps data-last (pipe) with the same results as data-first", () => {
    const cb = CB.make({ timeout: 1_000, openBackoff: { max: 60_000 } }, T0)
    const a = admit(cb, T0)
    expect(pipe(cb, CB.beforeRequest(T0))).toEqual(CB.beforeRequest(cb, T0))
    expect(pipe(cb, CB.advance(T0 + 5))).toEqual(CB.advance(cb, T0 + 5))
    expect(pipe(a.breaker, CB.classify(fail))).toBe(CB.classify(a.breaker, fail))
    expect(pipe(a.breaker, CB.onResult(a.generation, ok, T0 + 1))).toEqual(CB.onResult(a.breaker, a.generation, ok, T0 + 1))
    const tripped = failN(cb, 6, T0)
    const b = admit(CB.advance(tripped, T0 + 60_000), T0 + 60_000)
    expect(pipe(b.breaker, CB.onResult(b.generation, fail, T0 + 60_000, 0.9)))
      .toEqual(CB.onResult(b.breaker, b.generation, fail, T0 + 60_000, 0.9))
    expect(CB.onResult(b.breaker, b.generation, fail, T0 + 60_000, 0.9))
      .not.toEqual(CB.onResult(b.breaker, b.generation, fail, T0 + 60_000, 0.1))
  })
})
