/**
 * A peer's address: a parsed, normalised multiaddr that knows its peer id, host, port, transport,
 * whether it is relayed, the scope of its host and its netgroup.
 *
 * Parsing is done by `@multiformats/multiaddr` (the reference implementation), host classification by
 * `ipaddr.js`, and peer id validation by `multiformats` (base58btc / CIDv1 multihash decoding).
 *
 * @since 0.1.0
 */
import { multiaddr as parseMultiaddr } from "@multiformats/multiaddr"
import type { Component } from "@multiformats/multiaddr"
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import ipaddr from "ipaddr.js"
import { base32 } from "multiformats/bases/base32"
import { base36 } from "multiformats/bases/base36"
import { base58btc } from "multiformats/bases/base58"
import { CID } from "multiformats/cid"
import * as Digest from "multiformats/hashes/digest"

/**
 * How the host is named: an IP literal or one of the DNS protocols.
 *
 * @since 0.1.0
 */
export type HostKind = "ip4" | "ip6" | "dns" | "dns4" | "dns6" | "dnsaddr"

/**
 * Where a host lives. `public` is the only scope a node should dial on the open internet; DNS names are
 * `public` unless they are `localhost` (loopback), since their addresses are unknown until resolved.
 *
 * - `loopback`: 127.0.0.0/8, ::1, `localhost`
 * - `private`: RFC 1918, carrier-grade NAT (100.64.0.0/10), IPv6 unique local (fc00::/7)
 * - `link-local`: 169.254.0.0/16, fe80::/10
 * - `unspecified`: 0.0.0.0/8, ::
 * - `reserved`: multicast, broadcast, documentation, benchmarking and other special-purpose ranges
 *
 * @since 0.1.0
 */
export type Scope = "loopback" | "private" | "link-local" | "unspecified" | "reserved" | "public"

/**
 * A parsed multiaddr.
 *
 * - `multiaddr`: the canonical string form (as printed by `@multiformats/multiaddr`: `/ipfs/` written
 *   `/p2p/`, no trailing slash, IPv6 in its short form), with every peer id in base58btc.
 * - `peerId`: the peer id of the peer this address reaches (the last `/p2p/…`; for a relayed address
 *   the target after `/p2p-circuit`), if any, in base58btc (a CIDv1 `bafz…` is rewritten, see
 *   {@link normalizePeerId}).
 * - `host`, `hostKind`: the host. IPv6 in its normalised short form, with `%<zone>` for
 *   `/ip6zone/<zone>/ip6/…`; DNS names lower-cased and without the root's trailing dot.
 * - `port`: the TCP or UDP port (1–65535); none for `/dnsaddr` and bare hosts.
 * - `transport`: the protocol stack above the host, without values, e.g. `tcp`, `tcp/ws`, `tcp/wss`,
 *   `udp/quic-v1`, `udp/quic-v1/webtransport`, `udp/webrtc-direct`; `""` when none is named
 *   (a `/dnsaddr` address). `/tls/ws` is written `wss` and `/tls/http` `https`, which they mean;
 *   `/certhash`, `/sni`, `/ipcidr` and `/http-path` values are left out.
 * - `relayed`: the address goes through a relay (`/p2p-circuit`); `host` and `port` are the relay's.
 * - `scope`: where the host lives (see {@link Scope}); IPv4-mapped IPv6 hosts as their IPv4 address.
 * - `netgroup`: the group used to spread connections (Bitcoin addrman's GetGroup): IPv4 /16
 *   (`ip4:1.2`), IPv6 /32 (`ip6:2001:db8`), the DNS name (`dns:example.com`, the same for `/dns`,
 *   `/dns4`, `/dns6` and `/dnsaddr`); IPv6 hosts that embed an IPv4 address (IPv4-mapped, 6to4, Teredo,
 *   NAT64) group as that address; relayed addresses group with their relay.
 * - `key`: the dedupe key, one entry per host + port + transport. The same IP on two ports, or the
 *   same ip+port over tcp and over udp/quic-v1, are two keys; the peer id, certhashes and SNI are no
 *   part of it; an IPv4-mapped IPv6 host has its IPv4 host's key; `/dns`, `/dns4` and `/dns6` of one
 *   name are three keys (they resolve to different records). Relayed addresses add their target's
 *   peer id, and so do `/dnsaddr` names, which resolve to a different peer per TXT record
 *   (`/dnsaddr/bootstrap.libp2p.io` stands for four peers in kubo's list); a relay behind a `/dnsaddr`
 *   name adds its own peer id too.
 *
 * @since 0.1.0
 */
