import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { pipe } from "effect/Function"
import * as Health from "../src/Health.js"

const T0 = 1_700_000_000_000

const feed = (h: Health.Health, outcomes: ReadonlyArray<boolean>, latencyMs = 10, start = T0, stepMs = 1) =>
  outcomes.reduce((acc, ok, i) => Health.record(acc, { ok, latencyMs }, start + i * stepMs), h)

const times = (n: number, ok: boolean) => Array.from({ length: n }, () => ok)

describe("Health", () => {
  it("is UNKNOWN below the minimum number of samples", () => {
    const h = feed(Health.make({ minSamples: 5 }), times(4, true))
    expect(Health.status(h, T0 + 10)).toBe("UNKNOWN")
    expect(Health.status(Health.record(h, { ok: true, latencyMs: 1 }, T0 + 10), T0 + 10)).toBe("HEALTHY")
  })

  it("classifies by success rate: ≥ 0.95 HEALTHY, ≥ 0.80 DEGRADED, else UNHEALTHY", () => {
    const h = Health.make({ window: { calls: 20 }, maxConsecutiveErrors: 100 })
    const at = T0 + 100
    // 19/20 = 0.95
    expect(Health.status(feed(h, [false, ...times(19, true)]), at)).toBe("HEALTHY")
    // 18/20 = 0.90
    expect(Health.status(feed(h, [false, false, ...times(18, true)]), at)).toBe("DEGRADED")
    // 16/20 = 0.80
    expect(Health.status(feed(h, [...times(4, false), ...times(16, true)]), at)).toBe("DEGRADED")
    // 15/20 = 0.75
    expect(Health.status(feed(h, [...times(5, false), ...times(15, true)]), at)).toBe("UNHEALTHY")
  })

  it("a slow endpoint is DEGRADED even when every call succeeds", () => {
    const h = feed(Health.make({ maxLatency: 100 }), times(20, true), 150)
    const r = Health.report(h, T0 + 100)
    expect(r.status).toBe("DEGRADED")
    expect(r.slow).toBe(true)
    expect(r.latencyMs).toBe(150)
    expect(Health.status(feed(Health.make({ maxLatency: 200 }), times(20, true), 150), T0 + 100)).toBe("HEALTHY")
  })

  it("K consecutive errors make it UNHEALTHY regardless of the rate, even with few samples", () => {
    const base = feed(Health.make({ window: { calls: 100 }, maxConsecutiveErrors: 3 }), times(90, true))
    const h = feed(base, times(3, false), 10, T0 + 1_000)
    const r = Health.report(h, T0 + 2_000)
    expect(r.successRate).toBeGreaterThan(0.95)
    expect(r.consecutiveErrors).toBe(3)
    expect(r.status).toBe("UNHEALTHY")
    expect(Health.status(feed(Health.make({ maxConsecutiveErrors: 2 }), times(2, false)), T0 + 5)).toBe("UNHEALTHY")
  })

  it("a count window keeps only the last N calls", () => {
    const h = feed(Health.make({ window: { calls: 10 }, maxConsecutiveErrors: 100 }), [...times(10, false), ...times(10, true)])
    expect(h.samples.length).toBe(10)
    expect(Health.status(h, T0 + 100)).toBe("HEALTHY")
  })

  it("a time window keeps only the calls of the last T ms", () => {
    const h0 = feed(Health.make({ window: { duration: "1 minute" }, maxConsecutiveErrors: 100 }), times(10, false), 10, T0, 1_000)
    const h = feed(h0, times(10, true), 10, T0 + 60_000, 100)
    // at T0+61s the failures at T0+2s … T0+9s are still within the last minute
    const early = Health.report(h, T0 + 61_000)
    expect(early.samples).toBe(18)
    expect(early.status).toBe("UNHEALTHY")
    // at T0+70s all failures have left the window
    const late = Health.report(h, T0 + 70_000)
    expect(late.samples).toBe(10)
    expect(late.status).toBe("HEALTHY")
  })

  it("a time window keeps at most maxSamples, the newest", () => {
    const h = feed(Health.make({ window: { duration: "1 hour" }, maxSamples: 8, maxConsecutiveErrors: 100 }), [
      ...times(8, false),
      ...times(8, true)
    ])
    expect(h.samples.length).toBe(8)
    expect(h.samples.every((s) => s.ok)).toBe(true)
    expect(Health.status(h, T0 + 20)).toBe("HEALTHY")
  })

  it("samples older than maxAge are dropped, so a silent endpoint returns to UNKNOWN", () => {
    const h = feed(Health.make({ maxAge: "5 minutes" }), times(20, false))
    expect(Health.status(h, T0 + 1_000)).toBe("UNHEALTHY")
    expect(Health.status(h, T0 + 300_000)).toBe("UNHEALTHY")
    expect(Health.status(h, T0 + 300_020)).toBe("UNKNOWN")
    expect(Health.prune(h, T0 + 400_000).samples.length).toBe(0)
  })

  it("latency is the configured quantile of successful calls only", () => {
    let h = Health.make({ latencyQuantile: 0.5, maxConsecutiveErrors: 100 })
    for (let i = 1; i <= 9; i++) h = Health.record(h, { ok: true, latencyMs: i * 10 }, T0 + i)
    h = Health.record(h, { ok: false, latencyMs: 30_000 }, T0 + 10)
    expect(Health.report(h, T0 + 10).latencyMs).toBe(50)
    expect(pipe(h, Health.report(T0 + 10)).samples).toBe(10)
  })

  it.prop(
    "the status agrees with the success rate and consecutive errors of the window",
    {
      outcomes: FastCheck.array(FastCheck.boolean(), { maxLength: 120 }),
      calls: FastCheck.integer({ min: 1, max: 60 }),
      k: FastCheck.integer({ min: 1, max: 10 }),
      minSamples: FastCheck.integer({ min: 1, max: 20 })
    },
    ({ calls, k, minSamples, outcomes }) => {
      const h = feed(Health.make({ window: { calls }, maxConsecutiveErrors: k, minSamples, maxLatency: 1_000 }), outcomes)
      const r = Health.report(h, T0 + outcomes.length)
      const window = outcomes.slice(-calls)
      expect(r.samples).toBe(window.length)
      let tail = 0
      for (let i = window.length - 1; i >= 0 && !window[i]; i--) tail++
      const rate = window.filter(Boolean).length / window.length
      const expected = tail >= k
        ? "UNHEALTHY"
        : window.length < minSamples
        ? "UNKNOWN"
        : rate >= 0.95
        ? "HEALTHY"
        : rate >= 0.8
        ? "DEGRADED"
        : "UNHEALTHY"
      expect(r.status).toBe(expected)
    },
    { fastCheck: { seed: 7, numRuns: 300 } }
  )

  it.prop(
    "is persistent: every value keeps its own window, whatever is recorded from it or from older values",
    {
      ops: FastCheck.array(
        FastCheck.record({
          from: FastCheck.oneof(FastCheck.constant(-1), FastCheck.constant(-1), FastCheck.nat()), // -1: the newest
          ok: FastCheck.boolean(),
          latencyMs: FastCheck.nat({ max: 2_000 }),
          stepMs: FastCheck.nat({ max: 30_000 })
        }),
        { maxLength: 200 }
      ),
      calls: FastCheck.integer({ min: 1, max: 40 })
    },
    ({ calls, ops }) => {
      const config = Health.makeConfig({ window: { calls }, maxAge: "1 minute", minSamples: 1, maxConsecutiveErrors: 3 })
      // every value ever made, with the samples a naive model says it holds
      const values: Array<{ h: Health.Health; model: ReadonlyArray<Health.Sample>; now: number }> = [
        { h: Health.make(config), model: [], now: T0 }
      ]
      for (const op of ops) {
        const base = values[op.from < 0 ? values.length - 1 : op.from % values.length]!
        const now = base.now + op.stepMs
        const kept = base.model.filter((s) => now - s.at <= config.maxAgeMs)
        const model = [...kept, { at: now, ok: op.ok, latencyMs: op.latencyMs }].slice(-calls)
        values.push({ h: Health.record(base.h, { ok: op.ok, latencyMs: op.latencyMs }, now), model, now })
      }
      for (const { h, model, now } of values) {
        expect(h.samples).toEqual(model)
        const r = Health.report(h, now)
        let tail = 0
        for (let i = model.length - 1; i >= 0 && !model[i]!.ok; i--) tail++
        expect(r.samples).toBe(model.length)
        expect(r.consecutiveErrors).toBe(tail)
        expect(r.latencyMs).toEqual(Health.quantile(model.filter((s) => s.ok).map((s) => s.latencyMs), 0.95))
      }
    },
    { fastCheck: { seed: 11, numRuns: 200 } }
  )

  it("recordSuccesses of more successes than the window, out of time order, keeps what one-by-one records keep", () => {
    // one by one, the age prune never reaches T0 (stale at T0 + 4): each record stops it at a T0 + 4 sample
    // ahead of T0, which the count cap then drops
    const at = [T0 + 4, T0 + 4, T0, T0 + 2, T0 + 4]
    let one = Health.make({ window: { calls: 3 }, maxAge: 1 })
    for (const t of at) one = Health.record(one, { ok: true, latencyMs: 3 }, t)
    const batched = Health.recordSuccesses(Health.make({ window: { calls: 3 }, maxAge: 1 }), at, at.map(() => 3), at.length)
    expect(one.samples.map((s) => s.at)).toEqual([T0, T0 + 2, T0 + 4])
    expect(batched.samples).toEqual(one.samples)
  })

  it("records data-last (pipe) as data-first", () => {
    const h = feed(Health.make(), [true, false, true])
    const sample = { ok: false, latencyMs: 7 }
    expect(pipe(h, Health.record(sample, T0 + 9)).samples).toEqual(Health.record(h, sample, T0 + 9).samples)
  })

  it.prop(
    "recordSuccesses is the same as recording each success in order, whatever came before (and values stay independent)",
    {
      window: FastCheck.oneof(
        FastCheck.record({ calls: FastCheck.integer({ min: 1, max: 40 }) }),
        FastCheck.record({ duration: FastCheck.integer({ min: 1, max: 500 }) })
      ),
      maxAge: FastCheck.integer({ min: 1, max: 2_000 }),
      maxSamples: FastCheck.integer({ min: 1, max: 40 }),
      before: FastCheck.array(FastCheck.record({ ok: FastCheck.boolean(), gap: FastCheck.integer({ min: -5, max: 80 }) }), { maxLength: 80 }),
      batches: FastCheck.array(
        FastCheck.array(FastCheck.record({ gap: FastCheck.integer({ min: -5, max: 80 }), latencyMs: FastCheck.integer({ min: -3, max: 3_000 }) }), { maxLength: 90 }),
        { maxLength: 4 }
      )
    },
    ({ batches, before, maxAge, maxSamples, window }) => {
      let now = T0
      let h = Health.make({ window, maxAge, maxSamples })
      for (const b of before) h = Health.record(h, { ok: b.ok, latencyMs: 5 }, now += b.gap)
      let one = h
      let batched = h
      for (const batch of batches) {
        const at: Array<number> = []
        const latencies: Array<number> = []
        for (const c of batch) {
          at.push(now += c.gap)
          latencies.push(c.latencyMs)
          one = Health.record(one, { ok: true, latencyMs: c.latencyMs }, now)
        }
        const previous = batched
        batched = Health.recordSuccesses(batched, at, latencies, at.length)
        // the value it was built from grows apart from it without changing what either sees
        const fork = Health.record(previous, { ok: false, latencyMs: 1 }, now)
        for (const t of [now, now + 1, now + maxAge]) expect(Health.report(batched, t)).toEqual(Health.report(one, t))
        expect(batched.samples).toEqual(one.samples)
        expect(fork.samples.at(-1)).toEqual({ at: now, ok: false, latencyMs: 1 })
      }
      // a failure after a batch counts from it as after single records
      expect(Health.report(Health.record(batched, { ok: false, latencyMs: 1 }, now + 1), now + 1))
        .toEqual(Health.report(Health.record(one, { ok: false, latencyMs: 1 }, now + 1), now + 1))
    },
    { fastCheck: { seed: 21, numRuns: 400 } }
  )
})
