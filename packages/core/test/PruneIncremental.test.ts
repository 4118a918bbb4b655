import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import { PeerAddress, type PeerRecord, PeerTable, Prune } from "@bootstrap-cache/core"
import { Arbitraries, PolicyArbitraries } from "@bootstrap-cache/testkit"

const DAY = 86_400_000
const NOW = PolicyArbitraries.NOW

/**
 * Rules loose enough that many prunes remove nothing (so the shortcut is taken) while a change can
 * still tip a cap, or the generated ones.
 */
const config: FastCheck.Arbitrary<Prune.Config> = FastCheck.oneof(
  PolicyArbitraries.pruneConfig,
  PolicyArbitraries.pruneConfig.map((c) => ({
    ...c,
    maxConsecutiveFailures: c.maxConsecutiveFailures + 4,
    unreliableMinAttempts: c.unreliableMinAttempts + 10,
    staleAfterMs: c.staleAfterMs + 20 * DAY,
    capacity: c.capacity + 30,
    maxPeersPerNetgroup: c.maxPeersPerNetgroup + 2,
    maxAddressesPerPeer: c.maxAddressesPerPeer + 1,
    maxNewPerBucket: c.maxNewPerBucket + 2
  }))
)

/** A change to one of the table's addresses (by position), or a new address. */
type Change =
  | { readonly _tag: "success" | "failure"; readonly i: number; readonly ago: number }
  | { readonly _tag: "add"; readonly host: number; readonly source: PeerRecord.Source }
  | { readonly _tag: "remove"; readonly i: number }
  | { readonly _tag: "protocols"; readonly i: number }

const change: FastCheck.Arbitrary<Change> = FastCheck.oneof(
  { weight: 5, arbitrary: FastCheck.record({ _tag: FastCheck.constantFrom("success" as const, "failure" as const), i: FastCheck.nat(200), ago: FastCheck.nat(20 * DAY) }) },
  { weight: 1, arbitrary: FastCheck.record({ _tag: FastCheck.constant("add" as const), host: FastCheck.nat(300), source: Arbitraries.source }) },
  { weight: 1, arbitrary: FastCheck.record({ _tag: FastCheck.constant("remove" as const), i: FastCheck.nat(200) }) },
  { weight: 1, arbitrary: FastCheck.record({ _tag: FastCheck.constant("protocols" as const), i: FastCheck.nat(200) }) }
)

const apply = (table: PeerTable.PeerTable, c: Change, now: number): PeerTable.PeerTable => {
  if (c._tag === "add") {
    const address = PeerAddress.unsafeParse(`/ip4/${PolicyArbitraries.netgroupOf(c.host % 7).slice(4)}.9.${1 + (c.host % 200)}/tcp/4001`)
    return PeerTable.add(table, address, { now, source: c.source })
  }
  const keys = [...HashMap.keys(table.index)].sort()
  if (keys.length === 0) return table
  const key = keys[c.i % keys.length]!
  const peer = HashMap.unsafeGet(table.peers, HashMap.unsafeGet(table.index, key))
  const address = peer.addresses.find((r) => r.address.key === key)!.address
  const found = { peer }
  switch (c._tag) {
    case "success":
      return PeerTable.recordSuccess(table, address, now - c.ago, { rttMs: 40 })
    case "failure":
      return PeerTable.recordFailure(table, address, now - c.ago)
    case "remove":
      return PeerTable.remove(table, address)
    case "protocols":
      return Option.match(found.peer.peerId, { onNone: () => table, onSome: (id) => PeerTable.setProtocols(table, id, ["/ipfs/kad/1.0.0"]) })
  }
}

const plain = (r: Prune.Result) => ({
  records: PeerTable.toRecords(r.table),
  removed: r.removed.map((x) => ({ peerKey: x.peerKey, addresses: x.addresses.map((a) => a.key), wholePeer: x.wholePeer, reason: x.reason, detail: x.detail }))
})

