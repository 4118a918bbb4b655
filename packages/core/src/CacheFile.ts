/**
 * The on-disk format of the peer cache: versioned, checksummed, human-readable JSON.
 *
 * ```json
 * {
 *   "version": 1,
 *   "lastUpdated": 1700000000000,
 *   "checksum": "<SHA-256 hex of the canonical peers payload>",
 *   "peers": [
 *     {"peerId":"12D3KooW…","addresses":[{"multiaddr":"/ip4/1.2.3.4/tcp/4001/p2p/12D3KooW…","successes":3,…}],…},
 *     …
 *   ]
 * }
 * ```
 *
 * - `version`: the format version, {@link VERSION} (1).
 * - `lastUpdated`: epoch ms of the write.
 * - `checksum`: SHA-256 (lowercase hex) of the **canonical peers payload**, which is
 *   `JSON.stringify(peers)`: the compact JSON of the `peers` array exactly as it stands in the file
 *   (peer records in `PeerTable.toRecords` order, i.e. sorted by peer key, when this module wrote it).
 *   Because the checksum covers the payload as written, fields a newer writer added inside a record
 *   are covered too, and any edit or damage of the peers (a torn write, a flipped byte, a hand edit)
 *   is detected.
 *   A reader may hash the payload straight from the text when the file has the layout {@link encode}
 *   writes (it is then the same string, without re-serialising the records); any other layout is
 *   re-serialised with `JSON.stringify`, so a re-indented file with intact peers still verifies.
 * - `peers`: the table as `PeerTable.PeerTableFromRecords` encodes it, one peer per line so the file
 *   reads well and diffs well.
 *
 * **Why the hash is an argument.** The core is pure and portable and `effect` has no SHA-256; a
 * JavaScript SHA-256 over a 30k-peer file (~10 MB) is an order of magnitude slower than the native
 * one. So {@link encode} and {@link decode} take a {@link Hash} function: the Node shell passes
 * `node:crypto`'s (`createHash("sha256").update(text).digest("hex")`), a browser shell could pass a
 * synchronous WASM one. The checksum detects damage, not tampering (it is not a MAC).
 *
 * **Compatibility rules.**
 * - Unknown fields, at the top level and inside records, are ignored (forward compatible).
 * - A file whose `version` is newer than {@link VERSION} is read as far as it is understood, with a
 *   warning, and reported as `newer` so that the store never overwrites it. Its checksum is checked
 *   (a newer version may have changed the scheme, so a mismatch is a warning, not corruption).
 * - A record that does not decode (e.g. an address this version cannot parse, or a `peerId` that is
 *   not a peer id) is reported in `rejected` with its JSON path (`peers[3].peerId`) and reason, and
 *   the others are kept: one bad entry never discards a cache.
 * - A peer id written as a CIDv1 (`bafz…`, `k51…`) is read as its base58btc form (`PeerAddress.PeerId`).
 * - Malformed JSON (a truncated file), a document that is not a cache file, or a checksum mismatch
 *   in a current-version file fails with {@link CacheFileError}.
 *
 * Pure: no I/O, no clock.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as PeerAddress from "./PeerAddress.js"
import * as PeerRecord from "./PeerRecord.js"
import * as PeerTable from "./PeerTable.js"

/**
 * The format version this module writes, and the newest it fully understands.
 *
 * @since 0.1.0
 */
export const VERSION = 1

/**
 * A hash function: SHA-256 of the UTF-8 bytes of `text`, as 64 lowercase hex characters.
 *
 * @since 0.1.0
 */
export type Hash = (text: string) => string

/**
 * The fields every cache file has, whatever its version; `peers` is checked entry by entry
 * afterwards. Unknown fields are ignored.
 *
 * @since 0.1.0
 */
export const Header = Schema.Struct({
  version: Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)),
  lastUpdated: PeerRecord.EpochMs,
  checksum: Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/, { message: () => "the checksum must be 64 lowercase hex characters" })),
  peers: Schema.Array(Schema.Unknown)
}).annotations({ identifier: "CacheFileHeader" })

/**
 * Why a text is not a readable cache file.
 *
 * - `Empty`: the file is empty (or only whitespace): a write that never got its data to disk.
 * - `MalformedJson`: not JSON; typically a truncated file. `line` and `column` (1-based) locate the
 *   error when the parser reports a position.
 * - `NotACacheFile`: JSON, but not this format; `field` names the offending field (`version`,
 *   `checksum`, `peers`, …).
 * - `ChecksumMismatch`: the peers payload does not hash to `checksum`: the file was damaged or edited.
 *
 * @since 0.1.0
 */
