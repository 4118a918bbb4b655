/**
 * The hand-written fast path of `PeerAddress.parse` against the full parser (the multiaddr library):
 * on every line of the real peer lists and on generated addresses, near-misses included, both give the
 * same address (every field) or both fail.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Equal from "effect/Equal"
import * as FastCheck from "effect/FastCheck"
import ipaddr from "ipaddr.js"
import { readdirSync, readFileSync } from "node:fs"
import { PeerAddress } from "@bootstrap-cache/core"
import { Arbitraries } from "@bootstrap-cache/testkit"

const agree = (line: string) => {
  const fast = PeerAddress.parse(line)
  const full = PeerAddress.parseFull(line)
  if (Either.isRight(full)) {
    expect(Either.isRight(fast), line).toBe(true)
    expect(Either.getOrThrow(fast), line).toBeInstanceOf(PeerAddress.PeerAddress)
    expect({ ...Either.getOrThrow(fast) }, line).toStrictEqual({ ...full.right })
    expect(Equal.equals(Either.getOrThrow(fast), full.right), line).toBe(true)
  } else {
    expect(Either.isLeft(fast), line).toBe(true)
  }
}

describe("PeerAddress.parse fast path", () => {
  it("agrees with the full parser on every line of the real peer lists", () => {
    const dir = new URL("../../../fixtures/", import.meta.url)
    let lines = 0
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".txt"))) {
      for (const line of readFileSync(new URL(file, dir), "utf8").split(/\r?\n/)) {
        if (line.trim() === "") continue
        lines++
        agree(line)
      }
    }
    expect(lines).toBeGreaterThan(3000)
  })

  const octet = FastCheck.oneof(
    FastCheck.integer({ min: 0, max: 255 }).map(String),
    FastCheck.constantFrom("0", "00", "01", "256", "999", "-1", "", "1e2", " 1")
  )
  const special = FastCheck.constantFrom(
    "0.0.0.0", "127.0.0.1", "10.1.2.3", "172.15.0.1", "172.16.0.1", "172.31.255.255", "172.32.0.1", "192.168.1.1",
    "100.63.0.1", "100.64.0.1", "100.127.255.255", "100.128.0.1", "169.254.1.1", "169.253.1.1", "192.0.0.1",
    "192.0.1.1", "192.0.2.1", "192.88.99.1", "192.88.98.1", "198.17.0.1", "198.18.0.1", "198.19.255.1", "198.20.0.1",
    "198.51.100.1", "198.51.101.1", "203.0.113.9", "203.0.114.9", "192.175.48.1", "192.31.196.1", "192.52.193.1",
    "223.255.255.255", "224.0.0.1", "239.1.1.1", "240.0.0.1", "255.255.255.255", "8.8.8.8"
  )
  const ip4 = FastCheck.oneof(special, FastCheck.tuple(octet, octet, octet, octet).map((o) => o.join(".")))
  const host = FastCheck.oneof(
    ip4.map((h) => `/ip4/${h}`),
    FastCheck.constantFrom("example.com", "Boot.Example.COM", "localhost", "a.localhost", "x_y.example", ".bad", "a%20b", "")
      .chain((name) => FastCheck.constantFrom("dns", "dns4", "dns6", "dnsaddr").map((k) => `/${k}/${name}`)),
    FastCheck.constantFrom("/ip6/2001:db8::1", "/ip6/::1", "/ip4", "/tcp/1", "")
  )
  const port = FastCheck.oneof(
    FastCheck.integer({ min: 0, max: 70000 }).map(String),
    FastCheck.constantFrom("0", "1", "65535", "65536", "04001", "4001x", "")
  )
  const suffix = FastCheck.constantFrom("", "/quic-v1", "/ws", "/wss", "/tls/ws", "/quic", "/webtransport", "/quic-v1/webtransport", "/p2p-circuit", "/x")
  const peer = FastCheck.oneof(
    FastCheck.constant(""),
    FastCheck.constantFrom(...Arbitraries.PEER_IDS).map((id) => `/p2p/${id}`),
    FastCheck.constantFrom(
      "/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJ",
      "/p2p/12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wg0",
      "/p2p/bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe",
      "/p2p/",
      "/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN/p2p-circuit"
    )
  )
  const address = FastCheck.tuple(host, FastCheck.constantFrom("tcp", "udp", "ws"), port, suffix, peer, FastCheck.constantFrom("", " ", "/"))
    .map(([h, proto, p, s, id, tail]) => `${h}/${proto}/${p}${s}${id}${tail}`)

  it.prop("agrees with the full parser on generated addresses and near-misses", [address], ([line]) => {
    agree(line)
  }, { fastCheck: { seed: 8, numRuns: 3000 } })

  it.prop("classifies IPv4 hosts as ipaddr.js does", [ip4.filter((h) => ipaddr.IPv4.isValidFourPartDecimal(h))], ([h]) => {
    const fast = PeerAddress.parse(`/ip4/${h}/tcp/1`)
    const full = PeerAddress.parseFull(`/ip4/${h}/tcp/1`)
    expect(Either.map(fast, (a) => [a.scope, a.netgroup])).toStrictEqual(Either.map(full, (a) => [a.scope, a.netgroup]))
  }, { fastCheck: { seed: 9, numRuns: 2000 } })
})