export class PeerAddress extends Data.Class<{
  readonly multiaddr: string
  readonly peerId: Option.Option<string>
  readonly hostKind: HostKind
  readonly host: string
  readonly port: Option.Option<number>
  readonly transport: string
  readonly relayed: boolean
  readonly scope: Scope
  readonly netgroup: string
  readonly key: string
}> {
  override toString(): string {
    return this.multiaddr
  }
  toJSON(): string {
    return this.multiaddr
  }
}

/**
 * A string that is not a usable peer address. `input` is the offending string (as given), `reason`
 * says what is wrong with it.
 *
 * @since 0.1.0
 */
export class AddressParseError extends Data.TaggedError("AddressParseError")<{
  readonly input: string
  readonly reason: string
}> {
  override get message(): string {
    return `invalid multiaddr ${JSON.stringify(this.input)}: ${this.reason}`
  }
}

const HOST_CODES: Record<string, HostKind> = {
  ip4: "ip4",
  ip6: "ip6",
  dns: "dns",
  dns4: "dns4",
  dns6: "dns6",
  dnsaddr: "dnsaddr"
}

/** Components that qualify a transport but name none themselves: dropped from `transport`. */
const TRANSPORT_QUALIFIERS = new Set(["certhash", "sni", "ipcidr", "http-path"])

const MAX_INPUT_LENGTH = 1024

/** Multihash codes a libp2p peer id uses: identity (keys of at most 42 bytes) and sha2-256 (longer keys). */
const IDENTITY = 0x00
const SHA2_256 = 0x12
/** The libp2p-key multicodec of a CIDv1 peer id. */
const LIBP2P_KEY = 0x72

/** Result of {@link canonicalPeerId}: the canonical text, or the reason the input is not a peer id. */
type PeerIdCheck = { readonly ok: true; readonly id: string } | { readonly ok: false; readonly reason: string }

/**
 * Checks a peer id string and gives its canonical text form, as in the libp2p peer id spec: a
 * base58btc multihash (`Qm…`, `12D3KooW…`, `16Uiu2…`), kept as written, or a CIDv1 with the
 * libp2p-key codec (`bafz…` in base32, `k51…` in base36), rewritten as the base58btc multihash it
 * holds — the form go-libp2p, js-libp2p and rust-libp2p print — so one peer has one id whichever
 * form it was listed in. The multihash must be identity or sha2-256, the two a peer id uses.
 */
const canonicalPeerId = (id: string): PeerIdCheck => {
  try {
    let hash: Digest.Digest<number, number>
    let canonical = id
    if (id.startsWith("Q") || id.startsWith("1")) {
      hash = Digest.decode(base58btc.baseDecode(id))
    } else {
      const decoder = id.startsWith("b") ? base32 : id.startsWith("k") ? base36 : undefined
      if (decoder === undefined) return { ok: false, reason: `peer id ${id} is neither base58btc nor a CIDv1` }
      const cid = CID.decode(decoder.decode(id))
      if (cid.version !== 1 || cid.code !== LIBP2P_KEY) {
        return { ok: false, reason: `peer id ${id} is a CID but not a CIDv1 of the libp2p-key codec` }
      }
      hash = cid.multihash
      canonical = base58btc.baseEncode(hash.bytes)
    }
    if (hash.code !== IDENTITY && hash.code !== SHA2_256) {
      return { ok: false, reason: `peer id ${id} is a multihash of code 0x${hash.code.toString(16)}, not identity or sha2-256` }
    }
    return { ok: true, id: canonical }
  } catch (e) {
    return { ok: false, reason: `peer id ${id} is not a valid multihash (${e instanceof Error ? e.message : String(e)})` }
  }
}

