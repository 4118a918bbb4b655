/**
 * The on-disk format of the peer cache: versioned, checksummed JSON, one peer per line.
 *
 * **Version 2** (what {@link encodeCompact} writes and the store saves): a header line, then one
 * compact peer per line, the best `head` peers first (by `Score.peer` at the write), so a starting
 * node can read and dial them before the rest is decoded ({@link decodeHead}).
 *
 * ```
 * {"version":2,"lastUpdated":1700000000000,"head":32,"headChecksum":"…","checksum":"…","sources":[{"_tag":"user"}],"peers":[
 * ["12D3KooW…",1700000000000,1700000000000,[["/ip4/1.2.3.4/tcp/4001/p2p",3,1,0,1700000000000,1699990000000,1700000000000,42.5]],0,[],[0]],
 * …
 * ]}
 * ```
 *
 * A peer is `[peerId | null, firstSeen, lastSeen, [address, …], capabilities, [protocol, …], [source, …]]`,
 * an address `[multiaddr, successes, failures, consecutiveFailures, lastSuccess, lastFailure, lastSeen,
 * rttMs, bytesTransferred]` (absent = `null`, trailing defaults left out, a trailing `/p2p` standing
 * for the peer's id), capabilities are bit flags (relay 1, coordinator 2, bootstrap 4, symmetricNat 8)
 * and sources are indices into the header's `sources` (each the `PeerRecord.Source` Schema's encoding).
 * `checksum` is the SHA-256 of the whole text with its own 64 digits written as `0`s: the header is
 * covered, so a damaged version or timestamp is found corrupt (and recovered) instead of trusted.
 * Every version from 2 on keeps this checksum rule.
 *
 * **Version 1** (what {@link encode} writes: `export --format json`, and older caches): the records
 * as the `PeerRecord` Schema encodes them (named fields), `checksum` the SHA-256 of
 * `JSON.stringify(peers)`. Still read; the store rewrites it as version 2 on its next write.
 *
 * **Decoding never throws.** Malformed JSON, a document that is not a cache file, or a checksum
 * mismatch fail with {@link CacheFileError}. A record that does not decode (an address this version
 * cannot parse, a peer id that is none, a number that is not finite or past 2^53, a `__proto__` key,
 * nesting deeper than 32) is reported in `rejected` with its JSON path and line and the others are
 * kept: one bad entry never discards a cache. Nothing walks a parsed value recursively before a
 * bounded, iterative check of it (`internal/jsonGuard`).
 *
 * **Compatibility.** Unknown fields are ignored. A file whose `version` is newer than {@link VERSION}
 * (and whose checksum holds) is read as far as understood and reported as `newer`, so the store never
 * overwrites it. A peer id written as a CIDv1 is read as its base58btc form.
 *
 * **Why the hash is an argument.** The core is pure and portable and `effect` has no SHA-256; the Node
 * shell passes `node:crypto`'s. The checksum detects damage, not tampering (it is not a MAC).
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as PeerRecord from "./PeerRecord.js"
import * as PeerTable from "./PeerTable.js"
import * as fileRecords from "./internal/fileRecords.js"
import * as fileV2 from "./internal/fileV2.js"
import * as jsonGuard from "./internal/jsonGuard.js"
import { jsonErrorPosition } from "./internal/jsonText.js"
import * as recordCompact from "./internal/recordCompact.js"
import * as recordJson from "./internal/recordJson.js"

/**
 * The format version the store writes ({@link encodeCompact}), and the newest this module fully
 * understands.
 *
 * @since 0.1.0
 */
export const VERSION = 2

/**
 * A hash function: SHA-256 of the UTF-8 bytes of `text`, as 64 lowercase hex characters.
 *
 * @since 0.1.0
 */
export type Hash = (text: string) => string

/**
 * The same {@link Hash} of text given in parts, as if they were joined (`hashParts(["a", "b"])` is
 * `hash("ab")`; parts are cut between characters a UTF-8 encoder reads alone). With it, a decode
 * checks a version 2 file's checksum (over the text with its digits zeroed) without building that
 * copy of the whole text. Optional in {@link decode} and {@link decodeSteps}.
 *
 * @since 0.2.0
 */
