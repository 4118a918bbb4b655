import { assert, describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import { pipe } from "effect/Function"
import * as Schema from "effect/Schema"
import * as Backoff from "../src/Backoff.js"

describe("Backoff", () => {
  it("make applies the documented defaults and clamps bad values", () => {
    const p = Backoff.make()
    expect([p.minMs, p.maxMs, p.factor, p.jitter]).toEqual([100, 30_000, 2, "full"])
    const q = Backoff.make({ min: "2 seconds", max: 500, factor: 0.5, jitter: "none" })
    expect([q.minMs, q.maxMs, q.factor]).toEqual([2_000, 2_000, 1])
  })

  it("a Policy decoded from configuration must have maxMs ≥ minMs", () => {
    const decode = Schema.decodeUnknownEither(Backoff.Policy)
    expect(Either.isRight(decode({ minMs: 100, maxMs: 100, factor: 2, jitter: "full" }))).toBe(true)
    const bad = decode({ minMs: 100, maxMs: 50, factor: 2, jitter: "full" })
    assert(Either.isLeft(bad))
    expect(bad.left.message).toContain("maxMs (50) must be at least minMs (100)")
    expect(Either.isLeft(decode({ minMs: 100, maxMs: 500, factor: 0.5, jitter: "full" }))).toBe(true)
  })

  it("no jitter: min · factor^attempt, capped at max", () => {
    const p = Backoff.make({ min: 100, max: 1_000, factor: 3, jitter: "none" })
    expect([0, 1, 2, 3, 4].map((a) => Backoff.delay(p, a, 0.99))).toEqual([100, 300, 900, 1_000, 1_000])
    expect(Backoff.exponential(p, 10_000)).toBe(1_000)
  })

  it("full jitter scales the exponential by the draw (AWS)", () => {
    const p = Backoff.make({ min: 100, max: 10_000, jitter: "full" })
    expect(Backoff.delay(p, 3, 0.5)).toBe(400)
    expect(Backoff.delay(p, 3, 0)).toBe(0)
    expect(pipe(p, Backoff.delay(3, 0.25))).toBe(200)
  })

  it("equal jitter keeps half of the exponential (AWS)", () => {
    const p = Backoff.make({ min: 100, max: 10_000, jitter: "equal" })
    expect(Backoff.delay(p, 2, 0)).toBe(200)
    expect(Backoff.delay(p, 2, 0.5)).toBe(300)
  })

  it("decorrelated jitter draws in [min, 3 · previous), capped (AWS)", () => {
    const p = Backoff.make({ min: 100, max: 1_000, jitter: "decorrelated" })
    expect(Backoff.delay(p, 0, 0)).toBe(100)
    expect(Backoff.delay(p, 5, 0.5, 300)).toBe(100 + 0.5 * (900 - 100))
    expect(Backoff.delay(p, 5, 0.99, 900)).toBe(1_000)
  })

  it("next threads the previous delay through a sequence", () => {
    const p = Backoff.make({ min: 10, max: 1_000_000, jitter: "decorrelated" })
    let state = Backoff.initial
    const delays: Array<number> = []
    for (let i = 0; i < 5; i++) {
      const [ms, s] = Backoff.next(p, state, 0.999)
      delays.push(ms)
      state = s
    }
    expect(state.attempt).toBe(5)
    // with a draw near 1 every delay is close to 3× the previous
    for (let i = 1; i < delays.length; i++) {
      expect(delays[i]! / delays[i - 1]!).toBeGreaterThan(2.9)
    }
  })

  it.prop(
    "every delay lies in [0, max]; none/decorrelated never go below min; full never exceeds the exponential",
    {
      min: FastCheck.integer({ min: 1, max: 10_000 }),
      span: FastCheck.integer({ min: 0, max: 100_000 }),
      factor: FastCheck.double({ min: 1, max: 10, noNaN: true }),
      jitter: FastCheck.constantFrom<Backoff.Jitter>("none", "full", "equal", "decorrelated"),
      attempt: FastCheck.integer({ min: 0, max: 200 }),
      draw: FastCheck.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      previous: FastCheck.option(FastCheck.integer({ min: 0, max: 1_000_000 }), { nil: undefined })
    },
    ({ attempt, draw, factor, jitter, min, previous, span }) => {
      const p = Backoff.make({ min, max: min + span, factor, jitter })
      const d = Backoff.delay(p, attempt, draw, previous)
      expect(d).toBeGreaterThanOrEqual(0)
      expect(d).toBeLessThanOrEqual(p.maxMs)
      if (jitter === "none" || jitter === "decorrelated") expect(d).toBeGreaterThanOrEqual(p.minMs)
      if (jitter !== "decorrelated") expect(d).toBeLessThanOrEqual(Backoff.exponential(p, attempt))
    },
    { fastCheck: { seed: 42 } }
  )

  it.prop(
    "the un-jittered exponential never decreases with the attempt",
    { attempt: FastCheck.integer({ min: 0, max: 1_000 }), factor: FastCheck.double({ min: 1, max: 4, noNaN: true }) },
    ({ attempt, factor }) => {
      const p = Backoff.make({ min: 5, max: 60_000, factor, jitter: "none" })
      expect(Backoff.exponential(p, attempt + 1)).toBeGreaterThanOrEqual(Backoff.exponential(p, attempt))
    },
    { fastCheck: { seed: 43 } }
  )
})