/**
 * A peer id in its canonical text form: the base58btc multihash (`12D3KooW…`, `Qm…`) as libp2p prints
 * it. A CIDv1 (`bafz…`, `k51…`, libp2p-key codec) gives the base58btc form of its multihash; anything
 * that is not a peer id (not an identity or sha2-256 multihash) gives none.
 *
 * @since 0.1.0
 */
export const normalizePeerId = (id: string): Option.Option<string> => {
  const checked = canonicalPeerId(id)
  return checked.ok ? Option.some(checked.id) : Option.none()
}

/**
 * Schema of a peer id string: decoding checks it ({@link normalizePeerId}) and gives its canonical
 * base58btc form, failing with the reason; encoding writes it as it is.
 *
 * @since 0.1.0
 */
export const PeerId: Schema.Schema<string> = Schema.transformOrFail(
  Schema.String,
  Schema.String.annotations({
    arbitrary: () => (fc) => fc.constantFrom(...ARBITRARY_PEER_IDS)
  }),
  {
    strict: true,
    decode: (s, _, ast) => {
      const checked = canonicalPeerId(s)
      return checked.ok ? ParseResult.succeed(checked.id) : ParseResult.fail(new ParseResult.Type(ast, s, checked.reason))
    },
    encode: ParseResult.succeed
  }
).annotations({ identifier: "PeerId" })

/**
 * The IPv4 /16 group of an IPv6 address that carries an IPv4 address, as Bitcoin addrman's GetGroup
 * does: 6to4 (2002:AABB:CCDD::/48 holds A.B.C.D), Teredo (2001:0::/32, the client's address inverted in
 * the last 32 bits) and NAT64 (64:ff9b::/96, RFC 6052). Such hosts sit in the IPv4 network they embed.
 */
const embeddedIp4Group = (range: string, parts: ReadonlyArray<number>): string | undefined => {
  let word: number
  if (range === "6to4") word = parts[1] ?? 0
  else if (range === "teredo") word = ~(parts[6] ?? 0) & 0xffff
  else if (range === "rfc6052") word = parts[6] ?? 0
  else return undefined
  return `ip4:${word >> 8}.${word & 0xff}`
}

/**
 * The scope of each `ipaddr.js` range (IPv4 and IPv6 names); any other range (multicast, broadcast,
 * documentation, benchmarking, …) is `reserved`. 6to4 and Teredo are public tunnels.
 */
const SCOPE_OF_RANGE: Readonly<Record<string, Scope>> = {
  loopback: "loopback",
  private: "private",
  carrierGradeNat: "private",
  uniqueLocal: "private",
  linkLocal: "link-local",
  unspecified: "unspecified",
  unicast: "public",
  teredo: "public",
  "6to4": "public"
}

const classify = (ip: ipaddr.IPv4 | ipaddr.IPv6): { scope: Scope; netgroup: string } => {
  if (ip.kind() === "ipv6") {
    const v6 = ip as ipaddr.IPv6
    if (v6.isIPv4MappedAddress()) return classify(v6.toIPv4Address())
    const range = v6.range()
    const parts = v6.parts
    const netgroup = embeddedIp4Group(range, parts) ??
      `ip6:${(parts[0] ?? 0).toString(16)}:${(parts[1] ?? 0).toString(16)}`
    return { scope: SCOPE_OF_RANGE[range] ?? "reserved", netgroup }
  }
  const v4 = ip as ipaddr.IPv4
  return { scope: SCOPE_OF_RANGE[v4.range()] ?? "reserved", netgroup: `ip4:${v4.octets[0]}.${v4.octets[1]}` }
}