export const CacheFileErrorReason = Schema.Literal("Empty", "MalformedJson", "NotACacheFile", "ChecksumMismatch")

/**
 * @since 0.1.0
 */
export type CacheFileErrorReason = typeof CacheFileErrorReason.Type

/**
 * A text that is not a readable cache file: the `reason`, a one-line `detail`, and where known the
 * `line` / `column` (1-based) or the `field`.
 *
 * @since 0.1.0
 */
export class CacheFileError extends Schema.TaggedError<CacheFileError>()("CacheFileError", {
  reason: CacheFileErrorReason,
  detail: Schema.String,
  line: Schema.optional(Schema.Int),
  column: Schema.optional(Schema.Int),
  field: Schema.optional(Schema.String)
}) {
  override get message(): string {
    const at = this.line === undefined ? "" : ` at line ${this.line}${this.column === undefined ? "" : `, column ${this.column}`}`
    const field = this.field === undefined ? "" : ` (field ${this.field})`
    return `${this.reason}${at}${field}: ${this.detail}`
  }
}

/**
 * A peer record that did not decode: its position in `peers`, the JSON path of the first offending
 * value (e.g. `peers[3].addresses[0].multiaddr`, `peers[3].peerId`) and the reason.
 *
 * @since 0.1.0
 */
export interface Rejected {
  readonly index: number
  readonly path: string
  readonly reason: string
}

/**
 * A decoded cache file.
 *
 * - `version`, `lastUpdated` (epoch ms), `checksum`: as written.
 * - `table`: the peers that decoded (duplicates merged as `PeerTable.upsert` does).
 * - `rejected`: the records that did not decode (kept out of `table`).
 * - `newer`: the file is from a newer version than {@link VERSION}: it was read as far as understood
 *   and must not be overwritten.
 * - `warnings`: human-readable notes (newer version, checksum of a newer version not matching,
 *   rejected entries).
 *
 * @since 0.1.0
 */
export interface Decoded {
  readonly version: number
  readonly lastUpdated: number
  readonly checksum: string
  readonly table: PeerTable.PeerTable
  readonly rejected: ReadonlyArray<Rejected>
  readonly newer: boolean
  readonly warnings: ReadonlyArray<string>
}

const schemaDecodePeer = Schema.decodeUnknownEither(PeerRecord.PeerRecord, { errors: "first" })

// ---------------------------------------------------------------------------------------------------
// Fast path. `Schema` decoding costs ~20 µs a record, 0.6 s for 30k peers, ten times `JSON.parse` of
// the whole file. Records this module wrote are well-formed, so they are checked and built by hand
// below; anything the fast path does not accept exactly is handed to the Schema, which stays the
// arbiter (and gives the error message). A property test checks that both agree.
// ---------------------------------------------------------------------------------------------------

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
const isCount = (u: unknown): u is number => typeof u === "number" && Number.isSafeInteger(u) && u >= 0
const optionalCount = (u: unknown): Option.Option<number> | null =>
  u === undefined ? Option.none() : isCount(u) ? Option.some(u) : null

const USER: PeerRecord.Source = { _tag: "user" }
const CONNECTION: PeerRecord.Source = { _tag: "connection" }

/**
 * Sources are immutable values and a file repeats a few of them on every peer (the endpoint a peer
 * came from, the import): each distinct one is built once, the records share it.
 */
const endpointSources = new Map<string, PeerRecord.Source>()
const importSources = new Map<string, PeerRecord.Source>()
const SOURCE_CACHE_SIZE = 4096

const sharedSource = (cache: Map<string, PeerRecord.Source>, key: string, make: (key: string) => PeerRecord.Source) => {
  let source = cache.get(key)
  if (source === undefined) {
    if (cache.size >= SOURCE_CACHE_SIZE) cache.clear()
    source = make(key)
    cache.set(key, source)
  }
  return source
}
const makeEndpoint = (url: string): PeerRecord.Source => ({ _tag: "endpoint", url })
const makeImport = (from: string): PeerRecord.Source => ({ _tag: "import", from })

const fastSource = (u: unknown): PeerRecord.Source | null => {
  if (!isObject(u)) return null
  switch (u._tag) {
    case "user":
      return USER
    case "connection":
      // One naming the telling peer is left to the Schema.
      return u.via === undefined && u.viaNetgroup === undefined ? CONNECTION : null
    case "endpoint":
      return typeof u.url === "string" ? sharedSource(endpointSources, u.url, makeEndpoint) : null
    case "import":
      return typeof u.from === "string" ? sharedSource(importSources, u.from, makeImport) : null
    default:
      return null
  }
}

