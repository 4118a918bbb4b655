import { assert, describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { pipe } from "effect/Function"
import * as Recovery from "../src/Recovery.js"

const T0 = 1_700_000_000_000

/** A small deterministic uniform generator (mulberry32) for statistical tests. */
const mulberry32 = (seed: number) => () => {
  let t = (seed += 0x6d2b79f5)
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
}

describe("Recovery", () => {
  it("LINEAR adds the increment every interval, up to 1", () => {
    const c = Recovery.makeConfig({ mode: "LINEAR", initialRate: 0.1, increment: 0.3, interval: 1_000 })
    expect([0, 999, 1_000, 2_500, 3_000, 9_000].map((t) => Recovery.scheduledRate(c, t))).toEqual([
      0.1,
      0.1,
      0.4,
      0.7,
      1,
      1
    ])
  })

  it("EXPONENTIAL multiplies by the factor every interval, up to 1", () => {
    const c = Recovery.makeConfig({ mode: "EXPONENTIAL", initialRate: 0.125, factor: 2, interval: 1_000 })
    expect([0, 1_000, 2_000, 3_000, 4_000].map((t) => Recovery.scheduledRate(c, t))).toEqual([0.125, 0.25, 0.5, 1, 1])
  })

  it("STEP walks the configured shares, then admits everything", () => {
    const c = Recovery.makeConfig({ mode: "STEP", initialRate: 0.05, steps: [0.2, 0.6], interval: 1_000 })
    expect([0, 1_000, 2_000, 3_000].map((t) => Recovery.scheduledRate(c, t))).toEqual([0.05, 0.2, 0.6, 1])
  })

  it("admits iff the draw is below the share; throttled calls report when the share rises", () => {
    const r = Recovery.start({ initialRate: 0.25, increment: 0.25, interval: 1_000 }, 7, T0)
    const yes = Recovery.admit(r, T0 + 200, 0.24)
    assert(yes.admitted)
    expect(yes.epoch).toBe(7)
    expect(yes.recovery.admitted).toBe(1)
    const no = Recovery.admit(r, T0 + 200, 0.25)
    assert(!no.admitted)
    expect(no.phase).toBe("ramping")
    expect(no.rate).toBe(0.25)
    expect(no.retryAfterMs).toBe(800)
    expect(no.recovery.throttled).toBe(1)
    assert(Recovery.admit(r, T0 + 1_000, 0.49).admitted)
  })

  it("completes after S successes; a completed ramp admits everything", () => {
    let r = Recovery.start({ successes: 3, initialRate: 0.01 }, 1, T0)
    for (let i = 0; i < 2; i++) r = Recovery.onResult(r, 1, "success", T0 + i)
    expect(r.phase).toBe("ramping")
    expect(Recovery.progress(r)).toBeCloseTo(2 / 3)
    r = Recovery.onResult(r, 1, "success", T0 + 3)
    expect(r.phase).toBe("complete")
    expect(Recovery.rateAt(r, T0 + 4)).toBe(1)
    assert(Recovery.admit(r, T0 + 4, 0.999).admitted)
  })

  it("fails after F failures; exclusions and other epochs count for nothing", () => {
    let r = Recovery.start({ failures: 2 }, 5, T0)
    r = Recovery.onResult(r, 5, "failure", T0 + 1)
    r = Recovery.onResult(r, 4, "failure", T0 + 2)
    r = Recovery.onResult(r, 5, "excluded", T0 + 3)
    expect(r.phase).toBe("ramping")
    expect(r.failures).toBe(1)
    r = pipe(r, Recovery.onResult(5, "failure", T0 + 4))
    expect(r.phase).toBe("failed")
    const a = Recovery.admit(r, T0 + 5, 0)
    assert(!a.admitted)
    expect(a.phase).toBe("failed")
  })

  it("fails when the maximum recovery time passes before completion", () => {
    const r = Recovery.start({ maxDuration: 60_000 }, 1, T0)
    expect(Recovery.advance(r, T0 + 59_999).phase).toBe("ramping")
    expect(Recovery.advance(r, T0 + 60_000).phase).toBe("failed")
    expect(Recovery.onResult(r, 1, "success", T0 + 60_000).successes).toBe(0)
  })

  it("progress round-trips", () => {
    const r = Recovery.onResult(Recovery.start({}, 3, T0), 3, "success", T0 + 1)
    expect(Recovery.toProgress(Recovery.fromProgress(r.config, Recovery.toProgress(r)))).toEqual(Recovery.toProgress(r))
  })

  it.prop(
    "the ramp never admits more than its share (within 4 standard deviations)",
    {
      mode: FastCheck.constantFrom<Recovery.Mode>("LINEAR", "EXPONENTIAL", "STEP"),
      initialRate: FastCheck.double({ min: 0.01, max: 1, noNaN: true }),
      seed: FastCheck.integer(),
      elapsed: FastCheck.integer({ min: 0, max: 120_000 })
    },
    ({ elapsed, initialRate, mode, seed }) => {
      const draw = mulberry32(seed)
      let r = Recovery.start({ mode, initialRate, interval: 10_000, maxDuration: 1_000_000, successes: 1_000_000 }, 1, T0)
      const now = T0 + elapsed
      const share = Recovery.rateAt(r, now)
      const n = 2_000
      let admitted = 0
      for (let i = 0; i < n; i++) {
        const a = Recovery.admit(r, now, draw())
        r = a.recovery
        if (a.admitted) admitted++
      }
      const sd = Math.sqrt(n * share * (1 - share))
      expect(admitted).toBeLessThanOrEqual(n * share + 4 * sd + 1)
      expect(admitted).toBeGreaterThanOrEqual(n * share - 4 * sd - 1)
      expect(r.admitted + r.throttled).toBe(n)
    },
    { fastCheck: { seed: 11, numRuns: 60 } }
  )

  it.prop(
    "the share never decreases over time while ramping",
    {
      mode: FastCheck.constantFrom<Recovery.Mode>("LINEAR", "EXPONENTIAL", "STEP"),
      initialRate: FastCheck.double({ min: 0.01, max: 1, noNaN: true }),
      steps: FastCheck.array(FastCheck.double({ min: 0.01, max: 1, noNaN: true }), { maxLength: 5 }),
      t: FastCheck.integer({ min: 0, max: 100_000 }),
      dt: FastCheck.integer({ min: 0, max: 100_000 })
    },
    ({ dt, initialRate, mode, steps, t }) => {
      const sorted = [...steps].sort((a, b) => a - b)
      const c = Recovery.makeConfig({ mode, initialRate, steps: sorted, interval: 5_000 })
      const a = Recovery.scheduledRate(c, t)
      const b = Recovery.scheduledRate(c, t + dt)
      expect(b).toBeGreaterThanOrEqual(a)
      expect(a).toBeGreaterThan(0)
      expect(b).toBeLessThanOrEqual(1)
    },
    { fastCheck: { seed: 12 } }
  )
})