const fail = (input: string, reason: string) => Either.left(new AddressParseError({ input, reason }))

/**
 * Parses and normalises a multiaddr string (see {@link PeerAddress} for what it knows).
 *
 * Fails with {@link AddressParseError} naming the input and the reason when the string is not a
 * multiaddr (as `@multiformats/multiaddr` reads it), names no host (`ip4`, `ip6` — possibly zoned —,
 * `dns`, `dns4`, `dns6`, `dnsaddr`) as its first component, has a port outside 1–65535 or two ports,
 * names two peer ids without `/p2p-circuit` between them, is relayed without naming its relay or its
 * target, or carries a peer id that is not one (a base58btc identity or sha2-256 multihash, or a
 * CIDv1 of the libp2p-key codec: libp2p peer id spec). Surrounding whitespace is trimmed; inputs
 * over 1024 characters are refused.
 *
 * @since 0.1.0
 */
export const parse = (input: string): Either.Either<PeerAddress, AddressParseError> => {
  const text = input.trim()
  if (text.length === 0) return fail(input, "empty")
  if (text.length > MAX_INPUT_LENGTH) return fail(input, `longer than ${MAX_INPUT_LENGTH} characters`)
  const fast = parseCommon(text)
  return fast === undefined ? parseFull(input, text) : Either.right(fast)
}

// ---------------------------------------------------------------------------------------------------
// Fast path. The multiaddr library costs ~10-20 µs an address (it builds byte arrays and a component
// list); a 30k-peer cache file holds ~30k addresses. The shapes nearly every address has,
// `/ip4|dns|dns4|dns6/<host>/tcp|udp/<port>[/quic-v1|/ws|/wss][/p2p/<base58 id>]`, written in their
// canonical form (no leading zeros, lower-case protocol names), are read by hand below; anything else,
// and anything invalid, goes to the full parser, which stays the arbiter and gives the error. A
// differential test checks both agree on the real peer lists and on generated addresses.
// ---------------------------------------------------------------------------------------------------

/** The scope of an IPv4 address, as `classify` (ipaddr.js ranges) says: checked by the differential test. */
const ip4Scope = (a: number, b: number, c: number): Scope => {
  if (a === 0) return "unspecified"
  if (a === 127) return "loopback"
  if (a === 169 && b === 254) return "link-local"
  if (a === 10 || (a === 172 && (b & 0xf0) === 16) || (a === 192 && b === 168) || (a === 100 && (b & 0xc0) === 64)) {
    return "private"
  }
  if (a >= 224) return "reserved"
  if (a === 192) {
    if ((b === 0 && (c === 0 || c === 2)) || (b === 88 && c === 99) || (b === 175 && c === 48) || (b === 31 && c === 196) || (b === 52 && c === 193)) {
      return "reserved"
    }
  }
  if (a === 198 && ((b & 0xfe) === 18 || (b === 51 && c === 100))) return "reserved"
  if (a === 203 && b === 0 && c === 113) return "reserved"
  return "public"
}

/** A DNS name the fast path takes as it is: letters, digits, `-`, `_`, `.`, not starting with `.`. */
const isPlainDnsName = (s: string): boolean => {
  if (s.length === 0 || s.length > 253 || s.charCodeAt(0) === 46) return false
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    const ok = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 95
    if (!ok) return false
  }
  return true
}

/** A base58btc peer id the fast path accepts (validated as the full path does, memoised). */
const isBase58PeerId = (id: string): boolean => {
  const c = id.charCodeAt(0)
  if (c !== 81 /* Q */ && c !== 49 /* 1 */) return false
  const known = peerIdCache.get(id)
  if (known !== undefined) return known
  const ok = canonicalPeerId(id).ok
  if (peerIdCache.size >= PEER_ID_CACHE_SIZE) peerIdCache.clear()
  peerIdCache.set(id, ok)
  return ok
}
const PEER_ID_CACHE_SIZE = 65_536
const peerIdCache = new Map<string, boolean>()