const fastAddress = (u: unknown): PeerRecord.AddressRecord | null => {
  if (!isObject(u) || typeof u.multiaddr !== "string") return null
  const { consecutiveFailures, failures, successes } = u
  if (!isCount(successes) || !isCount(failures) || !isCount(consecutiveFailures)) return null
  const lastSuccess = optionalCount(u.lastSuccess)
  const lastFailure = optionalCount(u.lastFailure)
  const lastSeen = optionalCount(u.lastSeen)
  if (lastSuccess === null || lastFailure === null || lastSeen === null) return null
  const rtt = u.rttMs
  if (rtt !== undefined && !(typeof rtt === "number" && Number.isFinite(rtt) && rtt >= 0)) return null
  const bytes = u.bytesTransferred
  if (bytes !== undefined && !isCount(bytes)) return null
  const address = PeerAddress.parse(u.multiaddr)
  if (Either.isLeft(address)) return null
  return {
    address: address.right,
    successes,
    failures,
    consecutiveFailures,
    lastSuccess,
    lastFailure,
    lastSeen,
    rttMs: rtt === undefined ? Option.none() : Option.some(rtt),
    bytesTransferred: bytes ?? 0
  }
}

const CAPABILITIES = ["relay", "coordinator", "bootstrap", "symmetricNat"] as const

/** The 16 capability sets, shared by every decoded record (records are immutable values). */
const CAPABILITY_SETS: ReadonlyArray<PeerRecord.Capabilities> = Array.from({ length: 16 }, (_, flags) => ({
  relay: (flags & 1) !== 0,
  coordinator: (flags & 2) !== 0,
  bootstrap: (flags & 4) !== 0,
  symmetricNat: (flags & 8) !== 0
}))

/**
 * The canonical form of a record's peer id, or null when it is none (the Schema then reports it, at
 * `peerId`, with the reason). A record this module wrote names the peer its addresses name, and
 * `PeerAddress.parse` has already checked and canonicalised those: equal to one of them, the id costs
 * a string comparison. Any other id (a CIDv1, an id no address names) is checked once per distinct
 * string, as the Schema checks it (`PeerAddress.normalizePeerId` is the rule of `PeerAddress.PeerId`).
 */
const fastPeerId = (id: string, addresses: ReadonlyArray<PeerRecord.AddressRecord>): string | null => {
  for (let i = 0; i < addresses.length; i++) {
    const named = addresses[i]!.address.peerId
    if (Option.isSome(named) && named.value === id) return id
  }
  let known = peerIdCache.get(id)
  if (known === undefined) {
    if (peerIdCache.size >= PEER_ID_CACHE_SIZE) peerIdCache.clear()
    known = Option.getOrNull(PeerAddress.normalizePeerId(id))
    peerIdCache.set(id, known)
  }
  return known
}
const PEER_ID_CACHE_SIZE = 4096
const peerIdCache = new Map<string, string | null>()

const fastPeer = (u: unknown): PeerRecord.PeerRecord | null => {
  if (!isObject(u)) return null
  const { firstSeen, lastSeen, peerId } = u
  if (!isCount(firstSeen) || !isCount(lastSeen)) return null
  if (peerId !== undefined && typeof peerId !== "string") return null
  if (!Array.isArray(u.addresses)) return null
  const addresses: Array<PeerRecord.AddressRecord> = []
  for (const a of u.addresses) {
    const r = fastAddress(a)
    if (r === null) return null
    addresses.push(r)
  }
  const id = peerId === undefined ? undefined : fastPeerId(peerId, addresses)
  if (id === null) return null
  let protocols: Array<string> = []
  if (u.protocols !== undefined) {
    if (!Array.isArray(u.protocols)) return null
    for (let i = 0; i < u.protocols.length; i++) if (typeof u.protocols[i] !== "string") return null
    protocols = u.protocols as Array<string>
  }
  let flags = 0
  if (u.capabilities !== undefined) {
    const c = u.capabilities
    if (!isObject(c)) return null
    for (let i = 0; i < CAPABILITIES.length; i++) {
      const v = c[CAPABILITIES[i]!]
      if (v === undefined) continue
      if (typeof v !== "boolean") return null
      if (v) flags |= 1 << i
    }
  }
  const capabilities = CAPABILITY_SETS[flags]!
  const sources: Array<PeerRecord.Source> = []
  if (u.sources !== undefined) {
    if (!Array.isArray(u.sources)) return null
    for (const s of u.sources) {
      const source = fastSource(s)
      if (source === null) return null
      sources.push(source)
    }
  }
  return {
    peerId: id === undefined ? Option.none() : Option.some(id),
    addresses,
    protocols,
    capabilities,
    sources,
    firstSeen,
    lastSeen
  }
}

