import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import { readFileSync } from "node:fs"
import * as CacheFile from "../src/CacheFile.js"
import * as Contacts from "../src/Contacts.js"
import * as PeerAddress from "../src/PeerAddress.js"
import * as PeerTable from "../src/PeerTable.js"

const fixtures = new URL("../../../fixtures/", import.meta.url)
const fixture = (name: string) => readFileSync(new URL(name, fixtures), "utf8")

// Real peers, from fixtures/autonomi-network-contacts.txt.
const A = "12D3KooWFTMtaqu24ddDSXk9v5YxnuhJmTLFRunER1CG4wZ2XLUU"
const B = "12D3KooWKgJQedzCxrp33u3dBD1mUZ9HTjEjgrxskEBvzoQWkRT9"
const A_ADDR = `/ip4/139.59.168.228/udp/56309/quic-v1/p2p/${A}`
const B_BARE = "/ip4/46.101.80.187/udp/58070/quic-v1"

const multiaddrs = (p: Contacts.Parsed) => p.addresses.map((a) => a.multiaddr)

describe("Contacts.parse — plain text", () => {
  it("ignores blank lines, surrounding whitespace, CRLF and # comments; numbers lines from 1", () => {
    const body = [
      "# network contacts",
      "",
      `   ${A_ADDR}   `,
      `${B_BARE} # trailing comment`,
      "   ",
      "not-a-multiaddr",
      "\t/ip4/1.2.3.4/tcp/4001\t"
    ].join("\r\n")
    const p = Contacts.parse(body)
    expect(p.format).toBe("text")
    expect(multiaddrs(p)).toEqual([A_ADDR, B_BARE, "/ip4/1.2.3.4/tcp/4001"])
    expect(p.entries).toBe(4)
    expect(p.invalid).toBe(1)
    expect(p.issues).toEqual([
      { line: 6, input: "not-a-multiaddr", kind: "invalid", reason: expect.stringContaining("/") }
    ])
  })

  it("accepts LF, CRLF and lone CR line breaks alike, and a leading BOM", () => {
    const lines = [A_ADDR, B_BARE, "/ip4/1.2.3.4/tcp/1"]
    for (const sep of ["\n", "\r\n", "\r"]) {
      expect(multiaddrs(Contacts.parse("\uFEFF" + lines.join(sep) + sep))).toEqual(lines)
    }
  })

  it("merges duplicates by PeerAddress.key (host + port + transport): the first keeps its place and learns a peer id", () => {
    const p = Contacts.parse([
      "/ip4/1.2.3.4/tcp/4001",
      "/ip4/1.2.3.4/udp/4001/quic-v1",
      `/ip4/1.2.3.4/tcp/4001/p2p/${A}`,
      `/ip4/1.2.3.4/tcp/4001/p2p/${B}`,
      "/ip4/1.2.3.4/tcp/4002",
      "/ip4/1.2.3.4/tcp/4002"
    ].join("\n"))
    expect(multiaddrs(p)).toEqual([`/ip4/1.2.3.4/tcp/4001/p2p/${A}`, "/ip4/1.2.3.4/udp/4001/quic-v1", "/ip4/1.2.3.4/tcp/4002"])
    expect(p.duplicates).toBe(3)
    // Duplicates are counted, not reported as issues.
    expect(p.issues).toEqual([])
  })

  it("a /dnsaddr key includes the peer id: one name, several peers", () => {
    const p = Contacts.parse([`/dnsaddr/bootstrap.libp2p.io/p2p/${A}`, `/dnsaddr/bootstrap.libp2p.io/p2p/${B}`, `/dnsaddr/bootstrap.libp2p.io/p2p/${A}`].join("\n"))
    expect(p.addresses).toHaveLength(2)
    expect(p.duplicates).toBe(1)
  })

  it("drops the incomplete last line of a truncated body instead of reporting it", () => {
    const body = `${A_ADDR}\n/ip4/1.2.3.4/tc`
    expect(Contacts.parse(body, { truncated: true })).toMatchObject({ invalid: 0, entries: 1 })
    expect(Contacts.parse(body)).toMatchObject({ invalid: 1, entries: 2 })
  })

  it("accepts at most maxAddresses and counts the rest as overLimit", () => {
    const body = Array.from({ length: 10 }, (_, i) => `/ip4/1.2.3.${i + 1}/tcp/4001`).join("\n")
    const p = Contacts.parse(body, { maxAddresses: 3 })
    expect(p.addresses).toHaveLength(3)
    expect(p.overLimit).toBe(7)
  })

  it("keeps at most maxIssues issues but counts every invalid line", () => {
    const body = Array.from({ length: 30 }, (_, i) => `bad ${i}`).join("\n")
    const p = Contacts.parse(body, { maxIssues: 4 })
    expect(p.invalid).toBe(30)
    expect(p.issues.map((i) => i.line)).toEqual([1, 2, 3, 4])
  })

  it("shortens very long offending input in issues", () => {
    const p = Contacts.parse("x".repeat(5000))
    expect(p.issues[0]!.input.length).toBeLessThanOrEqual(201)
  })
})