/** The octet of an IPv4 host between `from` and `to` (no leading zeros), -1 when it is not one. */
const octetAt = (s: string, from: number, to: number): number => {
  const len = to - from
  if (len < 1 || len > 3 || (len > 1 && s.charCodeAt(from) === 48)) return -1
  let n = 0
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48
    if (c < 0 || c > 9) return -1
    n = n * 10 + c
  }
  return n <= 255 ? n : -1
}

/** A port (1–65535, no leading zeros) between `from` and `to`, -1 when it is not one. */
const portAt = (s: string, from: number, to: number): number => {
  const len = to - from
  if (len < 1 || len > 5 || s.charCodeAt(from) === 48) return -1
  let n = 0
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48
    if (c < 0 || c > 9) return -1
    n = n * 10 + c
  }
  return n <= 65535 ? n : -1
}

/** A `PeerAddress` built field by field (what the `Data.Class` constructor does, without the argument object). */
const makeAddress = (
  multiaddr: string,
  peerId: Option.Option<string>,
  hostKind: HostKind,
  host: string,
  port: number,
  transport: string,
  scope: Scope,
  netgroup: string
): PeerAddress => {
  const a = Object.create(PeerAddress.prototype)
  a.multiaddr = multiaddr
  a.peerId = peerId
  a.hostKind = hostKind
  a.host = host
  a.port = Option.some(port)
  a.transport = transport
  a.relayed = false
  a.scope = scope
  a.netgroup = netgroup
  a.key = `${hostKind}/${host}/${port}/${transport}`
  return a
}

/** The common shapes, read by hand; undefined for anything else (then the full parser decides). */
const parseCommon = (text: string): PeerAddress | undefined => {
  if (text.charCodeAt(0) !== 47) return undefined
  const kindEnd = text.indexOf("/", 1)
  if (kindEnd < 0) return undefined
  const hostEnd = text.indexOf("/", kindEnd + 1)
  if (hostEnd < 0) return undefined
  const kind = text.slice(1, kindEnd)
  let hostKind: HostKind
  let host: string
  let scope: Scope
  let netgroup: string
  if (kind === "ip4") {
    const d1 = text.indexOf(".", kindEnd + 1)
    const d2 = d1 < 0 ? -1 : text.indexOf(".", d1 + 1)
    const d3 = d2 < 0 ? -1 : text.indexOf(".", d2 + 1)
    if (d3 < 0 || d3 > hostEnd) return undefined
    const a = octetAt(text, kindEnd + 1, d1)
    const b = octetAt(text, d1 + 1, d2)
    const c = octetAt(text, d2 + 1, d3)
    const d = octetAt(text, d3 + 1, hostEnd)
    if (a < 0 || b < 0 || c < 0 || d < 0) return undefined
    hostKind = "ip4"
    host = text.slice(kindEnd + 1, hostEnd)
    scope = ip4Scope(a, b, c)
    netgroup = `ip4:${a}.${b}`
  } else if (kind === "dns4" || kind === "dns6" || kind === "dns") {
    const name = text.slice(kindEnd + 1, hostEnd)
    if (!isPlainDnsName(name)) return undefined
    hostKind = kind
    host = normalizeDnsName(name)
    scope = dnsScope(host)
    netgroup = `dns:${host}`
  } else {
    return undefined
  }
  const protoEnd = hostEnd + 4
  if (text.charCodeAt(protoEnd) !== 47) return undefined
  const proto = text.slice(hostEnd + 1, protoEnd)
  if (proto !== "tcp" && proto !== "udp") return undefined
  let at = text.indexOf("/", protoEnd + 1)
  const port = portAt(text, protoEnd + 1, at < 0 ? text.length : at)
  if (port < 0) return undefined
  let transport: string = proto
  if (at >= 0) {
    const next = text.indexOf("/", at + 1)
    const name = text.slice(at + 1, next < 0 ? text.length : next)
    if (proto === "udp" ? name === "quic-v1" : name === "ws" || name === "wss") {
      transport = proto === "udp" ? "udp/quic-v1" : name === "ws" ? "tcp/ws" : "tcp/wss"
      at = next
    }
  }
  let peerId: Option.Option<string> = Option.none()
  if (at >= 0) {
    if (!text.startsWith("/p2p/", at)) return undefined
    const id = text.slice(at + 5)
    if (id.indexOf("/") >= 0 || !isBase58PeerId(id)) return undefined
    peerId = Option.some(id)
  }
  return makeAddress(text, peerId, hostKind, host, port, transport, scope, netgroup)
}

