import { describe, expect, it } from "@effect/vitest"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as KeyProtection from "../src/KeyProtection.js"
import * as ProtectionStatus from "../src/ProtectionStatus.js"

const T0 = 1_700_000_000_000

const withCalls = (ok: boolean, n: number) => {
  let s = KeyProtection.make({ health: { minSamples: 1 }, recovery: false }, T0)
  for (let i = 0; i < n; i++) {
    const a = KeyProtection.admit(s, T0, 0.5)
    if (a._tag !== "Admitted") break
    s = KeyProtection.complete(a.state, a, ok ? CircuitBreaker.Outcome.success(20) : CircuitBreaker.Outcome.failure("x", 20), T0 + 20, 0.5).state
  }
  return ProtectionStatus.report(s, T0 + 20)
}

describe("ProtectionStatus", () => {
  it("a key is healthy only closed, without a ramp, and HEALTHY or UNKNOWN", () => {
    expect(ProtectionStatus.isHealthy("closed", "HEALTHY")).toBe(true)
    expect(ProtectionStatus.isHealthy("closed", "UNKNOWN")).toBe(true)
    expect(ProtectionStatus.isHealthy("closed", "DEGRADED")).toBe(false)
    expect(ProtectionStatus.isHealthy("recovering", "HEALTHY")).toBe(false)
    expect(ProtectionStatus.isHealthy("half-open", "HEALTHY")).toBe(false)
    expect(ProtectionStatus.isHealthy("open", "UNKNOWN")).toBe(false)
  })

  it("a table is healthy while no more than half its keys are unhealthy", () => {
    const up = withCalls(true, 3)
    const down = withCalls(false, 6)
    expect(ProtectionStatus.overall([]).isHealthy).toBe(true)
    expect(ProtectionStatus.overall([up, down]).isHealthy).toBe(true)
    const o = ProtectionStatus.overall([up, down, down])
    expect([o.keys, o.healthyKeys, o.isHealthy]).toEqual([3, 1, false])
    expect(ProtectionStatus.overallSummary(o)).toBe(
      "unhealthy: 3 keys, 1 healthy; 1 closed, 0 recovering, 0 half-open, 2 open; health 1 HEALTHY, 0 DEGRADED, 2 UNHEALTHY, 0 UNKNOWN"
    )
  })

  it("summarises a key in one line", () => {
    expect(ProtectionStatus.summary("a", withCalls(true, 3))).toBe("a: closed; health HEALTHY (100% of 3 ok, latency 20 ms)")
    expect(ProtectionStatus.summary("b", withCalls(false, 6))).toBe(
      "b: open, retry in 60 s, 1 trip; health UNHEALTHY (0% of 6 ok) — not healthy"
    )
  })
})
