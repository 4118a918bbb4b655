import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { CacheFile, CacheImport, PeerAddress, PeerTable } from "@bootstrap-cache/core"
import { Arbitraries } from "@bootstrap-cache/testkit"
import { A, A_ADDR, B, B_ADDR, MS, SECS, SYSTEM_TIME } from "./autonomiPeers.js"

const hash: CacheFile.Hash = (text) => createHash("sha256").update(text).digest("hex")
const fixtures = new URL("../../../fixtures/", import.meta.url)
const fixture = (name: string) => readFileSync(new URL(name, fixtures), "utf8")
const NOW = 1_750_000_000_000
const options = { now: NOW, from: "/tmp/import.json", hash }
const run = (text: string) => Either.getOrThrow(CacheImport.parse(text, options))
const tableOf = (parsed: CacheImport.Parsed) => PeerTable.fromRecords(parsed.records)


const lookup = (table: PeerTable.PeerTable, addr: string) =>
  Option.getOrThrow(PeerTable.lookupAddress(table, PeerAddress.unsafeParse(addr)))

describe("CacheImport", () => {
  it("maps Safe Network counters and timestamps, reporting bad entries", () => {
    const parsed = run(JSON.stringify({
      last_updated: "2024-11-20T12:00:00Z",
      peers: [
        { ip: "139.59.168.228", port: 56309, last_seen: SYSTEM_TIME, success_count: 3, failure_count: 1 },
        { ip: "46.101.80.187", port: 12000, success_count: 0, failure_count: 2 },
        { ip: "not-an-ip", port: 1 },
        { port: 5 }
      ]
    }))
    expect(parsed.format).toBe("safe-network")
    const table = tableOf(parsed)
    const a = lookup(table, "/ip4/139.59.168.228/udp/56309/quic-v1")
    expect([a.record.successes, a.record.failures, a.record.consecutiveFailures]).toEqual([3, 1, 0])
    expect(a.record.lastSeen).toEqual(Option.some(MS))
    expect(a.peer.sources).toEqual([{ _tag: "import", from: "/tmp/import.json" }])
    const b = lookup(table, "/ip4/46.101.80.187/udp/12000/quic-v1")
    expect([b.record.successes, b.record.failures, b.record.consecutiveFailures]).toEqual([0, 2, 2])
    expect(parsed.bad.map((x) => x.location)).toEqual(["peers[3]", "peers[2]"])
    expect(parsed.bad[1]!.reason).toContain("/ip4/not-an-ip/udp/1/quic-v1")
  })

  it("files Autonomi v0 addresses under their peer id", () => {
    const parsed = run(JSON.stringify({
      peers: {
        [A]: [{ addr: A_ADDR, success_count: 5, failure_count: 0, last_seen: SYSTEM_TIME }],
        [B]: [{ addr: B_ADDR, success_count: 1, failure_count: 4, last_seen: SYSTEM_TIME }, { addr: 42 }]
      },
      last_updated: SYSTEM_TIME,
      network_version: "ant/1.0/1"
    }))
    expect(parsed.format).toBe("autonomi-v0")
    const table = tableOf(parsed)
    expect(PeerTable.size(table)).toBe(2)
    expect(Option.getOrThrow(PeerTable.lookupPeer(table, B)).addresses[0]!.address.multiaddr).toBe(`${B_ADDR}/p2p/${B}`)
    expect(lookup(table, A_ADDR).record.successes).toBe(5)
    expect(parsed.bad).toHaveLength(1)
    expect(parsed.bad[0]!.location).toBe(`peers["${B}"][1]`)
  })

  it("reads Autonomi v1 tuples, rejecting an address listed under another peer", () => {
    const parsed = run(JSON.stringify({
      peers: [[A, [A_ADDR]], [B, [B_ADDR, `/ip4/46.101.80.187/tcp/58070/p2p/${A}`]], ["broken"]],
      last_updated: SYSTEM_TIME,
      cache_version: "1"
    }))
    expect(parsed.format).toBe("autonomi-v1")
    expect(parsed.entries).toBe(2)
    expect(lookup(tableOf(parsed), B_ADDR).record.lastSeen).toEqual(Option.some(MS))
    expect(parsed.bad.map((b) => b.reason).join("\n")).toMatch(new RegExp(`names peer ${A} but is listed under ${B}`))
  })

  it("reports a foreign peer whose id is no peer id at the id's path and imports the others; a CIDv1 id joins its base58btc peer", () => {
    const [cid] = Arbitraries.CIDV1_PEER_IDS
    const ed = Option.getOrThrow(PeerAddress.normalizePeerId(cid!))
    const parsed = run(JSON.stringify({
      version: 1,
      peers: [
        { peer_id: A, addresses: [A_ADDR] },
        { peer_id: "x", addresses: [B_ADDR] },
        // Listed by CIDv1, its address naming it in base58btc: the same peer, no mismatch.
        { peer_id: cid, addresses: [`/ip4/5.6.7.8/tcp/4001/p2p/${ed}`, "/ip4/5.6.7.9/tcp/4001"] }
      ]
    }))
    expect(parsed.format).toBe("chiral")
    expect(parsed.bad).toEqual([{ location: "peers[1].peer_id", reason: expect.stringContaining("peer id x is neither base58btc nor a CIDv1") }])
    const table = tableOf(parsed)
    expect(PeerTable.size(table)).toBe(2)
    expect(Option.isNone(PeerTable.lookupAddress(table, PeerAddress.unsafeParse(B_ADDR)))).toBe(true)
    expect(Option.getOrThrow(PeerTable.lookupPeer(table, ed)).addresses.map((r) => r.address.multiaddr)).toEqual([
      `/ip4/5.6.7.8/tcp/4001/p2p/${ed}`,
      `/ip4/5.6.7.9/tcp/4001/p2p/${ed}`
    ])
  })

  it("reports a record of our own format whose peer id is no peer id at peers[i].peerId", () => {
    const table = PeerTable.add(
      PeerTable.add(PeerTable.empty, PeerAddress.unsafeParse(A_ADDR), { now: NOW, source: { _tag: "user" } }),
      PeerAddress.unsafeParse(B_ADDR),
      { now: NOW, source: { _tag: "user" } }
    )
    const doc = JSON.parse(CacheFile.encode(table, { lastUpdated: NOW, hash }))
    const at = doc.peers.findIndex((p: { peerId?: string }) => p.peerId === A)
    doc.peers[at].peerId = "x"
    doc.checksum = hash(JSON.stringify(doc.peers))
    const parsed = run(JSON.stringify(doc))
    expect(parsed.format).toBe("bootstrap-cache")
    expect(parsed.bad).toEqual([{ location: `peers[${at}].peerId`, reason: expect.stringContaining("peer id x ") }])
    expect(parsed.records.map((r) => r.addresses[0]!.address.multiaddr)).toEqual([B_ADDR])
  })

  it("maps Chiral latency and capability flags", () => {
    const parsed = run(JSON.stringify({
      version: 1,
      last_updated: SECS,
      peers: [
        { peer_id: A, addresses: [A_ADDR], last_seen: SECS, successful_transfers: 8, failed_transfers: 2, average_latency_ms: 50, is_bootstrap: true, supports_relay: true },
        { peer_id: B, addresses: [B_ADDR], average_latency_ms: 0 }
      ]
    }))
    expect(parsed.format).toBe("chiral")
    const table = tableOf(parsed)
    const a = lookup(table, A_ADDR)
    expect(a.record.rttMs).toEqual(Option.some(50))
    expect(a.peer.capabilities).toMatchObject({ relay: true, bootstrap: true })
    expect(lookup(table, B_ADDR).record.rttMs).toEqual(Option.none())
    expect(lookup(table, B_ADDR).record.lastSeen).toEqual(Option.some(SECS * 1000))
  })

  it("imports our own format, with the import added to each peer's sources", () => {
    const source = PeerTable.add(PeerTable.empty, PeerAddress.unsafeParse(A_ADDR), { now: NOW - 5, source: { _tag: "user" } })
    const parsed = run(CacheFile.encode(source, { lastUpdated: NOW, hash }))
    expect(parsed.format).toBe("bootstrap-cache")
    expect(parsed.records[0]!.sources).toEqual([{ _tag: "user" }, { _tag: "import", from: "/tmp/import.json" }])
    const damaged = CacheFile.encode(source, { lastUpdated: NOW, hash }).replace("\"successes\":0", "\"successes\":9")
    expect(Either.getLeft(CacheImport.parse(damaged, options)).pipe(Option.map((e) => e.reason))).toEqual(Option.some("CorruptCacheFile"))
  })

  it("reads each foreign format filled with the real Autonomi contacts, mapping counters and last-seen, one bad entry reported each", () => {
    const real = fixture("autonomi-network-contacts.txt").split("\n").filter((l) => l.startsWith("/"))
    expect(real).toHaveLength(5)
    const split = real.map((addr) => {
      const [, ip, port, id] = /^\/ip4\/([\d.]+)\/udp\/(\d+)\/quic-v1\/p2p\/(\w+)$/.exec(addr)!
      return { addr, bare: `/ip4/${ip}/udp/${port}/quic-v1`, ip: ip!, port: Number(port), id: id! }
    })
    const documents = {
      "safe-network": {
        last_updated: "2024-11-20T12:00:00Z",
        peers: [...split.map((p, i) => ({ ip: p.ip, port: p.port, last_seen: SYSTEM_TIME, success_count: i, failure_count: 1 })), { ip: "300.1.1.1", port: 1 }]
      },
      "autonomi-v0": {
        peers: Object.fromEntries([...split.map((p, i) => [p.id, [{ addr: p.bare, success_count: i, failure_count: 1, last_seen: SYSTEM_TIME }]]), ["bad", [{ addr: "/ip4/1.2.3.4/tcp/x" }]]]),
        last_updated: SYSTEM_TIME,
        network_version: "ant/1.0/1"
      },
      "autonomi-v1": {
        peers: [...split.map((p) => [p.id, [p.addr]]), [A, ["/ip4/1.2.3.4/udp/nope/quic-v1"]]],
        last_updated: SYSTEM_TIME,
        network_version: "ant/1.0/1",
        cache_version: "1"
      },
      chiral: {
        version: 1,
        last_updated: SECS,
        peers: [...split.map((p, i) => ({ peer_id: p.id, addresses: [p.addr], last_seen: SECS, successful_transfers: i, failed_transfers: 1, average_latency_ms: 20, supports_relay: false, is_bootstrap: true, reputation: 0.5 })), { peer_id: B, addresses: ["not a multiaddr"] }]
      }
    } as const
    for (const [format, doc] of Object.entries(documents)) {
      const parsed = run(JSON.stringify(doc))
      expect([format, parsed.format, parsed.entries, parsed.bad.length]).toEqual([format, format, 5, 1])
      const table = tableOf(parsed)
      split.forEach((p, i) => {
        const found = lookup(table, format === "safe-network" ? p.bare : p.addr)
        if (format !== "autonomi-v1") {
          expect([found.record.successes, found.record.failures, found.record.consecutiveFailures]).toEqual([i, 1, i === 0 ? 1 : 0])
        }
        expect(found.record.lastSeen).toEqual(Option.some(format === "chiral" ? SECS * 1000 : MS))
      })
    }
  })

  it("reads the real bootstrap lists, one multiaddr per line", () => {
    const kubo = run(fixture("kubo-bootstrap.txt"))
    expect(kubo).toMatchObject({ format: "multiaddr-list", entries: 7, bad: [] })
    const polkadot = run(fixture("polkadot-bootnodes.txt"))
    expect(polkadot.bad).toEqual([])
    expect(PeerTable.addressCount(tableOf(polkadot))).toBe(412 - 6)
  })

  it("reports every line of the real quoted Safe Network list with its line number and reason", () => {
    const parsed = run(fixture("safe-network-contacts-2023-quoted.txt"))
    expect(parsed.records).toEqual([])
    expect(parsed.bad.map((b) => b.location)).toEqual(["line 1", "line 2", "line 3", "line 4", "line 5", "line 6", "line 7"])
    expect(parsed.bad[0]!.reason).toMatch(/12D3KooWJ51eYsdyksy87PazS3M7wRVdPNJWfH58u8fxBk2Y9hd/)
  })

  it("reads a JSON array of multiaddrs and refuses unknown documents with a reason", () => {
    expect(run(JSON.stringify([A_ADDR, 7])).bad).toEqual([{ location: "[1]", reason: "a multiaddr must be a string, got 7" }])
    const unknown = CacheImport.parse("{\"hello\": 1}", options)
    expect(Either.getLeft(unknown).pipe(Option.map((e) => e.reason))).toEqual(Option.some("UnknownFormat"))
    const truncated = CacheImport.parse("{\n\"peers\": [\n", options)
    expect(Either.getLeft(truncated).pipe(Option.map((e) => [e.reason, e.line]))).toEqual(Option.some(["MalformedJson", 3]))
    expect(Either.isLeft(CacheImport.parse("hello world\n", options))).toBe(true)
  })
})