export type HashParts = (parts: ReadonlyArray<string>) => string

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
 * value as named fields (e.g. `peers[3].addresses[0].multiaddr`, `peers[3].peerId`, whatever the
 * version), the reason (at most 200 characters) and, for a file in this module's layout, its line.
 *
 * @since 0.1.0
 */
export interface Rejected {
  readonly index: number
  readonly path: string
  readonly reason: string
  /** 1-based line of the record, when the file is laid out one peer per line as this module writes it. */
  readonly line?: number
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


/**
 * Decodes one peer record in the named form (version 1, `export --format json`): the hand-written
 * fast path for well-formed records, the `PeerRecord` Schema for anything else (and for the error).
 * Exported for the agreement test.
 *
 * @since 0.1.0
 */
export const decodePeer: (u: unknown) => Either.Either<PeerRecord.PeerRecord, ParseResult.ParseError> = recordJson.decodePeer

/**
 * The `PeerRecord` Schema's encoding of a record, written out by hand (the Schema costs ~20 µs a
 * record): same keys, same order, same omissions. Exported for the agreement test.
 *
 * @since 0.1.0
 */
export const encodePeerDirect: (record: PeerRecord.PeerRecord) => Schema.Schema.Encoded<typeof PeerRecord.PeerRecord> =
  recordJson.encodePeerDirect

const decodeHeader = Schema.decodeUnknownEither(Header, { errors: "first" })

/** The compact JSON of each record of a table in `PeerTable.toRecords` order (version 1 layout). */
const peerLines = (table: PeerTable.PeerTable): Array<string> => PeerTable.toRecords(table).map(recordJson.peerLine)

/**
 * The canonical peers payload of a table in version 1: `JSON.stringify` of its encoded records in
 * `PeerTable.toRecords` order. Its hash is a version 1 file's checksum.
 *
 * @since 0.1.0
 */
export const canonicalPayload = (table: PeerTable.PeerTable): string => `[${peerLines(table).join(",")}]`

/**
 * Options of {@link encode} and {@link encodeCompact}: `lastUpdated` (epoch ms of the write), the
 * {@link Hash}, and for {@link encodeCompact} the number of best peers written first (`head`,
 * default {@link DEFAULT_HEAD}).
 *
 * @since 0.1.0
 */
export interface EncodeOptions {
  readonly lastUpdated: number
  readonly hash: Hash
  readonly head?: number
}

/**
 * How many of the best peers a version 2 file leads with: enough for a first round of dials
 * (Bootstrap's default target and concurrency are well below it).
 *
 * @since 0.1.0
 */
export const DEFAULT_HEAD = 32

/**
 * Writes a table as a version 1 file: records with named fields, one per line, ending in a newline.
 * The readable form `export --format json` gives; the store writes {@link encodeCompact}.
 * Deterministic: equal tables and `lastUpdated` give equal text. O(n log n) for the sort.
 *
 * @since 0.1.0
 */
export const encode = (table: PeerTable.PeerTable, options: EncodeOptions): string => {
  const lines = peerLines(table)
  const checksum = options.hash(`[${lines.join(",")}]`)
  const peers = lines.length === 0 ? "[]" : `[\n    ${lines.join(",\n    ")}\n  ]`
  return `{\n  "version": 1,\n  "lastUpdated": ${Math.floor(options.lastUpdated)},\n  "checksum": "${checksum}",\n  "peers": ${peers}\n}\n`
}

/**
 * Writes a table as a version 2 file (see the module docs): compact records, the `head` best peers
 * at `lastUpdated` first, the header covered by the checksum. Deterministic: equal tables and options
 * give equal text. Renders every record: O(n log n) for the sort, O(n · head) for the head. A writer
 * that saves one table again and again keeps a `CacheFileEncoder`, which gives the same bytes and
 * re-renders only the peers that changed.
 *
 * @since 0.2.0
 */
export const encodeCompact = (table: PeerTable.PeerTable, options: EncodeOptions): string =>
  fileV2.encode(table, { lastUpdated: options.lastUpdated, hash: options.hash, head: options.head ?? DEFAULT_HEAD })

/**
 * Parses JSON text, failing with a {@link CacheFileError} (`Empty` or `MalformedJson` with the line
 * and column) instead of throwing. A leading UTF-8 BOM is ignored. (`JSON.parse` is iterative: no
 * nesting exhausts the stack.)
 *
 * @since 0.1.0
 */
export const parseJson = (text: string): Either.Either<unknown, CacheFileError> => {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  if (!/\S/.test(body)) return Either.left(new CacheFileError({ reason: "Empty", detail: "the file is empty" }))
  try {
    return Either.right(JSON.parse(body))
  } catch (e) {
    const message = fileRecords.short(e instanceof Error ? e.message : String(e))
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

/**
 * Decodes the text of a cache file: JSON parse ({@link parseJson}), header, checksum, then each
 * peer record ({@link decodeDocument}). Fails with {@link CacheFileError}; never throws.
 *
 * @since 0.1.0
 */
export const decode = (text: string, options: { readonly hash: Hash; readonly hashParts?: HashParts }): Either.Either<Decoded, CacheFileError> =>
  finishSteps(decodeSteps(text, { ...options, linesPerStep: Number.POSITIVE_INFINITY }))

/**
 * {@link decode} a slice at a time, for a caller that must not hold its thread for the whole decode (a
 * 30k-peer file takes a few hundred ms): a generator that pauses (yields the number of peer lines
 * decoded so far) after the checksum and after every `linesPerStep` peer lines (default
 * {@link LINES_PER_STEP}), and returns what {@link decode} gives for the same text. The caller resumes
 * it when it likes (the Node store after the event loop's next turn); nothing is shared between
 * generators, and one that is abandoned leaves nothing behind. Only a version 2 file in this module's
 * layout is decoded in slices: any other text is decoded in the first step. Never throws.
 *
 * @since 0.2.0
 */
export const decodeSteps = function*(
  text: string,
  options: { readonly hash: Hash; readonly hashParts?: HashParts; readonly linesPerStep?: number }
): Generator<number, Either.Either<Decoded, CacheFileError>, void> {
  const zeroedHash = (zeroed: ReadonlyArray<string>) => options.hashParts === undefined ? options.hash(zeroed.join("")) : options.hashParts(zeroed)
  const lines = yield* lineSteps(text, zeroedHash, Math.max(1, options.linesPerStep ?? LINES_PER_STEP))
  return lines ?? decodeWhole(text, options)
}

/**
 * How many peer lines {@link decodeSteps} decodes between pauses by default: ~20-40 ms of work on a
 * 2020s machine, so a pause comes well within what a dial's timers tolerate.
 *
 * @since 0.2.0
 */
export const LINES_PER_STEP = 2048

/** Runs a generator of {@link decodeSteps} to its end without pausing. */
export const finishSteps = <A>(steps: Generator<number, A, void>): A => {
  for (;;) {
    const next = steps.next()
    if (next.done === true) return next.value
  }
}

/**
 * {@link decode} by its plain definition: the whole text parsed ({@link parseJson}), then
 * {@link decodeDocument}'s rules with the text's layout known. {@link decode} takes a line-by-line
 * fast path for files in this module's layout; exported for the differential test of that path.
 *
 * @since 0.2.0
 */
export const decodeWhole = (text: string, options: { readonly hash: Hash }): Either.Either<Decoded, CacheFileError> =>
  Either.flatMap(parseJson(text), (json) => decodeWith(json, options.hash, text))

const isObject = recordJson.isObject
const isCount = recordJson.isCount
const isHex64 = (u: unknown): u is string => typeof u === "string" && /^[0-9a-f]{64}$/.test(u)

/** The header of a well-formed document, checked by hand (the Schema is the arbiter otherwise). */
const fastHeader = (json: unknown): Schema.Schema.Type<typeof Header> | undefined => {
  if (!isObject(json)) return undefined
  const { checksum, lastUpdated, peers, version } = json
  return typeof version === "number" && Number.isSafeInteger(version) && version >= 1 && isCount(lastUpdated) &&
      isHex64(checksum) && Array.isArray(peers)
    ? { version, lastUpdated, checksum, peers }
    : undefined
}

const notACacheFile = (field: string, detail: string) =>
  Either.left(new CacheFileError({ reason: "NotACacheFile", detail: field === "" ? detail : `${field}: ${detail}`, ...(field === "" ? {} : { field }) }))

/** The header, or the error naming its first bad field (checked for depth and `__proto__` first). */
const readHeader = (json: unknown): Either.Either<Schema.Schema.Type<typeof Header>, CacheFileError> => {
  const fast = fastHeader(json)
  if (fast !== undefined) return Either.right(fast)
  const guard = jsonGuard.check(isObject(json) ? { ...json, peers: [] } : json)
  if (guard !== undefined) return notACacheFile(guard.path.replace(/^\./, ""), guard.reason)
  const header = decodeHeader(json)
  if (Either.isRight(header)) return Either.right(header.right)
  const issue = fileRecords.firstIssue(header.left)
  return notACacheFile(issue.path.replace(/^\./, ""), issue.message)
}

const PEERS_OPEN = `\n  "peers": [\n    `
const PEERS_CLOSE = `\n  ]\n}\n`

/** The version 1 payload read straight from a file laid out as {@link encode} writes it. */
const rawPayloadV1 = (text: string): string | undefined => {
  const open = text.indexOf(PEERS_OPEN)
  if (open < 0 || !text.endsWith(PEERS_CLOSE)) return undefined
  const inner = text.slice(open + PEERS_OPEN.length, text.length - PEERS_CLOSE.length)
  return `[${inner.replaceAll(",\n    ", ",")}]`
}

const mismatch = (actual: string, checksum: string) =>
  Either.left(new CacheFileError({ reason: "ChecksumMismatch", detail: `the file hashes to ${actual}, it says ${checksum}`, field: "checksum" }))

/**
 * Checks the checksum: from the text as written when it is in this module's layout (`exact`), else
 * over the values re-serialised (after a bounded check that they can be). Gives whether the layout
 * was exact (then record `i` is on a known line).
 */
const verify = (
  json: Record<string, unknown>,
  header: Schema.Schema.Type<typeof Header>,
  hash: Hash,
  text: string | undefined
): Either.Either<{ readonly exact: boolean }, CacheFileError> => {
  const v1 = header.version === 1
  const raw = text === undefined ? undefined : v1 ? rawPayloadV1(text) : fileV2.zeroedText(text)
  if (raw !== undefined && hash(raw) === header.checksum) return Either.right({ exact: true })
  const guard = jsonGuard.check(v1 ? header.peers : json, jsonGuard.MAX_DEPTH + 2)
  if (guard !== undefined) return notACacheFile(`${v1 ? "peers" : ""}${guard.path}`.replace(/^\./, ""), guard.reason)
  const actual = hash(v1 ? JSON.stringify(header.peers) : fileV2.rerendered(json as unknown as fileV2.Header))
  return actual === header.checksum ? Either.right({ exact: false }) : mismatch(actual, header.checksum)
}

/** The version ≥ 2 header fields beyond the common ones, or the error naming the first bad one. */
const readV2Fields = (json: Record<string, unknown>, peers: number): Either.Either<ReadonlyArray<unknown>, CacheFileError> => {
  const { head, headChecksum, sources } = json
  if (!isCount(head) || head > peers) return notACacheFile("head", `must be an integer from 0 to the number of peers (${peers})`)
  if (!isHex64(headChecksum)) return notACacheFile("headChecksum", "must be 64 lowercase hex characters")
  if (!Array.isArray(sources)) return notACacheFile("sources", "must be an array of sources")
  return Either.right(sources)
}

const decodeWith = (json: unknown, hash: Hash, text: string | undefined): Either.Either<Decoded, CacheFileError> => {
  const header = readHeader(json)
  if (Either.isLeft(header)) return Either.left(header.left)
  const doc = json as Record<string, unknown>
  const { peers, version } = header.right
  const v1 = version === 1
  let encodedSources: ReadonlyArray<unknown> = []
  if (!v1) {
    const fields = readV2Fields(doc, peers.length)
    if (Either.isLeft(fields)) return Either.left(fields.left)
    encodedSources = fields.right
  }
  const verified = verify(doc, header.right, hash, text)
  if (Either.isLeft(verified)) return Either.left(verified.left)
  const firstLine = verified.right.exact ? (v1 ? 6 : 2) : undefined
  return Either.right(finishSteps(fileRecords.bodySteps(header.right, VERSION, peers.length, (i) => peers[i], encodedSources, firstLine, peers.length)))
}

/**
 * A version ≥ 2 text exactly in this module's layout whose checksum holds, decoded a run of peer
 * lines at a time (`fileV2.lineValues`): each run is parsed and its records decoded in turn, so the
 * parsed JSON of a few hundred peers is garbage before the next run is read (the whole document is
 * never held, and never outlives a young-generation collection).
 * Gives what {@link decodeWith} gives for the same text (a differential test checks it); undefined
 * for any other text, which the general path then decodes (or names what is wrong with). Pauses as
 * {@link decodeSteps} says.
 */
const lineSteps = function*(
  text: string,
  zeroedHash: HashParts,
  linesPerStep: number
): Generator<number, Either.Either<Decoded, CacheFileError> | undefined, void> {
  const layout = fileV2.splitLines(text)
  if (layout === undefined) return undefined
  const header = fastHeader(layout.header)
  if (header === undefined || header.version < 2) return undefined
  const count = layout.starts.length
  const fields = readV2Fields(layout.header as Record<string, unknown>, count)
  if (Either.isLeft(fields) || zeroedHash(fileV2.zeroedParts(text)!) !== header.checksum) return undefined
  if (count > linesPerStep) yield 0
  try {
    return Either.right(yield* fileRecords.bodySteps(header, VERSION, count, fileV2.lineValues(text, layout), fields.right, 2, linesPerStep))
  } catch {
    // Lines that are not one JSON value each: the layout only looked exact.
    return undefined
  }
}

/**
 * The head of a version 2 file: its best peers at the time of the write, best first.
 *
 * @since 0.2.0
 */
export interface Head {
  readonly version: number
  readonly lastUpdated: number
  readonly records: ReadonlyArray<PeerRecord.PeerRecord>
}

/**
 * Reads only the head of a version 2 file from a prefix of its text (the first few KB hold it): the
 * header line and the `head` best peers, checked against `headChecksum`, without parsing, hashing or
 * building the rest. For dialling the best candidates while the whole file is decoded
 * ({@link decode}, which checks everything). None when the prefix is not a version ≥ 2 file in this
 * module's layout, does not hold the whole head, or the head does not hash to its checksum; records
 * the fast decoder does not accept are left out. Never throws.
 *
 * @since 0.2.0
 */
export const decodeHead = (prefix: string, options: { readonly hash: Hash }): Option.Option<Head> =>
  Option.flatMap(fileV2.readHead(prefix, options.hash), ({ header, lines }) => {
    const { lastUpdated, sources, version } = header
    if (typeof version !== "number" || !Number.isSafeInteger(version) || version < 2 || !isCount(lastUpdated) || !Array.isArray(sources)) {
      return Option.none()
    }
    const memo = recordJson.decodeMemo()
    const decodedSources = sources.map((s) => recordJson.decodeSource(s, memo))
    const records: Array<PeerRecord.PeerRecord> = []
    for (const line of lines) {
      const record = recordCompact.decodeFast(line, decodedSources, memo)
      if (record !== null) records.push(record)
    }
    return Option.some({ version, lastUpdated, records })
  })

/**
 * `version:lastUpdated:checksum` from the first bytes of a file in this module's layout (version 1
 * or 2), undefined for any other layout. The checksum covers the peers, so an equal key means an
 * equal file content: the store uses it to skip re-reading a file it knows.
 *
 * @since 0.2.0
 */
export const headerKey = (prefix: string): string | undefined => {
  const m = /^\{"version":(\d+),"lastUpdated":(\d+),"head":\d+,"headChecksum":"[0-9a-f]{64}","checksum":"([0-9a-f]{64})"/.exec(prefix) ??
    /^\{\n {2}"version": (\d+),\n {2}"lastUpdated": (\d+),\n {2}"checksum": "([0-9a-f]{64})",\n/.exec(prefix)
  return m === null ? undefined : `${m[1]}:${m[2]}:${m[3]}`
}
