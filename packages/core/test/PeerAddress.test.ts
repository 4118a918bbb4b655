import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { readdirSync, readFileSync } from "node:fs"
import { base32 } from "multiformats/bases/base32"
import { base36 } from "multiformats/bases/base36"
import { base58btc } from "multiformats/bases/base58"
import { CID } from "multiformats/cid"
import * as Digest from "multiformats/hashes/digest"
import { PeerAddress } from "@bootstrap-cache/core"

const parse = PeerAddress.unsafeParse
const ED = "12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx"
const RSA = "QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN"
const ED2 = "12D3KooWBBzzGy5hAHUQVh2vBvL25CKwJ7wbmooPcz4amQhzJHJq"

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

  it("unsafeParse throws the typed error itself", () => {
    expect(() => parse("/ip4/1.2.3.4/tcp/0")).toThrow(PeerAddress.AddressParseError)
    expect(() => parse("/ip4/1.2.3.4/tcp/0")).toThrow(/invalid multiaddr "\/ip4\/1.2.3.4\/tcp\/0": port 0 is outside 1-65535/)
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
    // A bare host names no port: nothing to dial. A /dnsaddr name resolves to dialable addresses.
    expect(PeerAddress.isDialable(parse("/ip4/8.8.8.8"))).toBe(false)
    expect(PeerAddress.isDialable(parse("/dns4/boot.example.com"))).toBe(false)
    expect(PeerAddress.isDialable(parse(`/dnsaddr/bootstrap.libp2p.io/p2p/${RSA}`))).toBe(true)
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

describe("PeerAddress.parse edge cases", () => {
  const fields = (s: string) => {
    const a = parse(s)
    return {
      hostKind: a.hostKind,
      host: a.host,
      port: Option.getOrNull(a.port),
      transport: a.transport,
      relayed: a.relayed,
      scope: a.scope,
      netgroup: a.netgroup
    }
  }
  const reason = (s: string) => Either.match(PeerAddress.parse(s), { onLeft: (e) => e.reason, onRight: () => "parsed" })

  it("knows every host kind: ip4, ip6, dns, dns4, dns6, dnsaddr", () => {
    expect(fields("/ip4/1.2.3.4/tcp/1")).toEqual({ hostKind: "ip4", host: "1.2.3.4", port: 1, transport: "tcp", relayed: false, scope: "public", netgroup: "ip4:1.2" })
    expect(fields("/ip6/2606:4700:0:0::1111/udp/2/quic-v1")).toEqual({ hostKind: "ip6", host: "2606:4700::1111", port: 2, transport: "udp/quic-v1", relayed: false, scope: "public", netgroup: "ip6:2606:4700" })
    expect(fields("/dns/a.example/tcp/3/ws")).toEqual({ hostKind: "dns", host: "a.example", port: 3, transport: "tcp/ws", relayed: false, scope: "public", netgroup: "dns:a.example" })
    expect(fields("/dns4/a.example/tcp/4")).toMatchObject({ hostKind: "dns4", host: "a.example", netgroup: "dns:a.example" })
    expect(fields("/dns6/a.example/udp/5/quic-v1/webtransport")).toMatchObject({ hostKind: "dns6", host: "a.example", port: 5, transport: "udp/quic-v1/webtransport" })
    expect(fields(`/dnsaddr/a.example/p2p/${ED}`)).toEqual({ hostKind: "dnsaddr", host: "a.example", port: null, transport: "", relayed: false, scope: "public", netgroup: "dns:a.example" })
  })

  it("/dns, /dns4 and /dns6 of one name share its netgroup but are three endpoints (they resolve differently)", () => {
    const names = ["/dns/a.example/tcp/1", "/dns4/a.example/tcp/1", "/dns6/a.example/tcp/1"].map(parse)
    expect(new Set(names.map((a) => a.netgroup))).toEqual(new Set(["dns:a.example"]))
    expect(new Set(names.map((a) => a.key)).size).toBe(3)
  })

  it("compares DNS names case-insensitively and without the root's trailing dot", () => {
    const a = parse("/dns4/Boot.EXAMPLE.com./tcp/1")
    expect([a.host, a.netgroup, a.key]).toEqual(["boot.example.com", "dns:boot.example.com", parse("/dns4/boot.example.com/tcp/1").key])
    expect(parse("/dns/LOCALHOST./tcp/1").scope).toBe("loopback")
  })

  it("ignores a trailing slash", () => {
    expect(parse("/ip4/1.2.3.4/tcp/1/").multiaddr).toBe("/ip4/1.2.3.4/tcp/1")
    expect(parse(`/ip4/1.2.3.4/tcp/1/p2p/${ED}/`).multiaddr).toBe(`/ip4/1.2.3.4/tcp/1/p2p/${ED}`)
    expect(parse("/ip4/1.2.3.4/tcp/1/").key).toBe(parse("/ip4/1.2.3.4/tcp/1").key)
  })

  it("treats an IPv4-mapped IPv6 host as the IPv4 host: scope, netgroup and dedupe key", () => {
    const mapped = parse("/ip6/::ffff:1.2.3.4/tcp/1")
    expect([mapped.hostKind, mapped.scope, mapped.netgroup]).toEqual(["ip6", "public", "ip4:1.2"])
    expect(mapped.key).toBe(parse("/ip4/1.2.3.4/tcp/1").key)
    expect(parse("/ip6/::ffff:127.0.0.1/tcp/1").scope).toBe("loopback")
    expect(parse("/ip6/::ffff:192.168.0.1/tcp/1").scope).toBe("private")
  })

  it("groups IPv6 hosts that embed an IPv4 address (6to4, Teredo, NAT64) by that address's /16, as Bitcoin's GetGroup", () => {
    expect(parse("/ip6/2002:0102:0304::1/tcp/1").netgroup).toBe("ip4:1.2")
    // Teredo: the client's IPv4 address, inverted, in the last 32 bits (~1.2.3.4 = fefd:fcfb).
    expect(parse("/ip6/2001:0:4136:e378:8000:63bf:fefd:fcfb/tcp/1").netgroup).toBe("ip4:1.2")
    expect(parse("/ip6/64:ff9b::1.2.3.4/tcp/1").netgroup).toBe("ip4:1.2")
  })

  it("reads a zoned link-local address (/ip6zone/<zone>/ip6/…) as an IPv6 host with its zone", () => {
    const a = parse("/ip6zone/eth0/ip6/fe80::1/tcp/4001")
    expect(fields("/ip6zone/eth0/ip6/fe80::1/tcp/4001")).toEqual({ hostKind: "ip6", host: "fe80::1%eth0", port: 4001, transport: "tcp", relayed: false, scope: "link-local", netgroup: "ip6:fe80:0" })
    expect(a.multiaddr).toBe("/ip6zone/eth0/ip6/fe80::1/tcp/4001")
    expect(a.key).not.toBe(parse("/ip6zone/eth1/ip6/fe80::1/tcp/4001").key)
    expect(a.key).not.toBe(parse("/ip6/fe80::1/tcp/4001").key)
    expect(PeerAddress.isDialable(a)).toBe(false)
    expect(reason("/ip6zone/eth0/ip4/1.2.3.4/tcp/1")).toMatch(/ip6zone must be followed by \/ip6/)
  })

  it("reads relayed addresses over any host: with a target, without one, and rejects a relay named by peer id only", () => {
    const target = parse(`/ip6/2606:4700::1/tcp/4001/p2p/${RSA}/p2p-circuit/p2p/${ED}`)
    expect([target.relayed, Option.getOrNull(target.peerId), target.host, target.transport, target.netgroup]).toEqual([true, ED, "2606:4700::1", "tcp", "ip6:2606:4700"])
    const reservation = parse(`/ip6/2606:4700::1/tcp/4001/p2p/${RSA}/p2p-circuit`)
    expect([reservation.relayed, Option.isNone(reservation.peerId)]).toEqual([true, true])
    expect(reservation.key).not.toBe(target.key)
    // Two targets behind one relay are two endpoints; a target behind two relays too.
    expect(target.key).not.toBe(parse(`/ip6/2606:4700::1/tcp/4001/p2p/${RSA}/p2p-circuit/p2p/${ED2}`).key)
    expect(target.key).not.toBe(parse(`/ip6/2606:4700::2/tcp/4001/p2p/${RSA}/p2p-circuit/p2p/${ED}`).key)
    // Relays behind one /dnsaddr name are told apart by their peer id.
    expect(parse(`/dnsaddr/r.example/p2p/${RSA}/p2p-circuit/p2p/${ED}`).key).not.toBe(parse(`/dnsaddr/r.example/p2p/${ED2}/p2p-circuit/p2p/${ED}`).key)
    expect(reason("/ip4/1.2.3.4/tcp/1/p2p-circuit")).toMatch(/must name its relay or target peer id/)
    expect(reason(`/p2p/${RSA}/p2p-circuit/p2p/${ED}`)).toMatch(/names no host/)
  })

  it("reads the legacy /ipfs/ protocol name as /p2p/", () => {
    const a = parse(`/ip4/1.2.3.4/tcp/1/ipfs/${RSA}`)
    expect(a.multiaddr).toBe(`/ip4/1.2.3.4/tcp/1/p2p/${RSA}`)
    expect(Option.getOrNull(a.peerId)).toBe(RSA)
  })

  it("writes a CIDv1 peer id (base32 or base36) as the base58btc multihash libp2p prints, so one peer has one id", () => {
    const cid = CID.createV1(0x72, Digest.decode(base58btc.baseDecode(ED)))
    for (const text of [cid.toString(base32), cid.toString(base36)]) {
      const a = parse(`/ip4/1.2.3.4/tcp/1/p2p/${text}`)
      expect(Option.getOrNull(a.peerId)).toBe(ED)
      expect(a.multiaddr).toBe(`/ip4/1.2.3.4/tcp/1/p2p/${ED}`)
      expect(Option.getOrNull(PeerAddress.normalizePeerId(text))).toBe(ED)
    }
    const relayCid = CID.createV1(0x72, Digest.decode(base58btc.baseDecode(RSA))).toString(base32)
    expect(parse(`/ip4/1.2.3.4/tcp/1/p2p/${relayCid}/p2p-circuit/p2p/${cid.toString(base32)}`).multiaddr)
      .toBe(`/ip4/1.2.3.4/tcp/1/p2p/${RSA}/p2p-circuit/p2p/${ED}`)
  })

  it("rejects peer ids that are not identity or sha2-256 multihashes, or CIDs of another codec", () => {
    const digest = Digest.decode(base58btc.baseDecode(RSA))
    const dagPb = CID.createV1(0x70, digest).toString(base32)
    expect(reason(`/ip4/1.2.3.4/tcp/1/p2p/${dagPb}`)).toMatch(/not a CIDv1 of the libp2p-key codec/)
    const sha512 = CID.createV1(0x72, Digest.create(0x13, new Uint8Array(64))).toString(base32)
    expect(reason(`/ip4/1.2.3.4/tcp/1/p2p/${sha512}`)).toMatch(/code 0x13, not identity or sha2-256/)
    // A base58btc peer id is a multihash starting `1` or `Qm` (libp2p peer id spec); any other text is a CID.
    expect(reason(`/ip4/1.2.3.4/tcp/1/p2p/${base58btc.baseEncode(Digest.create(0x13, new Uint8Array(64)).bytes)}`)).toMatch(/neither base58btc nor a CIDv1/)
    expect(Option.isNone(PeerAddress.normalizePeerId("not-a-peer-id"))).toBe(true)
    expect(Schema.decodeUnknownSync(PeerAddress.PeerId)(CID.createV1(0x72, digest).toString(base32))).toBe(RSA)
    expect(() => Schema.decodeUnknownSync(PeerAddress.PeerId)("x")).toThrow(/neither base58btc nor a CIDv1/)
  })

  it("names the secure transports: /tls/sni/<name>/ws is wss, /tls/http is https; certhashes and SNI are no part of the key", () => {
    const sni = parse(`/dns4/a.example/tcp/443/tls/sni/a.example/ws/p2p/${ED}`)
    expect(sni.transport).toBe("tcp/wss")
    expect(sni.key).toBe(parse("/dns4/a.example/tcp/443/wss").key)
    expect(parse("/ip4/1.2.3.4/tcp/443/tls/http").transport).toBe("tcp/https")
    const hash1 = "uEiAkH5a4DPGKUuOBjYw0CgwjvcJCJMD2K_1aluKR_tpevQ"
    const hash2 = "uEiDDq4_xNyDorZBH3TlGazyJdOWSwvo4PUo5YHFMrvDE8g"
    const rtc = parse(`/ip4/1.2.3.4/udp/9090/webrtc-direct/certhash/${hash1}/p2p/${ED}`)
    expect([rtc.transport, rtc.key]).toEqual(["udp/webrtc-direct", parse(`/ip4/1.2.3.4/udp/9090/webrtc-direct/certhash/${hash2}`).key])
    expect(parse(`/ip4/1.2.3.4/udp/9090/webrtc-direct/certhash/${hash1}`).multiaddr).toContain(hash1)
  })

  it("rejects addresses naming two ports or two peer ids", () => {
    expect(reason("/ip4/1.2.3.4/tcp/1/tcp/2")).toMatch(/names a second port \(\/tcp\/2\) after 1/)
    expect(reason(`/ip4/1.2.3.4/tcp/1/p2p/${ED}/p2p/${RSA}`)).toMatch(/names two peer ids/)
  })

  it("names a relayed address's target with withPeerId, keeping the relay", () => {
    const reservation = parse(`/ip4/1.2.3.4/tcp/1/p2p/${RSA}/p2p-circuit`)
    const a = PeerAddress.withPeerId(reservation, ED)
    expect(a.multiaddr).toBe(`/ip4/1.2.3.4/tcp/1/p2p/${RSA}/p2p-circuit/p2p/${ED}`)
    expect(PeerAddress.withPeerId(a, ED2).multiaddr).toBe(`/ip4/1.2.3.4/tcp/1/p2p/${RSA}/p2p-circuit/p2p/${ED2}`)
    expect(() => PeerAddress.withPeerId(reservation, "nope")).toThrow(PeerAddress.AddressParseError)
  })
})

describe("real public bootstrap lists", () => {
  const dir = new URL("../../../fixtures/", import.meta.url)
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
