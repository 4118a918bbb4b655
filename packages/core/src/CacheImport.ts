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
 * `successful_transfers` / `failed_transfers`): they become `successes` / `failures`;
 * `consecutiveFailures` is `failures` when the entry never succeeded and 0 otherwise (the files do not
 * say in which order outcomes came, and a never-reached address should rank as one); `lastSeen`
 * (epoch ms) becomes the address's and the peer's last seen, the import time `now` when absent;
 * chiral's latency becomes `rttMs`, its `supports_relay` / `is_bootstrap` the `relay` / `bootstrap`
 * capabilities. No format records the time of the last success or failure, so those stay unknown.
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
 * JSON (`MalformedJson`, with its line), or a bootstrap-cache file that is damaged
 * (`CorruptCacheFile`). `detail` says what was seen.
 *
 * @since 0.1.0
 */
export class ImportFormatError extends Schema.TaggedError<ImportFormatError>()("ImportFormatError", {
  reason: Schema.Literal("UnknownFormat", "MalformedJson", "CorruptCacheFile"),
  detail: Schema.String,
  line: Schema.optional(Schema.Int)
}) {
  override get message(): string {
    return `${this.reason}${this.line === undefined ? "" : ` at line ${this.line}`}: ${this.detail}`
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
        : Either.left(`${entry.multiaddr} names peer ${address.peerId.value} but is listed under ${entry.peerId}`)
    }
    return Either.mapLeft(PeerAddress.parse(`${address.multiaddr}/p2p/${entry.peerId}`), (e) => e.message)
  })

const fromForeign = (decoded: ForeignCache.Decoded, options: ParseOptions): Parsed => {
  const records: Array<PeerRecord.PeerRecord> = []
  const bad: Array<BadEntry> = decoded.bad.map((b) => ({ location: b.path === "" ? "document" : b.path, reason: b.reason }))
  decoded.entries.forEach((entry) => {
    const address = foreignAddress(entry)
    if (Either.isLeft(address)) {
      bad.push({ location: entry.path, reason: address.left })
      return
    }
    records.push(recordOf(address.right, {
      at: entry.lastSeen ?? Option.getOrElse(decoded.lastUpdated, () => options.now),
      from: options.from,
      successes: entry.successes,
      failures: entry.failures,
      ...(entry.rttMs === undefined ? {} : { rttMs: entry.rttMs }),
      ...(entry.relay === undefined ? {} : { relay: entry.relay }),
      ...(entry.bootstrap === undefined ? {} : { bootstrap: entry.bootstrap })
    }))
  })
  return { format: decoded.format, records, entries: records.length, bad }
}

const fromOwn = (json: unknown, options: ParseOptions): Either.Either<Parsed, ImportFormatError> =>
  Either.match(CacheFile.decodeDocument(json, { hash: options.hash }), {
    onLeft: (e) => Either.left(new ImportFormatError({ reason: "CorruptCacheFile", detail: e.message })),
    onRight: (decoded) => {
      const records = PeerTable.toRecords(decoded.table).map((r) => ({
        ...r,
        sources: PeerRecord.addSource(r.sources, importSource(options.from))
      }))
      return Either.right({
        format: "bootstrap-cache" as const,
        records,
        entries: PeerTable.addressCount(decoded.table),
        bad: decoded.rejected.map((r) => ({ location: r.path, reason: r.reason }))
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
      bad.push({ location, reason: `a multiaddr must be a string, got ${JSON.stringify(text)}` })
      continue
    }
    Either.match(PeerAddress.parse(unquote(text)), {
      onLeft: (e) => bad.push({ location, reason: e.message }),
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
    const json = CacheFile.parseJson(body)
    if (Either.isLeft(json)) {
      return Either.left(new ImportFormatError({
        reason: "MalformedJson",
        detail: json.left.detail,
        ...(json.left.line === undefined ? {} : { line: json.left.line })
      }))
    }
    if (Array.isArray(json.right)) {
      return Either.right(fromLines(json.right.map((text, i) => ({ text, location: `[${i}]` })), "multiaddr-json", options))
    }
    if (CacheFile.isCacheDocument(json.right)) return fromOwn(json.right, options)
    return Either.match(ForeignCache.decode(json.right), {
      onLeft: (e) => Either.left(new ImportFormatError({ reason: "UnknownFormat", detail: e.reason })),
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
