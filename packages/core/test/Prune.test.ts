import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { pipe } from "effect/Function"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import { readFileSync } from "node:fs"
import { Contacts, PeerAddress, PeerRecord, PeerTable, Prune, Score } from "@bootstrap-cache/core"
import { PolicyArbitraries } from "@bootstrap-cache/testkit"

const T0 = 1_750_000_000_000
const DAY = 86_400_000
const user: PeerRecord.Source = { _tag: "user" }
const parse = PeerAddress.unsafeParse
const ID = "12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx"

const at = (host: string) => parse(`/ip4/${host}/tcp/4001`)
const keyOf = (host: string) => `addr:${at(host).key}`

/** Adds an address with `ok` successes then `ko` failures, all at `when`. */
const withHistory = (table: PeerTable.PeerTable, address: PeerAddress.PeerAddress, ok: number, ko: number, when = T0) => {
  let t = PeerTable.add(table, address, { now: when, source: user })
  for (let i = 0; i < ok; i++) t = PeerTable.recordSuccess(t, address, when)
  for (let i = 0; i < ko; i++) t = PeerTable.recordFailure(t, address, when)
  return t
}

const working = (...hosts: ReadonlyArray<string>) =>
  hosts.reduce((t, h) => withHistory(t, at(h), 2, 0), PeerTable.empty)

const has = (t: PeerTable.PeerTable, host: string) => HashMap.has(t.peers, keyOf(host))

/** Every address key of a table. */
const addressKeys = (t: PeerTable.PeerTable) => new Set(HashMap.keys(t.index))