/**
 * Decodes one encoded peer record: the hand-written fast path for well-formed records, the
 * `PeerRecord` Schema for anything else (and for the error). Exported for the agreement test.
 *
 * @since 0.1.0
 */
export const decodePeer = (u: unknown): Either.Either<PeerRecord.PeerRecord, ParseResult.ParseError> => {
  const fast = fastPeer(u)
  return fast === null ? schemaDecodePeer(u) : Either.right(fast)
}
const decodeHeader = Schema.decodeUnknownEither(Header, { errors: "first" })

/**
 * The compact JSON of each peer record of a table, in `PeerTable.toRecords` order. The canonical
 * payload is `"[" + lines.join(",") + "]"`.
 */
const peerLines = (table: PeerTable.PeerTable): Array<string> => {
  const records = PeerTable.toRecords(table)
  const lines: Array<string> = new Array(records.length)
  for (let i = 0; i < records.length; i++) lines[i] = peerLine(records[i]!)
  return lines
}

/**
 * The compact JSON line of a record. Records are immutable values and a table shares the ones an
 * update did not touch, so each record's line is memoised: a save re-encodes only the peers that
 * changed since the last one.
 */
const peerLine = (record: PeerRecord.PeerRecord): string => {
  let line = lineCache.get(record)
  if (line === undefined) {
    line = JSON.stringify(encodePeerDirect(record))
    lineCache.set(record, line)
  }
  return line
}
const lineCache = new WeakMap<PeerRecord.PeerRecord, string>()

/**
 * The `PeerRecord` Schema's encoding, written out (the Schema costs ~20 µs a record): same keys, same
 * order, same omissions. A property test checks it equals `Schema.encodeSync(PeerRecord)`.
 * Exported for that test.
 *
 * @since 0.1.0
 */
export const encodePeerDirect = (record: PeerRecord.PeerRecord): Schema.Schema.Encoded<typeof PeerRecord.PeerRecord> => {
  const addresses: Array<Schema.Schema.Encoded<typeof PeerRecord.AddressRecord>> = new Array(record.addresses.length)
  for (let i = 0; i < record.addresses.length; i++) addresses[i] = encodeAddressDirect(record.addresses[i]!)
  const sources: Array<PeerRecord.Source> = new Array(record.sources.length)
  for (let i = 0; i < record.sources.length; i++) {
    const s = record.sources[i]!
    sources[i] = s._tag === "endpoint"
      ? { _tag: "endpoint", url: s.url }
      : s._tag === "import"
      ? { _tag: "import", from: s.from }
      : s._tag === "user"
      ? { _tag: "user" }
      : s.via === undefined && s.viaNetgroup === undefined
      ? { _tag: "connection" }
      : {
        _tag: "connection",
        ...(s.via === undefined ? {} : { via: s.via }),
        ...(s.viaNetgroup === undefined ? {} : { viaNetgroup: s.viaNetgroup })
      }
  }
  const c = record.capabilities
  const rest = {
    addresses,
    protocols: [...record.protocols],
    capabilities: { relay: c.relay, coordinator: c.coordinator, bootstrap: c.bootstrap, symmetricNat: c.symmetricNat },
    sources,
    firstSeen: record.firstSeen,
    lastSeen: record.lastSeen
  }
  return Option.isSome(record.peerId) ? { peerId: record.peerId.value, ...rest } : rest
}

const encodeAddressDirect = (r: PeerRecord.AddressRecord): Schema.Schema.Encoded<typeof PeerRecord.AddressRecord> => {
  // Built key by key in the Schema's order (absent options omitted); a handful of keys keeps the
  // object in fast mode.
  const out: {
    multiaddr: string
    successes: number
    failures: number
    consecutiveFailures: number
    lastSuccess?: number
    lastFailure?: number
    lastSeen?: number
    rttMs?: number
    bytesTransferred?: number
  } = {
    multiaddr: r.address.multiaddr,
    successes: r.successes,
    failures: r.failures,
    consecutiveFailures: r.consecutiveFailures
  }
  if (Option.isSome(r.lastSuccess)) out.lastSuccess = r.lastSuccess.value
  if (Option.isSome(r.lastFailure)) out.lastFailure = r.lastFailure.value
  if (Option.isSome(r.lastSeen)) out.lastSeen = r.lastSeen.value
  if (Option.isSome(r.rttMs)) out.rttMs = r.rttMs.value
  out.bytesTransferred = r.bytesTransferred
  return out as Schema.Schema.Encoded<typeof PeerRecord.AddressRecord>
}

