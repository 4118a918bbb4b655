import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { pipe } from "effect/Function"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import { PeerAddress, PeerRecord, PeerTable, Score, Selection } from "@bootstrap-cache/core"
import { PolicyArbitraries } from "@bootstrap-cache/testkit"

const T0 = 1_750_000_000_000
const user: PeerRecord.Source = { _tag: "user" }
const parse = PeerAddress.unsafeParse

/** A mulberry32 stream of draws, so statistical tests are seeded and exact. */
const drawsFrom = (seed: number, n: number): Array<number> => {
  let a = seed >>> 0
  return Array.from({ length: n }, () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  })
}

/** Adds `/ip4/<host>/tcp/4001` with `ok` successes then `ko` failures. */
const withHistory = (table: PeerTable.PeerTable, host: string, ok: number, ko: number): PeerTable.PeerTable => {
  const a = parse(`/ip4/${host}/tcp/4001`)
  let t = PeerTable.add(table, a, { now: T0, source: user })
  for (let i = 0; i < ok; i++) t = PeerTable.recordSuccess(t, a, T0)
  for (let i = 0; i < ko; i++) t = PeerTable.recordFailure(t, a, T0)
  return t
}

const keyOf = (host: string) => `addr:${parse(`/ip4/${host}/tcp/4001`).key}`

/** Eligible peers of a table with their quality, best first (the reference the tests compare with). */
const eligibleByQuality = (table: PeerTable.PeerTable, now: number, policy: PeerAddress.DialPolicy = {}) =>
  Array.from(HashMap.entries(table.peers))
    .flatMap(([key, peer]) =>
      Option.match(Score.best(peer, now, Score.defaults, (r) => PeerAddress.isDialable(r.address, policy)), {
        onNone: () => [],
        onSome: (b) => [{ key, quality: b.quality }]
      })
    )
    .sort((a, b) => b.quality - a.quality)

