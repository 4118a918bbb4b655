/**
 * Reads any peer cache a user may want to import into ours, detected by content (never by file name):
 *
 * 1. a bootstrap-cache file of any version (`CacheFile`: an object with `checksum` and `peers`);
 * 2. a foreign cache (`ForeignCache`: Safe Network, Autonomi ant-bootstrap v0 and v1, Chiral);
 * 3. a JSON array of multiaddr strings;
 * 4. a plain list of multiaddrs, one per line (`#` comments and blank lines skipped, surrounding
 *    quotes and a trailing comma tolerated), as bootstrap lists are published.
 *
 * Every entry becomes a `PeerRecord` ready for `PeerTable.upsert`, with `{ _tag: "import", from }`
 * added to its sources. Entries that do not parse (an address, a record, a peer id that is not one)
 * are reported in `bad` with their location (a line number or the JSON path of the offending value,
 * e.g. `peers[3].peerId`, `peers[2].peer_id`, `peers[1][1][0]`) and the reason; they are never
 * fatal. Only a document that is none of the formats above, or a bootstrap-cache file that fails its
 * checksum, fails as a whole.
 *
 * Mapping of foreign counters (ant-bootstrap `success_count` / `failure_count`, chiral
 * `successful_transfers` / `failed_transfers`): they become `successes` / `failures` (chiral keeps
 * them per peer, so they go to the peer's first listed address only and its other addresses start
 * at zero: a peer with two addresses does not count its history twice);
 * `consecutiveFailures` is `failures` when the entry never succeeded and 0 otherwise (the files do not
 * say in which order outcomes came, and a never-reached address should rank as one); `lastSeen`
 * (epoch ms) becomes the address's and the peer's last seen, the import time `now` when absent;
 * chiral's latency becomes `rttMs`, its `supports_relay` / `is_bootstrap` the `relay` / `bootstrap`
 * capabilities. No format records the time of the last success or failure, so those stay unknown.
 *
 * Every value accepted is one the cache file loader accepts (`PeerRecord.PeerRecord` checked at
 * this boundary): counters and timestamps must be non-negative safe integers and `rttMs` a finite
 * non-negative number, else the entry is reported in `bad` (its value quoted by a short prefix);
 * a last-seen time after `now` is clamped to `now`. JSON nested deeper than `JsonInput.MAX_DEPTH`
 * fails as a whole (`TooDeep`) before it is parsed, so no input can overflow the stack.
 *
 * Merging is idempotent ({@link merge}): an address already known keeps, for each counter, the
 * larger of its own and the imported value (never their sum) and the later of each timestamp, so
 * importing the same file twice, or re-importing this cache's own `export`, leaves the cache as one
 * import does.
 *
 * Pure: the import time `now` (epoch ms) and the {@link CacheFile.Hash} arrive as arguments.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as CacheFile from "./CacheFile.js"
import * as ForeignCache from "./ForeignCache.js"
import * as JsonInput from "./JsonInput.js"
import * as PeerAddress from "./PeerAddress.js"
import * as PeerRecord from "./PeerRecord.js"
import * as PeerTable from "./PeerTable.js"

/**
 * The formats {@link parse} recognises.
 *
 * @since 0.1.0
 */
export type Format = "bootstrap-cache" | ForeignCache.Format | "multiaddr-json" | "multiaddr-list"

/**
 * An entry that could not be imported: where it is (`line 3`, `peers[2].addresses[1]`,
 * `peers[0].peerId`) and why.
 *
 * @since 0.1.0
 */
export interface BadEntry {
  readonly location: string
  readonly reason: string
}

/**
 * What a document holds: its `format`, the `records` to merge, how many address `entries` were read
 * (good ones), and the `bad` entries.
 *
 * @since 0.1.0
 */
export interface Parsed {
  readonly format: Format
  readonly records: ReadonlyArray<PeerRecord.PeerRecord>
  readonly entries: number
  readonly bad: ReadonlyArray<BadEntry>
}

