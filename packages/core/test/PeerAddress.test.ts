import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { readdirSync, readFileSync } from "node:fs"
import { PeerAddress } from "@bootstrap-cache/core"

const parse = PeerAddress.unsafeParse
const ED = "12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx"
const RSA = "QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN"

describe("PeerAddress.parse", () => {
  it("knows the peer id, host, port and transport of a TCP address", () => {
    const a = parse(`/ip4/1.2.3.4/tcp/4001/p2p/${ED}`)
    expect(Option.getOrNull(a.peerId)).toBe(ED)
    expect(a.hostKind).toBe("ip4")
    expect(a.host).toBe("1.2.3.4")
    expect(Option.getOrNull(a.port)).toBe(4001)
    expect(a.transport).toBe("tcp")
    expect(a.relayed).toBe(false)
    expect(a.scope).toBe("public")
    expect(a.netgroup).toBe("ip4:1.2")
  })

  it("names the transport stack above the host, without values", () => {
    expect(parse("/ip4/1.2.3.4/udp/4001/quic-v1").transport).toBe("udp/quic-v1")
    expect(parse("/dns4/a.example/tcp/443/wss").transport).toBe("tcp/wss")
    expect(parse("/dns4/a.example/tcp/443/tls/ws").transport).toBe("tcp/wss")
    expect(parse("/dns/a.example/tcp/30334/ws").transport).toBe("tcp/ws")
    expect(
      parse(`/ip4/1.2.3.4/udp/4001/quic-v1/webtransport/certhash/uEiAkH5a4DPGKUuOBjYw0CgwjvcJCJMD2K_1aluKR_tpevQ/p2p/${ED}`).transport
    ).toBe("udp/quic-v1/webtransport")
    const dnsaddr = parse(`/dnsaddr/bootstrap.libp2p.io/p2p/${RSA}`)
    expect(dnsaddr.transport).toBe("")
    expect(Option.isNone(dnsaddr.port)).toBe(true)
    expect(dnsaddr.netgroup).toBe("dns:bootstrap.libp2p.io")
  })

  it("classifies hosts as loopback, private, link-local, unspecified, reserved or public", () => {
    expect(parse("/ip4/127.0.0.1/tcp/1").scope).toBe("loopback")
    expect(parse("/ip6/::1/tcp/1").scope).toBe("loopback")
    expect(parse("/dns4/localhost/tcp/1").scope).toBe("loopback")
    expect(parse("/ip4/10.1.2.3/tcp/1").scope).toBe("private")
    expect(parse("/ip4/192.168.1.1/tcp/1").scope).toBe("private")
    expect(parse("/ip4/100.64.0.1/tcp/1").scope).toBe("private")
    expect(parse("/ip6/fd00::1/tcp/1").scope).toBe("private")
    expect(parse("/ip4/169.254.1.1/tcp/1").scope).toBe("link-local")
    expect(parse("/ip6/fe80::1/tcp/1").scope).toBe("link-local")
    expect(parse("/ip4/0.0.0.0/tcp/1").scope).toBe("unspecified")
    expect(parse("/ip6/::/tcp/1").scope).toBe("unspecified")
    expect(parse("/ip4/224.0.0.1/tcp/1").scope).toBe("reserved")
    expect(parse("/ip4/8.8.8.8/tcp/1").scope).toBe("public")
    expect(parse("/ip6/2606:4700::1111/tcp/1").scope).toBe("public")
  })

  it("groups IPv4 by /16, IPv6 by /32, DNS hosts by name, and IPv4-mapped IPv6 as IPv4", () => {
    expect(parse("/ip4/1.2.3.4/tcp/1").netgroup).toBe(parse("/ip4/1.2.200.9/tcp/2").netgroup)
    expect(parse("/ip4/1.2.3.4/tcp/1").netgroup).not.toBe(parse("/ip4/1.3.3.4/tcp/1").netgroup)
    expect(parse("/ip6/2001:db8:1::1/tcp/1").netgroup).toBe("ip6:2001:db8")
    expect(parse("/ip6/2001:db8:ffff::1/tcp/1").netgroup).toBe(parse("/ip6/2001:db8::2/tcp/1").netgroup)
    expect(parse("/ip6/::ffff:1.2.3.4/tcp/1").netgroup).toBe("ip4:1.2")
    expect(parse("/dns4/Boot.Example.COM/tcp/1").netgroup).toBe("dns:boot.example.com")
  })

  it("gives one dedupe key per host + port + transport", () => {
    const key = (s: string) => parse(s).key
    expect(key(`/ip4/1.2.3.4/tcp/4001/p2p/${ED}`)).toBe(key("/ip4/1.2.3.4/tcp/4001"))
    expect(key("/ip4/1.2.3.4/tcp/4001")).not.toBe(key("/ip4/1.2.3.4/tcp/4002"))
    expect(key("/ip4/1.2.3.4/tcp/4001")).not.toBe(key("/ip4/1.2.3.4/udp/4001/quic-v1"))
    expect(key("/ip4/1.2.3.4/tcp/443/ws")).not.toBe(key("/ip4/1.2.3.4/tcp/443/wss"))
    expect(key("/ip6/2001:db8:0:0::1/tcp/1")).toBe(key("/ip6/2001:db8::1/tcp/1"))
    // One /dnsaddr name stands for several peers (kubo's bootstrap.libp2p.io is four).
    expect(key(`/dnsaddr/bootstrap.libp2p.io/p2p/${RSA}`)).not.toBe(key(`/dnsaddr/bootstrap.libp2p.io/p2p/${ED}`))
  })

  it("marks relayed addresses, keeping the target's peer id and the relay's netgroup", () => {
    const a = parse(`/ip4/1.2.3.4/tcp/4001/p2p/${RSA}/p2p-circuit/p2p/${ED}`)
    expect(a.relayed).toBe(true)
    expect(Option.getOrNull(a.peerId)).toBe(ED)
    expect(a.netgroup).toBe("ip4:1.2")
    expect(a.key).not.toBe(parse("/ip4/1.2.3.4/tcp/4001").key)
    expect(PeerAddress.isDialable(a, { allowLoopback: true, allowPrivate: true })).toBe(false)
  })

  it("fails with a typed error naming the input and the reason", () => {
    const cases: Array<[string, RegExp]> = [
      ["", /empty/],
      ["garbage", /must start with/],
      ["/ip4/1.2.3.4/tcp/99999", /65535/],
      ["/ip4/1.2.3.4/tcp/0", /outside 1-65535/],
      ["/tcp/4001", /must start with a host/],
      ["/ip4/1.2.3/tcp/1", /./],
      // One character short: the Safe Network 2023 contacts bug.
      ["/ip4/1.2.3.4/tcp/1/p2p/12D3KooWJ51eYsdyksy87PazS3M7wRVdPNJWfH58u8fxBk2Y9hd", /not a valid multihash/]
    ]
    for (const [input, reason] of cases) {
      const result = PeerAddress.parse(input)
      expect(Either.isLeft(result), input).toBe(true)
      if (Either.isLeft(result)) {
        expect(result.left._tag).toBe("AddressParseError")
        expect(result.left.input).toBe(input)
        expect(result.left.reason).toMatch(reason)
        expect(result.left.message).toContain(JSON.stringify(input))
      }
    }
  })

  it("trims surrounding whitespace and prints the canonical form", () => {
    expect(parse("  /ip4/1.2.3.4/tcp/1 \r").multiaddr).toBe("/ip4/1.2.3.4/tcp/1")
    expect(String(parse("/ip4/1.2.3.4/tcp/1"))).toBe("/ip4/1.2.3.4/tcp/1")
  })

  it("decides dialability by scope and policy", () => {
    expect(PeerAddress.isDialable(parse("/ip4/8.8.8.8/tcp/1"))).toBe(true)
    expect(PeerAddress.isDialable(parse("/ip4/127.0.0.1/tcp/1"))).toBe(false)
    expect(PeerAddress.isDialable(parse("/ip4/127.0.0.1/tcp/1"), { allowLoopback: true })).toBe(true)
    expect(PeerAddress.isDialable(parse("/ip4/10.0.0.1/tcp/1"), { allowLoopback: true })).toBe(false)
    expect(PeerAddress.isDialable(parse("/ip4/10.0.0.1/tcp/1"), { allowPrivate: true })).toBe(true)
    expect(PeerAddress.isDialable(parse("/ip4/0.0.0.0/tcp/1"), { allowLoopback: true, allowPrivate: true })).toBe(false)
  })

  it("adds or replaces the peer id, and finds the TCP endpoint", () => {
    const a = PeerAddress.withPeerId(parse("/ip4/1.2.3.4/tcp/1"), ED)
    expect(a.multiaddr).toBe(`/ip4/1.2.3.4/tcp/1/p2p/${ED}`)
    expect(PeerAddress.withPeerId(a, RSA).multiaddr).toBe(`/ip4/1.2.3.4/tcp/1/p2p/${RSA}`)
    expect(Option.getOrNull(PeerAddress.tcpEndpoint(a))).toEqual({ host: "1.2.3.4", port: 1 })
    expect(Option.isNone(PeerAddress.tcpEndpoint(parse("/ip4/1.2.3.4/udp/1/quic-v1")))).toBe(true)
  })

  it("round-trips through its Schema as the multiaddr string", () => {
    const a = parse(`/dns4/a.example/tcp/443/wss/p2p/${ED}`)
    const encoded = Schema.encodeSync(PeerAddress.FromString)(a)
    expect(encoded).toBe(a.multiaddr)
    expect(Schema.decodeUnknownSync(PeerAddress.FromString)(encoded)).toEqual(a)
    expect(() => Schema.decodeUnknownSync(PeerAddress.FromString)("/ip4/nope")).toThrow(/invalid multiaddr "\/ip4\/nope": Invalid IPv4/)
  })
})

