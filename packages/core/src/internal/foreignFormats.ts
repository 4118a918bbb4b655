/**
 * The foreign formats' entry schemas and per-format decoders behind `ForeignCache` (see its module docs
 * for the upstream definitions). Pure.
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { BadEntry, Entry } from "../ForeignCache.js"
import * as JsonInput from "../JsonInput.js"
import * as PeerAddress from "../PeerAddress.js"

/** A JSON object (not null, not an array). */
export const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

// ---------------------------------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------------------------------

/**
 * Numbers at or above this are read as epoch milliseconds rather than seconds: 10¹¹ s is the year
 * 5138, while 10¹¹ ms is 1973, so a file that wrote epoch milliseconds into a seconds field still decodes.
 */
const MS_THRESHOLD = 1e11

const SystemTime = Schema.Struct({
  secs_since_epoch: Schema.NonNegativeInt,
  nanos_since_epoch: Schema.Int.pipe(Schema.between(0, 999_999_999))
})

/** `ForeignCache.EpochMs` (see its docs). */
export const EpochMs: Schema.Schema<number, unknown> = Schema.transformOrFail(
  Schema.Unknown,
  Schema.Number,
  {
    strict: true,
    decode: (input, _, ast) => {
      if (typeof input === "number") {
        return Number.isFinite(input) && input >= 0
          ? ParseResult.succeed(input >= MS_THRESHOLD ? Math.floor(input) : Math.floor(input * 1000))
          : ParseResult.fail(new ParseResult.Type(ast, input, "a timestamp must be a non-negative finite number"))
      }
      if (typeof input === "string") {
        const ms = Date.parse(input)
        return Number.isNaN(ms) || ms < 0
          ? ParseResult.fail(new ParseResult.Type(ast, input, `${JsonInput.preview(input)} is not an ISO 8601 date`))
          : ParseResult.succeed(ms)
      }
      return Either.match(Schema.decodeUnknownEither(SystemTime)(input), {
        onLeft: () =>
          ParseResult.fail(
            new ParseResult.Type(
              ast,
              input,
              "a timestamp must be {secs_since_epoch, nanos_since_epoch}, epoch seconds or an ISO 8601 string"
            )
          ),
        onRight: (t) => ParseResult.succeed(t.secs_since_epoch * 1000 + Math.floor(t.nanos_since_epoch / 1e6))
      })
    },
    encode: (ms) =>
      ParseResult.succeed({
        secs_since_epoch: Math.floor(ms / 1000),
        nanos_since_epoch: Math.floor(ms % 1000) * 1_000_000
      })
  }
).annotations({ identifier: "EpochMs" })

// ---------------------------------------------------------------------------------------------------
// Entry schemas, one per format
// ---------------------------------------------------------------------------------------------------

const Count = Schema.optionalWith(Schema.NonNegativeInt, { default: () => 0 })
const NonEmpty = Schema.String.pipe(Schema.minLength(1))

/** The store issue's Safe Network peer: a socket address and counters. */
const SafeNetworkPeer = Schema.Struct({
  ip: NonEmpty,
  port: Schema.Int.pipe(Schema.between(0, 65535)),
  last_seen: Schema.optional(EpochMs),
  success_count: Count,
  failure_count: Count
})

/**
 * safe_network `bootstrap_cache` `BootstrapPeer` (`{ addr, success_count, failure_count, last_seen }`;
 * the earlier `BootstrapCache` had `last_success`/`last_failure` instead of `last_seen`, read as the
 * last time seen).
 */
const SafeNetworkAddrPeer = Schema.Struct({
  addr: NonEmpty,
  success_count: Count,
  failure_count: Count,
  last_seen: Schema.optional(EpochMs),
  last_success: Schema.optional(Schema.NullOr(EpochMs))
})

/** ant-bootstrap v0 `BootstrapAddr`. */
const AutonomiV0Addr = Schema.Struct({
  addr: NonEmpty,
  success_count: Count,
  failure_count: Count,
  last_seen: Schema.optional(EpochMs)
})

