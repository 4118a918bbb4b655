import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import { PeerAddress, PeerTable } from "@bootstrap-cache/core"
import { PolicyArbitraries } from "@bootstrap-cache/testkit"
import * as Candidates from "../src/internal/bootstrapCandidates.js"

const HOUR = 3_600_000

/** The plain definitions: one pass per question, address by address. */
const countUsablePlain = (table: PeerTable.PeerTable, e: Candidates.Eligibility): number => {
  let n = 0
  for (const peer of PeerTable.peers(table)) if (peer.addresses.some((r) => Candidates.usableAddress(r, e))) n++
  return n
}

const recentlyFailedPlain = (table: PeerTable.PeerTable, e: Candidates.Eligibility, target: number, now: number, recentMs: number) => {
  const failed = new Set<string>()
  let good = 0
  for (const peer of PeerTable.peers(table)) {
    const usable = peer.addresses.filter((r) => Candidates.usableAddress(r, e))
    if (usable.length === 0) continue
    if (usable.some((r) => r.successes > 0 && r.consecutiveFailures === 0)) {
      good++
      continue
    }
    const all = usable.every((r) => r.consecutiveFailures > 0 && Option.isSome(r.lastFailure) && now - r.lastFailure.value < recentMs)
    const key = Candidates.keyOf(peer)
    if (all && key !== undefined) failed.add(key)
  }
  return good >= target ? failed : new Set<string>()
}

describe("internal/bootstrapCandidates", () => {
  it("avoids a peer only when every usable address failed within the window, and only beside enough known-good peers", () => {
    const id = "12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx"
    const now = PolicyArbitraries.NOW
    const a = PeerAddress.unsafeParse(`/ip4/7.7.0.1/tcp/4001/p2p/${id}`)
    const b = PeerAddress.unsafeParse(`/ip4/8.8.0.1/tcp/4001/p2p/${id}`)
    const good = PeerAddress.unsafeParse("/ip4/9.9.0.1/tcp/4001")
    let t = PeerTable.add(PeerTable.empty, a, { now: now - 5 * HOUR, source: { _tag: "user" } })
    t = PeerTable.add(t, b, { now: now - 5 * HOUR, source: { _tag: "user" } })
    t = PeerTable.recordFailure(t, a, now - HOUR)
    t = PeerTable.recordFailure(t, b, now - 3 * HOUR)
    t = PeerTable.recordSuccess(PeerTable.add(t, good, { now: now - 5 * HOUR, source: { _tag: "user" } }), good, now - HOUR)
    const e: Candidates.Eligibility = { dialPolicy: {}, supports: () => true }
    expect(Candidates.countUsable(t, e)).toBe(2)
    expect([...Candidates.recentlyFailed(t, e, 1, now, 2 * HOUR)]).toEqual([])
    expect([...Candidates.recentlyFailed(t, e, 1, now, 4 * HOUR)]).toEqual([id])
    expect([...Candidates.recentlyFailed(t, e, 2, now, 4 * HOUR)]).toEqual([])
    // A transport that cannot dial the older address leaves only the recent failure.
    const noB: Candidates.Eligibility = { dialPolicy: {}, supports: (x) => x.key !== b.key }
    expect([...Candidates.recentlyFailed(t, noB, 1, now, 2 * HOUR)]).toEqual([id])
  })

  it.prop(
    "countUsable and recentlyFailed, from one remembered pass, equal their plain definitions (any order of calls, policies, transports, times)",
    [
      PolicyArbitraries.table({ groups: 6, hosts: 10, undialable: 0.3 }, 60, 0),
      FastCheck.array(
        FastCheck.record({
          allowLoopback: FastCheck.boolean(),
          modulus: FastCheck.integer({ min: 1, max: 3 }),
          target: FastCheck.integer({ min: 0, max: 12 }),
          laterMs: FastCheck.integer({ min: 0, max: 48 * HOUR }),
          recentMs: FastCheck.integer({ min: 0, max: 30 * 24 * HOUR }),
          // Or a window ending at one of the table's failures (± 1 ms), where the rule changes its answer.
          atFailure: FastCheck.option(FastCheck.tuple(FastCheck.nat(), FastCheck.integer({ min: -1, max: 1 })), { nil: undefined }),
          countFirst: FastCheck.boolean()
        }),
        { minLength: 1, maxLength: 5 }
      )
    ],
    ([table, calls]) => {
      // Transports as functions made once, so calls with the same modulus share what was remembered.
      const supportsOf = [0, 1, 2, 3].map((m) => (a: PeerAddress.PeerAddress) => m <= 1 || a.port._tag === "None" || Number(a.port.value) % m === 1)
      const failures = [...PeerTable.peers(table)].flatMap((peer) => peer.addresses.flatMap((r) => Option.toArray(r.lastFailure)))
      for (const c of calls) {
        const e: Candidates.Eligibility = { dialPolicy: { allowLoopback: c.allowLoopback }, supports: supportsOf[c.modulus]! }
        const now = PolicyArbitraries.NOW + c.laterMs
        const recentMs = c.atFailure === undefined || failures.length === 0
          ? c.recentMs
          : now - failures[c.atFailure[0] % failures.length]! + c.atFailure[1]
        const failed = () => [...Candidates.recentlyFailed(table, e, c.target, now, recentMs)].sort()
        const expectedFailed = [...recentlyFailedPlain(table, e, c.target, now, recentMs)].sort()
        if (c.countFirst) expect(Candidates.countUsable(table, e)).toBe(countUsablePlain(table, e))
        expect(failed()).toEqual(expectedFailed)
        expect(Candidates.countUsable(table, e)).toBe(countUsablePlain(table, e))
      }
    },
    { fastCheck: { seed: 16, numRuns: 150 } }
  )
})