describe("Contacts.parse — filter", () => {
  const body = [
    "/ip4/127.0.0.1/tcp/4001",
    "/ip4/192.168.1.10/tcp/4001",
    "/ip4/169.254.1.1/tcp/4001",
    "/ip4/0.0.0.0/tcp/4001",
    `/ip4/1.2.3.4/tcp/4001/p2p/${A}`,
    "/ip4/1.2.3.5/udp/4001/quic-v1",
    "/dns4/example.com/tcp/443/wss",
    "/dnsaddr/bootstrap.example.com",
    `/ip4/1.2.3.6/tcp/4001/p2p/${A}/p2p-circuit/p2p/${B}`
  ].join("\n")

  it("refuses loopback, private, link-local, unspecified and relayed hosts by default", () => {
    const p = Contacts.parse(body)
    expect(multiaddrs(p)).toEqual([
      `/ip4/1.2.3.4/tcp/4001/p2p/${A}`,
      "/ip4/1.2.3.5/udp/4001/quic-v1",
      "/dns4/example.com/tcp/443/wss",
      "/dnsaddr/bootstrap.example.com"
    ])
    expect(p.filtered).toBe(5)
    expect(p.issues.map((i) => [i.line, i.kind])).toEqual([
      [1, "filtered"],
      [2, "filtered"],
      [3, "filtered"],
      [4, "filtered"],
      [9, "filtered"]
    ])
    expect(p.issues[0]!.reason).toContain("allowLoopback")
    expect(p.issues[1]!.reason).toContain("allowPrivate")
  })

  it("admits loopback and private hosts when allowed (local demos), never unspecified ones", () => {
    const p = Contacts.parse(body, { filter: { allowLoopback: true, allowPrivate: true } })
    expect(p.addresses.map((a) => a.scope)).toEqual(["loopback", "private", "link-local", "public", "public", "public", "public"])
    expect(p.issues.map((i) => i.line)).toEqual([4, 9])
  })

  it("requires a peer id when asked", () => {
    const p = Contacts.parse(body, { filter: { requirePeerId: true } })
    expect(multiaddrs(p)).toEqual([`/ip4/1.2.3.4/tcp/4001/p2p/${A}`])
  })

  it("admits only the allowed transports; \"\" admits /dnsaddr", () => {
    expect(multiaddrs(Contacts.parse(body, { filter: { transports: ["udp/quic-v1", ""] } }))).toEqual([
      "/ip4/1.2.3.5/udp/4001/quic-v1",
      "/dnsaddr/bootstrap.example.com"
    ])
  })

  it("refusal names the rule that refused an address", () => {
    const p = Contacts.parse("/ip4/1.2.3.4/tcp/1", { filter: { transports: ["tcp/ws"] } })
    expect(p.issues[0]!.reason).toContain("transport \"tcp\"")
  })
})

