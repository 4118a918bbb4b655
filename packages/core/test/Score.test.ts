import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { pipe } from "effect/Function"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { PeerAddress, PeerRecord, Score } from "@bootstrap-cache/core"
import { PolicyArbitraries } from "@bootstrap-cache/testkit"

const T0 = 1_750_000_000_000
const DAY = 86_400_000
const A = PeerAddress.unsafeParse("/ip4/1.2.3.4/tcp/4001")
const B = PeerAddress.unsafeParse("/ip4/5.6.7.8/tcp/4001")

const record = (overrides: Partial<PeerRecord.AddressRecord> = {}, address = A): PeerRecord.AddressRecord => ({
  ...PeerRecord.makeAddressRecord(address, T0),
  ...overrides
})

const peerOf = (
  addresses: ReadonlyArray<PeerRecord.AddressRecord>,
  capabilities: Partial<PeerRecord.Capabilities> = {},
  protocols: ReadonlyArray<string> = []
): PeerRecord.PeerRecord => ({
  peerId: Option.none(),
  addresses,
  protocols,
  capabilities: { ...PeerRecord.noCapabilities, ...capabilities },
  sources: [],
  firstSeen: T0,
  lastSeen: T0
})

const succeeded = (r: PeerRecord.AddressRecord, now: number): PeerRecord.AddressRecord => ({
  ...r,
  successes: r.successes + 1,
  consecutiveFailures: 0,
  lastSuccess: Option.some(now),
  lastSeen: Option.some(Math.max(now, Option.getOrElse(r.lastSeen, () => 0)))
})

const failed = (r: PeerRecord.AddressRecord, now: number): PeerRecord.AddressRecord => ({
  ...r,
  failures: r.failures + 1,
  consecutiveFailures: r.consecutiveFailures + 1,
  lastFailure: Option.some(now)
})

