/**
 * Decoders for the peer cache files of other P2P projects, so their peers can be imported (the store's
 * `import` command) or served by a contacts endpoint and fetched (`Contacts`).
 *
 * Four formats are known, each decoded with `effect/Schema` from its upstream definition:
 *
 * | format          | upstream                                                                      |
 * | --------------- | ----------------------------------------------------------------------------- |
 * | `safe-network`  | the store issue's Safe Network format `{ last_updated, peers: [{ ip, port, last_seen, success_count, failure_count }] }`, and the shapes of maidsafe/safe_network `bootstrap_cache` (2024): its contacts endpoint JSON `BootstrapEndpoints` `{ peers: [<multiaddr>…], metadata: { last_updated, description } }`, its `cache_store::CacheData` `{ peers: { <multiaddr>: { addr, success_count, failure_count, last_seen } }, last_updated, version }` and its earlier `BootstrapCache` `{ last_updated, peers: [{ addr, success_count, failure_count, … }] }` |
 * | `autonomi-v0`   | maidsafe/autonomi `ant-bootstrap/src/cache_store/cache_data_v0.rs`: `{ peers: { <peer id>: [{ addr, success_count, failure_count, last_seen }] }, last_updated, network_version }` |
 * | `autonomi-v1`   | maidsafe/autonomi `ant-bootstrap/src/cache_store/cache_data_v1.rs`: `{ peers: [[<peer id>, [<multiaddr>…]]], last_updated, network_version, cache_version: "1" }` |
 * | `chiral`        | chiral-network/chiral-network `src-tauri/src/peer_cache.rs`: `{ version: 1, last_updated, peers: [{ peer_id, addresses, last_seen, successful_transfers, failed_transfers, average_latency_ms, supports_relay, is_bootstrap, … }] }` |
 *
 * Decoding never fails on a bad entry: every entry that does not decode is reported in `bad` with its
 * JSON path and the reason, and the rest are kept. Peer ids are checked here (`PeerAddress.PeerId`):
 * a peer whose id is not one is reported at the id's path (`peers["x"]`, `peers[3][0]`,
 * `peers[3].peer_id`) and none of its addresses is returned; a CIDv1 id is returned in its base58btc
 * form. Multiaddrs are returned as strings, unvalidated: validating them is `PeerAddress.parse`'s job,
 * done by the caller.
 *
 * Pure: no I/O, no clock.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as JsonInput from "./JsonInput.js"
import * as internal from "./internal/foreignFormats.js"
import { isRecord, reasonOf } from "./internal/foreignFormats.js"

/**
 * The foreign cache formats this module decodes (see the module docs for their upstream sources).
 *
 * @since 0.1.0
 */
export const Format = Schema.Literal("safe-network", "autonomi-v0", "autonomi-v1", "chiral")

/** @since 0.1.0 */
export type Format = typeof Format.Type

/**
 * One address of one peer, as the foreign file recorded it.
 *
 * - `multiaddr`: the address as written (unvalidated), trimmed. For `safe-network` `{ ip, port }` entries,
 *   built from them (`/ip4|ip6/<ip>/udp/<port>/quic-v1`, safe_network `parse_peer_addr`).
 * - `path`: the entry's JSON path from the document root (e.g. `peers[0][1][2]`, `peers["12D3KooW…"][0].addr`,
 *   `peers[3].addresses[1]`, `peers[4]`), so a caller can point at the exact offending value.
 * - `index`: the 0-based position of the entry's peer in the file's peer list (map order for the
 *   formats keyed by peer id or multiaddr), as in {@link BadEntry}.
 * - `peerId`: the peer id the file files the address under, when the format has one outside the
 *   multiaddr (`autonomi-v0` map keys, `autonomi-v1` tuples, `chiral` `peer_id`), checked and in its
 *   canonical base58btc form (a CIDv1 `bafz…` is rewritten, see `PeerAddress.normalizePeerId`).
 * - `successes`, `failures`: the file's counters (0 when the format has none).
 * - `lastSeen`: epoch milliseconds, when the format records it per entry.
 * - `rttMs`: average round-trip latency in ms (`chiral` only; its 0 means "unknown" and is omitted).
 * - `relay`, `bootstrap`: `chiral`'s `supports_relay` and `is_bootstrap`.
 *
 * @since 0.1.0
 */