/** ant-bootstrap v1 `(PeerId, VecDeque<Multiaddr>)`. */
const AutonomiV1Peer = Schema.Tuple(NonEmpty, Schema.Array(Schema.Unknown))

/** chiral `PeerCacheEntry`. Only `peer_id` and `addresses` are required; the rest default. */
const ChiralPeer = Schema.Struct({
  peer_id: NonEmpty,
  addresses: Schema.Array(Schema.Unknown),
  last_seen: Schema.optional(EpochMs),
  successful_transfers: Count,
  failed_transfers: Count,
  average_latency_ms: Schema.optional(Schema.NonNegative),
  supports_relay: Schema.optional(Schema.Boolean),
  is_bootstrap: Schema.optional(Schema.Boolean)
})

/** The document-level fields every format may have. */
export const Header = Schema.Struct({
  last_updated: Schema.optional(EpochMs),
  network_version: Schema.optional(Schema.String)
})

// ---------------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------------

export const reasonOf = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((issue) => (issue.path.length === 0 ? issue.message : `${issue.path.join(".")}: ${issue.message}`))
    .join("; ")

const key = (k: string): string => `[${JSON.stringify(k)}]`

const decodePeerId = Schema.decodeUnknownEither(PeerAddress.PeerId)

/**
 * A peer's id checked (surrounding blanks ignored) and in its canonical base58btc form; when it is no
 * peer id, the peer is reported at `path` with the reason and `undefined` returned.
 */
const checkedPeerId = (acc: Acc, id: string, path: string, index: number): string | undefined =>
  Either.match(decodePeerId(id.trim()), {
    onLeft: (e) => {
      acc.bad.push({ path, index, reason: reasonOf(e) })
      return undefined
    },
    onRight: (canonical) => canonical
  })

export interface Acc {
  readonly entries: Array<Entry>
  readonly bad: Array<BadEntry>
}

const socketMultiaddr = (ip: string, port: number): string =>
  `/${ip.includes(":") ? "ip6" : "ip4"}/${ip}/udp/${port}/quic-v1`

const badAddress = (a: unknown): string => `an address must be a non-empty string, got ${JsonInput.preview(a)}`

const addressList = (
  acc: Acc,
  addresses: ReadonlyArray<unknown>,
  path: string,
  index: number,
  make: (multiaddr: string, path: string) => Entry
): void => {
  addresses.forEach((a, j) => {
    if (typeof a === "string" && a.trim().length > 0) acc.entries.push(make(a.trim(), `${path}[${j}]`))
    else acc.bad.push({ path: `${path}[${j}]`, index, reason: badAddress(a) })
  })
}

/** One Safe Network peer in any of its shapes: a multiaddr string, `{ addr, … }` or `{ ip, port, … }`. */
const safeNetworkPeer = (acc: Acc, p: unknown, path: string, index: number): void => {
  if (typeof p === "string") {
    if (p.trim().length > 0) acc.entries.push({ multiaddr: p.trim(), path, index, successes: 0, failures: 0 })
    else acc.bad.push({ path, index, reason: badAddress(p) })
    return
  }
  if (isRecord(p) && "addr" in p) {
    return Either.match(Schema.decodeUnknownEither(SafeNetworkAddrPeer)(p), {
      onLeft: (e) => void acc.bad.push({ path, index, reason: reasonOf(e) }),
      onRight: (peer) => {
        const lastSeen = peer.last_seen ?? peer.last_success ?? undefined
        acc.entries.push({
          multiaddr: peer.addr.trim(),
          path: `${path}.addr`,
          index,
          successes: peer.success_count,
          failures: peer.failure_count,
          ...(lastSeen === undefined ? {} : { lastSeen })
        })
      }
    })
  }
  Either.match(Schema.decodeUnknownEither(SafeNetworkPeer)(p), {
    onLeft: (e) => acc.bad.push({ path, index, reason: reasonOf(e) }),
    onRight: (peer) =>
      acc.entries.push({
        // safe_network `parse_peer_addr`: "Always use UDP and QUIC-v1 for socket addresses"
        multiaddr: socketMultiaddr(peer.ip, peer.port),
        path,
        index,
        successes: peer.success_count,
        failures: peer.failure_count,
        ...(peer.last_seen === undefined ? {} : { lastSeen: peer.last_seen })
      })
  })
}