/**
 * The document cannot be imported at all: none of the known formats (`UnknownFormat`), malformed
 * JSON (`MalformedJson`, with its line), JSON nested deeper than `JsonInput.MAX_DEPTH`
 * (`TooDeep`), or a bootstrap-cache file that is damaged (`CorruptCacheFile`). `detail` says what
 * was seen, in one line of at most a few hundred characters.
 *
 * @since 0.1.0
 */
export class ImportFormatError extends Schema.TaggedError<ImportFormatError>()("ImportFormatError", {
  reason: Schema.Literal("UnknownFormat", "MalformedJson", "CorruptCacheFile", "TooDeep"),
  detail: Schema.String,
  line: Schema.optional(Schema.Int)
}) {
  override get message(): string {
    return `${this.reason}${this.line === undefined ? "" : ` at line ${this.line}`}: ${JsonInput.oneLine(this.detail)}`
  }
}

/**
 * Options of {@link parse}: `now` (epoch ms, the time entries without a last-seen are stamped with),
 * `from` (the file path or URL recorded as the `import` source) and the `hash` for bootstrap-cache
 * files' checksums.
 *
 * @since 0.1.0
 */
export interface ParseOptions {
  readonly now: number
  readonly from: string
  readonly hash: CacheFile.Hash
}

const importSource = (from: string): PeerRecord.Source => ({ _tag: "import", from })

/** A record for one address heard of at `at`, with the given counters. */
const recordOf = (
  address: PeerAddress.PeerAddress,
  options: {
    readonly at: number
    readonly from: string
    readonly successes?: number
    readonly failures?: number
    readonly rttMs?: number
    readonly relay?: boolean
    readonly bootstrap?: boolean
  }
): PeerRecord.PeerRecord => {
  const successes = options.successes ?? 0
  const failures = options.failures ?? 0
  return {
    peerId: address.relayed ? Option.none() : address.peerId,
    addresses: [{
      ...PeerRecord.makeAddressRecord(address, options.at),
      successes,
      failures,
      consecutiveFailures: successes === 0 ? failures : 0,
      rttMs: options.rttMs === undefined ? Option.none() : Option.some(options.rttMs)
    }],
    protocols: [],
    capabilities: {
      ...PeerRecord.noCapabilities,
      relay: options.relay ?? false,
      bootstrap: options.bootstrap ?? false
    },
    sources: [importSource(options.from)],
    firstSeen: options.at,
    lastSeen: options.at
  }
}

const validate = Schema.validateEither(PeerRecord.PeerRecord, { errors: "first" })
const isCount = (n: number) => Number.isSafeInteger(n) && n >= 0

/**
 * The record as the loader will accept it, or why not: counters and times must be non-negative safe
 * integers and `rttMs` finite (the cache file cannot hold `1e308`, `2^53 + 1` or `Infinity`); a
 * last-seen time after `now` is clamped to `now`. `PeerRecord.PeerRecord` is the final arbiter.
 */
const checked = (record: PeerRecord.PeerRecord, now: number): Either.Either<PeerRecord.PeerRecord, string> => {
  const r = record.addresses[0]!
  const counters = { successes: r.successes, failures: r.failures, consecutiveFailures: r.consecutiveFailures, bytesTransferred: r.bytesTransferred }
  for (const [name, value] of Object.entries(counters)) {
    if (!isCount(value)) return Either.left(`${name} ${JsonInput.preview(value)} is not a count (a non-negative integer below 2^53)`)
  }
  if (!isCount(record.lastSeen)) return Either.left(`last seen ${JsonInput.preview(record.lastSeen)} is not a time (epoch ms below 2^53)`)
  if (Option.isSome(r.rttMs) && !(Number.isFinite(r.rttMs.value) && r.rttMs.value >= 0)) {
    return Either.left(`latency ${JsonInput.preview(r.rttMs.value)} ms is not a finite non-negative number`)
  }
  const at = Math.min(record.lastSeen, now)
  const clamped: PeerRecord.PeerRecord = at === record.lastSeen ? record : {
    ...record,
    firstSeen: Math.min(record.firstSeen, at),
    lastSeen: at,
    addresses: [{ ...r, lastSeen: Option.some(at) }]
  }
  return Either.mapLeft(validate(clamped), (e) => JsonInput.oneLine(e.message))
}

