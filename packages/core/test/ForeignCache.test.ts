import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Arbitraries } from "@bootstrap-cache/testkit"
import * as ForeignCache from "../src/ForeignCache.js"
import * as PeerAddress from "../src/PeerAddress.js"
import { A, A_ADDR, B, B_ADDR, MS, SECS, SYSTEM_TIME } from "./autonomiPeers.js"


const safeNetwork = {
  last_updated: "2024-11-20T12:00:00Z",
  peers: [
    { ip: "139.59.168.228", port: 56309, last_seen: SYSTEM_TIME, success_count: 3, failure_count: 1 },
    { ip: "2a03:b0c0:3:d0::1", port: 12000, success_count: 0, failure_count: 2 },
    { ip: "46.101.80.187" }
  ]
}

const autonomiV0 = {
  peers: {
    [A]: [{ addr: A_ADDR, success_count: 5, failure_count: 0, last_seen: SYSTEM_TIME }],
    [B]: [
      { addr: B_ADDR, success_count: 1, failure_count: 4, last_seen: SYSTEM_TIME },
      { addr: 42, success_count: 0, failure_count: 0, last_seen: SYSTEM_TIME }
    ]
  },
  last_updated: SYSTEM_TIME,
  network_version: "ant/1.0/1"
}

const autonomiV1 = {
  peers: [[A, [A_ADDR]], [B, [B_ADDR, "/ip4/46.101.80.187/tcp/58070"]], ["broken"]],
  last_updated: SYSTEM_TIME,
  network_version: "ant/1.0/1",
  cache_version: "1"
}

const chiral = {
  version: 1,
  last_updated: SECS,
  peers: [
    {
      peer_id: A,
      addresses: [A_ADDR],
      last_seen: SECS,
      connection_count: 10,
      successful_transfers: 8,
      failed_transfers: 2,
      total_bytes_transferred: 1024000,
      average_latency_ms: 50,
      is_bootstrap: true,
      supports_relay: false,
      reliability_score: 0.8
    },
    {
      peer_id: B,
      addresses: [B_ADDR],
      last_seen: SECS,
      successful_transfers: 0,
      failed_transfers: 0,
      average_latency_ms: 0,
      is_bootstrap: false
    },
    { addresses: ["/ip4/1.2.3.4/tcp/1"] }
  ]
}

describe("ForeignCache.detect", () => {
  it("recognises each format by its content", () => {
    expect(ForeignCache.detect(safeNetwork)).toEqual(Option.some("safe-network"))
    expect(ForeignCache.detect(autonomiV0)).toEqual(Option.some("autonomi-v0"))
    expect(ForeignCache.detect(autonomiV1)).toEqual(Option.some("autonomi-v1"))
    expect(ForeignCache.detect(chiral)).toEqual(Option.some("chiral"))
  })

  it("recognises empty caches by their header fields", () => {
    expect(ForeignCache.detect({ peers: [], last_updated: SYSTEM_TIME, network_version: "1", cache_version: "1" }))
      .toEqual(Option.some("autonomi-v1"))
    expect(ForeignCache.detect({ peers: {}, last_updated: SYSTEM_TIME, network_version: "1" }))
      .toEqual(Option.some("autonomi-v0"))
    expect(ForeignCache.detect({ version: 1, last_updated: SECS, peers: [] })).toEqual(Option.some("chiral"))
    expect(ForeignCache.detect({ last_updated: "2024-11-20T12:00:00Z", peers: [] })).toEqual(Option.some("safe-network"))
  })

  it("does not claim this project's cache file, plain arrays or other JSON", () => {
    expect(ForeignCache.detect({ version: 1, checksum: "abc", peers: [] })).toEqual(Option.none())
    expect(ForeignCache.detect([A_ADDR])).toEqual(Option.none())
    expect(ForeignCache.detect({ peers: "nope" })).toEqual(Option.none())
    expect(ForeignCache.detect({ peers: [{ name: "x" }] })).toEqual(Option.none())
    expect(ForeignCache.detect(null)).toEqual(Option.none())
    expect(ForeignCache.detect("text")).toEqual(Option.none())
  })
})