describe("CacheImport — hostile and repeated input", () => {
  const encode = (table: PeerTable.PeerTable) => CacheFile.encode(table, { hash, lastUpdated: NOW })
  const loadable = (parsed: CacheImport.Parsed) =>
    Either.isRight(CacheFile.decode(encode(PeerTable.fromRecords(parsed.records)), { hash }))

  it("JSON nested 100,000 deep is a one-line TooDeep error, never a thrown RangeError", () => {
    for (const doc of ["[".repeat(100_000) + "]".repeat(100_000), `{"peers":${"[".repeat(100_000)}${"]".repeat(100_000)}}`]) {
      const result = CacheImport.parse(doc, options)
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) {
        expect(result.left.reason).toBe("TooDeep")
        expect(result.left.message.length).toBeLessThan(120)
      }
    }
  })

  it("huge numbers, counters past 2^53 and Infinity latency are reported, not imported; accepted values load again", () => {
    const parsed = run(`{"version":1,"peers":[
      {"peer_id":"${A}","addresses":["${A_ADDR}"],"last_seen":1e308},
      {"peer_id":"${B}","addresses":["${B_ADDR}"],"successful_transfers":9007199254740993},
      {"peer_id":"${B}","addresses":["/ip4/46.101.80.188/tcp/1"],"average_latency_ms":1e309},
      {"peer_id":"${A}","addresses":["/ip4/139.59.168.229/tcp/1"],"successful_transfers":3}
    ]}`)
    expect(parsed.entries).toBe(1)
    expect(parsed.bad.length).toBe(3)
    for (const b of parsed.bad) expect(b.reason.length).toBeLessThan(200)
    expect(parsed.bad.map((b) => b.reason).join("\n")).toMatch(/not a (count|time)|not a finite/)
    expect(loadable(parsed)).toBe(true)
  })

  it("a last seen in the future is clamped to the import time", () => {
    const parsed = run(JSON.stringify({ version: 1, peers: [{ peer_id: A, addresses: [A_ADDR], last_seen: NOW / 1000 + 86_400 * 365 }] }))
    expect(tableOf(parsed).peers.pipe((peers) => [...peers][0]![1].lastSeen)).toBe(NOW)
  })

  it("chiral counters are a peer's: assigned to its first address only, not copied onto each", () => {
    const parsed = run(JSON.stringify({
      version: 1,
      peers: [{ peer_id: A, addresses: [A_ADDR, "/ip4/139.59.168.229/tcp/4001"], successful_transfers: 8, failed_transfers: 2 }]
    }))
    const table = tableOf(parsed)
    const stats = PeerTable.stats(table)
    expect([stats.totalSuccesses, stats.totalFailures]).toEqual([8, 2])
    expect(lookup(table, A_ADDR).record.successes).toBe(8)
  })

  it("importing the same file twice leaves the table as importing it once (counters by maximum)", () => {
    const parsed = run(JSON.stringify({
      version: 1,
      peers: [{ peer_id: A, addresses: [A_ADDR], successful_transfers: 8, failed_transfers: 2, last_seen: SECS }]
    }))
    const once = CacheImport.merge(PeerTable.empty, parsed.records)
    const twice = CacheImport.merge(once, parsed.records)
    expect(encode(twice)).toBe(encode(once))
    // The cache's own export, re-imported, changes no counter.
    const own = run(encode(once))
    expect(PeerTable.stats(CacheImport.merge(once, own.records))).toEqual(PeerTable.stats(once))
  })

  it("merge is idempotent on any records, and keeps each counter at the maximum of both sides", () => {
    FastCheck.assert(
      FastCheck.property(FastCheck.array(FastCheck.tuple(FastCheck.nat(1000), FastCheck.nat(1000)), { minLength: 1, maxLength: 5 }), (pairs) => {
        const records = pairs.map(([s, f], i) =>
          run(JSON.stringify({ version: 1, peers: [{ peer_id: A, addresses: [`/ip4/139.59.168.${i + 1}/tcp/4001`], successful_transfers: s, failed_transfers: f }] })).records[0]!
        )
        const once = CacheImport.merge(PeerTable.empty, records)
        expect(encode(CacheImport.merge(once, records))).toBe(encode(once))
        const bumped = records.map((r) => ({ ...r, addresses: r.addresses.map((a) => ({ ...a, successes: a.successes + 1 })) }))
        const merged = CacheImport.merge(once, bumped)
        expect(PeerTable.stats(merged).totalSuccesses).toBe(PeerTable.stats(once).totalSuccesses + records.length)
      }),
      { seed: 1408, numRuns: 100 }
    )
  })
})

