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
