/**
 * What the cache knows of one peer: its addresses with their dial statistics, its advertised
 * protocols, its capabilities and where it was heard of. Every type has a Schema, so the same
 * definition is the on-disk codec, the runtime validation and the fast-check Arbitrary.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as PeerAddress from "./PeerAddress.js"

/**
 * Epoch milliseconds (a non-negative integer).
 *
 * @since 0.1.0
 */
export const EpochMs = Schema.NonNegativeInt.annotations({ identifier: "EpochMs" })

const Count = Schema.NonNegativeInt
const optionalEpochMs = Schema.optionalWith(EpochMs, { as: "Option", exact: true })

/**
 * Where a peer was heard of: an HTTP contacts endpoint (its URL), the user (CLI `add`), a live
 * connection, or an imported file (its path or URL).
 *
 * A `connection` source may name who told us: `via` is the peer id of the peer that passed the
 * address on (gossip, identify, peer exchange) and `viaNetgroup` that peer's netgroup (IPv4 /16,
 * IPv6 /32, DNS name). Both are optional, so a `{ _tag: "connection" }` written before they existed
 * still decodes; an address learnt from our own dial carries neither.
 *
 * @since 0.1.0
 */
export const Source = Schema.Union(
  Schema.TaggedStruct("endpoint", { url: Schema.String }),
  Schema.TaggedStruct("user", {}),
  Schema.TaggedStruct("connection", {
    via: Schema.optionalWith(Schema.String, { exact: true }),
    viaNetgroup: Schema.optionalWith(Schema.String, { exact: true })
  }),
  Schema.TaggedStruct("import", { from: Schema.String })
).annotations({ identifier: "Source" })

/**
 * @since 0.1.0
 */
export type Source = typeof Source.Type

/**
 * Whether two sources are the same source: same kind and same URL, file, or telling peer.
 *
 * @since 0.1.0
 */
export const sameSource = (a: Source, b: Source): boolean => {
  switch (a._tag) {
    case "endpoint":
      return b._tag === "endpoint" && a.url === b.url
    case "import":
      return b._tag === "import" && a.from === b.from
    case "user":
      return b._tag === "user"
    case "connection":
      return b._tag === "connection" && a.via === b.via && a.viaNetgroup === b.viaNetgroup
  }
}

/** The host of a URL (`scheme://[user@]host[:port]/…`), lower-cased, without port; the URL itself when it has none. */
const urlHost = (url: string): string => {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)/i.exec(url)
  return m === null || m[1] === "" ? url : m[1]!.toLowerCase()
}

/**
 * The group a source belongs to, the unit that selection and capacity bound (Bitcoin Core addrman
 * files a new address under its source's group): one string per party that can vouch for
 * addresses.
 *
 * - `endpoint` → `endpoint:<host>` (every URL of one host is one group: one operator);
 * - `import` → `import:<path or URL>`;
 * - `user` → `user`;
 * - `connection` → `connection:<netgroup of the telling peer>`, else `connection:<its peer id>`,
 *   else `connection` (addresses learnt from our own dials).
 *
 * @since 0.1.0
 */
export const sourceGroup = (source: Source): string => {
  switch (source._tag) {
    case "endpoint":
      return `endpoint:${urlHost(source.url)}`
    case "import":
      return `import:${source.from}`
    case "user":
      return "user"
    case "connection":
      return source.viaNetgroup !== undefined
        ? `connection:${source.viaNetgroup}`
        : source.via !== undefined
        ? `connection:${source.via}`
        : "connection"
  }
}

/**
 * The source group of a peer: that of the first source it was heard from (the oldest one
 * remembered), as addrman keeps an address in the bucket of the source that first told it; a
 * later source cannot move a peer into or out of a group. `unknown` for a peer without sources.
 *
 * @since 0.1.0
 */
export const sourceGroupOf = (peer: PeerRecord): string => {
  const first = peer.sources[0]
  return first === undefined ? "unknown" : sourceGroup(first)
}

/** At most this many sources are remembered per peer (the most recent ones). */
export const MAX_SOURCES = 8

/**
 * The libp2p circuit relay v2 hop protocol: a peer advertising it can relay for others.
 *
 * @since 0.1.0
 */
export const RELAY_HOP_PROTOCOL = "/libp2p/circuit/relay/0.2.0/hop"

/**
 * One address of a peer with what dialling it has taught us.
 *
 * - `address`: the parsed multiaddr (encoded as the field `multiaddr`).
 * - `successes`, `failures`: dials that succeeded or failed, all time.
 * - `consecutiveFailures`: failures since the last success (0 after any success).
 * - `lastSuccess`, `lastFailure`: epoch ms of the last dial of each outcome.
 * - `lastSeen`: epoch ms the address was last heard of (listed by a source) or reached.
 * - `rttMs`: smoothed round-trip time in ms (RFC 6298 SRTT, α = 1/8), if any dial measured one: finite
 *   and ≥ 0 (JSON has no infinity, so a file could not keep any other).
 * - `bytesTransferred`: bytes exchanged with the address, as reported by the application.
 *
 * @since 0.1.0
 */
export const AddressRecord = Schema.Struct({
  address: Schema.propertySignature(PeerAddress.FromString).pipe(Schema.fromKey("multiaddr")),
  successes: Count,
  failures: Count,
  consecutiveFailures: Count,
  lastSuccess: optionalEpochMs,
  lastFailure: optionalEpochMs,
  lastSeen: optionalEpochMs,
  rttMs: Schema.optionalWith(Schema.NonNegative.pipe(Schema.finite()), { as: "Option", exact: true }),
  bytesTransferred: Schema.optionalWith(Count, { default: () => 0, exact: true })
}).annotations({ identifier: "AddressRecord" })

