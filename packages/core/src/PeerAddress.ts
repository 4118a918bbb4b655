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
 * - `multiaddr`: the canonical string form (as printed by `@multiformats/multiaddr`).
 * - `peerId`: the peer id of the peer this address reaches (the last `/p2p/…`), if any.
 * - `host`, `hostKind`: the host as written (IPv6 in its normalised short form, DNS names lower-cased).
 * - `port`: the TCP or UDP port; none for `/dnsaddr` and bare hosts.
 * - `transport`: the protocol stack above the host, without values, e.g. `tcp`, `tcp/ws`, `tcp/wss`,
 *   `udp/quic-v1`, `udp/quic-v1/webtransport`, `udp/webrtc-direct`; `""` when none is named
 *   (a `/dnsaddr` address). `/tls/ws` is written `wss`, which it means.
 * - `relayed`: the address goes through a relay (`/p2p-circuit`); `host` and `port` are the relay's.
 * - `netgroup`: the group used to spread connections (Bitcoin addrman's GetGroup): IPv4 /16
 *   (`ip4:1.2`), IPv6 /32 (`ip6:2001:db8`), the DNS name (`dns:example.com`); IPv4-mapped IPv6
 *   addresses group as IPv4; relayed addresses group with their relay.
 * - `key`: the dedupe key, one entry per host + port + transport. The same IP on two ports, or the
 *   same ip+port over tcp and over udp/quic-v1, are two keys. Relayed addresses add their target's
 *   peer id, and so do `/dnsaddr` names, which resolve to a different peer per TXT record
 *   (`/dnsaddr/bootstrap.libp2p.io` stands for four peers in kubo's list).
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

/**
 * Checks a peer id string: a base58btc multihash (`Qm…`, `12D3KooW…`, `16Uiu2…`) or a CIDv1 with the
 * libp2p-key codec (`bafz…`, `k51…`), as in the libp2p peer id spec. Returns the reason when invalid.
 */
const checkPeerId = (id: string): string | undefined => {
  try {
    if (id.startsWith("Q") || id.startsWith("1")) {
      Digest.decode(base58btc.baseDecode(id))
      return undefined
    }
    const decoder = id.startsWith("b") ? base32 : id.startsWith("k") ? base36 : undefined
    if (decoder === undefined) return `peer id ${id} is neither base58btc nor a CIDv1`
    const cid = CID.decode(decoder.decode(id))
    if (cid.code !== 0x72) return `peer id ${id} is a CID but not of the libp2p-key codec`
    return undefined
  } catch (e) {
    return `peer id ${id} is not a valid multihash (${e instanceof Error ? e.message : String(e)})`
  }
}

const classify = (ip: ipaddr.IPv4 | ipaddr.IPv6): { scope: Scope; netgroup: string } => {
  if (ip.kind() === "ipv6") {
    const v6 = ip as ipaddr.IPv6
    if (v6.isIPv4MappedAddress()) return classify(v6.toIPv4Address())
    const range = v6.range()
    const parts = v6.parts
    const netgroup = `ip6:${(parts[0] ?? 0).toString(16)}:${(parts[1] ?? 0).toString(16)}`
    switch (range) {
      case "loopback":
        return { scope: "loopback", netgroup }
      case "uniqueLocal":
        return { scope: "private", netgroup }
      case "linkLocal":
        return { scope: "link-local", netgroup }
      case "unspecified":
        return { scope: "unspecified", netgroup }
      case "unicast":
      case "teredo":
      case "6to4":
        return { scope: "public", netgroup }
      default:
        return { scope: "reserved", netgroup }
    }
  }
  const v4 = ip as ipaddr.IPv4
  const netgroup = `ip4:${v4.octets[0]}.${v4.octets[1]}`
  switch (v4.range()) {
    case "loopback":
      return { scope: "loopback", netgroup }
    case "private":
    case "carrierGradeNat":
      return { scope: "private", netgroup }
    case "linkLocal":
      return { scope: "link-local", netgroup }
    case "unspecified":
      return { scope: "unspecified", netgroup }
    case "unicast":
      return { scope: "public", netgroup }
    default:
      return { scope: "reserved", netgroup }
  }
}

const fail = (input: string, reason: string) => Either.left(new AddressParseError({ input, reason }))

/**
 * Parses and normalises a multiaddr string.
 *
 * Fails with {@link AddressParseError} naming the input when the string is not a multiaddr, names no
 * host (`ip4`, `ip6`, `dns`, `dns4`, `dns6`, `dnsaddr`) as its first component, has a port outside
 * 1–65535, or carries a peer id that is not a valid multihash (base58btc or CIDv1 libp2p-key).
 * Surrounding whitespace is trimmed.
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
  const ok = checkPeerId(id) === undefined
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
    host = name.toLowerCase()
    scope = host === "localhost" || host.endsWith(".localhost") ? "loopback" : "public"
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
  const first = components[0]
  const hostKind = first === undefined ? undefined : HOST_CODES[first.name]
  if (first === undefined || hostKind === undefined || first.value === undefined) {
    return fail(input, `must start with a host (/ip4, /ip6, /dns, /dns4, /dns6 or /dnsaddr), not /${first?.name ?? ""}`)
  }
  let port: number | undefined
  let relayed = false
  let peerId: string | undefined
  let relayPeerId: string | undefined
  const transport: Array<string> = []
  for (let i = 1; i < components.length; i++) {
    const c = components[i]!
    switch (c.name) {
      case "tcp":
      case "udp": {
        if (relayed) break
        const n = Number(c.value)
        if (!Number.isInteger(n) || n < 1 || n > 65535) return fail(input, `port ${c.value} is outside 1-65535`)
        port = n
        transport.push(c.name)
        break
      }
      case "p2p": {
        const reason = checkPeerId(c.value ?? "")
        if (reason !== undefined) return fail(input, reason)
        peerId = c.value
        break
      }
      case "p2p-circuit":
        relayed = true
        relayPeerId = peerId
        peerId = undefined
        break
      default:
        if (relayed || TRANSPORT_QUALIFIERS.has(c.name)) break
        if (c.name === "ws" && transport[transport.length - 1] === "tls") {
          transport[transport.length - 1] = "wss"
        } else {
          transport.push(c.name)
        }
    }
  }
  if (relayed && peerId === undefined && relayPeerId === undefined) {
    return fail(input, "a relayed address (/p2p-circuit) must name its relay or target peer id")
  }

  let host = first.value
  let scope: Scope
  let netgroup: string
  if (hostKind === "ip4" || hostKind === "ip6") {
    let ip: ipaddr.IPv4 | ipaddr.IPv6
    try {
      ip = ipaddr.parse(host)
    } catch {
      return fail(input, `${host} is not a valid ${hostKind} address`)
    }
    if (hostKind === "ip6") host = ip.toString()
    ;({ netgroup, scope } = classify(ip))
  } else {
    host = host.toLowerCase()
    scope = host === "localhost" || host.endsWith(".localhost") ? "loopback" : "public"
    netgroup = `dns:${host}`
  }
  const transportName = transport.join("/")
  const portText = port === undefined ? "" : String(port)
  // A relayed address is an endpoint of its target; a /dnsaddr name resolves to many peers (one TXT
  // record each), so both are told apart by their peer id.
  const key = relayed
    ? `${hostKind}/${host}/${portText}/${transportName}/p2p-circuit/${peerId ?? ""}`
    : hostKind === "dnsaddr"
    ? `${hostKind}/${host}//${transportName}/p2p/${peerId ?? ""}`
    : `${hostKind}/${host}/${portText}/${transportName}`
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

/**
 * Parses a multiaddr string, throwing {@link AddressParseError} when it is invalid. For literals in
 * tests and examples; use {@link parse} for input.
 *
 * @since 0.1.0
 */
export const unsafeParse = (input: string): PeerAddress => Either.getOrThrow(parse(input))

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

const ARBITRARY_SEEDS = [
  "/ip4/1.2.3.4/tcp/4001",
  "/ip4/1.2.3.4/udp/4001/quic-v1",
  "/ip6/2001:db8::1/tcp/4001",
  "/dns4/example.com/tcp/443/wss"
]

/**
 * The same address with `/p2p/<peerId>` appended (or replaced), so it names its peer.
 * The address must not be relayed (a relayed address names its target already).
 *
 * @since 0.1.0
 */
export const withPeerId: {
  (peerId: string): (self: PeerAddress) => PeerAddress
  (self: PeerAddress, peerId: string): PeerAddress
} = dual(2, (self: PeerAddress, peerId: string): PeerAddress => {
  if (Option.contains(self.peerId, peerId)) return self
  const bare = Option.isSome(self.peerId) && !self.relayed
    ? self.multiaddr.slice(0, self.multiaddr.lastIndexOf("/p2p/"))
    : self.multiaddr
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
 * Whether the address may be picked for a dial under the policy (see {@link DialPolicy}).
 *
 * @since 0.1.0
 */
export const isDialable: {
  (policy?: DialPolicy): (self: PeerAddress) => boolean
  (self: PeerAddress, policy?: DialPolicy): boolean
} = dual(
  (args) => args[0] instanceof PeerAddress,
  (self: PeerAddress, policy: DialPolicy = {}): boolean => {
    if (self.relayed) return false
    switch (self.scope) {
      case "public":
        return true
      case "loopback":
        return policy.allowLoopback === true
      case "private":
      case "link-local":
        return policy.allowPrivate === true
      default:
        return false
    }
  }
)

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