export interface Entry {
  readonly multiaddr: string
  readonly path: string
  readonly index: number
  readonly peerId?: string
  readonly successes: number
  readonly failures: number
  readonly lastSeen?: number
  readonly rttMs?: number
  readonly relay?: boolean
  readonly bootstrap?: boolean
}

/**
 * An entry that did not decode: `path` is its JSON path from the document root (e.g. `peers[3]`,
 * `peers["12D3KooW…"][0].last_seen`, `peers[2].addresses[1]`), `index` the 0-based position of the
 * peer in the file's peer list (map order for `autonomi-v0`; absent for document-level fields), and
 * `reason` a one-line explanation.
 *
 * @since 0.1.0
 */
export interface BadEntry {
  readonly path: string
  readonly index?: number
  readonly reason: string
}

/**
 * The result of decoding a foreign cache: its `format`, the document's `lastUpdated` (epoch ms) and
 * `networkVersion` when present and valid, the decoded `entries` (one per address, in file order) and
 * the `bad` entries.
 *
 * @since 0.1.0
 */
export interface Decoded {
  readonly format: Format
  readonly lastUpdated: Option.Option<number>
  readonly networkVersion: Option.Option<string>
  readonly entries: ReadonlyArray<Entry>
  readonly bad: ReadonlyArray<BadEntry>
}

/**
 * The document is not one of the known foreign cache formats (or is not JSON at all). `reason` says
 * why detection failed.
 *
 * @since 0.1.0
 */
export class UnknownFormatError extends Data.TaggedError("UnknownFormatError")<{
  readonly reason: string
}> {
  override get message(): string {
    return `not a known foreign peer cache: ${this.reason}`
  }
}

// ---------------------------------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------------------------------

/**
 * A timestamp in any of the forms the foreign formats use, decoded to epoch milliseconds:
 *
 * - Rust `std::time::SystemTime` as serde writes it: `{ "secs_since_epoch", "nanos_since_epoch" }`
 *   (`autonomi-v0`, `autonomi-v1`, and `safe-network`'s `last_seen`);
 * - a number of seconds since the epoch (`chiral`'s `u64` fields; numbers ≥ 10¹¹ are taken as ms);
 * - an ISO 8601 / RFC 3339 string (`safe-network`'s chrono `DateTime<Utc>` `last_updated`).
 *
 * Encodes back to a SystemTime object.
 *
 * @since 0.1.0
 */
export const EpochMs: Schema.Schema<number, unknown> = internal.EpochMs

// ---------------------------------------------------------------------------------------------------
// Detection
// ---------------------------------------------------------------------------------------------------

/**
 * Which foreign format a parsed JSON document is, by its content alone (field names and shapes, never
 * a file name or Content-Type). `none` when it is none of them, including this project's own cache
 * file (recognised by its `checksum` field).
 *
 * Rules, in order ("first peer" is the first non-null value of `peers`):
 * 1. a JSON object with a `peers` field, and no `checksum` field;
 * 2. `peers` is an object (a map): its first value is an object that is not an array (safe_network
 *    `CacheData`, keyed by multiaddr), or the map is empty and the document has a numeric `version` and
 *    no `network_version` → `safe-network`; otherwise (keyed by peer id) → `autonomi-v0`;
 * 3. `peers` is an array and the document has `cache_version`, or its first peer is an array
 *    (a `[peer id, addresses]` tuple) → `autonomi-v1`;
 * 4. the first peer is a string (safe_network `BootstrapEndpoints`, a contacts endpoint's JSON) →
 *    `safe-network`;
 * 5. the first peer has `peer_id` or `addresses`, or the peer list is empty and the document has a
 *    numeric `version` → `chiral`;
 * 6. the first peer has `ip`, `port` or `addr`, or the peer list is empty and the document has
 *    `last_updated` but no `version` → `safe-network`.
 *
 * @since 0.1.0
 */
export const detect = (json: unknown): Option.Option<Format> => {
  if (!isRecord(json) || !("peers" in json) || "checksum" in json) return Option.none()
  const peers = json.peers
  if (isRecord(peers)) {
    const values = Object.values(peers)
    const first = values.find((v) => v !== null)
    if (isRecord(first)) return Option.some("safe-network")
    if (values.length === 0 && typeof json.version === "number" && !("network_version" in json)) {
      return Option.some("safe-network")
    }
    return Option.some("autonomi-v0")
  }
  if (!Array.isArray(peers)) return Option.none()
  const first: unknown = peers.find((p) => p !== null)
  if ("cache_version" in json || Array.isArray(first)) return Option.some("autonomi-v1")
  if (typeof first === "string") return Option.some("safe-network")
  if (isRecord(first)) {
    if ("peer_id" in first || "addresses" in first) return Option.some("chiral")
    if ("ip" in first || "port" in first || "addr" in first) return Option.some("safe-network")
    return Option.none()
  }
  if (peers.length === 0) {
    if (typeof json.version === "number") return Option.some("chiral")
    if ("last_updated" in json && !("version" in json)) return Option.some("safe-network")
  }
  return Option.none()
}