/**
 * The full parser (the multiaddr library): every shape, and the error for an invalid input.
 * Exported for the differential test of the fast path.
 *
 * @since 0.1.0
 */
export const parseFull = (input: string, text: string = input.trim()): Either.Either<PeerAddress, AddressParseError> => {
  let components: Array<Component>
  let canonical: string
  try {
    const ma = parseMultiaddr(text)
    components = ma.getComponents()
    canonical = ma.toString()
  } catch (e) {
    return fail(input, e instanceof Error ? e.message : String(e))
  }
  let first = components[0]
  let start = 1
  let zone: string | undefined
  if (first !== undefined && first.name === "ip6zone") {
    // `/ip6zone/<zone>/ip6/<link-local>`: the zone (RFC 4007) qualifies the IPv6 host that follows.
    const next = components[1]
    if (next === undefined || next.name !== "ip6") return fail(input, "/ip6zone must be followed by /ip6")
    zone = first.value
    first = next
    start = 2
  }
  const hostKind = first === undefined ? undefined : HOST_CODES[first.name]
  if (first === undefined || hostKind === undefined || first.value === undefined) {
    if (first !== undefined && first.name === "p2p") {
      return fail(input, "names no host: a peer known only by its peer id (/p2p/…, or a relay as /p2p/…/p2p-circuit) cannot be dialled from a cache")
    }
    return fail(input, `must start with a host (/ip4, /ip6, /dns, /dns4, /dns6 or /dnsaddr), not /${first?.name ?? ""}`)
  }
  let port: number | undefined
  let relayed = false
  let peerId: string | undefined
  let relayPeerId: string | undefined
  const transport: Array<string> = []
  for (let i = start; i < components.length; i++) {
    const c = components[i]!
    switch (c.name) {
      case "tcp":
      case "udp": {
        if (relayed) break
        if (port !== undefined) return fail(input, `names a second port (/${c.name}/${c.value ?? ""}) after ${port}`)
        const n = Number(c.value)
        if (!Number.isInteger(n) || n < 1 || n > 65535) return fail(input, `port ${c.value} is outside 1-65535`)
        port = n
        transport.push(c.name)
        break
      }
      case "p2p": {
        if (peerId !== undefined) return fail(input, `names two peer ids (${peerId} and ${c.value ?? ""}) without /p2p-circuit between them`)
        const value = c.value ?? ""
        const checked = canonicalPeerId(value)
        if (!checked.ok) return fail(input, checked.reason)
        if (checked.id !== value) canonical = canonical.replace(`/p2p/${value}`, `/p2p/${checked.id}`)
        peerId = checked.id
        break
      }
      case "p2p-circuit":
        relayed = true
        relayPeerId = peerId
        peerId = undefined
        break
      default: {
        if (relayed || TRANSPORT_QUALIFIERS.has(c.name)) break
        const previous = transport[transport.length - 1]
        // `/tls/ws` is `/wss` and `/tls/http` is `/https` (multiaddr spec: wss and https are their aliases).
        if (previous === "tls" && (c.name === "ws" || c.name === "http")) {
          transport[transport.length - 1] = c.name === "ws" ? "wss" : "https"
        } else {
          transport.push(c.name)
        }
      }
    }
  }
  if (relayed && peerId === undefined && relayPeerId === undefined) {
    return fail(input, "a relayed address (/p2p-circuit) must name its relay or target peer id")
  }

  let host = first.value
  let keyHost: string
  let scope: Scope
  let netgroup: string
  if (hostKind === "ip4" || hostKind === "ip6") {
    let ip: ipaddr.IPv4 | ipaddr.IPv6
    try {
      ip = ipaddr.parse(host)
    } catch {
      return fail(input, `${host} is not a valid ${hostKind} address`)
    }
    ;({ netgroup, scope } = classify(ip))
    if (hostKind === "ip6") {
      const v6 = ip as ipaddr.IPv6
      host = v6.toString()
      if (zone !== undefined) host = `${host}%${zone}`
      // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 endpoint: one dedupe key for both.
      keyHost = v6.isIPv4MappedAddress() && zone === undefined ? `ip4/${v6.toIPv4Address().toString()}` : `ip6/${host}`
    } else {
      keyHost = `ip4/${host}`
    }
  } else {
    host = normalizeDnsName(host)
    keyHost = `${hostKind}/${host}`
    scope = dnsScope(host)
    netgroup = `dns:${host}`
  }
  const transportName = transport.join("/")
  const portText = port === undefined ? "" : String(port)
  // A relayed address is an endpoint of its target; a /dnsaddr name resolves to many peers (one TXT
  // record each), so both are told apart by their peer id (and a relay behind a /dnsaddr name by its own).
  const key = relayed
    ? `${keyHost}/${portText}/${transportName}/${hostKind === "dnsaddr" ? `p2p/${relayPeerId ?? ""}/` : ""}p2p-circuit/${peerId ?? ""}`
    : hostKind === "dnsaddr"
    ? `${keyHost}//${transportName}/p2p/${peerId ?? ""}`
    : `${keyHost}/${portText}/${transportName}`
  return Either.right(
    new PeerAddress({
      multiaddr: canonical,
      peerId: Option.fromNullable(peerId),
      hostKind,
      host,
      port: Option.fromNullable(port),
      transport: transportName,
      relayed,
      scope,
      netgroup,
      key
    })
  )
}

