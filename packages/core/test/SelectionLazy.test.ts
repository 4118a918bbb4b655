import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as HashMap from "effect/HashMap"
import { type PeerAddress, PeerRecord, PeerTable, Score, Selection } from "@bootstrap-cache/core"
import { PolicyArbitraries } from "@bootstrap-cache/testkit"
import * as SelectionHeap from "../src/internal/selectionHeap.js"
import * as SelectionLazy from "../src/internal/selectionLazy.js"
import * as SelectionPool from "../src/internal/selectionPool.js"
import * as SelectionRun from "../src/internal/selectionRun.js"

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

const sources: ReadonlyArray<PeerRecord.Source> = [
  { _tag: "endpoint", url: "https://a.example/peers" },
  { _tag: "import", from: "crawl.txt" },
  { _tag: "connection", via: "12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx", viaNetgroup: "ip4:9.9" },
  { _tag: "user" }
]

/** Score configurations whose age decay ranges from none to the plain half-life of an hour. */
const configs: ReadonlyArray<Score.Config> = [
  Score.defaults,
  Score.makeConfig({ maxAgeDecay: 1, halfLifeMs: HOUR }),
  Score.makeConfig({ maxAgeDecay: 0 }),
  Score.makeConfig({ streakFactor: 1, rttWeight: 0, relayBonus: 0, coordinatorBonus: 0, symmetricNatPenalty: 0, halfLifeMs: DAY })
]

/** Small tables of few netgroups, or tables of hundreds of peers (past the first walk's 64 bounds). */
const tables = FastCheck.oneof(
  PolicyArbitraries.table({ groups: 8, hosts: 8, undialable: 0.2 }, 60, 1),
  PolicyArbitraries.table({ groups: 60, hosts: 16, undialable: 0.1 }, 800, 300)
)

/** Which of {@link sources} each peer was heard from (by its position modulo 16). */
const owners = FastCheck.array(FastCheck.integer({ min: 0, max: 3 }), { minLength: 16, maxLength: 16 })

/** One dialer's transports (the same function on every call, as a dialer passes its own). */
const evenHosts = (a: PeerAddress.PeerAddress) => Number(a.host.split(".")[3]) % 2 === 0

/** Outcomes on the table's own addresses: [address index, success?, ms from an hour before now]. */
const outcomes = FastCheck.array(FastCheck.tuple(FastCheck.nat(), FastCheck.boolean(), FastCheck.integer({ min: 0, max: 2 * HOUR })), { maxLength: 4 })

const step = FastCheck.record({
  ops: outcomes,
  // Mostly later, sometimes the same time, sometimes earlier than the step before.
  dt: FastCheck.oneof(
    { weight: 1, arbitrary: FastCheck.constant(0) },
    { weight: 2, arbitrary: FastCheck.integer({ min: 1, max: 1_000 }) },
    { weight: 3, arbitrary: FastCheck.integer({ min: MINUTE, max: HOUR }) },
    { weight: 2, arbitrary: FastCheck.integer({ min: HOUR, max: 5 * DAY }) },
    { weight: 1, arbitrary: FastCheck.integer({ min: -2 * HOUR, max: -1 }) }
  ),
  count: FastCheck.integer({ min: 1, max: 40 }),
  epsilon: FastCheck.constantFrom(0, 0.1, 0.5),
  perNetgroup: FastCheck.integer({ min: 1, max: 3 }),
  diversity: FastCheck.boolean(),
  excludeEvery: FastCheck.integer({ min: 0, max: 7 }),
  // Or the best peers, so that exclusions eat into the best bounds.
  excludeBest: FastCheck.integer({ min: 0, max: 120 }),
  inUse: FastCheck.integer({ min: 0, max: 6 }),
  reconnect: FastCheck.boolean(),
  seed: FastCheck.nat()
})