// ---------------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------------

/**
 * Decodes a parsed JSON document as the given foreign format. Never fails: a document-level field
 * that does not decode (`last_updated`, `network_version`) or a `peers` container of the wrong shape
 * is reported in `bad` (path `last_updated`, `peers`, …), as is every entry that does not decode.
 *
 * @since 0.1.0
 */
export const decodeAs = (format: Format, json: unknown): Decoded => {
  const acc: internal.Acc = { entries: [], bad: [] }
  const doc = isRecord(json) ? json : {}
  if (!isRecord(json)) acc.bad.push({ path: "", reason: "the document must be a JSON object" })

  let lastUpdated = Option.none<number>()
  let networkVersion = Option.none<string>()
  // safe_network `BootstrapEndpoints` keeps its date in `metadata.last_updated` (RFC 3339).
  const metadata = isRecord(doc.metadata) ? doc.metadata : {}
  const header = {
    last_updated: doc.last_updated ?? (format === "safe-network" ? metadata.last_updated : undefined),
    network_version: doc.network_version
  }
  for (const field of ["last_updated", "network_version"] as const) {
    if (header[field] === undefined) continue
    Either.match(Schema.decodeUnknownEither(internal.Header)({ [field]: header[field] }), {
      onLeft: (e) => acc.bad.push({ path: field, reason: reasonOf(e) }),
      onRight: (h) => {
        if (h.last_updated !== undefined) lastUpdated = Option.some(h.last_updated)
        if (h.network_version !== undefined) networkVersion = Option.some(h.network_version)
      }
    })
  }

  const peers = doc.peers
  if (format === "autonomi-v0") {
    if (isRecord(peers)) internal.decodeAutonomiV0(peers, acc)
    else acc.bad.push({ path: "peers", reason: "autonomi-v0 peers must be an object keyed by peer id" })
  } else if (format === "safe-network" && (isRecord(peers) || Array.isArray(peers))) {
    internal.decodeSafeNetwork(peers, acc)
  } else if (!Array.isArray(peers)) {
    acc.bad.push({ path: "peers", reason: `${format} peers must be an array` })
  } else if (format === "autonomi-v1") internal.decodeAutonomiV1(peers, acc)
  else internal.decodeChiral(peers, acc)

  return { format, lastUpdated, networkVersion, entries: acc.entries, bad: acc.bad }
}

/**
 * Detects the format of a parsed JSON document ({@link detect}) and decodes it ({@link decodeAs}).
 * Fails with {@link UnknownFormatError} only when the document is none of the known formats; bad
 * entries inside a recognised document are reported in `bad`, never fatal.
 *
 * @since 0.1.0
 */
export const decode = (json: unknown): Either.Either<Decoded, UnknownFormatError> =>
  Option.match(detect(json), {
    onNone: () =>
      Either.left(
        new UnknownFormatError({
          reason: isRecord(json)
            ? "checksum" in json
              ? "it is a bootstrap-cache file (it has a checksum), not a foreign one"
              : "no safe-network, autonomi-v0, autonomi-v1 or chiral peer list found"
            : "the document is not a JSON object"
        })
      ),
    onSome: (format) => Either.right(decodeAs(format, json))
  })

/**
 * Parses JSON text and decodes it as a foreign cache ({@link decode}). Fails with
 * {@link UnknownFormatError} when the text is not JSON or not a known format. A leading UTF-8 BOM is
 * ignored.
 *
 * @since 0.1.0
 */
export const decodeString = (text: string): Either.Either<Decoded, UnknownFormatError> => {
  const json = JsonInput.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
  return Either.isLeft(json)
    ? Either.left(new UnknownFormatError({ reason: `${json.left.reason === "TooDeep" ? "JSON" : "malformed JSON"}: ${json.left.detail}` }))
    : decode(json.right)
}