describe("CacheImport — fuzz", () => {
  const extreme = FastCheck.oneof(
    FastCheck.double(),
    FastCheck.constantFrom(1e308, -1, 2 ** 53 + 1, 0, 1.5, 1e11, 1e15),
    FastCheck.nat(),
    FastCheck.string({ maxLength: 8 }),
    FastCheck.constant(null)
  )
  const chiralPeer = FastCheck.record({
    peer_id: FastCheck.constantFrom(A, B, "x", "__proto__"),
    addresses: FastCheck.array(FastCheck.oneof(FastCheck.constantFrom(A_ADDR, B_ADDR, "/ip4/1.2.3.4/tcp/1", "nope"), extreme), { maxLength: 3 }),
    last_seen: extreme,
    successful_transfers: extreme,
    failed_transfers: extreme,
    average_latency_ms: extreme
  }, { requiredKeys: ["peer_id", "addresses"] })

  it("never throws on mutated foreign caches, and every record it accepts is one the loader accepts", () => {
    FastCheck.assert(
      FastCheck.property(FastCheck.array(chiralPeer, { maxLength: 6 }), FastCheck.nat(40), (peers, cut) => {
        const text = JSON.stringify({ version: 1, peers }).replace(/1e\+308/g, "1e309")
        for (const doc of [text, text.slice(0, text.length - cut), `{"__proto__":${text}}`]) {
          const result = CacheImport.parse(doc, options)
          if (Either.isRight(result)) {
            const encoded = CacheFile.encode(PeerTable.fromRecords(result.right.records), { hash, lastUpdated: NOW })
            const loaded = CacheFile.decode(encoded, { hash })
            expect(Either.isRight(loaded)).toBe(true)
            if (Either.isRight(loaded)) expect(loaded.right.rejected).toEqual([])
          }
        }
      }),
      { seed: 2024, numRuns: 300 }
    )
  })
})