/**
 * @since 0.1.0
 */
export interface AddressRecord extends Schema.Schema.Type<typeof AddressRecord> {}

/**
 * Capability flags of a peer. `relay` is also true when the peer advertises
 * {@link RELAY_HOP_PROTOCOL} (see {@link isRelay}).
 *
 * @since 0.1.0
 */
export const Capabilities = Schema.Struct({
  relay: Schema.optionalWith(Schema.Boolean, { default: () => false, exact: true }),
  coordinator: Schema.optionalWith(Schema.Boolean, { default: () => false, exact: true }),
  bootstrap: Schema.optionalWith(Schema.Boolean, { default: () => false, exact: true }),
  symmetricNat: Schema.optionalWith(Schema.Boolean, { default: () => false, exact: true })
}).annotations({ identifier: "Capabilities" })

/**
 * @since 0.1.0
 */
export interface Capabilities extends Schema.Schema.Type<typeof Capabilities> {}

/**
 * One peer: its peer id, its addresses (at least one, each dedupe key once), advertised protocols,
 * capabilities, the sources it was heard from (at most {@link MAX_SOURCES}, newest last), and first /
 * last seen (epoch ms).
 *
 * The peer id is absent for an address listed without `/p2p/…` (a peer of its own). Decoding checks
 * it with `PeerAddress.PeerId`: a base58btc multihash is kept as written, a CIDv1 of the libp2p-key
 * codec is rewritten as its base58btc multihash, and anything else fails at `peerId` with a message
 * naming the id and what is wrong with it.
 *
 * @since 0.1.0
 */
export const PeerRecord = Schema.Struct({
  peerId: Schema.optionalWith(PeerAddress.PeerId, { as: "Option", exact: true }),
  addresses: Schema.Array(AddressRecord),
  protocols: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [], exact: true }),
  capabilities: Schema.optionalWith(Capabilities, {
    default: () => ({ relay: false, coordinator: false, bootstrap: false, symmetricNat: false }),
    exact: true
  }),
  sources: Schema.optionalWith(Schema.Array(Source), { default: () => [], exact: true }),
  firstSeen: EpochMs,
  lastSeen: EpochMs
}).annotations({ identifier: "PeerRecord" })

/**
 * @since 0.1.0
 */
export interface PeerRecord extends Schema.Schema.Type<typeof PeerRecord> {}

/**
 * The key a peer is stored under: its peer id, or for a peer without one the dedupe key of its
 * single address (prefixed `addr:` so it never collides with a peer id).
 *
 * @since 0.1.0
 */
export const peerKey = (peerId: Option.Option<string>, address: PeerAddress.PeerAddress): string =>
  Option.isSome(peerId) ? peerId.value : `addr:${address.key}`

/**
 * Whether the peer can relay for others: flagged so, or advertising {@link RELAY_HOP_PROTOCOL}.
 *
 * @since 0.1.0
 */
export const isRelay = (peer: PeerRecord): boolean =>
  peer.capabilities.relay || peer.protocols.includes(RELAY_HOP_PROTOCOL)

/**
 * A fresh address record that has never been dialled, heard of at `now` (epoch ms).
 *
 * @since 0.1.0
 */
export const makeAddressRecord = (address: PeerAddress.PeerAddress, now: number): AddressRecord => ({
  address,
  successes: 0,
  failures: 0,
  consecutiveFailures: 0,
  lastSuccess: Option.none(),
  lastFailure: Option.none(),
  lastSeen: Option.some(now),
  rttMs: Option.none(),
  bytesTransferred: 0
})

/**
 * The default capability flags: all false.
 *
 * @since 0.1.0
 */
export const noCapabilities: Capabilities = {
  relay: false,
  coordinator: false,
  bootstrap: false,
  symmetricNat: false
}

/**
 * Adds a source to a list, keeping it once and newest last, and at most {@link MAX_SOURCES}.
 *
 * @since 0.1.0
 */
export const addSource = (sources: ReadonlyArray<Source>, source: Source): ReadonlyArray<Source> => {
  const last = sources[sources.length - 1]
  if (last !== undefined && sameSource(last, source)) return sources
  const rest = sources.filter((s) => !sameSource(s, source))
  rest.push(source)
  return rest.length > MAX_SOURCES ? rest.slice(rest.length - MAX_SOURCES) : rest
}

/**
 * Success ratio of an address or a peer as successes / (successes + failures), in [0,1]; 0 when it
 * was never dialled. (The scoring module uses a prior instead; this is the plain figure for stats.)
 *
 * @since 0.1.0
 */
export const reliability = (successes: number, failures: number): number => {
  const attempts = successes + failures
  return attempts === 0 ? 0 : successes / attempts
}

/**
 * Whether a peer is **tried**: one of its addresses has answered a dial at least once (addrman's
 * tried table holds exactly the addresses a connection to succeeded). Derived from the counters, so
 * it needs no field of its own; a peer that is not tried is **new**.
 *
 * @since 0.1.0
 */
export const isTried = (peer: PeerRecord): boolean => {
  const records = peer.addresses
  for (let i = 0; i < records.length; i++) if (records[i]!.successes > 0) return true
  return false
}