/**
 * The canonical peers payload of a table: `JSON.stringify` of its encoded records in
 * `PeerTable.toRecords` order. Its hash is the file's checksum.
 *
 * @since 0.1.0
 */
export const canonicalPayload = (table: PeerTable.PeerTable): string => `[${peerLines(table).join(",")}]`

/**
 * Options of {@link encode}: `lastUpdated` (epoch ms of the write) and the {@link Hash}.
 *
 * @since 0.1.0
 */
export interface EncodeOptions {
  readonly lastUpdated: number
  readonly hash: Hash
}

/**
 * Writes a table as the text of a cache file (version {@link VERSION}), one peer per line, ending in
 * a newline. Deterministic: equal tables and `lastUpdated` give equal text. O(n log n) for the sort.
 *
 * @since 0.1.0
 */
export const encode = (table: PeerTable.PeerTable, options: EncodeOptions): string => {
  const lines = peerLines(table)
  const checksum = options.hash(`[${lines.join(",")}]`)
  const peers = lines.length === 0 ? "[]" : `[\n    ${lines.join(",\n    ")}\n  ]`
  return `{\n  "version": ${VERSION},\n  "lastUpdated": ${Math.floor(options.lastUpdated)},\n  "checksum": "${checksum}",\n  "peers": ${peers}\n}\n`
}

/** Line and column (1-based) of a character offset. */
const locate = (text: string, offset: number): { line: number; column: number } => {
  let line = 1
  let lineStart = 0
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++
      lineStart = i + 1
    }
  }
  return { line, column: offset - lineStart + 1 }
}

/** The position a JSON.parse error reports ("at position 123", "(line 4 column 2)"), if any. */
const jsonErrorPosition = (text: string, message: string): { line: number; column: number } | undefined => {
  const lc = /line (\d+) column (\d+)/.exec(message)
  if (lc !== null) return { line: Number(lc[1]), column: Number(lc[2]) }
  const pos = /at position (\d+)/.exec(message)
  if (pos !== null) return locate(text, Number(pos[1]))
  if (/end of JSON input|Unterminated|Unexpected end/i.test(message)) return locate(text, text.length)
  // V8 (Node 20): `Unexpected token 'x', ..."<10 chars>x<10 chars>"... is not valid JSON`.
  const snippet = /Unexpected token '(.)', (\.\.\.)?"([\s\S]*?)"(\.\.\.)? is not valid JSON/.exec(message)
  if (snippet !== null) {
    const token = snippet[1]!
    const context = snippet[3]!
    const at = text.indexOf(context)
    if (at >= 0) return locate(text, snippet[2] === undefined ? at + context.indexOf(token) : at + 10)
  }
  return undefined
}

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")

const firstIssue = (error: ParseResult.ParseError): { path: string; message: string } => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  return issue === undefined
    ? { path: "", message: error.message }
    : { path: formatPath(issue.path), message: issue.message }
}

/**
 * Parses JSON text, failing with a {@link CacheFileError} (`Empty` or `MalformedJson` with the line
 * and column) instead of throwing. A leading UTF-8 BOM is ignored.
 *
 * @since 0.1.0
 */
export const parseJson = (text: string): Either.Either<unknown, CacheFileError> => {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  if (!/\S/.test(body)) return Either.left(new CacheFileError({ reason: "Empty", detail: "the file is empty" }))
  try {
    return Either.right(JSON.parse(body))
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e)
    return Either.left(new CacheFileError({ reason: "MalformedJson", detail: message, ...jsonErrorPosition(body, message) }))
  }
}

/**
 * Whether a parsed JSON document looks like a cache file of this project (any version): an object
 * with a `checksum` and a `peers` array. Used to tell our files from foreign ones on import.
 *
 * @since 0.1.0
 */
export const isCacheDocument = (json: unknown): boolean =>
  typeof json === "object" && json !== null && !Array.isArray(json) && "checksum" in json &&
  "peers" in json && Array.isArray((json as { peers: unknown }).peers)