/** A DNS name as compared: lower-cased (DNS is case-insensitive, RFC 4343), without the root's trailing dot. */
const normalizeDnsName = (name: string): string => {
  const lower = name.toLowerCase()
  return lower.length > 1 && lower.charCodeAt(lower.length - 1) === 46 ? lower.slice(0, -1) : lower
}

/** `localhost` and `*.localhost` are loopback (RFC 6761 §6.3); any other name is public until resolved. */
const dnsScope = (host: string): Scope => host === "localhost" || host.endsWith(".localhost") ? "loopback" : "public"

/**
 * Parses a multiaddr string, throwing {@link AddressParseError} when it is invalid. For literals in
 * tests and examples; use {@link parse} for input.
 *
 * @since 0.1.0
 */
export const unsafeParse = (input: string): PeerAddress => {
  const result = parse(input)
  if (Either.isLeft(result)) throw result.left
  return result.right
}

/**
 * Schema for a peer address encoded as its multiaddr string. Decoding fails with the parse reason.
 *
 * @since 0.1.0
 */
export const FromString: Schema.Schema<PeerAddress, string> = Schema.transformOrFail(
  Schema.String,
  Schema.declare((u): u is PeerAddress => u instanceof PeerAddress, {
    identifier: "PeerAddress",
    arbitrary: () => (fc) => fc.constantFrom(...ARBITRARY_SEEDS).map(unsafeParse)
  }),
  {
    strict: true,
    decode: (s, _, ast) =>
      Either.mapLeft(parse(s), (e) => new ParseResult.Type(ast, s, e.message)),
    encode: (a) => ParseResult.succeed(a.multiaddr)
  }
).annotations({ identifier: "PeerAddressFromString" })

