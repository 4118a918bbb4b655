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
 * - A record that does not decode (e.g. an address this version cannot parse) is reported in
 *   `rejected` with its JSON path and reason, and the others are kept: one bad entry never discards
 *   a cache.
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
 * A peer record that did not decode: its position in `peers`, its JSON path (e.g.
 * `peers[3].addresses[0].multiaddr`) and the reason.
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

const encodePeer = Schema.encodeSync(PeerRecord.PeerRecord)
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

const fastSource = (u: unknown): PeerRecord.Source | null => {
  if (!isObject(u)) return null
  switch (u._tag) {
    case "user":
      return { _tag: "user" }
    case "connection":
      return { _tag: "connection" }
    case "endpoint":
      return typeof u.url === "string" ? { _tag: "endpoint", url: u.url } : null
    case "import":
      return typeof u.from === "string" ? { _tag: "import", from: u.from } : null
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
  let protocols: Array<string> = []
  if (u.protocols !== undefined) {
    if (!Array.isArray(u.protocols) || !u.protocols.every((p) => typeof p === "string")) return null
    protocols = u.protocols as Array<string>
  }
  const capabilities = { ...PeerRecord.noCapabilities }
  if (u.capabilities !== undefined) {
    const c = u.capabilities
    if (!isObject(c)) return null
    for (const k of CAPABILITIES) {
      const v = c[k]
      if (v === undefined) continue
      if (typeof v !== "boolean") return null
      capabilities[k] = v
    }
  }
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
    peerId: peerId === undefined ? Option.none() : Option.some(peerId),
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
const peerLines = (table: PeerTable.PeerTable): Array<string> =>
  PeerTable.toRecords(table).map((record) => JSON.stringify(encodePeer(record)))

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
  if (body.trim() === "") return Either.left(new CacheFileError({ reason: "Empty", detail: "the file is empty" }))
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
export const decodeDocument = (json: unknown, options: { readonly hash: Hash }): Either.Either<Decoded, CacheFileError> => {
  const header = decodeHeader(json)
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
  const actual = options.hash(JSON.stringify(peers))
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
  Either.flatMap(parseJson(text), (json) => decodeDocument(json, options))