describe("Selection.select", () => {
  it("exploits the highest quality peers, best first, when no draw explores", () => {
    let t = PeerTable.empty
    t = withHistory(t, "1.1.0.1", 9, 0)
    t = withHistory(t, "2.2.0.1", 3, 0)
    t = withHistory(t, "3.3.0.1", 0, 0)
    t = withHistory(t, "4.4.0.1", 0, 2)
    const picks = Selection.select(t, { now: T0, count: 3, draws: [0.9, 0.9, 0.9, 0] })
    expect(picks.map((p) => p.peerKey)).toEqual([keyOf("1.1.0.1"), keyOf("2.2.0.1"), keyOf("3.3.0.1")])
    expect(picks.every((p) => p.kind === "exploit")).toBe(true)
    expect(picks[0]!.quality).toBe(Score.peer(HashMap.unsafeGet(t.peers, keyOf("1.1.0.1")), T0))
    expect(picks[0]!.address.multiaddr).toBe("/ip4/1.1.0.1/tcp/4001")
  })

  it("explores with a draw below ε, taking the ⌊draw/ε · m⌋-th admissible peer", () => {
    let t = PeerTable.empty
    for (let i = 1; i <= 4; i++) t = withHistory(t, `${i}.${i}.0.1`, 5 - i, 0)
    const order = Array.from(HashMap.keys(t.peers)) // the pool follows the table's order
    for (let j = 0; j < 4; j++) {
      const draw = 0.1 * ((j + 0.5) / 4)
      const [pick] = Selection.select(t, { now: T0, count: 1, draws: [draw] })
      expect(pick!.kind).toBe("explore")
      expect(pick!.peerKey).toBe(order[j])
    }
    // ε = 1: every pick explores; ε = 0: none does.
    expect(Selection.select(t, { now: T0, count: 4, epsilon: 1, draws: [0.99, 0.5, 0.5, 0.5] }).every((p) => p.kind === "explore")).toBe(true)
    expect(Selection.select(t, { now: T0, count: 4, epsilon: 0, draws: [0, 0, 0, 0] }).every((p) => p.kind === "exploit")).toBe(true)
  })

  it("is reproducible: the same table, time and draws give the same picks, in either call style", () => {
    let t = PeerTable.empty
    for (let i = 0; i < 200; i++) t = withHistory(t, `${10 + (i % 50)}.${i}.0.1`, i % 4, i % 3)
    const draws = drawsFrom(7, Selection.drawsNeeded(20))
    const a = Selection.select(t, { now: T0, count: 20, draws, epsilon: 0.3 })
    const b = pipe(t, Selection.select({ now: T0, count: 20, draws, epsilon: 0.3 }))
    expect(b).toEqual(a)
    expect(a.length).toBe(20)
    const c = Selection.select(t, { now: T0, count: 20, draws: drawsFrom(8, Selection.drawsNeeded(20)), epsilon: 0.3 })
    expect(c.map((p) => p.peerKey)).not.toEqual(a.map((p) => p.peerKey))
  })

  it("breaks ties in quality with the last draw, so no address wins ties by sorting first", () => {
    let t = PeerTable.empty
    for (let i = 1; i <= 5; i++) t = PeerTable.add(t, parse(`/ip4/${i}.${i}.0.1/tcp/4001`), { now: T0, source: user })
    const firsts = new Map<string, number>()
    for (let j = 0; j < 500; j++) {
      const [pick] = Selection.select(t, { now: T0, count: 1, draws: [0.99, (j + 0.5) / 500] })
      firsts.set(pick!.peerKey, (firsts.get(pick!.peerKey) ?? 0) + 1)
    }
    expect(firsts.size).toBe(5)
    for (const n of firsts.values()) expect(n).toBe(100)
  })

  it("never picks relayed, unspecified or reserved addresses, nor loopback or private ones unless allowed", () => {
    let t = PeerTable.empty
    const relayed = parse("/ip4/8.8.8.8/tcp/4001/p2p/12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx/p2p-circuit/p2p/12D3KooWBBzzGy5hAHUQVh2vBvL25CKwJ7wbmooPcz4amQhzJHJq")
    for (const a of [relayed, parse("/ip4/127.0.0.1/tcp/1"), parse("/ip4/192.168.1.2/tcp/1"), parse("/ip4/0.0.0.0/tcp/1"), parse("/ip4/224.0.0.1/tcp/1")]) {
      t = PeerTable.recordSuccess(PeerTable.add(t, a, { now: T0, source: user }), a, T0)
    }
    t = PeerTable.add(t, parse("/ip4/9.9.9.9/tcp/1"), { now: T0, source: user })
    const hosts = (policy: PeerAddress.DialPolicy) =>
      Selection.select(t, { now: T0, count: 10, draws: [], dialPolicy: policy }).map((p) => p.address.host).sort()
    expect(hosts({})).toEqual(["9.9.9.9"])
    expect(hosts({ allowLoopback: true })).toEqual(["127.0.0.1", "9.9.9.9"])
    expect(hosts({ allowLoopback: true, allowPrivate: true })).toEqual(["127.0.0.1", "192.168.1.2", "9.9.9.9"])
  })

  it("dials a peer's best dialable address, and skips excluded peers", () => {
    const id = "12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx"
    const lan = parse(`/ip4/192.168.0.5/tcp/4001/p2p/${id}`)
    const wan = parse(`/ip4/7.7.7.7/tcp/4001/p2p/${id}`)
    let t = PeerTable.add(PeerTable.empty, lan, { now: T0, source: user })
    t = PeerTable.add(t, wan, { now: T0, source: user })
    t = PeerTable.recordSuccess(t, lan, T0)
    t = PeerTable.recordSuccess(t, lan, T0)
    t = withHistory(t, "8.8.0.1", 0, 1)
    const [first] = Selection.select(t, { now: T0, count: 1, draws: [] })
    // The LAN address has the better record, but only the public one may be dialled.
    expect(first!.peerKey).toBe(id)
    expect(first!.address.host).toBe("7.7.7.7")
    expect(first!.quality).toBe(0.5)
    const all = Selection.select(t, { now: T0, count: 5, draws: [], exclude: new Set([id]) })
    expect(all.map((p) => p.peerKey)).toEqual([keyOf("8.8.0.1")])
  })

  it.prop(
    "with a dialer's supports, picks only peers it can dial, each at its best supported address; ε = 0 and no netgroup rule give the top k of those",
    [PolicyArbitraries.table({ groups: 4, hosts: 12, undialable: 0.1 }, 60, 1), FastCheck.integer({ min: 0, max: 20 }), FastCheck.integer({ min: 1, max: 4 })],
    ([table, k, modulus]) => {
      // A dialer that supports the hosts whose last octet is a multiple of `modulus` (all when 1).
      const supports = (a: PeerAddress.PeerAddress) => Number(a.host.split(".")[3]) % modulus === 0
      const now = PolicyArbitraries.NOW
      const eligible = (r: PeerRecord.AddressRecord) => PeerAddress.isDialable(r.address) && supports(r.address)
      const expected = Array.from(HashMap.values(table.peers))
        .flatMap((peer) => Option.match(Score.best(peer, now, Score.defaults, eligible), { onNone: () => [], onSome: (b) => [b.quality] }))
        .sort((a, b) => b - a)
      const picks = Selection.select(table, { now, count: k, epsilon: 0, maxPerNetgroup: Infinity, draws: [], supports })
      expect(picks.map((p) => p.quality)).toEqual(expected.slice(0, k))
      for (const p of picks) {
        expect(supports(p.address)).toBe(true)
        expect(Score.best(p.peer, now, Score.defaults, eligible).pipe(Option.map((b) => b.record.address.key))).toEqual(Option.some(p.address.key))
      }
      const order = Selection.reconnectOrder(table, { now, supports })
      expect(order.length).toBe(expected.length)
      expect(order.every((c) => supports(c.address))).toBe(true)
      // A dialer that supports everything changes nothing.
      const draws = drawsFrom(k, Selection.drawsNeeded(k))
      expect(Selection.select(table, { now, count: k, draws, supports: () => true })).toEqual(Selection.select(table, { now, count: k, draws }))
    },
    { fastCheck: { seed: 15, numRuns: 120 } }
  )

  it("takes at most one peer per netgroup while other netgroups have peers, then relaxes", () => {
    let t = PeerTable.empty
    for (let i = 1; i <= 6; i++) t = withHistory(t, `5.5.0.${i}`, 10, 0) // one /16, excellent
    for (let i = 1; i <= 3; i++) t = withHistory(t, `${20 + i}.1.0.1`, 1, 0) // three /16s, fair
    const five = Selection.select(t, { now: T0, count: 5, draws: [] })
    expect(five[0]!.address.netgroup).toBe("ip4:5.5")
    expect(five.slice(0, 4).map((p) => p.address.netgroup).sort()).toEqual(["ip4:21.1", "ip4:22.1", "ip4:23.1", "ip4:5.5"])
    expect(five[4]!.address.netgroup).toBe("ip4:5.5")
    // Two per netgroup allowed: the two best of 5.5 come before the fair ones.
    const two = Selection.select(t, { now: T0, count: 2, draws: [], maxPerNetgroup: 2 })
    expect(two.map((p) => p.address.netgroup)).toEqual(["ip4:5.5", "ip4:5.5"])
    // Diversity off: the six of 5.5 first.
    const off = Selection.select(t, { now: T0, count: 6, draws: [], maxPerNetgroup: Infinity })
    expect(off.every((p) => p.address.netgroup === "ip4:5.5")).toBe(true)
    // A netgroup already connected gets no slot while others remain.
    const inUse = Selection.select(t, { now: T0, count: 3, draws: [], netgroupsInUse: ["ip4:5.5"] })
    expect(inUse.map((p) => p.address.netgroup).sort()).toEqual(["ip4:21.1", "ip4:22.1", "ip4:23.1"])
    // Exploration respects the netgroup rule too.
    const explored = Selection.select(t, { now: T0, count: 4, epsilon: 1, draws: drawsFrom(3, 5) })
    expect(new Set(explored.map((p) => p.address.netgroup)).size).toBe(4)
  })

  it("reports whether each pick explored, at rate ε over many seeded runs", () => {
    let t = PeerTable.empty
    for (let i = 0; i < 100; i++) t = withHistory(t, `${10 + (i % 60)}.${i}.0.1`, i % 5, i % 2)
    for (const epsilon of [0.1, 0.3]) {
      let explore = 0
      let total = 0
      for (let run = 0; run < 300; run++) {
        const picks = Selection.select(t, { now: T0, count: 10, epsilon, draws: drawsFrom(1_000 + run, Selection.drawsNeeded(10)) })
        total += picks.length
        explore += picks.filter((p) => p.kind === "explore").length
      }
      // 3000 picks: the standard deviation of the share is √(ε(1−ε)/3000) ≤ 0.0084; allow 4 of them.
      expect(total).toBe(3_000)
      expect(Math.abs(explore / total - epsilon)).toBeLessThan(4 * Math.sqrt((epsilon * (1 - epsilon)) / total))
    }
  })

  it("over many seeded runs, leaves the best peer with probability ε(n−1)/n and explores uniformly among the rest", () => {
    // 20 peers of distinct quality in 20 netgroups: one pick, so only ε decides.
    let t = PeerTable.empty
    for (let i = 0; i < 20; i++) t = withHistory(t, `${30 + i}.1.0.1`, 20 - i, 0)
    const best = keyOf("30.1.0.1")
    const runs = 8_000
    for (const epsilon of [0.1, 0.3]) {
      let left = 0
      const explored = new Map<string, number>()
      for (let run = 0; run < runs; run++) {
        const [pick] = Selection.select(t, { now: T0, count: 1, epsilon, draws: drawsFrom(50_000 + run, 2) })
        if (pick!.peerKey !== best) left++
        if (pick!.kind === "explore") explored.set(pick!.peerKey, (explored.get(pick!.peerKey) ?? 0) + 1)
      }
      // The observed outcome, not the reported kind: P(pick ≠ best) = ε · 19/20. Four standard deviations.
      const p = (epsilon * 19) / 20
      expect(Math.abs(left / runs - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / runs))
      // Explore picks are uniform over the 20 peers: a χ² test with 19 degrees of freedom (p = 0.001: 43.8).
      const total = Array.from(explored.values()).reduce((a, b) => a + b, 0)
      expect(explored.size).toBe(20)
      let chi2 = 0
      for (const n of explored.values()) chi2 += (n - total / 20) ** 2 / (total / 20)
      expect(chi2).toBeLessThan(43.8)
    }
  })

  it.prop(
    "no source group takes more than its share w·k + 1 of the first k picks while every group has peers left (w: its share of the (source group, netgroup) pairs)",
    [
      PolicyArbitraries.table({ groups: 12, hosts: 8, undialable: 0.2 }, 60, 20),
      FastCheck.array(FastCheck.integer({ min: 0, max: 2 }), { minLength: 60, maxLength: 60 }),
      FastCheck.integer({ min: 1, max: 25 }),
      FastCheck.double({ min: 0, max: 1, noNaN: true }),
      FastCheck.integer({ min: 0, max: 2 ** 31 })
    ],
    ([generated, owners, k, epsilon, seed]) => {
      const sources: ReadonlyArray<PeerRecord.Source> = [
        { _tag: "endpoint", url: "https://a.example/peers" },
        { _tag: "import", from: "crawl.txt" },
        { _tag: "connection", via: "12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx", viaNetgroup: "ip4:9.9" }
      ]
      const table = PeerTable.fromRecords(PeerTable.toRecords(generated).map((r, i) => ({ ...r, sources: [sources[owners[i % 60]!]!] })))
      const pairs = new Map<string, Set<string>>()
      const sizes = new Map<string, number>()
      for (const peer of HashMap.values(table.peers)) {
        const best = Score.best(peer, PolicyArbitraries.NOW, Score.defaults, (r) => PeerAddress.isDialable(r.address))
        if (Option.isNone(best)) continue
        const g = PeerRecord.sourceGroupOf(peer)
        pairs.set(g, (pairs.get(g) ?? new Set()).add(best.value.record.address.netgroup))
        sizes.set(g, (sizes.get(g) ?? 0) + 1)
      }
      const total = [...pairs.values()].reduce((n, set) => n + set.size, 0)
      const picks = Selection.select(table, { now: PolicyArbitraries.NOW, count: k, epsilon, draws: drawsFrom(seed, Selection.drawsNeeded(k)) })
      // While every group has peers left: up to the smallest group's size.
      const horizon = Math.min(picks.length, ...sizes.values())
      const count = new Map<string, number>()
      for (let j = 0; j < horizon; j++) {
        const g = PeerRecord.sourceGroupOf(picks[j]!.peer)
        count.set(g, (count.get(g) ?? 0) + 1)
        for (const [group, n] of count) expect(n).toBeLessThan((pairs.get(group)!.size / total) * (j + 1) + 1 + 1e-9)
      }
    },
    { fastCheck: { seed: 12, numRuns: 150 }, timeout: 60_000 }
  )

  it("gives a botnet of one source over few /16s about its netgroup share of the picks, however well it answers", () => {
    const honest: PeerRecord.Source = { _tag: "endpoint", url: "https://contacts.example/peers" }
    const botnet: PeerRecord.Source = { _tag: "endpoint", url: "https://flood.example/peers" }
    let t = PeerTable.empty
    for (let i = 0; i < 200; i++) {
      const a = parse(`/ip4/${20 + (i % 50)}.${i}.0.1/tcp/4001`)
      t = PeerTable.recordSuccess(PeerTable.add(t, a, { now: T0, source: honest }), a, T0, { rttMs: 150 })
    }
    for (let i = 0; i < 400; i++) {
      const j = i % 20
      const a = parse(`/ip4/${150 + (j % 10)}.${10 + Math.floor(j / 10)}.${i >> 2}.1/tcp/4001`)
      t = PeerTable.add(t, a, { now: T0, source: botnet })
      for (let j = 0; j < 10; j++) t = PeerTable.recordSuccess(t, a, T0, { rttMs: 5 })
    }
    // 200 honest (source, netgroup) pairs against 20: the botnet's share is 1/11, its first pick the 11th
    // at the latest (D'Hondt: 20 / 1 ties 200 / 10 at the 10th), its second the 21st.
    for (let seed = 0; seed < 50; seed++) {
      const picks = Selection.select(t, { now: T0, count: 22, draws: drawsFrom(seed, Selection.drawsNeeded(22)) })
      const attacker = picks.map((p) => PeerRecord.sourceGroupOf(p.peer) === "endpoint:flood.example")
      expect(attacker.slice(0, 9).some((a) => a)).toBe(false)
      expect(attacker.filter((a) => a).length).toBe(2)
    }
    // Without the rule, the botnet's better answers take every exploit pick.
    const off = Selection.select(t, { now: T0, count: 10, epsilon: 0, draws: [], sourceGroupDiversity: false })
    expect(off.every((p) => PeerRecord.sourceGroupOf(p.peer) === "endpoint:flood.example")).toBe(true)
  })

  it.prop(
    "returns distinct, eligible, non-excluded peers, min(k, eligible) of them",
    [
      PolicyArbitraries.table({ groups: 12, hosts: 8, undialable: 0.2 }, 60, 20),
      FastCheck.integer({ min: 0, max: 25 }),
      FastCheck.double({ min: 0, max: 1, noNaN: true }),
      FastCheck.integer({ min: 1, max: 3 }),
      FastCheck.integer({ min: 0, max: 2 ** 31 })
    ],
    ([table, k, epsilon, perGroup, seed]) => {
      const eligible = eligibleByQuality(table, PolicyArbitraries.NOW)
      const exclude = new Set(eligible.filter((_, i) => i % 4 === 0).map((e) => e.key))
      const picks = Selection.select(table, {
        now: PolicyArbitraries.NOW,
        count: k,
        epsilon,
        maxPerNetgroup: perGroup,
        exclude,
        draws: drawsFrom(seed, Selection.drawsNeeded(k))
      })
      expect(picks.length).toBe(Math.min(k, eligible.length - exclude.size))
      expect(new Set(picks.map((p) => p.peerKey)).size).toBe(picks.length)
      for (const p of picks) {
        expect(exclude.has(p.peerKey)).toBe(false)
        expect(PeerAddress.isDialable(p.address)).toBe(true)
        // The table's own record, its best dialable address, and that address's Score quality.
        expect(HashMap.unsafeGet(table.peers, p.peerKey)).toBe(p.peer)
        const best = Option.getOrThrow(Score.best(p.peer, PolicyArbitraries.NOW, Score.defaults, (r) => PeerAddress.isDialable(r.address)))
        expect(p.address).toBe(best.record.address)
        expect(p.quality).toBe(best.quality)
      }
      // Netgroup rule: a netgroup exceeds the limit only if every other netgroup's peers ran out.
      const count = new Map<string, number>()
      for (const p of picks) count.set(p.address.netgroup, (count.get(p.address.netgroup) ?? 0) + 1)
      const maxCount = Math.max(0, ...count.values())
      if (maxCount > perGroup) {
        const pickedKeys = new Set(picks.map((p) => p.peerKey))
        const left = Selection.select(table, { now: PolicyArbitraries.NOW, count: 1000, draws: [], exclude, maxPerNetgroup: Infinity })
          .filter((p) => !pickedKeys.has(p.peerKey))
        for (const p of left) expect(count.get(p.address.netgroup) ?? 0).toBeGreaterThanOrEqual(maxCount - perGroup)
      }
    },
    { fastCheck: { seed: 11, numRuns: 150 }, timeout: 60_000 }
  )

  it.prop(
    "with ε = 0 and no netgroup rule, returns the top k by quality, best first",
    [PolicyArbitraries.table({ groups: 3, undialable: 0.1 }, 40, 5), FastCheck.integer({ min: 0, max: 20 })],
    ([table, k]) => {
      const picks = Selection.select(table, { now: PolicyArbitraries.NOW, count: k, epsilon: 0, maxPerNetgroup: Infinity, draws: [] })
      const expected = eligibleByQuality(table, PolicyArbitraries.NOW).slice(0, k).map((e) => e.quality)
      expect(picks.map((p) => p.quality)).toEqual(expected)
      expect(picks.every((p) => p.kind === "exploit")).toBe(true)
    },
    { fastCheck: { seed: 12, numRuns: 150 } }
  )

  it("relaxes the netgroup rule however many of the best peers share one netgroup", () => {
    let t = PeerTable.empty
    for (let i = 1; i <= 100; i++) t = withHistory(t, `5.5.${i >> 4}.${i & 15}`, 10, 0) // one /16, excellent
    for (let i = 1; i <= 3; i++) t = withHistory(t, `${20 + i}.1.0.1`, 1, 0) // three /16s, fair
    // 4k + 16 = 36 peers of 5.5 come first in quality: the fair ones lie beyond the first prefix.
    const five = Selection.select(t, { now: T0, count: 5, draws: [] })
    expect(five[0]!.address.netgroup).toBe("ip4:5.5")
    expect(five[4]!.address.netgroup).toBe("ip4:5.5")
    expect(five.slice(1, 4).map((p) => p.address.netgroup).sort()).toEqual(["ip4:21.1", "ip4:22.1", "ip4:23.1"])
    // Excluding the fair ones: every pick is of 5.5, limit raised each time.
    const exclude = new Set([keyOf("21.1.0.1"), keyOf("22.1.0.1"), keyOf("23.1.0.1")])
    const only = Selection.select(t, { now: T0, count: 60, draws: [], exclude })
    expect(only.length).toBe(60)
    expect(only.every((p) => p.address.netgroup === "ip4:5.5")).toBe(true)
  })

  it.prop(
    "gives on a table already selected from (other times, exclusions, policies) what it gives on a fresh one",
    [
      PolicyArbitraries.table({ groups: 6, hosts: 10, undialable: 0.2 }, 60, 1),
      FastCheck.array(
        FastCheck.record({
          k: FastCheck.integer({ min: 0, max: 30 }),
          excludeEvery: FastCheck.integer({ min: 0, max: 4 }),
          later: FastCheck.boolean(),
          allowPrivate: FastCheck.boolean(),
          perGroup: FastCheck.integer({ min: 1, max: 3 }),
          seed: FastCheck.integer({ min: 0, max: 2 ** 31 })
        }),
        { minLength: 1, maxLength: 6 }
      )
    ],
    ([table, calls]) => {
      const keys = Array.from(HashMap.keys(table.peers))
      for (const call of calls) {
        const options: Selection.SelectOptions = {
          now: PolicyArbitraries.NOW + (call.later ? 86_400_000 : 0),
          count: call.k,
          epsilon: 0.3,
          maxPerNetgroup: call.perGroup,
          dialPolicy: { allowPrivate: call.allowPrivate },
          exclude: new Set(call.excludeEvery === 0 ? [] : keys.filter((_, i) => i % call.excludeEvery === 0)),
          netgroupsInUse: [PolicyArbitraries.netgroupOf(call.seed % 6)],
          draws: drawsFrom(call.seed, Selection.drawsNeeded(call.k))
        }
        // A new table object with the same peers in the same order: nothing remembered for it.
        const fresh = PeerTable.replacePeer(table, keys[0]!, HashMap.unsafeGet(table.peers, keys[0]!))
        expect(Selection.select(table, options)).toEqual(Selection.select(fresh, options))
        expect(Selection.reconnectOrder(table, { ...options, limit: call.k })).toEqual(
          Selection.reconnectOrder(PeerTable.replacePeer(table, keys[0]!, HashMap.unsafeGet(table.peers, keys[0]!)), { ...options, limit: call.k })
        )
      }
    },
    { fastCheck: { seed: 13, numRuns: 100 } }
  )
})

