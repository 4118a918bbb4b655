/**
 * The full parser's reading of a multiaddr, after `@multiformats/multiaddr` has split it into
 * components: the host (IPv4, zoned IPv6, DNS), the port, transport stack and peer ids that follow,
 * the host's scope and netgroup (host classification by `ipaddr.js`) and the dedupe key. Failures are
 * reasons; `PeerAddress.parseFull` turns them into an `AddressParseError` naming the input.
 */
import type { Component } from "@multiformats/multiaddr"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import ipaddr from "ipaddr.js"
import type { HostKind, PeerAddress, Scope } from "../PeerAddress.js"
import { dnsScope, normalizeDnsName } from "./multiaddrFast.js"
import { canonicalPeerId } from "./peerId.js"

/** What the `PeerAddress` constructor takes. */
type PeerAddressFields = ConstructorParameters<typeof PeerAddress>[0]

const fail = (reason: string) => Either.left(reason)

const HOST_CODES: Readonly<Record<string, HostKind>> = {
  ip4: "ip4",
  ip6: "ip6",
  dns: "dns",
  dns4: "dns4",
  dns6: "dns6",
  dnsaddr: "dnsaddr"
}

/** Components that qualify a transport but name none themselves: dropped from `transport`. */
const TRANSPORT_QUALIFIERS: ReadonlySet<string> = new Set(["certhash", "sni", "ipcidr", "http-path"])

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

/**
 * The fields of a `PeerAddress` from the components the multiaddr library read and its canonical
 * string, or the reason they are no usable peer address.
 */
export const readComponents = (
  components: ReadonlyArray<Component>,
  canonical: string
): Either.Either<PeerAddressFields, string> => {
  const head = readHost(components)
  if (Either.isLeft(head)) return Either.left(head.left)
  const path = readPath(components, head.right.start, canonical)
  if (Either.isLeft(path)) return Either.left(path.left)
  const where = placeHost(head.right)
  if (Either.isLeft(where)) return Either.left(where.left)
  const { peerId, port, relayPeerId, relayed } = path.right
  const { host, hostKind, keyHost, netgroup, scope } = where.right
  const transportName = path.right.transport.join("/")
  return Either.right({
    multiaddr: path.right.canonical,
    peerId: Option.fromNullable(peerId),
    hostKind,
    host,
    port: Option.fromNullable(port),
    transport: transportName,
    relayed,
    scope,
    netgroup,
    key: dedupeKey(keyHost, hostKind, port, transportName, relayed, peerId, relayPeerId)
  })
}

/** The host component of a parsed multiaddr: its kind, its raw value, its IPv6 zone, and where the rest starts. */
interface HostPart {
  readonly hostKind: HostKind
  readonly value: string
  readonly zone: string | undefined
  readonly start: number
}

/** Reads the host a multiaddr starts with (`/ip6zone/<zone>/ip6/…` as a zoned IPv6 host). */
const readHost = (components: ReadonlyArray<Component>): Either.Either<HostPart, string> => {
  let first = components[0]
  let start = 1
  let zone: string | undefined
  if (first !== undefined && first.name === "ip6zone") {
    // `/ip6zone/<zone>/ip6/<link-local>`: the zone (RFC 4007) qualifies the IPv6 host that follows.
    const next = components[1]
    if (next === undefined || next.name !== "ip6") return fail("/ip6zone must be followed by /ip6")
    zone = first.value
    first = next
    start = 2
  }
  const hostKind = first === undefined ? undefined : HOST_CODES[first.name]
  if (first === undefined || hostKind === undefined || first.value === undefined) {
    if (first !== undefined && first.name === "p2p") {
      return fail("names no host: a peer known only by its peer id (/p2p/…, or a relay as /p2p/…/p2p-circuit) cannot be dialled from a cache")
    }
    return fail(`must start with a host (/ip4, /ip6, /dns, /dns4, /dns6 or /dnsaddr), not /${first?.name ?? ""}`)
  }
  return Either.right({ hostKind, value: first.value, zone, start })
}

/**
 * What the components after the host say: the port, the transport stack, whether the address is
 * relayed, the peer id it reaches (and the relay's), and the canonical form with every peer id in
 * base58btc.
 */
interface PathPart {
  readonly port: number | undefined
  readonly relayed: boolean
  readonly peerId: string | undefined
  readonly relayPeerId: string | undefined
  readonly transport: Array<string>
  readonly canonical: string
}