describe("Contacts.parse — JSON formats", () => {
  it("reads a JSON array of multiaddr strings (trimmed), reporting non-strings by position", () => {
    const p = Contacts.parse(JSON.stringify([A_ADDR, 42, ` ${B_BARE}\t`, "nope"]))
    expect(p.format).toBe("json-array")
    expect(multiaddrs(p)).toEqual([A_ADDR, B_BARE])
    expect(p.invalid).toBe(2)
    expect(p.issues.map((i) => [i.line, i.path])).toEqual([[2, "[1]"], [4, "[3]"]])
    expect(p.entries).toBe(4)
  })

  it("reads this project's cache file: peers with addresses, peer id appended", () => {
    const cacheFile = {
      version: 1,
      checksum: "sha256:…",
      peers: [
        { peerId: B, addresses: [{ multiaddr: B_BARE, successes: 1 }], firstSeen: 0, lastSeen: 0 },
        { addresses: [{ multiaddr: A_ADDR }, { nope: true }], firstSeen: 0, lastSeen: 0 }
      ]
    }
    const p = Contacts.parse(JSON.stringify(cacheFile, null, 2))
    expect(p.format).toBe("cache-file")
    expect(multiaddrs(p)).toEqual([`${B_BARE}/p2p/${B}`, A_ADDR])
    expect(p.issues).toEqual([expect.objectContaining({ line: 2, path: "peers[1].addresses[1]", kind: "invalid" })])
  })

  it("reads a version 2 cache file (what the store writes), peer ids restored on bare /p2p addresses", () => {
    const table = [A_ADDR, `${B_BARE}/p2p/${B}`, "/ip4/5.6.7.8/tcp/4001"].reduce(
      (t, m) => PeerTable.add(t, PeerAddress.unsafeParse(m), { now: 1_000, source: { _tag: "user" } }),
      PeerTable.empty
    )
    const text = CacheFile.encodeCompact(table, { lastUpdated: 1_000, hash: () => "0".repeat(64) })
    expect(text.startsWith(`{"version":2`)).toBe(true)
    const p = Contacts.parse(text)
    expect(p.format).toBe("cache-file")
    expect([...multiaddrs(p)].sort()).toEqual([A_ADDR, `${B_BARE}/p2p/${B}`, "/ip4/5.6.7.8/tcp/4001"].sort())
    expect(p.issues).toEqual([])
  })

  it("reads every foreign cache format through ForeignCache, appending the filed peer id", () => {
    const v1 = { peers: [[B, [B_BARE]]], last_updated: { secs_since_epoch: 1, nanos_since_epoch: 0 }, network_version: "1", cache_version: "1" }
    const v0 = { peers: { [B]: [{ addr: B_BARE, success_count: 1, failure_count: 0, last_seen: { secs_since_epoch: 1, nanos_since_epoch: 0 } }] }, last_updated: { secs_since_epoch: 1, nanos_since_epoch: 0 }, network_version: "1" }
    const chiral = { version: 1, last_updated: 1, peers: [{ peer_id: B, addresses: [B_BARE], last_seen: 1, successful_transfers: 0, failed_transfers: 0, average_latency_ms: 0, is_bootstrap: false }] }
    const safe = { last_updated: "2024-11-20T12:00:00Z", peers: [{ ip: "46.101.80.187", port: 58070, last_seen: { secs_since_epoch: 1, nanos_since_epoch: 0 }, success_count: 0, failure_count: 0 }] }
    expect(Contacts.parse(JSON.stringify(v1))).toMatchObject({ format: "autonomi-v1" })
    expect(multiaddrs(Contacts.parse(JSON.stringify(v1)))).toEqual([`${B_BARE}/p2p/${B}`])
    expect(multiaddrs(Contacts.parse(JSON.stringify(v0)))).toEqual([`${B_BARE}/p2p/${B}`])
    expect(multiaddrs(Contacts.parse(JSON.stringify(chiral)))).toEqual([`${B_BARE}/p2p/${B}`])
    expect(Contacts.parse(JSON.stringify(safe))).toMatchObject({ format: "safe-network" })
    expect(multiaddrs(Contacts.parse(JSON.stringify(safe)))).toEqual([B_BARE])
  })

  it("reports an address filed under another peer id than the one it names", () => {
    const v1 = { peers: [[B, [A_ADDR]]], cache_version: "1" }
    const p = Contacts.parse(JSON.stringify(v1))
    expect(p.addresses).toEqual([])
    expect(p.issues[0]!.reason).toContain(`names peer ${A}`)
  })

  it("numbers foreign-format issues by peer position and points at the exact JSON path", () => {
    const v1 = { peers: [[A, [A_ADDR]], [B, [B_BARE, "/ip4/1.2.3.4/tcp/99999", 7]]], cache_version: "1" }
    const p = Contacts.parse(JSON.stringify(v1))
    expect(multiaddrs(p)).toEqual([A_ADDR, `${B_BARE}/p2p/${B}`])
    expect(p.issues.map((i) => [i.line, i.path, i.kind])).toEqual([
      [2, "peers[1][1][2]", "invalid"],
      [2, "peers[1][1][1]", "invalid"]
    ])
  })

  it("reads the JSON a Safe Network contacts endpoint serves ({ peers: [multiaddr…], metadata })", () => {
    const body = JSON.stringify({ peers: [A_ADDR, "garbage", B_BARE], metadata: { last_updated: "2024-11-20T12:00:00Z", description: "" } })
    const p = Contacts.parse(body)
    expect(p.format).toBe("safe-network")
    expect(multiaddrs(p)).toEqual([A_ADDR, B_BARE])
    expect(p.issues.map((i) => [i.line, i.path, i.input])).toEqual([[2, "peers[1]", "garbage"]])
  })

  it("reports malformed JSON as one invalid document, never as text lines", () => {
    const p = Contacts.parse(`{"peers": [`)
    expect(p.format).toBe("unknown-json")
    expect(p.invalid).toBe(1)
    expect(p.entries).toBe(0)
    expect(p.issues[0]!.reason).toContain("malformed JSON")
    const cut = Contacts.parse(`["${A_ADDR}", "/ip4/1.2`, { truncated: true })
    expect(cut.issues[0]!.reason).toContain("cut off")
  })

  it("reports unrecognised JSON", () => {
    expect(Contacts.parse(`{"hello": "world"}`)).toMatchObject({ format: "unknown-json", invalid: 1, addresses: [] })
  })
})