/**
 * Decodes a parsed JSON document as a cache file (see the module docs for the rules).
 *
 * @since 0.1.0
 */
export const decodeDocument = (json: unknown, options: { readonly hash: Hash }): Either.Either<Decoded, CacheFileError> =>
  decodeWith(json, options.hash, undefined)

/** The header of a well-formed document, checked by hand (the Schema is the arbiter otherwise). */
const fastHeader = (json: unknown): Schema.Schema.Type<typeof Header> | undefined => {
  if (!isObject(json)) return undefined
  const { checksum, lastUpdated, peers, version } = json
  return typeof version === "number" && Number.isSafeInteger(version) && version >= 1 && isCount(lastUpdated) &&
      typeof checksum === "string" && /^[0-9a-f]{64}$/.test(checksum) && Array.isArray(peers)
    ? { version, lastUpdated, checksum, peers }
    : undefined
}

const PEERS_OPEN = `\n  "peers": [\n    `
const PEERS_CLOSE = `\n  ]\n}\n`

/**
 * The canonical payload read straight from a file laid out as {@link encode} writes it (one peer per
 * line): the text between the brackets with the line breaks between records removed. Undefined when
 * the layout is not that one. Hashing it spares re-serialising 30k records; it is only trusted when it
 * hashes to the checksum (then it is the canonical payload, which `JSON.stringify` of the parsed peers
 * gives back exactly); otherwise the peers are re-serialised and hashed as the format says.
 */
const rawPayload = (text: string): string | undefined => {
  const open = text.indexOf(PEERS_OPEN)
  if (open < 0 || !text.endsWith(PEERS_CLOSE)) return undefined
  const inner = text.slice(open + PEERS_OPEN.length, text.length - PEERS_CLOSE.length)
  return `[${inner.replaceAll(",\n    ", ",")}]`
}

const decodeWith = (json: unknown, hash: Hash, text: string | undefined): Either.Either<Decoded, CacheFileError> => {
  const fast = fastHeader(json)
  const header = fast === undefined ? decodeHeader(json) : Either.right(fast)
  if (Either.isLeft(header)) {
    const issue = firstIssue(header.left)
    const field = issue.path.replace(/^\./, "")
    return Either.left(
      new CacheFileError({
        reason: "NotACacheFile",
        detail: issue.path === "" ? issue.message : `${field}: ${issue.message}`,
        ...(field === "" ? {} : { field })
      })
    )
  }
  const { checksum, lastUpdated, peers, version } = header.right
  const newer = version > VERSION
  const warnings: Array<string> = []
  if (newer) {
    warnings.push(`the file is version ${version}, newer than this version (${VERSION}): read as far as understood, never overwritten`)
  }
  const raw = text === undefined ? undefined : rawPayload(text)
  let actual = raw === undefined ? undefined : hash(raw)
  if (actual !== checksum) actual = hash(JSON.stringify(peers))
  if (actual !== checksum) {
    if (!newer) {
      return Either.left(
        new CacheFileError({
          reason: "ChecksumMismatch",
          detail: `the peers hash to ${actual}, the file says ${checksum}`,
          field: "checksum"
        })
      )
    }
    warnings.push(`the checksum does not match (version ${version} may compute it differently)`)
  }
  const records: Array<PeerRecord.PeerRecord> = []
  const rejected: Array<Rejected> = []
  for (let i = 0; i < peers.length; i++) {
    const decoded = decodePeer(peers[i])
    if (Either.isRight(decoded)) {
      records.push(decoded.right)
    } else {
      const issue = firstIssue(decoded.left)
      rejected.push({ index: i, path: `peers[${i}]${issue.path}`, reason: issue.message })
    }
  }
  if (rejected.length > 0) {
    warnings.push(
      `${rejected.length} peer record(s) could not be read and were left out, first: ${rejected[0]!.path}: ${rejected[0]!.reason}`
    )
  }
  return Either.right({ version, lastUpdated, checksum, table: PeerTable.fromRecords(records), rejected, newer, warnings })
}

/**
 * Decodes the text of a cache file: JSON parse ({@link parseJson}), header, checksum, then each
 * peer record ({@link decodeDocument}). Fails with {@link CacheFileError}; never throws.
 *
 * @since 0.1.0
 */
export const decode = (text: string, options: { readonly hash: Hash }): Either.Either<Decoded, CacheFileError> =>
  Either.flatMap(parseJson(text), (json) => decodeWith(json, options.hash, text))