describe("Prune", () => {
  it("defines a working address as one whose last outcome was a success", () => {
    const a = at("1.1.0.1")
    let t = withHistory(PeerTable.empty, a, 1, 0)
    expect(Prune.isWorkingAddress(PeerTable.lookupAddress(t, a).pipe(Option.getOrThrow).record)).toBe(true)
    t = PeerTable.recordFailure(t, a, T0 + 1)
    expect(Prune.isWorkingAddress(PeerTable.lookupAddress(t, a).pipe(Option.getOrThrow).record)).toBe(false)
    t = PeerTable.recordSuccess(t, a, T0 + 2)
    expect(Prune.workingPeers(t)).toBe(1)
    expect(Prune.workingPeers(PeerTable.add(t, at("2.2.0.1"), { now: T0, source: user }))).toBe(1)
  })

  it("removes a peer after 3 consecutive failures while 2 working peers remain", () => {
    const t = withHistory(working("1.1.0.1", "2.2.0.1"), at("3.3.0.1"), 5, 3)
    const { removed, table } = Prune.prune(t, T0)
    expect(has(table, "3.3.0.1")).toBe(false)
    expect(removed).toEqual([
      expect.objectContaining({ peerKey: keyOf("3.3.0.1"), reason: "failing", wholePeer: true, detail: "3 consecutive failed dials (limit 3)" })
    ])
    // Two failures are not enough.
    expect(has(Prune.prune(withHistory(working("1.1.0.1", "2.2.0.1"), at("3.3.0.1"), 5, 2), T0).table, "3.3.0.1")).toBe(true)
  })

  it("removes nothing for being bad when fewer than 2 peers work: the node is probably offline", () => {
    let t = withHistory(PeerTable.empty, at("1.1.0.1"), 2, 0)
    for (let i = 2; i < 10; i++) t = withHistory(t, at(`${i}.${i}.0.1`), 3, 5)
    const offline = Prune.prune(t, T0)
    expect(offline.removed).toEqual([])
    expect(PeerTable.size(offline.table)).toBe(9)
    // With a second working peer, the failing ones go.
    const online = Prune.prune(withHistory(t, at("10.10.0.1"), 1, 0), T0)
    expect(PeerTable.size(online.table)).toBe(2)
    expect(online.removed.every((r) => r.reason === "failing")).toBe(true)
    // minWorkingPeers is configurable.
    expect(PeerTable.size(Prune.prune(t, T0, Prune.makeConfig({ minWorkingPeers: 1 })).table)).toBe(1)
  })

  it("removes a peer's failing address first and keeps the peer by its good one", () => {
    const dead = parse(`/ip4/6.6.0.1/tcp/4001/p2p/${ID}`)
    const good = parse(`/ip4/7.7.0.1/tcp/4001/p2p/${ID}`)
    let t = withHistory(working("1.1.0.1", "2.2.0.1"), dead, 0, 4)
    t = withHistory(t, good, 1, 0)
    const { removed, table } = Prune.prune(t, T0)
    const peer = Option.getOrThrow(PeerTable.lookupPeer(table, ID))
    expect(peer.addresses.map((r) => r.address.host)).toEqual(["7.7.0.1"])
    expect(removed).toEqual([expect.objectContaining({ peerKey: ID, wholePeer: false, reason: "failing", addresses: [dead] })])
    expect(PeerTable.lookupAddress(table, dead)).toEqual(Option.none())
  })

  it("removes unreliable peers: more failures than successes after 3 or more dials", () => {
    let t = working("1.1.0.1", "2.2.0.1")
    t = withHistory(t, at("3.3.0.1"), 1, 2) // 3 dials, 2 failures: unreliable
    t = PeerTable.recordSuccess(t, at("3.3.0.1"), T0 + 1) // still 2 > 2? no: 2 successes, 2 failures
    t = withHistory(t, at("4.4.0.1"), 1, 2)
    t = withHistory(t, at("5.5.0.1"), 0, 2) // 2 dials only
    const { removed, table } = Prune.prune(t, T0 + 2)
    expect([...HashMap.keys(table.peers)].sort()).toEqual([keyOf("1.1.0.1"), keyOf("2.2.0.1"), keyOf("3.3.0.1"), keyOf("5.5.0.1")].sort())
    expect(removed).toEqual([expect.objectContaining({ peerKey: keyOf("4.4.0.1"), reason: "unreliable" })])
    expect(removed[0]!.detail).toMatch(/2 failed and 1 successful/)
  })

  it("removes peers not seen for 7 days or more, measured from the clock", () => {
    let t = working("1.1.0.1", "2.2.0.1")
    t = PeerTable.add(t, at("3.3.0.1"), { now: T0 - 8 * DAY, source: user })
    t = PeerTable.add(t, at("4.4.0.1"), { now: T0 - 6 * DAY, source: user })
    t = PeerTable.add(t, at("5.5.0.1"), { now: T0 - 7 * DAY, source: user }) // exactly 7 days: stale
    t = PeerTable.add(t, at("6.6.0.1"), { now: T0 - 7 * DAY + 1, source: user }) // 1 ms short: kept
    t = PeerTable.add(t, at("7.7.0.1"), { now: T0 + DAY, source: user }) // seen "after now" (clock set back): kept
    // No floor here: the floor has a test of its own.
    const config = Prune.makeConfig({ minCandidates: 0 })
    const { table, removed } = Prune.prune(t, T0, config)
    expect(new Set(HashMap.keys(table.peers))).toEqual(new Set(["1.1.0.1", "2.2.0.1", "4.4.0.1", "6.6.0.1", "7.7.0.1"].map(keyOf)))
    expect(removed.map((r) => [r.peerKey, r.reason])).toEqual([[keyOf("3.3.0.1"), "stale"], [keyOf("5.5.0.1"), "stale"]])
    expect(removed[0]).toMatchObject({ wholePeer: true, detail: "not seen for 192 h (limit 168 h)" })
    // A failed dial is not "seen": it does not make a stale peer fresh.
    expect(has(Prune.prune(PeerTable.recordFailure(t, at("3.3.0.1"), T0), T0, config).table, "3.3.0.1")).toBe(false)
    // Hearing of it again does.
    expect(has(Prune.prune(PeerTable.add(t, at("3.3.0.1"), { now: T0, source: user }), T0, config).table, "3.3.0.1")).toBe(true)
    // The age is configurable.
    expect(has(Prune.prune(t, T0, Prune.makeConfig({ staleAfterMs: 9 * DAY, minCandidates: 0 })).table, "3.3.0.1")).toBe(true)
    // With the default floor of 100 candidates, seven peers are too few to lose any to staleness.
    expect(PeerTable.size(Prune.prune(t, T0).table)).toBe(7)
  })

  it("after a month offline, removes every stale peer but the working ones the minimum protects", () => {
    let t = working("1.1.0.1", "2.2.0.1")
    t = withHistory(t, at("3.3.0.1"), 1, 0) // a third working peer, worse than the first two
    t = PeerTable.add(t, at("4.4.0.1"), { now: T0, source: user })
    const config = Prune.makeConfig({ minCandidates: 0 })
    const later = Prune.prune(t, T0 + 30 * DAY, config)
    // Everything is a month old; two working peers must remain, so the two best do.
    expect(new Set(HashMap.keys(later.table.peers))).toEqual(new Set([keyOf("1.1.0.1"), keyOf("2.2.0.1")]))
    expect(later.removed.map((r) => r.reason)).toEqual(["stale", "stale"])
    expect(Prune.workingPeers(later.table)).toBe(2)
    // The peers reached again at the restart are fresh, and take the protection's place.
    const restarted = [at("3.3.0.1"), at("4.4.0.1")].reduce((u, a) => PeerTable.recordSuccess(u, a, T0 + 30 * DAY), t)
    expect(new Set(HashMap.keys(Prune.prune(restarted, T0 + 30 * DAY, config).table.peers))).toEqual(new Set([keyOf("3.3.0.1"), keyOf("4.4.0.1")]))
  })

  it("keeps the floor of 100 most recently heard peers of an import never relisted, once all are stale", () => {
    const crawl: PeerRecord.Source = { _tag: "import", from: "crawl.txt" }
    let t = working("1.1.0.1", "2.2.0.1")
    for (let i = 0; i < 6_788; i++) t = PeerTable.add(t, at(`${20 + (i % 60)}.${Math.floor(i / 60)}.0.1`), { now: T0 - 8 * DAY + i, source: crawl })
    const { table, removed } = Prune.prune(t, T0)
    expect(PeerTable.size(table)).toBe(100)
    expect(removed.length).toBe(6_790 - 100)
    expect(removed.every((r) => r.reason === "stale")).toBe(true)
    // The kept are the two working peers and the 98 heard of last.
    const kept = [...HashMap.values(table.peers)].filter((p) => !Prune.isWorking(p)).map((p) => p.lastSeen)
    expect(Math.min(...kept)).toBe(T0 - 8 * DAY + 6_788 - 98)
  })

  it("caps addresses per peer, keeping working ones first, then the most recently successful", () => {
    let t = working("1.1.0.1", "2.2.0.1")
    const addrs = [1, 2, 3, 4, 5].map((i) => parse(`/ip4/8.${i}.0.1/tcp/4001/p2p/${ID}`))
    t = withHistory(t, addrs[0]!, 1, 0, T0 - 5_000) // working, oldest success
    t = withHistory(t, addrs[1]!, 1, 0, T0 - 3_000) // working, newer success
    t = withHistory(t, addrs[2]!, 1, 1, T0 - 1_000) // the latest success, then a failure: not working
    t = withHistory(t, addrs[3]!, 1, 1, T0 - 4_000) // an older success, then a failure
    t = withHistory(t, addrs[4]!, 0, 0, T0) // never dialled, seen last
    const keep = (n: number) => {
      const { table, removed } = Prune.prune(t, T0, Prune.makeConfig({ maxAddressesPerPeer: n }))
      const peer = Option.getOrThrow(PeerTable.lookupPeer(table, ID))
      const kept = peer.addresses.map((r) => r.address.host)
      expect(removed).toEqual([expect.objectContaining({ peerKey: ID, reason: "address-cap", wholePeer: false })])
      expect(removed[0]!.detail).toBe(`keeps the ${n} most recently successful of 5 addresses`)
      expect(removed[0]!.addresses.length + kept.length).toBe(5)
      for (const a of removed[0]!.addresses) expect(PeerTable.lookupAddress(table, a)).toEqual(Option.none())
      expect(Prune.isWorking(peer)).toBe(true)
      return kept.sort()
    }
    expect(keep(1)).toEqual(["8.2.0.1"])
    expect(keep(2)).toEqual(["8.1.0.1", "8.2.0.1"])
    expect(keep(3)).toEqual(["8.1.0.1", "8.2.0.1", "8.3.0.1"])
    expect(keep(4)).toEqual(["8.1.0.1", "8.2.0.1", "8.3.0.1", "8.4.0.1"])
  })

  it("caps tried peers per netgroup, evicting the lowest quality first, so one /16 cannot fill the table", () => {
    let t = working("1.1.0.1", "2.2.0.1")
    for (let i = 1; i <= 300; i++) t = withHistory(t, at(`9.9.${Math.floor(i / 200)}.${1 + (i % 200)}`), 1, 0, T0 - i)
    const { table, removed } = Prune.prune(t, T0)
    const inGroup = [...HashMap.values(table.peers)].filter((p) => p.addresses[0]!.address.netgroup === "ip4:9.9")
    expect(inGroup.length).toBe(256)
    // The least recently successful went.
    expect(has(table, "9.9.0.2") && !has(table, "9.9.1.101")).toBe(true)
    expect(has(table, "1.1.0.1") && has(table, "2.2.0.1")).toBe(true)
    expect(removed.length).toBe(300 - 256)
    expect(removed.every((r) => r.reason === "netgroup-cap" && r.wholePeer)).toBe(true)
    expect(removed[0]!.detail).toMatch(/netgroup ip4:9.9 holds 300 peers that answered \(limit 256\)/)
  })

  it("caps new peers per (source group, netgroup): one source flooding one /16 cannot fill the table", () => {
    const flood: PeerRecord.Source = { _tag: "endpoint", url: "https://flood.example/peers" }
    const other: PeerRecord.Source = { _tag: "endpoint", url: "https://contacts.example/peers" }
    let t = working("1.1.0.1", "2.2.0.1")
    for (let i = 0; i < 1_500; i++) t = PeerTable.add(t, at(`9.9.${i >> 7}.${1 + (i & 127)}`), { now: T0, source: flood })
    for (let i = 0; i < 50; i++) t = PeerTable.add(t, at(`9.9.100.${1 + i}`), { now: T0, source: other })
    const { table, removed } = Prune.prune(t, T0)
    const bySource = new Map<string, number>()
    for (const p of HashMap.values(table.peers)) {
      const g = PeerRecord.sourceGroupOf(p)
      bySource.set(g, (bySource.get(g) ?? 0) + 1)
    }
    expect(bySource.get("endpoint:flood.example")).toBe(1_024)
    // The other source's peers in the same /16 are a bucket of their own: all kept.
    expect(bySource.get("endpoint:contacts.example")).toBe(50)
    expect(removed.length).toBe(1_500 - 1_024)
    expect(removed.every((r) => r.reason === "bucket-cap")).toBe(true)
    expect(removed[0]!.detail).toMatch(/source endpoint:flood.example lists 1500 never-answered peers in netgroup ip4:9.9 \(limit 1024\)/)
  })

  it("keeps every peer of a crawl with big hosting /16s (999 and 350 peers) imported into an empty cache", () => {
    const crawl: PeerRecord.Source = { _tag: "import", from: "crawl.txt" }
    let t = PeerTable.empty
    for (let i = 0; i < 999; i++) t = PeerTable.add(t, at(`3.120.${i >> 7}.${1 + (i & 127)}`), { now: T0, source: crawl })
    for (let i = 0; i < 350; i++) t = PeerTable.add(t, at(`52.1.${i >> 7}.${1 + (i & 127)}`), { now: T0, source: crawl })
    for (let i = 0; i < 2_000; i++) t = PeerTable.add(t, at(`${20 + (i % 30)}.${Math.floor(i / 30)}.0.1`), { now: T0, source: crawl })
    const { table, removed } = Prune.prune(t, T0)
    expect(removed).toEqual([])
    expect(PeerTable.size(table)).toBe(999 + 350 + 2_000)
    // With less room than peers, the capacity takes the surplus and nothing else.
    expect(PeerTable.size(Prune.prune(t, T0, Prune.makeConfig({ capacity: 3_000 })).table)).toBe(3_000)
  })

  it("keeps every dialable peer of the real Filecoin crawl imported into an empty cache, beside a one-source /16 flood", () => {
    const text = readFileSync(new URL("../../../fixtures/nebula-filecoin-multiaddrs-2021-07-14.txt", import.meta.url), "utf8")
    const crawl: PeerRecord.Source = { _tag: "import", from: "nebula-filecoin-multiaddrs-2021-07-14.txt" }
    const parsed = Contacts.parse(text)
    const dialable = parsed.addresses.filter((a) => PeerAddress.isDialable(a))
    const imported = PeerTable.mutate(PeerTable.empty, (t) => {
      for (const a of parsed.addresses) t = PeerTable.add(t, a, { now: T0, source: crawl })
      return t
    })
    const dialableKeys = new Set(dialable.map((a) => HashMap.unsafeGet(imported.index, a.key)))
    expect(dialableKeys.size).toBeGreaterThan(1_000)
    const kept = (t: PeerTable.PeerTable) => [...dialableKeys].filter((k) => HashMap.has(t.peers, k)).length
    expect(kept(Prune.prune(imported, T0).table)).toBe(dialableKeys.size)
    // A flood of 5 000 addresses of one /16 from one endpoint: capped at 1 024, the crawl untouched.
    const flood: PeerRecord.Source = { _tag: "endpoint", url: "https://flood.example/peers" }
    const flooded = PeerTable.mutate(imported, (t) => {
      for (let i = 0; i < 5_000; i++) t = PeerTable.add(t, at(`185.199.${i >> 7}.${1 + (i & 127)}`), { now: T0, source: flood })
      return t
    })
    const pruned = Prune.prune(flooded, T0).table
    expect(kept(pruned)).toBe(dialableKeys.size)
    expect([...HashMap.values(pruned.peers)].filter((p) => PeerRecord.sourceGroupOf(p) === "endpoint:flood.example").length).toBe(1_024)
    // With room for the crawl and 300 more, the flood's bucket gives up the surplus (the crawl's fullest /16 holds 179).
    const tight = Prune.prune(flooded, T0, Prune.makeConfig({ capacity: PeerTable.size(imported) + 300 })).table
    expect(kept(tight)).toBe(dialableKeys.size)
  })

  it("evicts for capacity new peers first, from the fullest (source group, netgroup) buckets, and a peer that answered last", () => {
    const a: PeerRecord.Source = { _tag: "endpoint", url: "https://a.example/peers" }
    const b: PeerRecord.Source = { _tag: "endpoint", url: "https://b.example:8443/x" }
    let t = working("1.1.0.1", "2.2.0.1")
    t = withHistory(t, at("3.3.0.1"), 1, 1) // answered once, failed since: poor quality, but tried
    for (let i = 0; i < 100; i++) t = PeerTable.add(t, at(`${10 + (i & 1)}.1.${i}.1`), { now: T0, source: a }) // 2 buckets of 50
    for (let i = 0; i < 20; i++) t = PeerTable.add(t, at(`${12 + (i & 1)}.1.${i}.1`), { now: T0, source: b }) // 2 buckets of 10
    const count = (u: PeerTable.PeerTable, g: string) => [...HashMap.values(u.peers)].filter((p) => PeerRecord.sourceGroupOf(p) === g).length
    // 123 peers, capacity 43: 80 go, all from a's buckets (down to 10 each, b's size).
    const first = Prune.prune(t, T0, Prune.makeConfig({ capacity: 43 })).table
    expect([count(first, "endpoint:a.example"), count(first, "endpoint:b.example")]).toEqual([20, 20])
    // Capacity 33: every bucket comes down to 8, two of them to 7.
    const second = Prune.prune(t, T0, Prune.makeConfig({ capacity: 33 })).table
    expect(count(second, "endpoint:a.example") + count(second, "endpoint:b.example")).toBe(30)
    expect(count(second, "endpoint:a.example")).toBeGreaterThanOrEqual(14)
    expect(count(second, "endpoint:b.example")).toBeGreaterThanOrEqual(14)
    expect(has(second, "3.3.0.1")).toBe(true)
    // Capacity 2: every new peer, then the tried one that is not protected.
    const third = Prune.prune(t, T0, Prune.makeConfig({ capacity: 2 })).table
    expect(new Set(HashMap.keys(third.peers))).toEqual(new Set([keyOf("1.1.0.1"), keyOf("2.2.0.1")]))
  })

  it.prop(
    "staleness alone never takes the table below the floor of candidates",
    [PolicyArbitraries.table({ groups: 6, hosts: 40 }, 80, 5), FastCheck.integer({ min: 0, max: 60 }), FastCheck.integer({ min: 0, max: 60 })],
    ([table, floor, days]) => {
      const now = PolicyArbitraries.NOW + days * DAY
      const config = Prune.makeConfig({ minCandidates: floor, capacity: 1_000, maxPeersPerNetgroup: 1_000, maxNewPerBucket: 1_000 })
      const { removed, table: pruned } = Prune.prune(table, now, config)
      const hardBad = removed.filter((r) => r.wholePeer && (r.reason === "failing" || r.reason === "unreliable")).length
      expect(PeerTable.size(pruned)).toBeGreaterThanOrEqual(Math.min(floor, PeerTable.size(table) - hardBad))
      // The floor is a floor, not a reprieve: a stale removal leaves at most the floor, or the non-stale peers.
      if (removed.some((r) => r.wholePeer && r.reason === "stale")) {
        const staleKept = [...HashMap.values(pruned.peers)].filter((p) =>
          p.addresses.every((r) => now - Option.getOrElse(r.lastSeen, () => p.lastSeen) >= config.staleAfterMs)
        ).length
        expect(staleKept === 0 || PeerTable.size(pruned) <= floor + config.minWorkingPeers).toBe(true)
      }
    },
    { fastCheck: { seed: 23, numRuns: 200 } }
  )

  it("evicts over capacity the lowest quality first, then the least recently seen", () => {
    let t = working("1.1.0.1", "2.2.0.1")
    t = PeerTable.add(t, at("3.3.0.1"), { now: T0 - 2_000, source: user }) // fresh, older
    t = PeerTable.add(t, at("4.4.0.1"), { now: T0 - 1_000, source: user }) // fresh, newer
    t = withHistory(t, at("5.5.0.1"), 0, 1, T0) // one failure: lowest quality
    const config = Prune.makeConfig({ capacity: 3 })
    const { table, removed } = Prune.prune(t, T0, config, Score.makeConfig({ maxAgeDecay: 0 }))
    expect(removed.map((r) => [r.peerKey, r.reason])).toEqual([[keyOf("5.5.0.1"), "capacity"], [keyOf("3.3.0.1"), "capacity"]])
    expect(PeerTable.size(table)).toBe(3)
    const again = pipe(t, Prune.prune(T0, config, Score.makeConfig({ maxAgeDecay: 0 })))
    expect(again.table).toEqual(table)
    expect(again.removed.map((r) => [r.peerKey, r.reason, r.detail])).toEqual(removed.map((r) => [r.peerKey, r.reason, r.detail]))
  })

  it("handles a table of 30 000 peers over capacity", () => {
    let t = PeerTable.empty
    for (let i = 0; i < 30_050; i++) t = PeerTable.add(t, at(`${11 + (i % 80)}.${(i >> 7) & 255}.${i & 127}.${1 + ((i >> 14) & 3)}`), { now: T0 + (i % 1000), source: user })
    expect(PeerTable.size(t)).toBe(30_050)
    const { table, removed } = Prune.prune(t, T0 + 1000)
    expect(PeerTable.size(table)).toBe(30_000)
    expect(removed.length).toBe(50)
    // They came from the fullest (source group, netgroup) buckets: none kept a bucket fuller than theirs was.
    const bucket = (p: PeerRecord.PeerRecord) => p.addresses[0]!.address.netgroup
    const sizes = (u: PeerTable.PeerTable) => {
      const m = new Map<string, number>()
      for (const p of HashMap.values(u.peers)) m.set(bucket(p), (m.get(bucket(p)) ?? 0) + 1)
      return m
    }
    const before = sizes(t)
    const maxAfter = Math.max(...sizes(table).values())
    for (const r of removed) expect(before.get(bucket(HashMap.unsafeGet(t.peers, r.peerKey)))!).toBeGreaterThanOrEqual(maxAfter)
    expect(removed.every((r) => r.reason === "capacity")).toBe(true)
  }, 60_000)

  it("protects working peers of distinct netgroups even when one netgroup holds the best hundred", () => {
    let t = PeerTable.empty
    for (let i = 1; i <= 100; i++) t = withHistory(t, at(`5.5.${i >> 4}.${i & 15}`), 20 + i, 0) // one /16, the best
    for (let i = 1; i <= 20; i++) t = withHistory(t, at(`${100 + i}.1.0.1`), 100, 1) // good, but failed last
    for (const host of ["201.1.0.1", "202.1.0.1"]) {
      // Two failures, then a success: working, though poor.
      t = PeerTable.recordSuccess(withHistory(t, at(host), 0, 2), at(host), T0)
    }
    const config = Prune.makeConfig({ minWorkingPeers: 3, maxPeersPerNetgroup: 1, capacity: 3 })
    const { table } = Prune.prune(t, T0, config)
    // The netgroup cap lets only one 5.5 peer count: the two poor working peers are protected too.
    expect(new Set(HashMap.keys(table.peers))).toEqual(new Set([keyOf("5.5.6.4"), keyOf("201.1.0.1"), keyOf("202.1.0.1")]))
    expect(Prune.workingPeers(table)).toBe(3)
  })

  it("leaves an empty table empty", () => {
    expect(Prune.prune(PeerTable.empty, T0)).toEqual({ table: PeerTable.empty, removed: [] })
  })

  it.prop(
    "never exceeds the capacity, the tried netgroup cap, the new bucket cap or the address cap, never holds two entries for one dedupe key, and reports every removed address",
    [PolicyArbitraries.table({ groups: 4, hosts: 16 }, 80, 10), PolicyArbitraries.pruneConfig],
    ([table, config]) => {
      const { table: pruned, removed } = Prune.prune(table, PolicyArbitraries.NOW, config)
      expect(PeerTable.size(pruned)).toBeLessThanOrEqual(config.capacity)
      const perGroup = new Map<string, number>()
      const perBucket = new Map<string, number>()
      const seen = new Set<string>()
      for (const peer of HashMap.values(pruned.peers)) {
        expect(peer.addresses.length).toBeGreaterThan(0)
        expect(peer.addresses.length).toBeLessThanOrEqual(config.maxAddressesPerPeer)
        const best = Option.getOrThrow(Score.best(peer, PolicyArbitraries.NOW))
        const g = best.record.address.netgroup
        if (PeerRecord.isTried(peer)) perGroup.set(g, (perGroup.get(g) ?? 0) + 1)
        else {
          const bucket = `${PeerRecord.sourceGroupOf(peer)} ${g}`
          perBucket.set(bucket, (perBucket.get(bucket) ?? 0) + 1)
        }
        for (const r of peer.addresses) {
          expect(seen.has(r.address.key)).toBe(false)
          seen.add(r.address.key)
        }
      }
      for (const n of perGroup.values()) expect(n).toBeLessThanOrEqual(config.maxPeersPerNetgroup)
      for (const n of perBucket.values()) expect(n).toBeLessThanOrEqual(config.maxNewPerBucket)
      expect(HashMap.size(pruned.index)).toBe(seen.size)
      // Nothing disappears unreported, nothing reported stays.
      const before = addressKeys(table)
      const reported = new Set(removed.flatMap((r) => r.addresses.map((a) => a.key)))
      for (const key of before) expect(seen.has(key) || reported.has(key)).toBe(true)
      for (const key of reported) expect(seen.has(key)).toBe(false)
      expect(seen.size + reported.size).toBe(before.size)
    },
    { fastCheck: { seed: 21, numRuns: 200 } }
  )

  it.prop(
    "never leaves fewer working peers than the minimum when that many existed (and the caps leave room)",
    [PolicyArbitraries.table({ groups: 3, hosts: 16 }, 60, 5), PolicyArbitraries.pruneConfig],
    ([table, generated]) => {
      const config = {
        ...generated,
        capacity: Math.max(generated.capacity, generated.minWorkingPeers),
        maxPeersPerNetgroup: Math.max(generated.maxPeersPerNetgroup, generated.minWorkingPeers)
      }
      const before = Prune.workingPeers(table)
      const after = Prune.workingPeers(Prune.prune(table, PolicyArbitraries.NOW, config).table)
      expect(after).toBeGreaterThanOrEqual(Math.min(before, config.minWorkingPeers))
    },
    { fastCheck: { seed: 22, numRuns: 200 } }
  )
})
