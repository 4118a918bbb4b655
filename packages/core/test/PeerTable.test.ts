import { describe, expect, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as FastCheck from "effect/FastCheck"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { PeerAddress, PeerRecord, PeerTable } from "@bootstrap-cache/core"
import { Arbitraries } from "@bootstrap-cache/testkit"
import * as TableBuild from "../src/internal/peerTableRecords.js"

const parse = PeerAddress.unsafeParse
const ED = "12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx"
const ED2 = "12D3KooWBBzzGy5hAHUQVh2vBvL25CKwJ7wbmooPcz4amQhzJHJq"
const T0 = 1_700_000_000_000
const user: PeerRecord.Source = { _tag: "user" }
const enc = Schema.encodeSync(PeerTable.PeerTableFromRecords)

const apply = (table: PeerTable.PeerTable, op: Arbitraries.TableOp): PeerTable.PeerTable => {
  switch (op._tag) {
    case "add":
      return PeerTable.add(table, op.address, { now: T0 + op.at, source: op.source })
    case "success":
      return PeerTable.recordSuccess(table, op.address, T0 + op.at, { rttMs: op.rttMs })
    case "failure":
      return PeerTable.recordFailure(table, op.address, T0 + op.at)
    case "remove":
      return PeerTable.remove(table, op.address)
  }
}

/** Every structural invariant of a table; throws with the first one broken. */
const assertInvariants = (table: PeerTable.PeerTable) => {
  const seen = new Map<string, string>()
  for (const [pk, peer] of HashMap.entries(table.peers)) {
    expect(peer.addresses.length, `peer ${pk} has no address`).toBeGreaterThan(0)
    expect(pk).toBe(Option.getOrElse(peer.peerId, () => `addr:${peer.addresses[0]!.address.key}`))
    for (const r of peer.addresses) {
      expect(seen.has(r.address.key), `${r.address.key} held twice`).toBe(false)
      seen.set(r.address.key, pk)
      expect(Option.getOrNull(HashMap.get(table.index, r.address.key))).toBe(pk)
      if (Option.isSome(peer.peerId) && Option.isSome(r.address.peerId)) {
        expect(r.address.peerId.value).toBe(peer.peerId.value)
      }
    }
  }
  expect(HashMap.size(table.index)).toBe(seen.size)
}

describe("PeerTable", () => {
  it("adds an address once per dedupe key, whatever its peer id suffix", () => {
    let t = PeerTable.add(PeerTable.empty, parse("/ip4/1.2.3.4/tcp/4001"), { now: T0, source: user })
    t = PeerTable.add(t, parse(`/ip4/1.2.3.4/tcp/4001/p2p/${ED}`), { now: T0 + 1, source: user })
    expect(PeerTable.size(t)).toBe(1)
    expect(PeerTable.addressCount(t)).toBe(1)
    expect(Option.isSome(PeerTable.lookupPeer(t, ED))).toBe(true)
    t = PeerTable.add(t, parse("/ip4/1.2.3.4/tcp/4002"), { now: T0, source: user })
    t = PeerTable.add(t, parse("/ip4/1.2.3.4/udp/4001/quic-v1"), { now: T0, source: user })
    expect(PeerTable.addressCount(t)).toBe(3)
  })

  it("keeps several addresses per peer id", () => {
    const t = PeerTable.empty.pipe(
      PeerTable.add(parse(`/ip4/1.2.3.4/tcp/4001/p2p/${ED}`), { now: T0, source: user }),
      PeerTable.add(parse(`/ip4/1.2.3.4/udp/4001/quic-v1/p2p/${ED}`), { now: T0, source: user }),
      PeerTable.add(parse(`/dns4/a.example/tcp/443/wss/p2p/${ED}`), { now: T0, source: user })
    )
    expect(PeerTable.size(t)).toBe(1)
    expect(Option.getOrThrow(PeerTable.lookupPeer(t, ED)).addresses.length).toBe(3)
  })

  it("records outcomes: counters, consecutive failures, timestamps and a smoothed RTT", () => {
    const a = parse(`/ip4/1.2.3.4/tcp/4001/p2p/${ED}`)
    let t = PeerTable.add(PeerTable.empty, a, { now: T0, source: user })
    t = PeerTable.recordFailure(t, a, T0 + 10)
    t = PeerTable.recordFailure(t, a, T0 + 20)
    let r = Option.getOrThrow(PeerTable.lookupAddress(t, a)).record
    expect([r.successes, r.failures, r.consecutiveFailures]).toEqual([0, 2, 2])
    expect(Option.getOrNull(r.lastFailure)).toBe(T0 + 20)
    t = PeerTable.recordSuccess(t, a, T0 + 30, { rttMs: 80 })
    t = PeerTable.recordSuccess(t, parse("/ip4/1.2.3.4/tcp/4001"), T0 + 40, { rttMs: 160, bytes: 100 })
    r = Option.getOrThrow(PeerTable.lookupAddress(t, a)).record
    expect([r.successes, r.failures, r.consecutiveFailures]).toEqual([2, 2, 0])
    expect(Option.getOrNull(r.lastSuccess)).toBe(T0 + 40)
    expect(Option.getOrNull(r.lastSeen)).toBe(T0 + 40)
    expect(Option.getOrNull(r.rttMs)).toBe(80 + (160 - 80) / 8)
    expect(r.bytesTransferred).toBe(100)
    expect(Option.getOrThrow(PeerTable.lookupPeer(t, ED)).lastSeen).toBe(T0 + 40)
  })

  it("moves an address to the peer id it now answers with, keeping its counters", () => {
    const bare = parse("/ip4/1.2.3.4/tcp/4001")
    let t = PeerTable.recordSuccess(PeerTable.empty, bare, T0)
    t = PeerTable.recordSuccess(t, parse(`/ip4/1.2.3.4/tcp/4001/p2p/${ED}`), T0 + 1)
    t = PeerTable.recordFailure(t, parse(`/ip4/1.2.3.4/tcp/4001/p2p/${ED2}`), T0 + 2)
    assertInvariants(t)
    expect(PeerTable.size(t)).toBe(1)
    const found = Option.getOrThrow(PeerTable.lookupAddress(t, bare))
    expect(Option.getOrNull(found.peer.peerId)).toBe(ED2)
    expect([found.record.successes, found.record.failures]).toEqual([2, 1])
  })

  it("removes addresses and drops a peer with none left", () => {
    const a = parse(`/ip4/1.2.3.4/tcp/4001/p2p/${ED}`)
    const b = parse(`/ip4/1.2.3.4/tcp/4002/p2p/${ED}`)
    let t = PeerTable.add(PeerTable.add(PeerTable.empty, a, { now: T0, source: user }), b, { now: T0, source: user })
    t = PeerTable.remove(t, a)
    expect(PeerTable.addressCount(t)).toBe(1)
    t = PeerTable.remove(t, parse("/ip4/1.2.3.4/tcp/4002"))
    expect(PeerTable.size(t)).toBe(0)
    expect(PeerTable.remove(t, a)).toBe(t)
  })

  it("derives relay capability from the circuit relay v2 hop protocol", () => {
    let t = PeerTable.add(PeerTable.empty, parse(`/ip4/1.2.3.4/tcp/4001/p2p/${ED}`), { now: T0, source: user })
    expect(PeerTable.stats(t).relayCapable).toBe(0)
    t = PeerTable.setProtocols(t, ED, ["/ipfs/id/1.0.0", PeerRecord.RELAY_HOP_PROTOCOL])
    expect(PeerTable.stats(t).relayCapable).toBe(1)
    expect(PeerRecord.isRelay(Option.getOrThrow(PeerTable.lookupPeer(t, ED)))).toBe(true)
  })

  it("remembers each source once, newest last", () => {
    const a = parse(`/ip4/1.2.3.4/tcp/4001/p2p/${ED}`)
    const e1: PeerRecord.Source = { _tag: "endpoint", url: "https://a.example/" }
    let t = PeerTable.add(PeerTable.empty, a, { now: T0, source: e1 })
    t = PeerTable.add(t, a, { now: T0, source: user })
    t = PeerTable.add(t, a, { now: T0, source: e1 })
    expect(Option.getOrThrow(PeerTable.lookupPeer(t, ED)).sources).toEqual([user, e1])
  })

  it("computes stats", () => {
    const a = parse(`/ip4/1.2.3.4/tcp/4001/p2p/${ED}`)
    const b = parse("/ip4/5.6.7.8/tcp/4001")
    let t = PeerTable.add(PeerTable.empty, a, { now: T0, source: user, capabilities: { bootstrap: true } })
    t = PeerTable.add(t, b, { now: T0 + 5, source: user })
    t = PeerTable.recordSuccess(t, a, T0 + 1, { bytes: 300 })
    t = PeerTable.recordFailure(t, a, T0 + 2)
    t = PeerTable.recordFailure(t, b, T0 + 3)
    expect(PeerTable.stats(t)).toEqual({
      peers: 2,
      addresses: 2,
      relayCapable: 0,
      bootstrap: 1,
      averageReliability: (0.5 + 0) / 2,
      totalSuccesses: 1,
      totalFailures: 2,
      totalBytesTransferred: 300,
      neverDialled: 0,
      oldestSeen: T0 + 1,
      newestSeen: T0 + 5
    })
  })

  it("is persistent: an update returns a new table and leaves the old one as it was", () => {
    const a = parse(`/ip4/1.2.3.4/tcp/4001/p2p/${ED}`)
    const t0 = PeerTable.add(PeerTable.empty, a, { now: T0, source: user })
    const before = enc(t0)
    const t1 = t0.pipe(PeerTable.recordSuccess(a, T0 + 1, { rttMs: 5 }), PeerTable.recordFailure(a, T0 + 2))
    const t2 = PeerTable.remove(t1, a)
    expect(enc(t0)).toStrictEqual(before)
    expect(Option.getOrThrow(PeerTable.lookupAddress(t1, a)).record.successes).toBe(1)
    expect([PeerTable.size(t1), PeerTable.size(t2)]).toEqual([1, 0])
    expect(PeerTable.size(PeerTable.empty)).toBe(0)
  })

  it("offers data-first and data-last forms of every update and lookup", () => {
    const a = parse(`/ip4/1.2.3.4/tcp/4001/p2p/${ED}`)
    const first = PeerTable.recordFailure(PeerTable.recordSuccess(PeerTable.add(PeerTable.empty, a, { now: T0, source: user }), a, T0 + 1, { rttMs: 9 }), a, T0 + 2)
    const last = PeerTable.empty.pipe(PeerTable.add(a, { now: T0, source: user }), PeerTable.recordSuccess(a, T0 + 1, { rttMs: 9 }), PeerTable.recordFailure(a, T0 + 2))
    expect(enc(last)).toStrictEqual(enc(first))
    expect(PeerTable.lookupAddress(a)(last)).toStrictEqual(PeerTable.lookupAddress(last, a))
    expect(PeerTable.lookupPeer(ED)(last)).toStrictEqual(PeerTable.lookupPeer(last, ED))
    expect(PeerTable.size(last.pipe(PeerTable.remove(a)))).toBe(0)
    expect(Option.isNone(PeerTable.lookupPeer(last, ED2))).toBe(true)
    expect(Option.isNone(PeerTable.lookupAddress(last, parse("/ip4/1.2.3.4/tcp/4002")))).toBe(true)
  })

  it("keeps one peer whether its id is written base58btc or as a CIDv1", () => {
    const [cidEd] = Arbitraries.CIDV1_PEER_IDS
    let t = PeerTable.add(PeerTable.empty, parse(`/ip4/1.2.3.4/tcp/4001/p2p/${ED}`), { now: T0, source: user })
    t = PeerTable.add(t, parse(`/ip4/1.2.3.4/udp/4001/quic-v1/p2p/${cidEd}`), { now: T0, source: user })
    expect(PeerTable.size(t)).toBe(1)
    expect(Option.getOrThrow(PeerTable.lookupPeer(t, ED)).addresses.length).toBe(2)
    // A record read from a file naming its peer by CIDv1 joins the same peer.
    const record = { ...Option.getOrThrow(PeerTable.lookupPeer(t, ED)), peerId: Option.some(cidEd!) }
    const merged = PeerTable.upsert(PeerTable.empty, record)
    assertInvariants(merged)
    expect(Option.isSome(PeerTable.lookupPeer(merged, ED))).toBe(true)
  })

  it("never throws on a record whose peer id is no peer id: the addresses are kept, each as what it names", () => {
    const a = parse(`/ip4/1.2.3.4/tcp/4001/p2p/${ED}`)
    const b = parse("/ip4/5.6.7.8/tcp/4001")
    const record: PeerRecord.PeerRecord = {
      peerId: Option.some("not-a-peer-id"),
      addresses: [{ ...PeerRecord.makeAddressRecord(a, T0), successes: 2 }, PeerRecord.makeAddressRecord(b, T0)],
      protocols: [],
      capabilities: PeerRecord.noCapabilities,
      sources: [user],
      firstSeen: T0,
      lastSeen: T0
    }
    const t = PeerTable.fromRecords([record])
    assertInvariants(t)
    expect(PeerTable.addressCount(t)).toBe(2)
    expect(Option.getOrThrow(PeerTable.lookupAddress(t, a)).record.successes).toBe(2)
    expect(Option.getOrNull(Option.getOrThrow(PeerTable.lookupAddress(t, a)).peer.peerId)).toBe(ED)
    expect(Option.isNone(Option.getOrThrow(PeerTable.lookupAddress(t, b)).peer.peerId)).toBe(true)
  })

  it("files a record's /dnsaddr and relayed addresses under the record's peer (keys taken after, index in step)", () => {
    const dnsaddr = parse(`/dnsaddr/bootstrap.example.com/p2p/${ED2}`)
    const reservation = parse(`/ip4/5.6.7.8/tcp/4001/p2p/${ED2}/p2p-circuit`)
    const record: PeerRecord.PeerRecord = {
      peerId: Option.some(ED),
      addresses: [PeerRecord.makeAddressRecord(dnsaddr, T0), PeerRecord.makeAddressRecord(reservation, T0)],
      protocols: [],
      capabilities: PeerRecord.noCapabilities,
      sources: [user],
      firstSeen: T0,
      lastSeen: T0
    }
    const t = PeerTable.fromRecords([record])
    assertInvariants(t)
    const peer = Option.getOrThrow(PeerTable.lookupPeer(t, ED))
    expect(peer.addresses.map((r) => r.address.multiaddr)).toEqual([
      `/dnsaddr/bootstrap.example.com/p2p/${ED}`,
      `/ip4/5.6.7.8/tcp/4001/p2p/${ED2}/p2p-circuit/p2p/${ED}`
    ])
    expect(Option.isNone(PeerTable.lookupPeer(t, ED2))).toBe(true)
  })

  it("encodes a peer to JSON with every field of the model, and back", () => {
    const a = parse(`/ip4/1.2.3.4/tcp/4001/p2p/${ED}`)
    let t = PeerTable.add(PeerTable.empty, a, { now: T0, source: { _tag: "endpoint", url: "https://a.example/" }, capabilities: { bootstrap: true, coordinator: true, symmetricNat: true } })
    t = PeerTable.add(t, a, { now: T0 + 1, source: { _tag: "import", from: "/tmp/x.json" } })
    t = PeerTable.recordFailure(t, a, T0 + 2)
    t = PeerTable.recordSuccess(t, a, T0 + 3, { rttMs: 40, bytes: 512 })
    t = PeerTable.setProtocols(t, ED, ["/ipfs/id/1.0.0", PeerRecord.RELAY_HOP_PROTOCOL])
    const json = JSON.parse(JSON.stringify(enc(t)))
    expect(json).toStrictEqual([{
      peerId: ED,
      addresses: [{
        multiaddr: a.multiaddr,
        successes: 1,
        failures: 1,
        consecutiveFailures: 0,
        lastSuccess: T0 + 3,
        lastFailure: T0 + 2,
        lastSeen: T0 + 3,
        rttMs: 40,
        bytesTransferred: 512
      }],
      protocols: ["/ipfs/id/1.0.0", PeerRecord.RELAY_HOP_PROTOCOL],
      capabilities: { relay: true, coordinator: true, bootstrap: true, symmetricNat: true },
      sources: [{ _tag: "endpoint", url: "https://a.example/" }, { _tag: "import", from: "/tmp/x.json" }],
      firstSeen: T0,
      lastSeen: T0 + 3
    }])
    expect(enc(Schema.decodeUnknownSync(PeerTable.PeerTableFromRecords)(json))).toStrictEqual(enc(t))
  })

  it.prop(
    "never holds two entries for one ip+port+transport, nor an address in two peers, after any operations",
    [Arbitraries.tableOps],
    ([ops]) => {
      let t = PeerTable.empty
      for (const op of ops) {
        t = apply(t, op)
        assertInvariants(t)
      }
    },
    { fastCheck: { numRuns: 300, seed: 20261121 } }
  )

  it.prop(
    "each address's successes + failures equal the outcomes recorded for it; a success resets consecutive failures",
    [Arbitraries.tableOps],
    ([ops]) => {
      let t = PeerTable.empty
      const model = new Map<string, { s: number; f: number; c: number }>()
      for (const op of ops) {
        t = apply(t, op)
        const key = op.address.key
        const m = model.get(key) ?? { s: 0, f: 0, c: 0 }
        if (op._tag === "success") model.set(key, { s: m.s + 1, f: m.f, c: 0 })
        else if (op._tag === "failure") model.set(key, { s: m.s, f: m.f + 1, c: m.c + 1 })
        else if (op._tag === "remove") model.delete(key)
        else model.set(key, m)
      }
      expect(PeerTable.addressCount(t)).toBe(model.size)
      for (const [key, m] of model) {
        const pk = Option.getOrThrow(HashMap.get(t.index, key))
        const r = HashMap.unsafeGet(t.peers, pk).addresses.find((x) => x.address.key === key)!
        expect([r.successes, r.failures, r.consecutiveFailures]).toEqual([m.s, m.f, m.c])
      }
    },
    { fastCheck: { numRuns: 300, seed: 20261121 } }
  )

  it.prop(
    "encode then decode is the identity for any table",
    [Arbitraries.tableOps],
    ([ops]) => {
      const t = ops.reduce(apply, PeerTable.empty)
      const encoded = Schema.encodeSync(PeerTable.PeerTableFromRecords)(t)
      const json = JSON.parse(JSON.stringify(encoded))
      const decoded = Schema.decodeUnknownSync(PeerTable.PeerTableFromRecords)(json)
      expect(Schema.encodeSync(PeerTable.PeerTableFromRecords)(decoded)).toEqual(encoded)
      expect(PeerTable.stats(decoded)).toEqual(PeerTable.stats(t))
      assertInvariants(decoded)
    },
    { fastCheck: { numRuns: 200, seed: 20261121 } }
  )

  it.prop(
    "upserting one table's records into another adds their counters (the merge loses no outcome)",
    [Arbitraries.tableOps, Arbitraries.tableOps],
    ([opsA, opsB]) => {
      const a = opsA.reduce(apply, PeerTable.empty)
      const b = opsB.reduce(apply, PeerTable.empty)
      const merged = PeerTable.toRecords(b).reduce(PeerTable.upsert, a)
      assertInvariants(merged)
      const sa = PeerTable.stats(a)
      const sb = PeerTable.stats(b)
      const sm = PeerTable.stats(merged)
      expect(sm.totalSuccesses).toBe(sa.totalSuccesses + sb.totalSuccesses)
      expect(sm.totalFailures).toBe(sa.totalFailures + sb.totalFailures)
    },
    { fastCheck: { numRuns: 200, seed: 7 } }
  )

  // Schema-generated records with real peer ids and addresses from the small universe (so they collide).
  const record = FastCheck.tuple(
    Arbitrary.make(PeerRecord.PeerRecord),
    FastCheck.option(FastCheck.constantFrom(...Arbitraries.PEER_IDS), { nil: undefined }),
    FastCheck.array(Arbitraries.peerAddress, { maxLength: 3 })
  ).map(([r, peerId, addresses]): PeerRecord.PeerRecord => ({
    ...r,
    peerId: Option.fromNullable(peerId),
    addresses: r.addresses.slice(0, addresses.length).map((a, i) => ({ ...a, address: addresses[i]! }))
  }))
  const records = FastCheck.array(record, { maxLength: 12 })
  const totals = (rs: ReadonlyArray<PeerRecord.PeerRecord>) => {
    let successes = 0
    let failures = 0
    for (const r of rs) for (const a of r.addresses) {
      successes += a.successes
      failures += a.failures
    }
    return { successes, failures }
  }

  /** The table built from `rs` a slice of `size` records at a time, as a pausing decode builds it. */
  const inSlices = (rs: ReadonlyArray<PeerRecord.PeerRecord>, size: number) => {
    const build = TableBuild.start()
    for (let to = size; to < rs.length + size; to += size) TableBuild.advance(build, rs, Math.min(to, rs.length))
    return TableBuild.finish(build)
  }

  const expectFromRecordsAsUpserts = (rs: ReadonlyArray<PeerRecord.PeerRecord>) => {
    const batch = PeerTable.fromRecords(rs)
    let oneByOne = PeerTable.empty
    for (const r of rs) oneByOne = PeerTable.upsert(oneByOne, r)
    expect(enc(batch)).toStrictEqual(enc(oneByOne))
    // The address count is known before the index is first read (a decoded table builds it then).
    expect(PeerTable.addressCount(batch)).toBe(PeerTable.addressCount(oneByOne))
    expect([...HashMap.entries(batch.index)].sort()).toStrictEqual([...HashMap.entries(oneByOne.index)].sort())
    assertInvariants(batch)
    expect(totals(PeerTable.toRecords(batch))).toStrictEqual(totals(rs))
    // Outcomes onto a table whose index is not built yet (holders probed, else the index built): as onto the upserted one.
    const outcomes = rs.flatMap((r) => r.addresses.map((a, i) => ({ _tag: i % 2 === 0 ? "Success" as const : "Failure" as const, address: a.address, at: T0 + i })))
    expect(enc(PeerTable.recordOutcomes(PeerTable.fromRecords(rs), outcomes))).toStrictEqual(enc(PeerTable.recordOutcomes(oneByOne, outcomes)))
    for (const size of [1, 3]) {
      const sliced = inSlices(rs, size)
      expect(enc(sliced)).toStrictEqual(enc(oneByOne))
      assertInvariants(sliced)
    }
  }

  it.prop(
    "fromRecords (one transient batch) equals upserting the records one by one, keeps the invariants and every outcome",
    [records],
    ([rs]) => expectFromRecordsAsUpserts(rs),
    { timeout: 30_000, fastCheck: { seed: 21, numRuns: 200 } }
  )

  // Records in the shape a written file holds (each address naming the record's peer; a peer without
  // an id has one address), drawn from the small universe so that peers and addresses repeat.
  const plainRecord = FastCheck.tuple(record, FastCheck.array(Arbitraries.peerAddress, { minLength: 1, maxLength: 3 })).map(
    ([r, addresses]): PeerRecord.PeerRecord => {
      const named = Option.isSome(r.peerId)
        ? addresses.map((a) => PeerAddress.withPeerId(a, Option.getOrThrow(r.peerId)))
        : addresses.slice(0, 1).filter((a) => Option.isNone(a.peerId))
      const template = r.addresses[0] ?? PeerRecord.makeAddressRecord(named[0] ?? addresses[0]!, T0)
      return { ...r, addresses: named.map((address) => ({ ...template, address })) }
    }
  )

  it.prop(
    "fromRecords equals upserting one by one on records shaped as a file holds them, repeated peers and addresses included",
    [FastCheck.array(plainRecord, { maxLength: 16 })],
    ([rs]) => expectFromRecordsAsUpserts(rs),
    { timeout: 30_000, fastCheck: { seed: 22, numRuns: 300 } }
  )

  it.prop(
    "fromRecords equals upserting one by one when a record holds more addresses than the plain path checks (17–24)",
    [FastCheck.array(plainRecord, { minLength: 1, maxLength: 4 }), FastCheck.integer({ min: 17, max: 24 })],
    ([rs, n]) => {
      const first = rs[0]!
      const many = Array.from({ length: n }, (_, i) => parse(`/ip4/10.9.${i}.1/tcp/4001`))
      const wide: PeerRecord.PeerRecord = {
        ...first,
        peerId: Option.none(),
        addresses: many.map((address) => PeerRecord.makeAddressRecord(address, T0))
      }
      expectFromRecordsAsUpserts([wide, ...rs])
    },
    { timeout: 30_000, fastCheck: { seed: 23, numRuns: 40 } }
  )

  it("builds a decoded table's index at its first read, invisibly: same keys, JSON, lookups and updates as upserting", () => {
    const a = parse(`/ip4/1.2.3.4/tcp/4001/p2p/${ED}`)
    const b = parse("/ip4/5.6.7.8/udp/4001/quic-v1")
    const rs: Array<PeerRecord.PeerRecord> = [a, b].map((address) => ({
      peerId: address.peerId,
      addresses: [PeerRecord.makeAddressRecord(address, T0)],
      protocols: [],
      capabilities: PeerRecord.noCapabilities,
      sources: [user],
      firstSeen: T0,
      lastSeen: T0
    }))
    const eager = rs.reduce((t, r) => PeerTable.upsert(t, r), PeerTable.empty)
    const lazy = PeerTable.fromRecords(rs)
    expect(Object.keys(lazy)).toStrictEqual(Object.keys(eager))
    expect(JSON.stringify(lazy)).toBe(JSON.stringify(eager))
    // An update that keeps the addresses carries the unbuilt index over; the one built later is right.
    const renamed = PeerTable.setProtocols(lazy, ED, [PeerRecord.RELAY_HOP_PROTOCOL])
    expect(PeerTable.addressCount(renamed)).toBe(2)
    expect(Option.map(PeerTable.lookupAddress(renamed, b), ({ peer }) => peer.addresses.length)).toStrictEqual(Option.some(1))
    assertInvariants(renamed)
    expect(enc(PeerTable.recordSuccess(lazy, b, T0 + 1))).toStrictEqual(enc(PeerTable.recordSuccess(eager, b, T0 + 1)))
    // Built in steps (one peer a step), shared with a table derived before: the same index.
    const stepped = PeerTable.fromRecords(rs)
    const derived = PeerTable.recordSuccess(stepped, b, T0 + 1)
    expect([...PeerTable.indexSteps(stepped, 1)]).toStrictEqual([1, 2])
    const entries = (t: PeerTable.PeerTable) => [...HashMap.entries(t.index)].sort()
    expect(entries(derived)).toStrictEqual(entries(eager))
    expect(entries(stepped)).toStrictEqual(entries(eager))
    expect([...PeerTable.indexSteps(stepped, 1)]).toStrictEqual([])
    // A batch of changes (outcomes, then an address added and one removed) onto a table whose index is not built yet.
    const batch = (t: PeerTable.PeerTable) =>
      PeerTable.mutate(t, (m) =>
        PeerTable.remove(PeerTable.add(PeerTable.recordFailure(PeerTable.recordSuccess(m, b, T0 + 2), a, T0 + 3), parse("/ip4/7.7.7.7/tcp/7"), { now: T0, source: user }), a))
    const batched = batch(PeerTable.fromRecords(rs))
    expect(enc(batched)).toStrictEqual(enc(batch(eager)))
    assertInvariants(batched)
    const outcomesOnly = PeerTable.mutate(PeerTable.fromRecords(rs), (m) => PeerTable.recordSuccess(m, a, T0 + 4))
    expect(PeerTable.addressCount(outcomesOnly)).toBe(2)
    assertInvariants(outcomesOnly)
    // A peer that exists but no longer holds the address an outcome names: the outcome moves it back.
    const moved = PeerAddress.withPeerId(a, ED2)
    const withMoved = [...rs, { ...rs[0]!, peerId: Option.some(ED2), addresses: [PeerRecord.makeAddressRecord(moved, T0)] }, {
      ...rs[0]!,
      addresses: [PeerRecord.makeAddressRecord(parse(`/ip4/9.9.9.9/tcp/1/p2p/${ED}`), T0)]
    }]
    const eagerMoved = withMoved.reduce((t, r) => PeerTable.upsert(t, r), PeerTable.empty)
    expect(enc(PeerTable.recordSuccess(PeerTable.fromRecords(withMoved), a, T0 + 1))).toStrictEqual(enc(PeerTable.recordSuccess(eagerMoved, a, T0 + 1)))
  })

  it("a fresh peer's sources are kept as addSource would keep them (distinct, newest last, at most MAX_SOURCES)", () => {
    const a = parse(`/ip4/1.2.3.4/tcp/4001/p2p/${ED}`)
    const base = { peerId: Option.some(ED), addresses: [PeerRecord.makeAddressRecord(a, T0)], protocols: [], capabilities: PeerRecord.noCapabilities, firstSeen: T0, lastSeen: T0 }
    const e = (url: string): PeerRecord.Source => ({ _tag: "endpoint", url })
    const sourcesOf = (sources: ReadonlyArray<PeerRecord.Source>) =>
      Option.getOrThrow(PeerTable.lookupPeer(PeerTable.fromRecords([{ ...base, sources }]), ED)).sources
    expect(sourcesOf([e("x"), user])).toStrictEqual([e("x"), user])
    expect(sourcesOf([e("x"), user, e("x")])).toStrictEqual([user, e("x")])
    const many = Array.from({ length: 10 }, (_, i) => e(`u${i}`))
    expect(sourcesOf(many)).toStrictEqual(many.slice(2))
  })

  const outcome: FastCheck.Arbitrary<PeerTable.Outcome> = FastCheck.record({
    _tag: FastCheck.constantFrom("Success" as const, "Failure" as const),
    address: Arbitraries.peerAddress,
    at: FastCheck.integer({ min: 0, max: 1_000_000 }).map((at) => T0 + at),
    rttMs: FastCheck.option(FastCheck.double({ min: -1, max: 500, noNaN: true }), { nil: undefined }),
    bytes: FastCheck.option(FastCheck.integer({ min: 0, max: 1e6 }), { nil: undefined })
  }).map(({ bytes, rttMs, ...o }) => ({ ...o, ...(rttMs === undefined ? {} : { rttMs }), ...(bytes === undefined ? {} : { bytes }) }))

  it.prop(
    "recordOutcomes equals recording each outcome one by one (unknown and moved addresses included), and leaves its input untouched",
    [Arbitraries.tableOps, FastCheck.array(outcome, { maxLength: 80 })],
    ([ops, outcomes]) => {
      const start = ops.reduce(apply, PeerTable.empty)
      const before = enc(start)
      let oneByOne = start
      for (const o of outcomes) {
        oneByOne = o._tag === "Success"
          ? PeerTable.recordSuccessWith(oneByOne, o.address, o.at, o.rttMs, o.bytes)
          : PeerTable.recordFailure(oneByOne, o.address, o.at)
      }
      const batch = PeerTable.recordOutcomes(start, outcomes)
      expect(enc(batch)).toStrictEqual(enc(oneByOne))
      expect([...HashMap.entries(batch.index)].sort()).toStrictEqual([...HashMap.entries(oneByOne.index)].sort())
      assertInvariants(batch)
      expect(enc(start)).toStrictEqual(before)
    },
    { fastCheck: { seed: 16, numRuns: 300 } }
  )
})