describe("Score", () => {
  it("rates a never-dialled address heard of now at 0.5 (the prior), neither trusted nor condemned", () => {
    expect(Score.address(peerOf([record()]), record(), T0)).toBe(0.5)
  })

  it("uses the Laplace prior: one success is 2/3, one failure is 1/3 discounted by the streak factor 0.66", () => {
    const ok = record({ successes: 1, lastSuccess: Option.some(T0) })
    const ko = record({ failures: 1, consecutiveFailures: 1, lastFailure: Option.some(T0) })
    expect(Score.successRate(ok)).toBeCloseTo(2 / 3, 12)
    expect(Score.successRate(ko)).toBeCloseTo((1 / 3) * 0.66, 12)
    const streak10 = record({ successes: 50, failures: 10, consecutiveFailures: 10 })
    expect(Score.successRate(streak10)).toBeCloseTo((51 / 62) * Math.pow(0.66, 8), 12)
  })

  it("decays with the time since the last success: half of maxAgeDecay after one half-life, never more than maxAgeDecay", () => {
    const r = record({ successes: 3, lastSuccess: Option.some(T0) })
    expect(Score.ageDecay(r, T0)).toBe(0)
    expect(Score.ageDecay(r, T0 + 7 * DAY)).toBeCloseTo(0.25, 12)
    expect(Score.ageDecay(r, T0 + 14 * DAY)).toBeCloseTo(0.375, 12)
    expect(Score.ageDecay(r, T0 + 10_000 * DAY)).toBeLessThanOrEqual(0.5)
    const q = (days: number) => Score.address(peerOf([r]), r, T0 + days * DAY)
    expect(q(1)).toBeLessThan(q(0))
    expect(q(30)).toBeLessThan(q(1))
    // A peer that worked a month ago still ranks above one never reached.
    expect(q(30)).toBeGreaterThan(Score.address(peerOf([record()]), record(), T0 + 30 * DAY))
    // A clock behind the record does not raise the score.
    expect(Score.ageDecay(r, T0 - DAY)).toBe(0)
  })

  it("measures a never-reached address's age from when it was last heard of", () => {
    const heard = record({ lastSeen: Option.some(T0 - 7 * DAY) })
    expect(Score.ageDecay(heard, T0)).toBeCloseTo(0.25, 12)
    expect(Score.ageDecay(record({ lastSeen: Option.none() }), T0)).toBe(0)
  })

  it("subtracts an RTT penalty proportional to the smoothed RTT, capped at rttWeight", () => {
    const withRtt = (ms: number) => record({ successes: 1, lastSuccess: Option.some(T0), rttMs: Option.some(ms) })
    expect(Score.rttPenalty(withRtt(100))).toBeCloseTo(0.01, 12)
    expect(Score.rttPenalty(withRtt(5_000))).toBeCloseTo(0.1, 12)
    expect(Score.rttPenalty(record())).toBe(0)
    const fast = withRtt(20)
    const slow = withRtt(900)
    expect(Score.address(peerOf([fast]), fast, T0)).toBeGreaterThan(Score.address(peerOf([slow]), slow, T0))
  })

  it("adds the relay and coordinator bonuses, subtracts the symmetric-NAT penalty, and clamps to [0,1]", () => {
    const r = record()
    expect(Score.address(peerOf([r], { relay: true }), r, T0)).toBeCloseTo(0.6, 12)
    expect(Score.address(peerOf([r], {}, [PeerRecord.RELAY_HOP_PROTOCOL]), r, T0)).toBeCloseTo(0.6, 12)
    expect(Score.address(peerOf([r], { coordinator: true }), r, T0)).toBeCloseTo(0.55, 12)
    expect(Score.address(peerOf([r], { symmetricNat: true }), r, T0)).toBeCloseTo(0.4, 12)
    const perfect = record({ successes: 1_000, lastSuccess: Option.some(T0) })
    expect(Score.address(peerOf([perfect], { relay: true, coordinator: true }), perfect, T0)).toBe(1)
    const hopeless = record({ failures: 50, consecutiveFailures: 50 })
    const config = Score.makeConfig({ symmetricNatPenalty: 1 })
    expect(Score.address(peerOf([hopeless], { symmetricNat: true }), hopeless, T0, config)).toBe(0)
  })

  it("makes every constant configurable", () => {
    const r = record({ successes: 1, lastSuccess: Option.some(T0 - DAY) })
    const config = Score.makeConfig({ priorSuccesses: 0, priorFailures: 0, halfLifeMs: DAY, maxAgeDecay: 1 })
    expect(Score.address(peerOf([r]), r, T0, config)).toBeCloseTo(0.5, 12)
    expect(Schema.decodeUnknownSync(Score.Config)(Score.defaults)).toEqual(Score.defaults)
    expect(() => Schema.decodeUnknownSync(Score.Config)({ ...Score.defaults, maxAgeDecay: 2 })).toThrow(/maxAgeDecay/)
  })

  it("computes the documented formula term for term, and reduces to issue 3's bare formula with the extra terms off", () => {
    const r = record({
      successes: 2,
      failures: 3,
      consecutiveFailures: 2,
      lastSuccess: Option.some(T0 - 3 * DAY),
      lastFailure: Option.some(T0 - DAY),
      lastSeen: Option.some(T0 - 3 * DAY),
      rttMs: Option.some(400)
    })
    const p = peerOf([r], { relay: true, coordinator: true, symmetricNat: true })
    const rate = (3 / 7) * 0.66 ** 2
    const decay = 0.5 * (1 - 2 ** (-3 / 7))
    expect(Score.address(p, r, T0)).toBeCloseTo(rate * (1 - decay) - 0.1 * 0.4 + 0.1 + 0.05 - 0.1, 12)
    // The formula: Laplace prior, a plain half-life, no RTT term, no streak factor.
    const bare = Score.makeConfig({ streakFactor: 1, rttWeight: 0, maxAgeDecay: 1, relayBonus: 0.2, coordinatorBonus: 0.1, symmetricNatPenalty: 0.05 })
    expect(Score.address(p, r, T0, bare)).toBeCloseTo((3 / 7) * 2 ** (-3 / 7) + 0.2 + 0.1 - 0.05, 12)
  })

  it("gives every constant of the configuration an effect", () => {
    const r = record({
      successes: 2,
      failures: 3,
      consecutiveFailures: 2,
      lastSuccess: Option.some(T0 - 3 * DAY),
      lastFailure: Option.some(T0 - DAY),
      lastSeen: Option.some(T0 - 3 * DAY),
      rttMs: Option.some(400)
    })
    const p = peerOf([r], { relay: true, coordinator: true, symmetricNat: true })
    const base = Score.address(p, r, T0)
    const changed: { readonly [K in keyof Score.Config]: number } = {
      priorSuccesses: 3,
      priorFailures: 3,
      streakFactor: 0.9,
      maxStreak: 1,
      halfLifeMs: DAY,
      maxAgeDecay: 0.9,
      rttWeight: 0.3,
      rttCeilingMs: 400,
      relayBonus: 0.2,
      coordinatorBonus: 0.2,
      symmetricNatPenalty: 0.3
    }
    expect(Object.keys(changed).sort()).toEqual(Object.keys(Score.defaults).sort())
    for (const key of Object.keys(changed) as Array<keyof Score.Config>) {
      const q = Score.address(p, r, T0, Score.makeConfig({ [key]: changed[key] }))
      expect(Math.abs(q - base), key).toBeGreaterThan(1e-3)
    }
  })

  it("scores a peer by its best address, and finds that address among the eligible ones", () => {
    const good = record({ successes: 5, lastSuccess: Option.some(T0) }, A)
    const bad = record({ failures: 5, consecutiveFailures: 5, lastFailure: Option.some(T0) }, B)
    const peer = peerOf([bad, good])
    expect(Score.peer(peer, T0)).toBe(Score.address(peer, good, T0))
    expect(pipe(peer, Score.peer(T0))).toBe(Score.peer(peer, T0))
    expect(pipe(peer, Score.address(good, T0))).toBe(Score.address(peer, good, T0))
    expect(Option.map(Score.best(peer, T0), (b) => b.record.address.key)).toEqual(Option.some(A.key))
    const onlyB = Score.best(peer, T0, Score.defaults, (r) => r.address.key === B.key)
    expect(Option.map(onlyB, (b) => b.record.address.key)).toEqual(Option.some(B.key))
    expect(Score.best(peer, T0, Score.defaults, () => false)).toEqual(Option.none())
  })

  it.prop(
    "quality is always in [0,1]; a success never lowers it and a failure never raises it",
    [PolicyArbitraries.peerRecord({ groups: 4 }), FastCheck.integer({ min: 0, max: 30 * 86_400_000 })],
    ([peer, later]) => {
      const now = PolicyArbitraries.NOW + later
      for (const r of peer.addresses) {
        const q = Score.address(peer, r, now)
        expect(q).toBeGreaterThanOrEqual(0)
        expect(q).toBeLessThanOrEqual(1)
        expect(Score.address(peer, succeeded(r, now), now)).toBeGreaterThanOrEqual(q)
        expect(Score.address(peer, failed(r, now), now)).toBeLessThanOrEqual(q)
      }
      expect(Score.peer(peer, now)).toBe(Math.max(...peer.addresses.map((r) => Score.address(peer, r, now))))
    },
    { fastCheck: { seed: 3, numRuns: 200 } }
  )
})