const apply = (table: PeerTable.PeerTable, ops: ReadonlyArray<readonly [number, boolean, number]>, now: number) => {
  const addresses = [...HashMap.values(table.peers)].flatMap((p) => p.addresses.map((r) => r.address))
  let t = table
  for (const [i, ok, dt] of ops) {
    if (addresses.length === 0) break
    const a = addresses[i % addresses.length]!
    const at = now - HOUR + dt
    t = ok ? PeerTable.recordSuccess(t, a, at, { rttMs: 20 + dt / 1000 }) : PeerTable.recordFailure(t, a, at)
  }
  return t
}

/** The reconnect order by its definition over a full pass: relays first, then quality, then peer key. */
const reconnectReference = (pool: SelectionPool.Pool, exclude: ReadonlySet<string>) =>
  [...pool.keys.keys()]
    .filter((i) => !exclude.has(pool.keys[i]!))
    .sort((i, j) => pool.relay[j]! - pool.relay[i]! || pool.quality[j]! - pool.quality[i]! || (pool.keys[i]! < pool.keys[j]! ? -1 : 1))
    .map((i) => [pool.keys[i]!, pool.addresses[i]!.key, pool.quality[i]!, pool.relay[i] === 1])

describe("Selection at a later time (qualities scored on demand)", () => {
  it.prop(
    "a chain of selections over changing tables and moving times picks exactly what a full pass picks, draw for draw",
    [
      tables,
      owners,
      FastCheck.integer({ min: 0, max: configs.length - 1 }),
      FastCheck.boolean(),
      FastCheck.array(step, { minLength: 1, maxLength: 8 })
    ],
    ([generated, owner, c, transports, steps]) => {
      const config = configs[c]!
      const supports = transports ? evenHosts : undefined
      let table = PeerTable.fromRecords(PeerTable.toRecords(generated).map((r, i) => ({ ...r, sources: [sources[owner[i % 16]!]!] })))
      let now = PolicyArbitraries.NOW - DAY
      for (const s of steps) {
        now += s.dt
        table = apply(table, s.ops, now)
        const eligibility = { now, score: config, ...(supports === undefined ? {} : { supports }) }
        const reference = SelectionPool.fullPool(table, eligibility)
        const exclude = new Set(
          s.excludeEvery === 0
            ? [...reference.keys.keys()].sort((a, b) => reference.quality[b]! - reference.quality[a]!).slice(0, s.excludeBest).map((i) => reference.keys[i]!)
            : reference.keys.filter((_, i) => i % s.excludeEvery === 0)
        )
        const draws = Array.from({ length: s.count + 1 }, (_, i) => ((s.seed + i * 7919) % 1000) / 1000)
        const netgroupsInUse = reference.addresses.slice(0, s.inUse).map((a) => a.netgroup)
        const sourceGroupsInUse = reference.peers.slice(0, s.inUse >> 1).map((p) => PeerRecord.sourceGroupOf(p))
        const picks = Selection.select(table, {
          ...eligibility,
          count: s.count,
          epsilon: s.epsilon,
          maxPerNetgroup: s.perNetgroup,
          sourceGroupDiversity: s.diversity,
          exclude,
          netgroupsInUse,
          sourceGroupsInUse,
          draws
        })
        const expected = reference.n === 0 ? [] : SelectionRun.runPicks(reference, {
          count: s.count,
          epsilon: s.epsilon,
          step: s.perNetgroup,
          diversity: s.diversity,
          exclude,
          netgroupsInUse,
          sourceGroupsInUse,
          draws
        }, true).map((i) => {
          const at = i >= 0 ? i : -i - 1
          return [reference.keys[at]!, reference.addresses[at]!.key, reference.quality[at]!, i >= 0 ? "exploit" : "explore"]
        })
        expect(picks.map((p) => [p.peerKey, p.address.key, p.quality, p.kind])).toEqual(expected)
        expect(picks.map((p) => p.peer)).toEqual(picks.map((p) => HashMap.unsafeGet(table.peers, p.peerKey)))
        if (s.reconnect) {
          const order = Selection.reconnectOrder(table, { ...eligibility, exclude })
          expect(order.map((p) => [p.peerKey, p.address.key, p.quality, p.relay])).toEqual(reconnectReference(reference, exclude))
        }
      }
    },
    { fastCheck: { seed: 44, numRuns: 150 }, timeout: 180_000 }
  )

  it.prop(
    "the prefix a lazy pool walks from its bounds is the exploit order's prefix of a full pass, for any length, rotation and exclusion",
    [
      PolicyArbitraries.table({ groups: 60, hosts: 16, undialable: 0.1 }, 800, 200),
      FastCheck.integer({ min: 0, max: configs.length - 1 }),
      FastCheck.array(
        FastCheck.record({
          ops: outcomes,
          dt: FastCheck.oneof(FastCheck.integer({ min: 0, max: 1_000 }), FastCheck.integer({ min: MINUTE, max: 3 * DAY })),
          m: FastCheck.integer({ min: 1, max: 300 }),
          tie: FastCheck.integer({ min: 0, max: 999 }),
          excludeBest: FastCheck.integer({ min: 0, max: 40 })
        }),
        { minLength: 1, maxLength: 6 }
      )
    ],
    ([generated, c, steps]) => {
      const config = configs[c]!
      let table = generated
      let now = PolicyArbitraries.NOW
      SelectionPool.poolOf(table, { now, score: config })
      for (const s of steps) {
        now += s.dt
        table = apply(table, s.ops, now)
        const pool = SelectionPool.poolOf(table, { now, score: config })
        const reference = SelectionPool.fullPool(table, { now, score: config })
        expect(pool.keys).toEqual(reference.keys)
        const state = new Uint8Array(pool.n)
        const best = [...reference.keys.keys()].sort((a, b) => reference.quality[b]! - reference.quality[a]!).slice(0, s.excludeBest)
        for (const i of best) state[i] = SelectionHeap.EXCLUDED
        const pivot = Math.floor((s.tie / 1000) * pool.n)
        const m = Math.min(s.m, pool.n)
        const walked = pool.lazy === undefined ? undefined : SelectionLazy.lazyTop(pool, pool.lazy, state, pivot, m)
        const expected = SelectionHeap.topPrefixBySort(reference.quality, reference.n, state, pivot, m)
        if (walked !== undefined) {
          expect(Array.from(walked)).toEqual(Array.from(expected))
          for (const i of walked) expect(pool.quality[i]).toBe(reference.quality[i])
        }
        SelectionLazy.materialize(pool)
        expect(Array.from(pool.quality.subarray(0, pool.n))).toEqual(Array.from(reference.quality.subarray(0, reference.n)))
        expect(pool.addresses.map((a) => a.key)).toEqual(reference.addresses.map((a) => a.key))
      }
    },
    { fastCheck: { seed: 45, numRuns: 150 }, timeout: 180_000 }
  )

  it("one minute later, a 3,000-peer pool scores its changed peers and about the few it picks from, not every peer", () => {
    const config = Score.defaults
    const table = PeerTable.fromRecords(FastCheck.sample(PolicyArbitraries.peerRecord({ groups: 400, hosts: 64 }), { numRuns: 3_000, seed: 46 }))
    const now = PolicyArbitraries.NOW
    SelectionPool.poolOf(table, { now, score: config })
    const [address] = HashMap.unsafeGet(table.peers, [...HashMap.keys(table.peers)][0]!).addresses
    const next = PeerTable.recordSuccess(table, address!.address, now + 30_000, { rttMs: 30 })
    const picks = Selection.select(next, { now: now + MINUTE, count: 10, epsilon: 0, draws: [], score: config })
    const pool = SelectionPool.poolOf(next, { now: now + MINUTE, score: config })
    expect(picks).toHaveLength(10)
    expect(pool.lazy).toBeDefined()
    const scored = pool.lazy!.scored.reduce((a, b) => a + b, 0)
    expect(scored).toBeGreaterThan(0)
    expect(scored).toBeLessThan(pool.n / 10)
  })
})