describe("Contacts.detect", () => {
  it("detects by content, not by any declared type", () => {
    expect(Contacts.detect(A_ADDR)).toBe("text")
    expect(Contacts.detect(`  \n [ "${A_ADDR}" ]`)).toBe("json-array")
    expect(Contacts.detect(`{"version":1,"checksum":"x","peers":[]}`)).toBe("cache-file")
    expect(Contacts.detect(`{"peers":[],"cache_version":"1"}`)).toBe("autonomi-v1")
    expect(Contacts.detect(`<html>`)).toBe("text")
  })
})

describe("Contacts.parse — real public lists (fixtures/)", () => {
  const expected: ReadonlyArray<readonly [string, { valid: number; invalid: number; filtered: number; duplicates: number }]> = [
    ["autonomi-network-contacts.txt", { valid: 5, invalid: 0, filtered: 0, duplicates: 0 }],
    ["autonomi-network-contacts-example-tcp.txt", { valid: 6, invalid: 0, filtered: 0, duplicates: 0 }],
    ["celestia-mainnet-bootstrappers.txt", { valid: 6, invalid: 0, filtered: 0, duplicates: 0 }],
    ["celestia-mocha-bootstrappers.txt", { valid: 5, invalid: 0, filtered: 0, duplicates: 0 }],
    ["filecoin-lotus-calibnet.txt", { valid: 2, invalid: 0, filtered: 0, duplicates: 0 }],
    ["filecoin-lotus-mainnet.txt", { valid: 2, invalid: 0, filtered: 0, duplicates: 0 }],
    ["filecoin-lotus-mainnet-2023-09.txt", { valid: 17, invalid: 0, filtered: 0, duplicates: 0 }],
    ["filecoin-lotus-mainnet-2025-05.txt", { valid: 8, invalid: 0, filtered: 0, duplicates: 0 }],
    // The four /dnsaddr/bootstrap.libp2p.io/p2p/Qm… lines are four peers: a /dnsaddr key includes the peer id.
    ["kubo-bootstrap.txt", { valid: 7, invalid: 0, filtered: 0, duplicates: 0 }],
    ["polkadot-bootnodes.txt", { valid: 406, invalid: 0, filtered: 0, duplicates: 6 }],
    // /ip6/::/tcp/0 (port 0) is invalid; /ip6/::/tcp/N (unspecified host) is filtered.
    ["nebula-filecoin-multiaddrs-2021-07-14.txt", { valid: 3623, invalid: 2, filtered: 3, duplicates: 6 }],
    // Every line is wrapped in double quotes (and every peer id is one character short).
    ["safe-network-contacts-2023-quoted.txt", { valid: 0, invalid: 7, filtered: 0, duplicates: 0 }]
  ]

  for (const [name, counts] of expected) {
    it(`${name}: ${counts.valid} valid, ${counts.invalid} invalid, ${counts.filtered} filtered, ${counts.duplicates} duplicates`, () => {
      const p = Contacts.parse(fixture(name))
      expect(p.format).toBe("text")
      expect({ valid: p.addresses.length, invalid: p.invalid, filtered: p.filtered, duplicates: p.duplicates }).toEqual(counts)
      expect(p.entries).toBe(p.addresses.length + p.invalid + p.filtered + p.duplicates + p.overLimit)
    })
  }

  it("polkadot boot nodes: /dns, /dns4, /ws and /wss on 443 all parse", () => {
    const p = Contacts.parse(fixture("polkadot-bootnodes.txt"))
    const transports = new Set(p.addresses.map((a) => a.transport))
    expect([...transports].sort()).toEqual(expect.arrayContaining(["tcp", "tcp/ws", "tcp/wss"]))
    expect(p.addresses.every((a) => Option.isSome(a.peerId))).toBe(true)
  })

  it("the same list served as a JSON array gives the same addresses", () => {
    const text = fixture("polkadot-bootnodes.txt")
    const lines = text.split("\n").filter((l) => l.trim().length > 0)
    expect(multiaddrs(Contacts.parse(JSON.stringify(lines)))).toEqual(multiaddrs(Contacts.parse(text)))
  })
})