/** Reads the components from `start` on (see {@link PathPart}). */
const readPath = (
  components: ReadonlyArray<Component>,
  start: number,
  canonicalText: string
): Either.Either<PathPart, string> => {
  let canonical = canonicalText
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
        if (port !== undefined) return fail(`names a second port (/${c.name}/${c.value ?? ""}) after ${port}`)
        const n = Number(c.value)
        if (!Number.isInteger(n) || n < 1 || n > 65535) return fail(`port ${c.value} is outside 1-65535`)
        port = n
        transport.push(c.name)
        break
      }
      case "p2p": {
        if (peerId !== undefined) return fail(`names two peer ids (${peerId} and ${c.value ?? ""}) without /p2p-circuit between them`)
        const value = c.value ?? ""
        const checked = canonicalPeerId(value)
        if (!checked.ok) return fail(checked.reason)
        if (checked.id !== value) canonical = canonical.replace(`/p2p/${value}`, `/p2p/${checked.id}`)
        peerId = checked.id
        break
      }
      case "p2p-circuit":
        relayed = true
        relayPeerId = peerId
        peerId = undefined
        break
      default:
        if (!relayed && !TRANSPORT_QUALIFIERS.has(c.name)) pushTransport(transport, c.name)
    }
  }
  if (relayed && peerId === undefined && relayPeerId === undefined) {
    return fail("a relayed address (/p2p-circuit) must name its relay or target peer id")
  }
  return Either.right({ port, relayed, peerId, relayPeerId, transport, canonical })
}

/** Appends a protocol to the transport stack: `/tls/ws` is `/wss` and `/tls/http` is `/https` (multiaddr spec: wss and https are their aliases). */
const pushTransport = (transport: Array<string>, name: string): void => {
  const previous = transport[transport.length - 1]
  if (previous === "tls" && (name === "ws" || name === "http")) {
    transport[transport.length - 1] = name === "ws" ? "wss" : "https"
  } else {
    transport.push(name)
  }
}

/** The host normalised, with its part of the dedupe key, its scope and its netgroup. */
interface HostPlace {
  readonly hostKind: HostKind
  readonly host: string
  readonly keyHost: string
  readonly scope: Scope
  readonly netgroup: string
}

/** Normalises the host and places it (see {@link HostPlace}); an IP literal that is not one fails. */
const placeHost = (part: HostPart): Either.Either<HostPlace, string> => {
  const { hostKind, zone } = part
  let host = part.value
  if (hostKind !== "ip4" && hostKind !== "ip6") {
    host = normalizeDnsName(host)
    return Either.right({ hostKind, host, keyHost: `${hostKind}/${host}`, scope: dnsScope(host), netgroup: `dns:${host}` })
  }
  let ip: ipaddr.IPv4 | ipaddr.IPv6
  try {
    ip = ipaddr.parse(host)
  } catch {
    return fail(`${host} is not a valid ${hostKind} address`)
  }
  const { netgroup, scope } = classify(ip)
  if (hostKind === "ip4") return Either.right({ hostKind, host, keyHost: `ip4/${host}`, scope, netgroup })
  const v6 = ip as ipaddr.IPv6
  host = v6.toString()
  if (zone !== undefined) host = `${host}%${zone}`
  // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 endpoint: one dedupe key for both.
  const keyHost = v6.isIPv4MappedAddress() && zone === undefined ? `ip4/${v6.toIPv4Address().toString()}` : `ip6/${host}`
  return Either.right({ hostKind, host, keyHost, scope, netgroup })
}

/**
 * The dedupe key (see {@link PeerAddress}). A relayed address is an endpoint of its target; a
 * /dnsaddr name resolves to many peers (one TXT record each), so both are told apart by their peer id
 * (and a relay behind a /dnsaddr name by its own).
 */
const dedupeKey = (
  keyHost: string,
  hostKind: HostKind,
  port: number | undefined,
  transportName: string,
  relayed: boolean,
  peerId: string | undefined,
  relayPeerId: string | undefined
): string => {
  const portText = port === undefined ? "" : String(port)
  return relayed
    ? `${keyHost}/${portText}/${transportName}/${hostKind === "dnsaddr" ? `p2p/${relayPeerId ?? ""}/` : ""}p2p-circuit/${peerId ?? ""}`
    : hostKind === "dnsaddr"
    ? `${keyHost}//${transportName}/p2p/${peerId ?? ""}`
    : `${keyHost}/${portText}/${transportName}`
}
