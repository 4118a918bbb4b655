import { assert, describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import * as Random from "effect/Random"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import type { Recovery } from "@bootstrap-cache/core"
import * as Protection from "../src/Protection.js"

const boom = Effect.fail("boom" as const)
const ok = Effect.succeed("ok" as const)

/** Fail `n` calls on `key`. */
const failN = (p: Protection.Protection["Type"], key: string, n: number) =>
  Effect.forEach(Array.from({ length: n }), () => Effect.either(p.execute(key, boom)), { discard: true })

const noRecovery = { recovery: false } as const

const counter = (m: Metric.Metric.Counter<number>) => Effect.map(Metric.value(m), (s) => s.count)

describe("Protection", () => {
  it.scoped("passes results and errors through and counts them", () =>
    Effect.gen(function*() {
      const p = yield* Protection.make(noRecovery)
      const m = Protection.metricsOf(p.name)
      const calls0 = yield* counter(m.calls)
      const fails0 = yield* counter(m.failures)
      expect(yield* p.execute("a", ok)).toBe("ok")
      const e = yield* Effect.flip(p.execute("a", boom))
      expect(e).toBe("boom")
      const s = yield* p.status("a")
      expect(s.tracked).toBe(true)
      expect(s.phase).toBe("closed")
      expect(s.counts).toMatchObject({ requests: 2, totalSuccesses: 1, totalFailures: 1, consecutiveFailures: 1 })
      expect(s.health.samples).toBe(2)
      expect((yield* counter(m.calls)) - calls0).toBe(2)
      expect((yield* counter(m.failures)) - fails0).toBe(1)
      expect((yield* p.status("never-seen")).tracked).toBe(false)
    }))

  it.scoped("opens after readyToTrip and rejects with a typed error carrying key, state and retryAfterMs", () =>
    Effect.gen(function*() {
      const p = yield* Protection.make({ ...noRecovery, breaker: { timeout: "30 seconds" } })
      const rejections = Metric.tagged(Protection.metricsOf(p.name).rejections, "reason", "open")
      const rejected0 = yield* counter(rejections)
      yield* failN(p, "peer", 6)
      yield* TestClock.adjust("10 seconds")
      let ran = false
      const e = yield* Effect.flip(p.execute("peer", Effect.sync(() => (ran = true))))
      assert(e instanceof Protection.CircuitOpenError)
      expect(ran).toBe(false)
      expect({ key: e.key, state: e.state, retryAfterMs: e.retryAfterMs }).toEqual({
        key: "peer",
        state: "open",
        retryAfterMs: 20_000
      })
      expect((yield* counter(rejections)) - rejected0).toBe(1)
      // other keys are unaffected
      expect(yield* p.execute("other", ok)).toBe("ok")
    }))

  it.scoped("half-open admits maxRequests concurrent probes and closes after they succeed", () =>
    Effect.gen(function*() {
      const p = yield* Protection.make({ ...noRecovery, breaker: { timeout: 1_000, maxRequests: 2 } })
      yield* failN(p, "k", 6)
      yield* TestClock.adjust(1_000)
      const started = yield* Deferred.make<void>()
      const probe = p.execute("k", Effect.zipRight(Deferred.succeed(started, void 0), Effect.sleep("5 seconds")))
      const f1 = yield* Effect.fork(probe)
      const f2 = yield* Effect.fork(probe)
      yield* Deferred.await(started)
      yield* Effect.yieldNow()
      const third = yield* Effect.flip(p.execute("k", ok))
      assert(third instanceof Protection.CircuitTooManyRequestsError)
      expect({ key: third.key, state: third.state, retryAfterMs: third.retryAfterMs }).toEqual({
        key: "k",
        state: "half-open",
        retryAfterMs: 1_000 // the probeRetryAfter default
      })
      expect((yield* p.status("k")).phase).toBe("half-open")
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(f1)
      yield* Fiber.join(f2)
      expect((yield* p.status("k")).phase).toBe("closed")
    }))

  it.effect.prop(
    "half-open never runs more than maxRequests calls at once, whatever the number of callers",
    { maxRequests: FastCheck.integer({ min: 1, max: 5 }), callers: FastCheck.integer({ min: 1, max: 20 }) },
    ({ callers, maxRequests }) =>
      Effect.scoped(Effect.gen(function*() {
        const p = yield* Protection.make({ ...noRecovery, breaker: { timeout: 1_000, maxRequests } })
        yield* failN(p, "k", 6)
        yield* TestClock.adjust(1_000)
        let running = 0
        let peak = 0
        const call = p.execute(
          "k",
          Effect.acquireUseRelease(
            Effect.sync(() => peak = Math.max(peak, ++running)),
            () => Effect.sleep(100),
            () => Effect.sync(() => running--)
          )
        )
        const fibers = yield* Effect.forEach(Array.from({ length: callers }), () => Effect.fork(call))
        yield* Effect.yieldNow()
        yield* TestClock.adjust(100)
        const exits = yield* Effect.forEach(fibers, Fiber.await)
        const admitted = exits.filter(Exit.isSuccess).length
        expect(peak).toBeLessThanOrEqual(maxRequests)
        expect(admitted).toBe(Math.min(callers, maxRequests))
      })),
    { fastCheck: { seed: 5, numRuns: 30 }, timeout: 30_000 }
  )

  it.scoped("a half-open failure reopens, and open periods back off on consecutive trips", () =>
    Effect.gen(function*() {
      const p = yield* Protection.make({
        ...noRecovery,
        breaker: { timeout: 1_000, openBackoff: { max: 3_000, jitter: "none" } }
      })
      yield* failN(p, "k", 6)
      const periods: Array<number> = [(yield* p.status("k")).retryAfterMs]
      for (let i = 0; i < 3; i++) {
        yield* TestClock.adjust(periods[periods.length - 1]!)
        yield* Effect.either(p.execute("k", boom))
        const s = yield* p.status("k")
        expect(s.phase).toBe("open")
        periods.push(s.retryAfterMs)
      }
      expect(periods).toEqual([1_000, 2_000, 3_000, 3_000])
      yield* TestClock.adjust(3_000)
      yield* p.execute("k", ok)
      expect((yield* p.status("k")).phase).toBe("closed")
      yield* failN(p, "k", 6)
      expect((yield* p.status("k")).retryAfterMs).toBe(1_000)
    }))

  it.scoped("a late result from an older generation changes nothing", () =>
    Effect.gen(function*() {
      const p = yield* Protection.make({ ...noRecovery, breaker: { timeout: 1_000 } })
      const started = yield* Deferred.make<void>()
      const late = yield* Effect.fork(
        p.execute("k", Effect.zipRight(Deferred.succeed(started, void 0), Effect.zipRight(Effect.sleep(2_000), boom)))
      )
      yield* Deferred.await(started)
      yield* failN(p, "k", 6)
      yield* TestClock.adjust(1_000)
      const probe = yield* Effect.fork(p.execute("k", Effect.sleep(5_000)))
      yield* Effect.yieldNow()
      yield* TestClock.adjust(1_000) // the late failure arrives while half-open
      expect(Either.isLeft(yield* Effect.either(Fiber.join(late)))).toBe(true)
      expect((yield* p.status("k")).phase).toBe("half-open")
      yield* TestClock.adjust(5_000)
      yield* Fiber.join(probe)
      expect((yield* p.status("k")).phase).toBe("closed")
    }))

  it.scoped("interrupting a probe frees its half-open slot; excluded errors and defects are classified", () =>
    Effect.gen(function*() {
      const p = yield* Protection.make({
        ...noRecovery,
        breaker: { timeout: 1_000, isExcluded: (e) => e === "not-mine" }
      })
      yield* failN(p, "k", 6)
      yield* TestClock.adjust(1_000)
      const probe = yield* Effect.fork(p.execute("k", Effect.never))
      yield* Effect.yieldNow()
      assert((yield* Effect.flip(p.execute("k", ok))) instanceof Protection.CircuitTooManyRequestsError)
      yield* Fiber.interrupt(probe)
      yield* Effect.either(p.execute("k", Effect.fail("not-mine")))
      const s = yield* p.status("k")
      expect(s.phase).toBe("half-open")
      expect(s.counts.totalExclusions).toBe(2)
      const defect = yield* Effect.exit(p.execute("k", Effect.die("kaput")))
      assert(Exit.isFailure(defect))
      expect((yield* p.status("k")).phase).toBe("open")
    }))

  it.scoped("latency comes from the Clock: a slow call is a failure under the slow-call rule", () =>
    Effect.gen(function*() {
      const p = yield* Protection.make({
        ...noRecovery,
        breaker: { slowCall: { threshold: 200 }, readyToTrip: (c) => c.consecutiveFailures >= 2 }
      })
      const call = (ms: number) => Effect.fork(p.execute("k", Effect.as(Effect.sleep(ms), ms)))
      const fast = yield* call(150)
      yield* TestClock.adjust(150)
      expect(yield* Fiber.join(fast)).toBe(150)
      for (let i = 0; i < 2; i++) {
        const slow = yield* call(500)
        yield* TestClock.adjust(500)
        expect(yield* Fiber.join(slow)).toBe(500) // the caller still gets the value
      }
      const s = yield* p.status("k")
      expect(s.phase).toBe("open")
      expect(s.health.samples).toBe(3)
      expect(s.health.successRate).toBeCloseTo(1 / 3)
    }))

  describe("recovery ramp", () => {
    const options: Protection.ProtectionOptions = {
      breaker: { timeout: 1_000 },
      recovery: { mode: "LINEAR", initialRate: 0.2, increment: 0.2, interval: 10_000, successes: 40, failures: 3 }
    }

    const openThenClose = (p: Protection.Protection["Type"], key: string) =>
      Effect.gen(function*() {
        yield* failN(p, key, 6)
        yield* TestClock.adjust(1_000)
        yield* p.execute(key, ok)
      })

    it.scoped("throttles to the admitted share, without counting throttling as a failure", () =>
      Effect.gen(function*() {
        const p = yield* Protection.make(options)
        yield* openThenClose(p, "k")
        const s0 = yield* p.status("k")
        expect(s0.phase).toBe("recovering")
        expect(s0.recovery?.rate).toBe(0.2)
        let admitted = 0
        let throttled = 0
        for (let i = 0; i < 30; i++) {
          const r = yield* Effect.either(p.execute("k", ok))
          if (Either.isRight(r)) admitted++
          else {
            assert(r.left instanceof Protection.CircuitThrottledError)
            expect(r.left.state).toBe("recovering")
            expect(r.left.rate).toBe(0.2)
            expect(r.left.retryAfterMs).toBe(10_000)
            throttled++
          }
        }
        const s = yield* p.status("k")
        expect(admitted + throttled).toBe(30)
        expect(admitted).toBeGreaterThan(0)
        expect(admitted).toBeLessThan(15) // 0.2 · 30 = 6 expected; 15 is > 4 sd away
        expect(s.recovery?.throttled).toBe(throttled)
        expect(s.counts.totalFailures).toBe(0)
        expect(s.health.samples).toBe(7 + admitted) // 6 failures + 1 probe + admitted; throttled not recorded
      }).pipe(Effect.withRandom(Random.make("ramp-seed"))))

    it.scoped("completes after S successes and fails (reopening) after F failures", () =>
      Effect.gen(function*() {
        const p = yield* Protection.make({ ...options, recovery: { ...options.recovery as object, initialRate: 1, successes: 3 } })
        yield* openThenClose(p, "good")
        for (let i = 0; i < 3; i++) yield* p.execute("good", ok)
        expect((yield* p.status("good")).phase).toBe("closed")

        yield* openThenClose(p, "bad")
        yield* failN(p, "bad", 3)
        const s = yield* p.status("bad")
        expect(s.phase).toBe("open")
        expect(s.trips).toBeGreaterThanOrEqual(1)
      }))

    it.scoped("fails when the maximum recovery time passes", () =>
      Effect.gen(function*() {
        const p = yield* Protection.make({ ...options, recovery: { ...options.recovery as object, maxDuration: "1 minute" } })
        yield* openThenClose(p, "k")
        yield* TestClock.adjust("1 minute")
        const e = yield* Effect.flip(p.execute("k", ok))
        assert(e instanceof Protection.CircuitOpenError)
      }))
  })

  it.scoped("a failed recovery reopens with the next open period of the backoff streak, however it fails", () =>
    Effect.gen(function*() {
      // without resetAfter a plain trip after closing would start the streak again (1 s)
      const breaker = { timeout: 1_000, openBackoff: { max: 60_000, jitter: "none" as const } }
      const reopened = (
        recovery: Recovery.Options,
        readyToTrip: number,
        fail: (p: Protection.Protection["Type"]) => Effect.Effect<void>
      ) =>
        Effect.gen(function*() {
          const p = yield* Protection.make({
            breaker: { ...breaker, readyToTrip: (c) => c.consecutiveFailures >= readyToTrip },
            recovery
          })
          yield* failN(p, "k", readyToTrip)
          expect((yield* p.status("k")).retryAfterMs).toBe(1_000)
          yield* TestClock.adjust(1_000)
          yield* p.execute("k", ok)
          expect((yield* p.status("k")).phase).toBe("recovering")
          yield* fail(p)
          const s = yield* p.status("k")
          return [s.phase, s.trips, s.retryAfterMs]
        })
      // cooldown 0: the open period is the backoff streak's alone (the cooldown has its own test)
      const ramp = { initialRate: 1, successes: 100, cooldown: 0 }
      // F failures
      expect(yield* reopened({ ...ramp, failures: 2 }, 6, (p) => failN(p, "k", 2))).toEqual(["open", 2, 2_000])
      // readyToTrip while ramping, before F
      expect(yield* reopened({ ...ramp, failures: 10 }, 2, (p) => failN(p, "k", 2))).toEqual(["open", 2, 2_000])
      // the maximum recovery time
      const late = (p: Protection.Protection["Type"]) =>
        Effect.zipRight(TestClock.adjust("1 minute"), Effect.ignore(p.execute("k", ok)))
      expect(yield* reopened({ ...ramp, failures: 10, maxDuration: "1 minute" }, 6, late)).toEqual(["open", 2, 2_000])
    }))

  it.scoped("publishes phase changes in order", () =>
    Effect.gen(function*() {
      const p = yield* Protection.make({ breaker: { timeout: 1_000 }, recovery: { initialRate: 1, successes: 1 } })
      const queue = yield* p.subscribe
      yield* failN(p, "k", 6)
      yield* TestClock.adjust(1_000)
      yield* p.execute("k", ok) // half-open probe → recovering
      yield* p.execute("k", ok) // one success completes the ramp
      const changes = Chunk.toReadonlyArray(yield* Queue.takeAll(queue))
      expect(changes.map((c) => `${c.from}->${c.to}`)).toEqual([
        "closed->open",
        "open->half-open",
        "half-open->recovering",
        "recovering->closed"
      ])
      expect(changes[1]!.at).toBe(1_000)
      expect(changes.every((c) => c.key === "k")).toBe(true)
    }))

  it.scoped("changes is a Stream of the same events", () =>
    Effect.gen(function*() {
      const p = yield* Protection.make(noRecovery)
      const fiber = yield* Effect.fork(Stream.runCollect(Stream.take(p.changes, 2)))
      yield* Effect.yieldNow()
      yield* Effect.yieldNow()
      yield* p.trip("x")
      yield* p.reset("x")
      const got = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
      expect(got.map((c) => c.to)).toEqual(["open", "closed"])
    }))

  it.scoped("metrics carry the caller's metric labels", () =>
    Effect.gen(function*() {
      const p = yield* Protection.make(noRecovery)
      const m = Protection.metricsOf(p.name)
      const tagged = (c: Metric.Metric.Counter<number>) => counter(Metric.tagged(c, "caller", "labels-test"))
      const calls0 = yield* tagged(m.calls)
      const successes0 = yield* tagged(m.successes)
      yield* p.execute("k", ok).pipe(Effect.tagMetrics("caller", "labels-test"))
      yield* Effect.either(p.execute("k", boom)).pipe(Effect.tagMetrics("caller", "labels-test"))
      expect((yield* tagged(m.calls)) - calls0).toBe(2)
      expect((yield* tagged(m.successes)) - successes0).toBe(1)
      expect(yield* tagged(m.failures)).toBe(1)
    }))

  it.effect("draws come from the caller's Random: the same seed gives the same ramp decisions and open periods", () =>
    Effect.gen(function*() {
      const run = (seed: string) =>
        Effect.scoped(Effect.gen(function*() {
          const p = yield* Protection.make({
            breaker: { timeout: 1_000, openBackoff: { max: 60_000, jitter: "full" } },
            recovery: { initialRate: 0.5, successes: 100, failures: 100 }
          })
          yield* failN(p, "k", 6)
          const periods = [(yield* p.status("k")).retryAfterMs]
          yield* TestClock.adjust(periods[0]!)
          yield* p.execute("k", ok) // probe: closes, ramp starts
          const decisions: Array<boolean> = []
          for (let i = 0; i < 40; i++) decisions.push(Either.isRight(yield* Effect.either(p.execute("k", ok))))
          yield* p.trip("k")
          yield* TestClock.adjust(60_000)
          yield* Effect.either(p.execute("k", boom)) // half-open probe fails: second trip, jittered
          periods.push((yield* p.status("k")).retryAfterMs)
          return { decisions, periods }
        })).pipe(Effect.withRandom(Random.make(seed)))
      const a = yield* run("seed-a")
      const b = yield* run("seed-a")
      const c = yield* run("seed-b")
      expect(b).toEqual(a)
      expect(a.decisions.some((x) => x) && a.decisions.some((x) => !x)).toBe(true)
      expect(c).not.toEqual(a) // the decisions do follow the seed
    }))

  it.scoped("overall status counts keys per phase and health class; the gauge follows open breakers", () =>
    Effect.gen(function*() {
      const p = yield* Protection.make({ ...noRecovery, health: { minSamples: 1 } })
      yield* p.execute("up", ok)
      yield* failN(p, "down", 6)
      yield* p.trip("isolated")
      const o = yield* p.overall
      expect(o.keys).toBe(3)
      expect(o.byPhase).toEqual({ closed: 1, recovering: 0, "half-open": 0, open: 2 })
      expect(o.byHealth).toEqual({ HEALTHY: 1, DEGRADED: 0, UNHEALTHY: 1, UNKNOWN: 1 })
      const gauge = Protection.metricsOf(p.name).openBreakers
      expect((yield* Metric.value(gauge)).value).toBe(2)
      // another instance's breakers are its own: they do not move this instance's gauge
      const other = yield* Protection.make({ ...noRecovery, name: "gauge-test-other" })
      yield* other.trip("x")
      yield* other.trip("y")
      yield* other.trip("z")
      yield* p.reset("isolated")
      expect((yield* Metric.value(gauge)).value).toBe(1)
      expect((yield* Metric.value(Protection.metricsOf("gauge-test-other").openBreakers)).value).toBe(3)
      expect(o.healthyKeys).toBe(1)
      expect(o.isHealthy).toBe(false)
      expect(o.summary).toBe(
        "unhealthy: 3 keys, 1 healthy; 1 closed, 0 recovering, 0 half-open, 2 open; health 1 HEALTHY, 0 DEGRADED, 1 UNHEALTHY, 1 UNKNOWN"
      )
    }))

  it.scoped("evicts idle keys, but keeps an open or half-open breaker (a dead peer's backoff streak)", () =>
    Effect.gen(function*() {
      const p = yield* Protection.make({ ...noRecovery, idleTimeout: "1 minute", breaker: { timeout: "5 minutes" } })
      yield* p.execute("idle", ok)
      yield* failN(p, "open", 6)
      yield* TestClock.adjust("2 minutes")
      yield* p.execute("fresh", ok)
      expect((yield* p.status("idle")).tracked).toBe(false)
      expect((yield* p.status("open")).phase).toBe("open")
      yield* TestClock.adjust("10 minutes")
      yield* p.execute("fresh", ok)
      const dead = yield* p.status("open")
      expect(dead.tracked).toBe(true)
      expect(dead.phase).toBe("half-open")
      expect(dead.trips).toBe(1)
    }))

  it.scoped("evicts even an open breaker when the table is over maxKeys", () =>
    Effect.gen(function*() {
      const p = yield* Protection.make({ ...noRecovery, maxKeys: 1, breaker: { timeout: "5 minutes" } })
      yield* failN(p, "open", 6)
      expect((yield* p.status("open")).phase).toBe("open")
      yield* p.execute("other", ok)
      expect((yield* p.status("open")).tracked).toBe(false)
      expect((yield* p.overall).keys).toBe(1)
    }))

  it.scoped("evicts an idle key as soon as the entry before it in use order moves", () =>
    Effect.gen(function*() {
      const p = yield* Protection.make({ ...noRecovery, idleTimeout: "1 minute" })
      const long = yield* Effect.fork(p.execute("a", Effect.sleep("58 seconds"))) // a: first in use order
      yield* Effect.yieldNow()
      yield* TestClock.adjust("1 second")
      yield* p.execute("b", ok) // b: last used at 1 s
      yield* TestClock.adjust("57 seconds")
      yield* Fiber.join(long) // a completes at 58 s: used, but still first in order
      yield* TestClock.adjust("2 seconds")
      yield* p.execute("c", ok) // 60 s: a is not idle, so nothing goes
      expect((yield* p.status("b")).tracked).toBe(true)
      yield* TestClock.adjust("2 seconds")
      yield* p.execute("a", ok) // 62 s: a moves to the end; b, idle for 61 s, goes
      expect((yield* p.status("b")).tracked).toBe(false)
      expect((yield* p.status("a")).tracked).toBe(true)
      expect((yield* p.status("c")).tracked).toBe(true)
    }))

  it.scoped("never evicts a key with a call in flight", () =>
    Effect.gen(function*() {
      const p = yield* Protection.make({ ...noRecovery, idleTimeout: "1 minute" })
      const long = yield* Effect.fork(p.execute("busy", Effect.zipRight(Effect.sleep("5 minutes"), boom)))
      yield* Effect.yieldNow()
      yield* TestClock.adjust("2 minutes")
      yield* p.execute("other", ok) // sweeps
      expect((yield* p.status("busy")).tracked).toBe(true)
      yield* TestClock.adjust("3 minutes")
      yield* Effect.either(Fiber.join(long))
      expect((yield* p.status("busy")).counts.totalFailures).toBe(1)
    }))

  it.scoped("30 000 keys: memory stays bounded by maxKeys and status stays usable", () =>
    Effect.gen(function*() {
      const p = yield* Protection.make({ ...noRecovery, maxKeys: 10_000 })
      for (let i = 0; i < 30_000; i++) {
        const call: Effect.Effect<string, string> = i % 10 === 0 ? boom : ok
        yield* Effect.either(p.execute(`peer-${i}`, call))
      }
      const o = yield* p.overall
      expect(o.keys).toBe(10_000)
      expect((yield* p.status("peer-29999")).tracked).toBe(true)
      expect((yield* p.status("peer-0")).tracked).toBe(false)
      const big = yield* Protection.make(noRecovery)
      for (let i = 0; i < 30_000; i++) yield* big.execute(`peer-${i}`, ok)
      expect((yield* big.overall).keys).toBe(30_000)
    }), { timeout: 60_000 })

  it.scoped("snapshots restore breakers across instances", () =>
    Effect.gen(function*() {
      const a = yield* Protection.make({ ...noRecovery, breaker: { timeout: 10_000 } })
      yield* failN(a, "k", 6)
      yield* a.execute("fine", ok)
      const snap = yield* a.snapshot
      expect(snap.map(([k]) => k).sort()).toEqual(["fine", "k"])
      const b = yield* Protection.make({ ...noRecovery, breaker: { timeout: 10_000 } })
      yield* b.restore(snap)
      yield* TestClock.adjust(5_000)
      const e = yield* Effect.flip(b.execute("k", ok))
      assert(e instanceof Protection.CircuitOpenError)
      expect(e.retryAfterMs).toBe(5_000)
    }))

  it.scoped("a breaker snapshotted half-open with its probe in flight admits a probe after restore, even a day later", () =>
    Effect.gen(function*() {
      const a = yield* Protection.make({ ...noRecovery, breaker: { timeout: 10_000 } })
      yield* failN(a, "k", 6)
      yield* TestClock.adjust(10_000)
      yield* Effect.fork(a.execute("k", Effect.never)) // the probe: lost with the process
      yield* Effect.yieldNow()
      expect((yield* a.status("k")).phase).toBe("half-open")
      const snap = yield* a.snapshot
      yield* TestClock.adjust("1 day")
      const b = yield* Protection.make({ ...noRecovery, breaker: { timeout: 10_000 } })
      yield* b.restore(snap)
      expect(yield* b.execute("k", ok)).toBe("ok")
      expect((yield* b.status("k")).phase).toBe("closed")
    }))

  it.scoped("snapshots carry the health window and a running recovery ramp", () =>
    Effect.gen(function*() {
      const options = { breaker: { timeout: 1_000 }, recovery: { initialRate: 1, successes: 10 }, health: { minSamples: 1 } }
      const a = yield* Protection.make(options)
      yield* failN(a, "k", 6)
      yield* TestClock.adjust(1_000)
      yield* a.execute("k", ok)
      yield* a.execute("k", ok)
      const before = yield* a.status("k")
      expect(before.phase).toBe("recovering")
      const snap = yield* a.snapshot
      const b = yield* Protection.make(options)
      yield* b.restore(snap)
      const after = yield* b.status("k")
      expect(after.phase).toBe("recovering")
      expect(after.recovery?.successes).toBe(1) // the probe closed the breaker; one call since
      expect(after.health.samples).toBe(8)
      expect(after.health.status).toBe(before.health.status)
    }))

  it.scoped("recovery cooldown: after a ramp ends, no new one starts until the cooldown has passed", () =>
    Effect.gen(function*() {
      const p = yield* Protection.make({
        breaker: { timeout: 1_000 },
        recovery: { initialRate: 1, successes: 2, cooldown: "30 seconds" }
      })
      yield* failN(p, "k", 6)
      yield* TestClock.adjust(1_000)
      yield* p.execute("k", ok) // probe: closes, ramp starts
      yield* p.execute("k", ok)
      yield* p.execute("k", ok) // S = 2: ramp complete, cooldown until 31 s
      const done = yield* p.status("k")
      expect([done.phase, done.cooldownMs]).toEqual(["closed", 30_000])
      yield* TestClock.adjust(5_000)
      yield* failN(p, "k", 6) // trips at 6 s with a 1 s timeout, held open to 31 s
      const e = yield* Effect.flip(p.execute("k", ok))
      assert(e instanceof Protection.CircuitOpenError)
      expect(e.retryAfterMs).toBe(25_000)
      yield* TestClock.adjust(24_999)
      assert((yield* Effect.flip(p.execute("k", ok))) instanceof Protection.CircuitOpenError)
      yield* TestClock.adjust(1)
      yield* p.execute("k", ok)
      expect((yield* p.status("k")).phase).toBe("recovering")
    }))

  it.scoped("isHealthy and summary on a key's status", () =>
    Effect.gen(function*() {
      const p = yield* Protection.make({ ...noRecovery, breaker: { timeout: 42_000 }, health: { minSamples: 1 } })
      yield* p.execute("up", ok)
      yield* failN(p, "down", 6)
      const up = yield* p.status("up")
      const down = yield* p.status("down")
      expect([up.isHealthy, down.isHealthy]).toEqual([true, false])
      expect(up.summary).toBe("up: closed; health HEALTHY (100% of 1 ok, latency 0 ms)")
      expect(down.summary).toBe("down: open, retry in 42 s, 1 trip; health UNHEALTHY (0% of 6 ok) — not healthy")
      expect((yield* p.overall).isHealthy).toBe(true) // one of two keys unhealthy: not a majority
    }))

  it.scoped("an interrupted call on a closed breaker leaves nothing behind once its fiber has exited", () =>
    Effect.gen(function*() {
      const p = yield* Protection.make({ ...noRecovery, idleTimeout: "1 minute" })
      const fiber = yield* Effect.fork(p.execute("gone", Effect.never))
      yield* Effect.yieldNow()
      yield* TestClock.adjust("2 minutes")
      yield* p.execute("other", ok) // sweeps: "gone" has a call in flight
      expect((yield* p.status("gone")).tracked).toBe(true)
      yield* Fiber.interrupt(fiber)
      yield* TestClock.adjust("2 minutes")
      yield* p.execute("other", ok) // sweeps again: the caller has exited, "gone" is idle
      expect((yield* p.status("gone")).tracked).toBe(false)
      expect(yield* p.execute("gone", ok)).toBe("ok")
    }))

  it.effect("layer and protect provide the service", () =>
    Effect.gen(function*() {
      expect(yield* Protection.protect(ok, "k")).toBe("ok")
      expect(yield* ok.pipe(Protection.protect("k"))).toBe("ok")
      const s = yield* Effect.flatMap(Protection.Protection, (p) => p.status("k"))
      expect(s.counts.totalSuccesses).toBe(2)
    }).pipe(Effect.provide(Protection.layer())))
})