/**
 * Merges imported records into a table, idempotently: for an address the table already holds, each
 * counter (`successes`, `failures`, `bytesTransferred`) becomes the larger of the two values, never
 * their sum, and timestamps the later of the two (`PeerTable.upsert` rules); `consecutiveFailures`
 * follows the side with the later outcome. New addresses are inserted as they are. So
 * `merge(merge(t, rs), rs)` equals `merge(t, rs)`, and re-importing this cache's own export changes
 * nothing but sources.
 *
 * @since 0.1.0
 */
export const merge = (table: PeerTable.PeerTable, records: ReadonlyArray<PeerRecord.PeerRecord>): PeerTable.PeerTable => {
  let out = table
  for (const record of records) {
    const addresses = record.addresses.map((r) =>
      Option.match(PeerTable.lookupAddress(out, r.address), {
        onNone: () => r,
        // upsert adds counters: adding only what exceeds the held value gives the maximum.
        onSome: ({ record: held }) => ({
          ...r,
          successes: Math.max(0, r.successes - held.successes),
          failures: Math.max(0, r.failures - held.failures),
          bytesTransferred: Math.max(0, r.bytesTransferred - held.bytesTransferred)
        })
      })
    )
    out = PeerTable.upsert(out, { ...record, addresses })
  }
  return out
}

/**
 * Parses a foreign entry's address and files it under the entry's peer id (checked and canonical:
 * `ForeignCache` reports a peer whose id is not one, so it never gets here).
 */
const foreignAddress = (entry: ForeignCache.Entry): Either.Either<PeerAddress.PeerAddress, string> =>
  Either.flatMap(Either.mapLeft(PeerAddress.parse(entry.multiaddr), (e) => e.message), (address) => {
    if (entry.peerId === undefined || address.relayed) return Either.right(address)
    if (Option.isSome(address.peerId)) {
      return address.peerId.value === entry.peerId
        ? Either.right(address)
        : Either.left(`${entry.multiaddr.length > 80 ? `${entry.multiaddr.slice(0, 80)}…` : entry.multiaddr} names peer ${address.peerId.value} but is listed under ${entry.peerId}`)
    }
    return Either.mapLeft(PeerAddress.parse(`${address.multiaddr}/p2p/${entry.peerId}`), (e) => e.message)
  })

const fromForeign = (decoded: ForeignCache.Decoded, options: ParseOptions): Parsed => {
  const records: Array<PeerRecord.PeerRecord> = []
  const bad: Array<BadEntry> = decoded.bad.map((b) => ({ location: b.path === "" ? "document" : b.path, reason: JsonInput.oneLine(b.reason) }))
  // chiral counts per peer: its counters go to the first address of each peer only.
  const counted = new Set<string>()
  decoded.entries.forEach((entry) => {
    const address = foreignAddress(entry)
    if (Either.isLeft(address)) {
      bad.push({ location: entry.path, reason: JsonInput.oneLine(address.left) })
      return
    }
    const perPeer = decoded.format === "chiral" && entry.peerId !== undefined
    const first = !perPeer || !counted.has(entry.peerId!)
    const record = checked(recordOf(address.right, {
      at: entry.lastSeen ?? Option.getOrElse(decoded.lastUpdated, () => options.now),
      from: options.from,
      successes: first ? entry.successes : 0,
      failures: first ? entry.failures : 0,
      ...(entry.rttMs === undefined ? {} : { rttMs: entry.rttMs }),
      ...(entry.relay === undefined ? {} : { relay: entry.relay }),
      ...(entry.bootstrap === undefined ? {} : { bootstrap: entry.bootstrap })
    }), options.now)
    if (Either.isLeft(record)) {
      bad.push({ location: entry.path, reason: record.left })
      return
    }
    if (perPeer) counted.add(entry.peerId!)
    records.push(record.right)
  })
  return { format: decoded.format, records, entries: records.length, bad }
}