describe("Contacts.parse — properties", () => {
  it.prop(
    "never throws on arbitrary text, and every non-blank line is accounted for exactly once",
    [FastCheck.array(FastCheck.oneof(
      FastCheck.string(),
      FastCheck.constantFrom(A_ADDR, B_BARE, "/ip4/127.0.0.1/tcp/1", "# comment", "", "/ip4/1.2.3.4/tcp/0")
    ), { maxLength: 30 })],
    ([lines]) => {
      const body = lines.map((l) => l.replace(/^[[{\s]+/, "")).join("\n")
      const p = Contacts.parse(body)
      expect(p.format).toBe("text")
      expect(p.entries).toBe(p.addresses.length + p.invalid + p.filtered + p.duplicates + p.overLimit)
    },
    { fastCheck: { seed: 31 } }
  )

  it.prop(
    "never returns two addresses with the same key, and never more than maxAddresses",
    [
      FastCheck.array(FastCheck.tuple(FastCheck.integer({ min: 1, max: 4 }), FastCheck.integer({ min: 1, max: 3 }), FastCheck.boolean()), { maxLength: 40 }),
      FastCheck.integer({ min: 0, max: 10 })
    ],
    ([specs, max]) => {
      const body = specs.map(([h, port, quic]) => `/ip4/1.2.3.${h}/${quic ? "udp" : "tcp"}/${port}${quic ? "/quic-v1" : ""}`).join("\n")
      const p = Contacts.parse(body, { maxAddresses: max })
      const keys = p.addresses.map((a) => a.key)
      expect(new Set(keys).size).toBe(keys.length)
      expect(p.addresses.length).toBeLessThanOrEqual(max)
    },
    { fastCheck: { seed: 32 } }
  )
})