export const decodeSafeNetwork = (peers: ReadonlyArray<unknown> | Record<string, unknown>, acc: Acc): void =>
  Array.isArray(peers)
    ? peers.forEach((p, i) => safeNetworkPeer(acc, p, `peers[${i}]`, i))
    : Object.entries(peers).forEach(([k, p], i) => safeNetworkPeer(acc, p, `peers${key(k)}`, i))

export const decodeAutonomiV0 = (peers: Record<string, unknown>, acc: Acc): void =>
  Object.entries(peers).forEach(([rawPeerId, addrs], i) => {
    const path = `peers${key(rawPeerId)}`
    if (rawPeerId.trim().length === 0) {
      acc.bad.push({ path, index: i, reason: "empty peer id" })
      return
    }
    if (!Array.isArray(addrs)) {
      acc.bad.push({ path, index: i, reason: "a peer's addresses must be an array of {addr, …}" })
      return
    }
    const peerId = checkedPeerId(acc, rawPeerId, path, i)
    if (peerId === undefined) return
    addrs.forEach((a, j) =>
      Either.match(Schema.decodeUnknownEither(AutonomiV0Addr)(a), {
        onLeft: (e) => acc.bad.push({ path: `${path}[${j}]`, index: i, reason: reasonOf(e) }),
        onRight: (addr) =>
          acc.entries.push({
            multiaddr: addr.addr.trim(),
            path: `${path}[${j}].addr`,
            index: i,
            peerId,
            successes: addr.success_count,
            failures: addr.failure_count,
            ...(addr.last_seen === undefined ? {} : { lastSeen: addr.last_seen })
          })
      })
    )
  })

export const decodeAutonomiV1 = (peers: ReadonlyArray<unknown>, acc: Acc): void =>
  peers.forEach((p, i) =>
    Either.match(Schema.decodeUnknownEither(AutonomiV1Peer)(p), {
      onLeft: (e) => acc.bad.push({ path: `peers[${i}]`, index: i, reason: reasonOf(e) }),
      onRight: ([rawPeerId, addrs]) => {
        const peerId = checkedPeerId(acc, rawPeerId, `peers[${i}][0]`, i)
        if (peerId === undefined) return
        addressList(acc, addrs, `peers[${i}][1]`, i, (multiaddr, path) => ({
          multiaddr,
          path,
          index: i,
          peerId,
          successes: 0,
          failures: 0
        }))
      }
    })
  )

export const decodeChiral = (peers: ReadonlyArray<unknown>, acc: Acc): void =>
  peers.forEach((p, i) =>
    Either.match(Schema.decodeUnknownEither(ChiralPeer)(p), {
      onLeft: (e) => acc.bad.push({ path: `peers[${i}]`, index: i, reason: reasonOf(e) }),
      onRight: (peer) => {
        const peerId = checkedPeerId(acc, peer.peer_id, `peers[${i}].peer_id`, i)
        if (peerId === undefined) return
        addressList(acc, peer.addresses, `peers[${i}].addresses`, i, (multiaddr, path) => ({
          multiaddr,
          path,
          index: i,
          peerId,
          successes: peer.successful_transfers,
          failures: peer.failed_transfers,
          ...(peer.last_seen === undefined ? {} : { lastSeen: peer.last_seen }),
          // chiral writes `average_latency_ms.unwrap_or(0)`: 0 means "never measured"
          ...(peer.average_latency_ms === undefined || peer.average_latency_ms === 0
            ? {}
            : { rttMs: peer.average_latency_ms }),
          ...(peer.supports_relay === undefined ? {} : { relay: peer.supports_relay }),
          ...(peer.is_bootstrap === undefined ? {} : { bootstrap: peer.is_bootstrap })
        }))
      }
    })
  )