const fromOwn = (json: unknown, options: ParseOptions): Either.Either<Parsed, ImportFormatError> =>
  Either.match(CacheFile.decodeDocument(json, { hash: options.hash }), {
    onLeft: (e) => Either.left(new ImportFormatError({ reason: "CorruptCacheFile", detail: JsonInput.oneLine(e.message) })),
    onRight: (decoded) => {
      const records = PeerTable.toRecords(decoded.table).map((r) => ({
        ...r,
        sources: PeerRecord.addSource(r.sources, importSource(options.from))
      }))
      return Either.right({
        format: "bootstrap-cache" as const,
        records,
        entries: PeerTable.addressCount(decoded.table),
        bad: decoded.rejected.map((r) => ({ location: r.path, reason: JsonInput.oneLine(r.reason) }))
      })
    }
  })

const unquote = (line: string): string => {
  let s = line.trim()
  if (s.endsWith(",")) s = s.slice(0, -1).trim()
  if (s.length >= 2 && (s[0] === "\"" || s[0] === "'") && s[s.length - 1] === s[0]) s = s.slice(1, -1).trim()
  return s
}

const fromLines = (
  lines: ReadonlyArray<{ readonly text: unknown; readonly location: string }>,
  format: "multiaddr-json" | "multiaddr-list",
  options: ParseOptions
): Parsed => {
  const records: Array<PeerRecord.PeerRecord> = []
  const bad: Array<BadEntry> = []
  for (const { location, text } of lines) {
    if (typeof text !== "string") {
      bad.push({ location, reason: `a multiaddr must be a string, got ${JsonInput.preview(text)}` })
      continue
    }
    Either.match(PeerAddress.parse(unquote(text)), {
      onLeft: (e) => bad.push({ location, reason: JsonInput.oneLine(e.message) }),
      onRight: (address) => records.push(recordOf(address, { at: options.now, from: options.from }))
    })
  }
  return { format, records, entries: records.length, bad }
}

/**
 * Reads a document to import (see the module docs for the formats and the mapping). Fails with
 * {@link ImportFormatError} only when the document as a whole is unusable; bad entries are reported
 * in `bad`.
 *
 * @since 0.1.0
 */
export const parse = (text: string, options: ParseOptions): Either.Either<Parsed, ImportFormatError> => {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  const start = body.trimStart()[0]
  if (start === "{" || start === "[") {
    if (JsonInput.depth(body, JsonInput.MAX_DEPTH) > JsonInput.MAX_DEPTH) {
      return Either.left(new ImportFormatError({ reason: "TooDeep", detail: `JSON nested deeper than ${JsonInput.MAX_DEPTH} levels` }))
    }
    const json = CacheFile.parseJson(body)
    if (Either.isLeft(json)) {
      return Either.left(new ImportFormatError({
        reason: "MalformedJson",
        detail: JsonInput.oneLine(json.left.detail),
        ...(json.left.line === undefined ? {} : { line: json.left.line })
      }))
    }
    if (Array.isArray(json.right)) {
      return Either.right(fromLines(json.right.map((text, i) => ({ text, location: `[${i}]` })), "multiaddr-json", options))
    }
    if (CacheFile.isCacheDocument(json.right)) return fromOwn(json.right, options)
    return Either.match(ForeignCache.decode(json.right), {
      onLeft: (e) => Either.left(new ImportFormatError({ reason: "UnknownFormat", detail: JsonInput.oneLine(e.reason) })),
      onRight: (decoded) => Either.right(fromForeign(decoded, options))
    })
  }
  const lines = body.split(/\r?\n/).flatMap((line, i) => {
    const t = line.trim()
    return t === "" || t.startsWith("#") ? [] : [{ text: t, location: `line ${i + 1}` }]
  })
  if (lines.length > 0 && !lines.some(({ text }) => unquote(text).startsWith("/"))) {
    return Either.left(new ImportFormatError({
      reason: "UnknownFormat",
      detail: `neither JSON nor a list of multiaddrs (line ${lines[0]!.location.slice(5)} starts ${JSON.stringify(lines[0]!.text.slice(0, 40))})`
    }))
  }
  return Either.right(fromLines(lines, "multiaddr-list", options))
}
