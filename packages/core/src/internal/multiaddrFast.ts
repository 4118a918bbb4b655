/**
 * The fast path of `PeerAddress.parse`. The multiaddr library costs ~10-20 µs an address (it builds
 * byte arrays and a component list); a 30k-peer cache file holds ~30k addresses. The shapes nearly every address has,
 * `/ip4|dns|dns4|dns6/<host>/tcp|udp/<port>[/quic-v1|/ws|/wss][/p2p/<base58 id>]`, written in their
 * canonical form (no leading zeros, lower-case protocol names), are read by hand below; anything else,
 * and anything invalid, goes to the full parser, which stays the arbiter and gives the error. A
 * differential test checks both agree on the real peer lists and on generated addresses.
 */
import * as Option from "effect/Option"
import type { HostKind, PeerAddress, Scope } from "../PeerAddress.js"
import { some } from "./optionSome.js"
import { canonicalPeerId } from "./peerId.js"
import { isUsualBase58PeerId } from "./peerIdFast.js"

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

/**
 * A base58btc peer id the fast path accepts, validated as the full path does: the usual shapes by
 * `peerIdFast`, any other by `canonicalPeerId`. `memo` (id → valid), when the caller has one, saves
 * the ~10 µs check of such an id it has seen (the addresses of one peer name the same id); the
 * caller owns it and bounds it.
 */
const isBase58PeerId = (id: string, memo: Map<string, boolean> | undefined): boolean => {
  const c = id.charCodeAt(0)
  if (c !== 81 /* Q */ && c !== 49 /* 1 */) return false
  if (isUsualBase58PeerId(id)) return true
  if (memo === undefined) return canonicalPeerId(id).ok
  let ok = memo.get(id)
  if (ok === undefined) {
    ok = canonicalPeerId(id).ok
    memo.set(id, ok)
  }
  return ok
}

/** A decimal of 1 to `digits` digits between `from` and `to`, without leading zeros, at most `max`; -1 otherwise. */
const decimalAt = (s: string, from: number, to: number, digits: number, max: number): number => {
  const len = to - from
  if (len < 1 || len > digits || (len > 1 && s.charCodeAt(from) === 48)) return -1
  let n = 0
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48
    if (c < 0 || c > 9) return -1
    n = n * 10 + c
  }
  return n <= max ? n : -1
}

/** The octet of an IPv4 host between `from` and `to` (no leading zeros), -1 when it is not one. */
const octetAt = (s: string, from: number, to: number): number => decimalAt(s, from, to, 3, 255)

/** A port (1–65535, no leading zeros) between `from` and `to`, -1 when it is not one. */
const portAt = (s: string, from: number, to: number): number => {
  const n = decimalAt(s, from, to, 5, 65535)
  return n >= 1 ? n : -1
}

/** The protocol names the fast path reads, as literals (a slice of the text per address is garbage). */
const PROTOCOLS = ["ip4", "dns", "dns4", "dns6", "ws", "wss", "quic-v1"] as const

/**
 * The protocol name between `from` and `to` when it is one the fast path reads ({@link PROTOCOLS}),
 * as its literal; undefined for any other text.
 */
const protocolAt = (s: string, from: number, to: number): (typeof PROTOCOLS)[number] | undefined => {
  const length = to - from
  for (let i = 0; i < PROTOCOLS.length; i++) {
    const name = PROTOCOLS[i]!
    if (name.length === length && s.startsWith(name, from)) return name
  }
  return undefined
}

/**
 * A constructor of `PeerAddress` values (of the class whose prototype is `proto`), field by field in
 * the field order of the `Data.Class` constructor (so structural equality and `Object.keys` see the
 * same value), without its argument object. A constructor function rather than
 * `Object.create(proto)`: V8 sizes the objects it makes to their ten fields (no out-of-object property
 * store), and a 30k-peer load makes 30k of them. The dedupe key is joined into one flat string rather
 * than a tree of concatenations, which hashing the key would flatten into a second copy anyway.
 */
export const addressMaker = (proto: object) => {
  function Make(
    this: Record<string, unknown>,
    multiaddr: string,
    peerId: Option.Option<string>,
    hostKind: HostKind,
    host: string,
    port: number,
    transport: string,
    scope: Scope,
    netgroup: string
  ) {
    this.multiaddr = multiaddr
    this.peerId = peerId
    this.hostKind = hostKind
    this.host = host
    this.port = some(port)
    this.transport = transport
    this.relayed = false
    this.scope = scope
    this.netgroup = netgroup
    this.key = [hostKind, host, port, transport].join("/")
  }
  Make.prototype = proto
  return Make as unknown as new(...args: Parameters<typeof Make>) => PeerAddress
}

/** What {@link addressMaker} gives. */
export type AddressMaker = ReturnType<typeof addressMaker>

/**
 * The common shapes, read by hand; undefined for anything else (then the full parser decides).
 * `peerIds`: the caller's memo of base58 peer ids already checked, if it keeps one.
 */
export const parseCommon = (text: string, Make: AddressMaker, peerIds?: Map<string, boolean>): PeerAddress | undefined => {
  if (text.charCodeAt(0) !== 47) return undefined
  const kindEnd = text.indexOf("/", 1)
  if (kindEnd < 0) return undefined
  const hostEnd = text.indexOf("/", kindEnd + 1)
  if (hostEnd < 0) return undefined
  const kind = protocolAt(text, 1, kindEnd)
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
  // The protocol as the literal, not the slice: every address of the table holds its transport.
  const proto = text.startsWith("tcp", hostEnd + 1) ? "tcp" : text.startsWith("udp", hostEnd + 1) ? "udp" : undefined
  if (proto === undefined) return undefined
  let at = text.indexOf("/", protoEnd + 1)
  const port = portAt(text, protoEnd + 1, at < 0 ? text.length : at)
  if (port < 0) return undefined
  let transport: string = proto
  if (at >= 0) {
    const next = text.indexOf("/", at + 1)
    const name = protocolAt(text, at + 1, next < 0 ? text.length : next)
    if (proto === "udp" ? name === "quic-v1" : name === "ws" || name === "wss") {
      transport = proto === "udp" ? "udp/quic-v1" : name === "ws" ? "tcp/ws" : "tcp/wss"
      at = next
    }
  }
  let peerId: Option.Option<string> = Option.none()
  if (at >= 0) {
    if (!text.startsWith("/p2p/", at)) return undefined
    const id = text.slice(at + 5)
    if (id.indexOf("/") >= 0 || !isBase58PeerId(id, peerIds)) return undefined
    peerId = some(id)
  }
  return new Make(text, peerId, hostKind, host, port, transport, scope, netgroup)
}

/** A DNS name as compared: lower-cased (DNS is case-insensitive, RFC 4343), without the root's trailing dot. */
export const normalizeDnsName = (name: string): string => {
  const lower = name.toLowerCase()
  return lower.length > 1 && lower.charCodeAt(lower.length - 1) === 46 ? lower.slice(0, -1) : lower
}

/** `localhost` and `*.localhost` are loopback (RFC 6761 §6.3); any other name is public until resolved. */
export const dnsScope = (host: string): Scope => host === "localhost" || host.endsWith(".localhost") ? "loopback" : "public"