describe("real public bootstrap lists", () => {
  const dir = new URL("../../../../shared/fixtures/", import.meta.url)
  const files = readdirSync(dir).filter((f) => f.endsWith(".txt"))

  it("finds the fixture files", () => {
    expect(files.length).toBeGreaterThanOrEqual(10)
  })

  it.each(files)("every line of %s parses or yields the typed error", (file) => {
    const lines = readFileSync(new URL(file, dir), "utf8").split(/\r?\n/).filter((l) => l.trim() !== "")
    let valid = 0
    const invalid: Array<string> = []
    for (const line of lines) {
      const result = PeerAddress.parse(line)
      if (Either.isRight(result)) {
        valid++
        // A valid address prints a canonical form that parses to the same key.
        expect(PeerAddress.unsafeParse(result.right.multiaddr).key).toBe(result.right.key)
      } else {
        expect(result.left).toBeInstanceOf(PeerAddress.AddressParseError)
        invalid.push(result.left.reason)
      }
    }
    console.log(`${file}: ${lines.length} lines, ${valid} valid, ${invalid.length} invalid`)
    expect(valid + invalid.length).toBe(lines.length)
    if (file === "safe-network-contacts-2023-quoted.txt") {
      // Real bad input: quoted lines with truncated peer ids. None may slip through.
      expect(valid).toBe(0)
      for (const line of lines) {
        const unquoted = PeerAddress.parse(line.replaceAll("\"", ""))
        expect(Either.isLeft(unquoted) && unquoted.left.reason).toMatch(/not a valid multihash/)
      }
    } else if (file.startsWith("nebula")) {
      // The crawl holds `/ip6/::/tcp/0` (port 0) and nothing else invalid.
      expect(invalid.every((r) => /port 0/.test(r))).toBe(true)
      expect(valid).toBeGreaterThan(3600)
    } else {
      expect(invalid).toEqual([])
    }
  })
})