const ARBITRARY_PEER_IDS = [
  "12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx",
  "12D3KooWBBzzGy5hAHUQVh2vBvL25CKwJ7wbmooPcz4amQhzJHJq",
  "QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN"
]

const ARBITRARY_SEEDS = [
  "/ip4/1.2.3.4/tcp/4001",
  "/ip4/1.2.3.4/udp/4001/quic-v1",
  "/ip6/2001:db8::1/tcp/4001",
  "/dns4/example.com/tcp/443/wss"
]

/**
 * The same address naming `peerId` as its peer: `/p2p/<peerId>` appended, or replacing the peer id it
 * names. For a relayed address that is the target (`…/p2p-circuit/p2p/<peerId>`); the relay's own
 * peer id is kept. Throws {@link AddressParseError} when `peerId` is not a peer id (see
 * {@link normalizePeerId}); a CIDv1 peer id is written in its base58btc form.
 *
 * @since 0.1.0
 */
export const withPeerId: {
  (peerId: string): (self: PeerAddress) => PeerAddress
  (self: PeerAddress, peerId: string): PeerAddress
} = dual(2, (self: PeerAddress, peerId: string): PeerAddress => {
  if (Option.contains(self.peerId, peerId)) return self
  // The peer id, when there is one, is always the last `/p2p/` component of the canonical form.
  const bare = Option.isSome(self.peerId) ? self.multiaddr.slice(0, self.multiaddr.lastIndexOf("/p2p/")) : self.multiaddr
  return unsafeParse(`${bare}/p2p/${peerId}`)
})

/**
 * Which addresses a node may dial. Relayed addresses are never dialled directly; unspecified and
 * reserved hosts never; loopback, private and link-local hosts only when allowed (off by default,
 * on for local demos and tests).
 *
 * @since 0.1.0
 */
export interface DialPolicy {
  /** Dial loopback hosts (127.0.0.0/8, ::1, localhost). Default `false`. */
  readonly allowLoopback?: boolean
  /** Dial private and link-local hosts (RFC 1918, CGNAT, fc00::/7, fe80::/10). Default `false`. */
  readonly allowPrivate?: boolean
}

/**
 * Whether the address may be picked for a dial under the policy (see {@link DialPolicy}). An address
 * that names no port (a bare `/ip4/1.2.3.4`) names nothing to dial; `/dnsaddr` names are dialable
 * (the dialer resolves their TXT records).
 *
 * @since 0.1.0
 */
export const isDialable: {
  (policy?: DialPolicy): (self: PeerAddress) => boolean
  (self: PeerAddress, policy?: DialPolicy): boolean
} = dual(
  (args) => args[0] instanceof PeerAddress,
  (self: PeerAddress, policy: DialPolicy = {}): boolean =>
    isDialableWith(self, policy.allowLoopback === true, policy.allowPrivate === true)
)

/**
 * {@link isDialable} for hot loops: data-first, the policy as two flags, no dispatch. The one place the
 * rule is written.
 *
 * @since 0.1.0
 */
export const isDialableWith = (self: PeerAddress, allowLoopback: boolean, allowPrivate: boolean): boolean => {
  if (self.relayed || (self.port._tag === "None" && self.hostKind !== "dnsaddr")) return false
  switch (self.scope) {
    case "public":
      return true
    case "loopback":
      return allowLoopback
    case "private":
    case "link-local":
      return allowPrivate
    default:
      return false
  }
}

/**
 * The TCP endpoint of an address, for dialers that open a plain TCP socket: present when the address
 * is `/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>` (possibly followed by `/p2p/…` only) and not relayed.
 *
 * @since 0.1.0
 */
export const tcpEndpoint = (self: PeerAddress): Option.Option<{ readonly host: string; readonly port: number }> =>
  self.transport === "tcp" && !self.relayed && self.hostKind !== "dnsaddr" && Option.isSome(self.port)
    ? Option.some({ host: self.host, port: self.port.value })
    : Option.none()