describe("ForeignCache.decode", () => {
  it("Safe Network: builds a UDP/QUIC-v1 multiaddr from ip and port, keeps counters and last_seen", () => {
    const d = Either.getOrThrow(ForeignCache.decode(safeNetwork))
    expect(d.format).toBe("safe-network")
    expect(d.lastUpdated).toEqual(Option.some(Date.UTC(2024, 10, 20, 12)))
    expect(d.entries).toEqual([
      { multiaddr: "/ip4/139.59.168.228/udp/56309/quic-v1", path: "peers[0]", index: 0, successes: 3, failures: 1, lastSeen: MS },
      { multiaddr: "/ip6/2a03:b0c0:3:d0::1/udp/12000/quic-v1", path: "peers[1]", index: 1, successes: 0, failures: 2 }
    ])
    expect(d.bad).toHaveLength(1)
    expect(d.bad[0]).toMatchObject({ path: "peers[2]", index: 2 })
    expect(d.bad[0]!.reason).toContain("port")
  })

  it("Autonomi v0: peer ids come from the map keys, SystemTime becomes epoch ms, a bad addr is reported", () => {
    const d = Either.getOrThrow(ForeignCache.decode(autonomiV0))
    expect(d.format).toBe("autonomi-v0")
    expect(d.lastUpdated).toEqual(Option.some(MS))
    expect(d.networkVersion).toEqual(Option.some("ant/1.0/1"))
    expect(d.entries).toEqual([
      { multiaddr: A_ADDR, path: `peers["${A}"][0].addr`, index: 0, peerId: A, successes: 5, failures: 0, lastSeen: MS },
      { multiaddr: B_ADDR, path: `peers["${B}"][0].addr`, index: 1, peerId: B, successes: 1, failures: 4, lastSeen: MS }
    ])
    expect(d.bad).toEqual([{ path: `peers["${B}"][1]`, index: 1, reason: expect.stringContaining("addr") }])
  })

  it("Autonomi v1: one entry per address of each [peer id, addresses] tuple, no counters", () => {
    const d = Either.getOrThrow(ForeignCache.decode(autonomiV1))
    expect(d.format).toBe("autonomi-v1")
    expect(d.lastUpdated).toEqual(Option.some(MS))
    expect(d.entries).toEqual([
      { multiaddr: A_ADDR, path: "peers[0][1][0]", index: 0, peerId: A, successes: 0, failures: 0 },
      { multiaddr: B_ADDR, path: "peers[1][1][0]", index: 1, peerId: B, successes: 0, failures: 0 },
      { multiaddr: "/ip4/46.101.80.187/tcp/58070", path: "peers[1][1][1]", index: 1, peerId: B, successes: 0, failures: 0 }
    ])
    expect(d.bad.map((b) => b.path)).toEqual(["peers[2]"])
  })

  it("Chiral: seconds become ms, latency 0 means unknown, relay and bootstrap flags kept", () => {
    const d = Either.getOrThrow(ForeignCache.decode(chiral))
    expect(d.format).toBe("chiral")
    expect(d.lastUpdated).toEqual(Option.some(SECS * 1000))
    expect(d.entries).toEqual([
      {
        multiaddr: A_ADDR,
        path: "peers[0].addresses[0]",
        index: 0,
        peerId: A,
        successes: 8,
        failures: 2,
        lastSeen: SECS * 1000,
        rttMs: 50,
        relay: false,
        bootstrap: true
      },
      {
        multiaddr: B_ADDR,
        path: "peers[1].addresses[0]",
        index: 1,
        peerId: B,
        successes: 0,
        failures: 0,
        lastSeen: SECS * 1000,
        bootstrap: false
      }
    ])
    expect(d.bad).toEqual([{ path: "peers[2]", index: 2, reason: expect.stringContaining("peer_id") }])
  })

  it("Safe Network, as maidsafe/safe_network bootstrap_cache wrote it: endpoint JSON, multiaddr-keyed cache, addr entries", () => {
    // initial_peer_discovery.rs `BootstrapEndpoints`: what its contacts endpoints serve.
    const endpoints = {
      peers: [A_ADDR, "", B_ADDR],
      metadata: { last_updated: "2024-11-20T12:00:00Z", description: "testnet" }
    }
    const e = Either.getOrThrow(ForeignCache.decode(endpoints))
    expect(e.format).toBe("safe-network")
    expect(e.lastUpdated).toEqual(Option.some(Date.UTC(2024, 10, 20, 12)))
    expect(e.entries.map((x) => [x.multiaddr, x.path])).toEqual([[A_ADDR, "peers[0]"], [B_ADDR, "peers[2]"]])
    expect(e.bad).toEqual([{ path: "peers[1]", index: 1, reason: expect.stringContaining("non-empty string") }])

    // cache_store.rs `CacheData`: peers keyed by multiaddr, SystemTime timestamps, numeric version.
    const cacheData = {
      peers: {
        [A_ADDR]: { addr: A_ADDR, success_count: 2, failure_count: 1, last_seen: SYSTEM_TIME },
        [B_ADDR]: { addr: 7, success_count: 0, failure_count: 0, last_seen: SYSTEM_TIME }
      },
      last_updated: SYSTEM_TIME,
      version: 1
    }
    const c = Either.getOrThrow(ForeignCache.decode(cacheData))
    expect(c.format).toBe("safe-network")
    expect(c.entries).toEqual([
      { multiaddr: A_ADDR, path: `peers["${A_ADDR}"].addr`, index: 0, successes: 2, failures: 1, lastSeen: MS }
    ])
    expect(c.bad).toEqual([{ path: `peers["${B_ADDR}"]`, index: 1, reason: expect.stringContaining("addr") }])
    expect(ForeignCache.detect({ peers: {}, last_updated: SYSTEM_TIME, version: 1 })).toEqual(Option.some("safe-network"))

    // cache.rs `BootstrapCache`: an array of { addr, …, last_success } under an RFC 3339 last_updated.
    const early = {
      last_updated: "2024-11-20T12:00:00Z",
      peers: [{ addr: B_ADDR, success_count: 1, failure_count: 0, last_success: "2024-11-20T12:00:00.250Z", last_failure: null }]
    }
    expect(Either.getOrThrow(ForeignCache.decode(early)).entries).toEqual([
      { multiaddr: B_ADDR, path: "peers[0].addr", index: 0, successes: 1, failures: 0, lastSeen: MS }
    ])
  })

  it("reports a peer whose id is no peer id at the id's path, with none of its addresses, in every format", () => {
    const NOT_AN_ID = "not-a-peer-id"
    const reason = expect.stringContaining(`peer id ${NOT_AN_ID} is neither base58btc nor a CIDv1`)
    const v0 = ForeignCache.decodeAs("autonomi-v0", { peers: { [NOT_AN_ID]: [{ addr: B_ADDR }], [A]: [{ addr: A_ADDR }] } })
    expect(v0.entries.map((e) => [e.peerId, e.multiaddr])).toEqual([[A, A_ADDR]])
    expect(v0.bad).toEqual([{ path: `peers["${NOT_AN_ID}"]`, index: 0, reason }])
    const v1 = ForeignCache.decodeAs("autonomi-v1", { peers: [[A, [A_ADDR]], [NOT_AN_ID, [B_ADDR]]] })
    expect(v1.entries.map((e) => [e.peerId, e.multiaddr])).toEqual([[A, A_ADDR]])
    expect(v1.bad).toEqual([{ path: "peers[1][0]", index: 1, reason }])
    const ch = ForeignCache.decodeAs("chiral", { version: 1, peers: [{ peer_id: NOT_AN_ID, addresses: [B_ADDR] }, { peer_id: A, addresses: [A_ADDR] }] })
    expect(ch.entries.map((e) => [e.peerId, e.multiaddr])).toEqual([[A, A_ADDR]])
    expect(ch.bad).toEqual([{ path: "peers[0].peer_id", index: 0, reason }])
    // A CID that is no libp2p key says so.
    const dagPb = ForeignCache.decodeAs("chiral", { version: 1, peers: [{ peer_id: "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", addresses: [B_ADDR] }] })
    expect(dagPb.bad[0]!.reason).toMatch(/not a CIDv1 of the libp2p-key codec/)
  })

  it("gives a peer id written as a CIDv1 (or with blanks around it) in its base58btc form", () => {
    const [cid] = Arbitraries.CIDV1_PEER_IDS
    const base58 = Option.getOrThrow(PeerAddress.normalizePeerId(cid!))
    expect(base58).toMatch(/^12D3KooW/)
    const v1 = ForeignCache.decodeAs("autonomi-v1", { peers: [[cid, [B_ADDR]], [` ${A} `, [A_ADDR]]] })
    expect(v1.bad).toEqual([])
    expect(v1.entries.map((e) => e.peerId)).toEqual([base58, A])
    const v0 = ForeignCache.decodeAs("autonomi-v0", { peers: { [cid!]: [{ addr: B_ADDR }] } })
    expect(v0.entries.map((e) => [e.peerId, e.path])).toEqual([[base58, `peers["${cid}"][0].addr`]])
  })

  it("reports a bad address inside a peer's address list with its full path", () => {
    const d = ForeignCache.decodeAs("chiral", { version: 1, peers: [{ peer_id: A, addresses: [A_ADDR, 7, ""] }] })
    expect(d.entries).toHaveLength(1)
    expect(d.bad.map((b) => b.path)).toEqual(["peers[0].addresses[1]", "peers[0].addresses[2]"])
  })

  it("reports a malformed document-level timestamp without losing the peers", () => {
    const d = ForeignCache.decodeAs("autonomi-v1", { ...autonomiV1, last_updated: { secs_since_epoch: -1 } })
    expect(Option.isNone(d.lastUpdated)).toBe(true)
    expect(d.entries).toHaveLength(3)
    expect(d.bad.map((b) => b.path)).toContain("last_updated")
  })

  it("reports a peers container of the wrong shape when decoding as a given format", () => {
    expect(ForeignCache.decodeAs("autonomi-v0", { peers: [] }).bad).toEqual([
      { path: "peers", reason: expect.stringContaining("object") }
    ])
    expect(ForeignCache.decodeAs("chiral", { peers: {} }).bad).toEqual([
      { path: "peers", reason: expect.stringContaining("array") }
    ])
  })

  it("fails with UnknownFormatError on a document of no known format, naming why", () => {
    const own = ForeignCache.decode({ version: 1, checksum: "x", peers: [] })
    expect(Either.isLeft(own) && own.left._tag === "UnknownFormatError" && own.left.reason).toContain("checksum")
    const bad = ForeignCache.decodeString("{not json")
    expect(Either.isLeft(bad) && bad.left.reason).toContain("malformed JSON")
  })

  it("decodeString ignores a UTF-8 BOM", () => {
    const d = ForeignCache.decodeString("\uFEFF" + JSON.stringify(autonomiV1))
    expect(Either.isRight(d)).toBe(true)
  })

  it.prop(
    "never throws, and every peer of a chiral list is either decoded or reported",
    [FastCheck.array(FastCheck.oneof(
      FastCheck.anything(),
      FastCheck.record({ peer_id: FastCheck.string(), addresses: FastCheck.array(FastCheck.string(), { maxLength: 3 }) })
    ), { maxLength: 20 })],
    ([peers]) => {
      const d = ForeignCache.decodeAs("chiral", { version: 1, peers })
      const decodedPeers = new Set(d.entries.map((e) => e.peerId))
      const reported = new Set(d.bad.map((b) => b.index))
      peers.forEach((p, i) => {
        const hasAddresses = typeof p === "object" && p !== null && Array.isArray((p as { addresses?: unknown }).addresses) &&
          (p as { addresses: Array<unknown> }).addresses.length > 0
        if (hasAddresses) {
          expect(reported.has(i) || decodedPeers.has((p as { peer_id?: string }).peer_id)).toBe(true)
        }
      })
    },
    { fastCheck: { seed: 41 } }
  )
})

describe("ForeignCache.EpochMs", () => {
  const decode = Schema.decodeUnknownSync(ForeignCache.EpochMs)

  it("reads Rust SystemTime, epoch seconds, epoch ms and ISO 8601 strings", () => {
    expect(decode(SYSTEM_TIME)).toBe(MS)
    expect(decode(SECS)).toBe(SECS * 1000)
    expect(decode(MS)).toBe(MS)
    expect(decode("2024-11-20T12:00:00.250Z")).toBe(MS)
  })

  it("rejects negative numbers, bad strings and malformed SystemTime", () => {
    expect(() => decode(-1)).toThrow()
    expect(() => decode("yesterday")).toThrow()
    expect(() => decode({ secs_since_epoch: 1, nanos_since_epoch: 1e9 })).toThrow()
    expect(() => decode(null)).toThrow()
  })

  it.prop(
    "round-trips any epoch ms through the SystemTime encoding",
    [FastCheck.integer({ min: 0, max: 4_102_444_800_000 })],
    ([ms]) => {
      const encoded = Schema.encodeSync(ForeignCache.EpochMs)(ms)
      expect(decode(encoded)).toBe(ms)
    },
    { fastCheck: { seed: 42 } }
  )
})