describe("Selection.reconnectOrder", () => {
  it("puts relay-capable peers first, then orders by quality", () => {
    let t = PeerTable.empty
    t = withHistory(t, "1.1.0.1", 20, 0)
    t = withHistory(t, "2.2.0.1", 1, 1)
    t = withHistory(t, "3.3.0.1", 5, 0)
    const relayAddr = parse("/ip4/4.4.0.1/tcp/4001")
    t = PeerTable.add(t, relayAddr, { now: T0, source: user, capabilities: { relay: true } })
    t = PeerTable.recordFailure(t, relayAddr, T0)
    const order = Selection.reconnectOrder(t, { now: T0 })
    expect(order.map((c) => c.address.host)).toEqual(["4.4.0.1", "1.1.0.1", "3.3.0.1", "2.2.0.1"])
    expect(order.map((c) => c.relay)).toEqual([true, false, false, false])
    expect(pipe(t, Selection.reconnectOrder({ now: T0, limit: 2 })).map((c) => c.address.host)).toEqual(["4.4.0.1", "1.1.0.1"])
    expect(Selection.reconnectOrder(t, { now: T0, exclude: new Set([keyOf("4.4.0.1")]) })[0]!.address.host).toBe("1.1.0.1")
  })

  it.prop(
    "with a limit, returns the first peers of the whole order",
    [PolicyArbitraries.table({ groups: 4, hosts: 20, undialable: 0.1 }, 80, 0), FastCheck.integer({ min: 0, max: 30 })],
    ([table, limit]) => {
      const all = Selection.reconnectOrder(table, { now: PolicyArbitraries.NOW })
      expect(Selection.reconnectOrder(table, { now: PolicyArbitraries.NOW, limit })).toEqual(all.slice(0, limit))
      for (let i = 1; i < all.length; i++) {
        const a = all[i - 1]!
        const b = all[i]!
        expect(a.relay > b.relay || (a.relay === b.relay && (a.quality > b.quality || (a.quality === b.quality && a.peerKey < b.peerKey)))).toBe(true)
      }
    },
    { fastCheck: { seed: 14, numRuns: 100 } }
  )
})