describe("Prune.pruneIncremental", () => {
  it.prop(
    "gives what Prune.prune gives, prune after prune, over changes, the pruned table or the unpruned one carried on, and a clock that moves either way",
    [
      PolicyArbitraries.table({ groups: 6, hosts: 40 }, 60),
      config,
      FastCheck.array(
        FastCheck.tuple(FastCheck.array(change, { maxLength: 5 }), FastCheck.integer({ min: -2 * DAY, max: 6 * DAY }), FastCheck.boolean()),
        { maxLength: 10 }
      )
    ],
    ([start, rules, steps]) => {
      let table = start
      let memo: Prune.Memo | undefined
      let now = NOW
      for (const [changes, step, carryPruned] of steps) {
        now += step
        for (const c of changes) table = apply(table, c, now)
        const full = Prune.prune(table, now, rules)
        const next = Prune.pruneIncremental(memo, table, now, rules)
        expect(plain(next.result)).toEqual(plain(full))
        if (full.removed.length === 0) expect(next.result.table).toBe(table)
        memo = next.memo
        if (carryPruned) table = next.result.table
      }
    },
    { fastCheck: { seed: 51, numRuns: 300 } }
  )

  it.prop(
    "a memo built in slices (Prune.memoSteps) of a table, then changes: pruneIncremental gives what Prune.prune gives",
    [
      PolicyArbitraries.table({ groups: 6, hosts: 40 }, 60),
      config,
      FastCheck.integer({ min: 1, max: 50 }),
      FastCheck.array(
        FastCheck.tuple(FastCheck.array(change, { maxLength: 5 }), FastCheck.integer({ min: -2 * DAY, max: 6 * DAY })),
        { minLength: 1, maxLength: 4 }
      )
    ],
    ([start, rules, perStep, steps]) => {
      const memoSteps = Prune.memoSteps(start, rules, perStep)
      let pauses = 0
      let built = memoSteps.next()
      for (; built.done !== true; built = memoSteps.next()) pauses++
      expect(pauses).toBe(Math.floor(PeerTable.size(start) / perStep))
      let memo: Prune.Memo | undefined = built.value
      let table = start
      let now = NOW
      for (const [changes, step] of steps) {
        now += step
        for (const c of changes) table = apply(table, c, now)
        const next = Prune.pruneIncremental(memo, table, now, rules)
        expect(plain(next.result)).toEqual(plain(Prune.prune(table, now, rules)))
        memo = next.memo
      }
    },
    { fastCheck: { seed: 52, numRuns: 200 } }
  )

  it("an unchanged healthy table is pruned to itself, and one outcome later again", () => {
    const a = PeerAddress.unsafeParse("/ip4/23.1.0.1/tcp/4001")
    const b = PeerAddress.unsafeParse("/ip4/45.1.0.1/tcp/4001")
    let table = PeerTable.empty
    for (const address of [a, b]) {
      table = PeerTable.add(table, address, { now: NOW, source: { _tag: "user" } })
      table = PeerTable.recordSuccess(table, address, NOW)
    }
    const first = Prune.pruneIncremental(undefined, table, NOW)
    expect(first.result.table).toBe(table)
    expect(first.memo).toBeDefined()
    const later = PeerTable.recordFailure(table, a, NOW + 1)
    const second = Prune.pruneIncremental(first.memo, later, NOW + 2)
    expect(second.result).toEqual({ table: later, removed: [] })
    // Eight days on, both are stale: the working one is protected, the other goes.
    const third = Prune.pruneIncremental(second.memo, later, NOW + 8 * DAY, Prune.makeConfig({ minWorkingPeers: 1, minCandidates: 0 }))
    expect(plain(third.result)).toEqual(plain(Prune.prune(later, NOW + 8 * DAY, Prune.makeConfig({ minWorkingPeers: 1, minCandidates: 0 }))))
    expect(third.result.removed.length).toBeGreaterThan(0)
  })

  it.prop(
    "gives what Prune.prune gives when answers turn new peers into tried ones, filling netgroups and buckets up to and past their caps",
    [
      FastCheck.array(FastCheck.tuple(FastCheck.nat(3), FastCheck.nat(60), FastCheck.boolean()), { maxLength: 40 }),
      FastCheck.record({ tried: FastCheck.integer({ min: 1, max: 8 }), fresh: FastCheck.integer({ min: 1, max: 8 }), working: FastCheck.nat(3) }),
      FastCheck.array(FastCheck.array(change.filter((c) => c._tag !== "add"), { maxLength: 4 }), { maxLength: 10 })
    ],
    ([hosts, caps, steps]) => {
      const rules = Prune.makeConfig({ maxPeersPerNetgroup: caps.tried, maxNewPerBucket: caps.fresh, minWorkingPeers: caps.working })
      let table = PeerTable.empty
      for (const [group, host, second] of hosts) {
        const address = PeerAddress.unsafeParse(`/ip4/${PolicyArbitraries.netgroupOf(group).slice(4)}.7.${1 + host}/tcp/4001`)
        const url = second ? "https://b.example/peers" : "https://a.example/peers"
        table = PeerTable.add(table, address, { now: NOW, source: { _tag: "endpoint", url } })
      }
      let memo: Prune.Memo | undefined
      let now = NOW
      for (const changes of steps) {
        now += 60_000
        for (const c of changes) table = apply(table, c, now)
        const full = Prune.prune(table, now, rules)
        const next = Prune.pruneIncremental(memo, table, now, rules)
        expect(plain(next.result)).toEqual(plain(full))
        memo = next.memo
        table = next.result.table
      }
    },
    { fastCheck: { seed: 52, numRuns: 300 } }
  )
})
