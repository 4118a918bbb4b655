/**
 * Parsing a contacts list — the body of an HTTP contacts endpoint, or any file of peer addresses —
 * into validated, filtered, de-duplicated peer addresses, with a report of every line that was not used.
 *
 * The format is detected from the content, never from a Content-Type or a file name:
 *
 * | format          | recognised by                                           | example |
 * | --------------- | ------------------------------------------------------- | ------- |
 * | `text`          | anything not starting with `[` or `{`                   | one multiaddr per line (Autonomi network-contacts, kubo, lotus `.pi`) |
 * | `json-array`    | a JSON array                                            | `["/ip4/…", "/dns/…"]` (substrate chain spec `bootNodes`) |
 * | `cache-file`    | a JSON object with `checksum` and a `peers` array (`CacheFile.isCacheDocument`) | this project's cache file |
 * | foreign formats | see `ForeignCache.detect`                               | Safe Network, Autonomi v0/v1, Chiral caches |
 * | `unknown-json`  | starts with `[`/`{` but is malformed or unrecognised JSON | — |
 *
 * Plain text rules: lines split on LF, CRLF or CR; everything from `#` to the end of a line is a
 * comment (no multiaddr contains `#`); surrounding whitespace is trimmed; blank lines are skipped; a
 * leading UTF-8 BOM is ignored.
 *
 * Every address goes through `PeerAddress.parse`. A line that does not parse is counted as `invalid`,
 * one that parses but is refused by the {@link AddressFilter} as `filtered`, and a repeat of an
 * earlier address (same `PeerAddress.key`: host + port + transport, plus the peer id for `/dnsaddr`)
 * as a `duplicate`; none of them is fatal. Duplicates are merged: the first occurrence keeps its
 * place, and takes the peer id of a repeat when it had none. The first few unused lines are kept as
 * {@link Issue}s with their line number and reason.
 *
 * Pure: no I/O, no clock.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as CacheFile from "./CacheFile.js"
import * as ForeignCache from "./ForeignCache.js"
import * as JsonInput from "./JsonInput.js"
import * as PeerAddress from "./PeerAddress.js"

/**
 * The detected format of a contacts body (see the module docs for how each is recognised).
 *
 * @since 0.1.0
 */
export type Format = "text" | "json-array" | "cache-file" | ForeignCache.Format | "unknown-json"

/**
 * Which parsed addresses are accepted.
 *
 * - `requirePeerId` (default `false`): refuse addresses without a `/p2p/<peer id>`.
 * - `transports` (default: any): the allowed `PeerAddress.transport` values, e.g.
 *   `["tcp", "udp/quic-v1"]`; `""` admits `/dnsaddr` addresses, which name no transport.
 * - `allowLoopback`, `allowPrivate` (default `false`): admit loopback, and private or link-local hosts
 *   (on for local demos and tests). Unspecified (`0.0.0.0`, `::`) and reserved hosts and relayed
 *   (`/p2p-circuit`) addresses are always refused: the rule is `PeerAddress.isDialable`'s.
 *
 * @since 0.1.0
 */
export interface AddressFilter {
  readonly requirePeerId?: boolean
  readonly transports?: ReadonlyArray<string>
  readonly allowLoopback?: boolean
  readonly allowPrivate?: boolean
}

/**
 * Options for {@link parse}.
 *
 * - `filter`: see {@link AddressFilter}; default accepts every public address.
 * - `maxAddresses` (default unlimited): accept at most this many addresses; later valid ones are
 *   counted in `overLimit`.
 * - `maxIssues` (default 10): keep at most this many {@link Issue}s (all are still counted).
 * - `truncated` (default `false`): the body was cut off at a size cap, so for plain text its last line,
 *   if it does not end with a line break, is incomplete and is dropped rather than reported invalid.
 *
 * @since 0.1.0
 */
export interface ParseOptions {
  readonly filter?: AddressFilter
  readonly maxAddresses?: number
  readonly maxIssues?: number
  readonly truncated?: boolean
}

/**
 * A line or entry that was not used.
 *
 * - `line`: for plain text, the 1-based physical line number (LF, CRLF and CR each end a line; comment
 *   and blank lines count); for a JSON array, the 1-based position of the entry; for the cache-file and
 *   foreign formats, the 1-based position of the peer in the document's peer list (map order for the
 *   map-shaped formats); 0 for the document as a whole (malformed JSON, a bad header field).
 * - `path`: for JSON formats, the JSON path of the offending value (e.g. `[3]`, `peers[2].addresses[0]`,
 *   `peers["12D3KooW…"][1].addr`, `last_updated`); absent for plain text.
 * - `input`: the offending text (at most 200 characters).
 * - `kind`: `invalid` (did not parse or decode) or `filtered` (parsed, refused by the filter).
 * - `reason`: why.
 *
 * @since 0.1.0
 */
export interface Issue {
  readonly line: number
  readonly path?: string
  readonly input: string
  readonly kind: "invalid" | "filtered"
  readonly reason: string
}

/**
 * The result of {@link parse}: the detected `format`, the accepted `addresses` (each once, in input
 * order), and the counts: `entries` considered (non-blank, non-comment lines or JSON entries),
 * `invalid`, `filtered`, `duplicates`, `overLimit` (valid but beyond `maxAddresses`), plus the first
 * `issues`. `entries = addresses.length + invalid + filtered + duplicates + overLimit`, except that
 * document-level problems of JSON formats (malformed JSON, a bad `last_updated`) count as `invalid`
 * without being an entry.
 *
 * @since 0.1.0
 */
export interface Parsed {
  readonly format: Format
  readonly addresses: ReadonlyArray<PeerAddress.PeerAddress>
  readonly entries: number
  readonly invalid: number
  readonly filtered: number
  readonly duplicates: number
  readonly overLimit: number
  readonly issues: ReadonlyArray<Issue>
}

/** Default number of issues kept by {@link parse}. */
const DEFAULT_MAX_ISSUES = 10
const MAX_INPUT_SHOWN = 200

interface Candidate {
  readonly line: number
  readonly path?: string
  readonly input: string
  readonly peerId?: string
}

interface DocumentIssue {
  readonly line: number
  readonly path?: string
  readonly input: string
  readonly reason: string
}

interface Extracted {
  readonly format: Format
  readonly candidates: ReadonlyArray<Candidate>
  readonly problems: ReadonlyArray<DocumentIssue>
}

const stripBom = (body: string): string => (body.charCodeAt(0) === 0xfeff ? body.slice(1) : body)

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)


const show = (u: unknown): string =>
  typeof u === "string"
    ? (u.length > MAX_INPUT_SHOWN ? `${u.slice(0, MAX_INPUT_SHOWN)}…` : u)
    : JsonInput.preview(u, MAX_INPUT_SHOWN)


/**
 * Detects the format of a contacts body by its content (see the module docs).
 *
 * @since 0.1.0
 */
export const detect = (body: string): Format => extract(body, false).format

const extractText = (body: string, truncated: boolean): Extracted => {
  const lines = body.split(/\r\n|\n|\r/)
  // A cut-off body's last line is incomplete unless the cut fell on a line break.
  if (truncated && lines.length > 0) lines.pop()
  const candidates: Array<Candidate> = []
  lines.forEach((raw, i) => {
    const hash = raw.indexOf("#")
    const text = (hash === -1 ? raw : raw.slice(0, hash)).trim()
    if (text.length > 0) candidates.push({ line: i + 1, input: text })
  })
  return { format: "text", candidates, problems: [] }
}

const extractJsonArray = (json: ReadonlyArray<unknown>): Extracted => {
  const candidates: Array<Candidate> = []
  const problems: Array<DocumentIssue> = []
  json.forEach((item, i) => {
    if (typeof item === "string") candidates.push({ line: i + 1, path: `[${i}]`, input: item.trim() })
    else problems.push({ line: i + 1, path: `[${i}]`, input: show(item), reason: "an entry must be a multiaddr string" })
  })
  return { format: "json-array", candidates, problems }
}

/**
 * This project's cache file (`CacheFile`): `{ version, lastUpdated, checksum, peers: [PeerRecord] }`
 * where a peer is `{ peerId?, addresses: [{ multiaddr, … }], … }` (version 1) or the compact
 * `[peerId | null, firstSeen, lastSeen, [[multiaddr, …], …], …]` (version 2). Only the addresses are read, one by
 * one, so one bad address costs only itself (a peer may also be a multiaddr string or `{ multiaddr }`).
 * `line` is the 1-based position of the peer.
 * The checksum is not verified: the core has no SHA-256 (`CacheFile` takes the hash as an argument),
 * and a list fetched from an endpoint is validated address by address like any other.
 */
const extractCacheFile = (json: Record<string, unknown>): Extracted => {
  const candidates: Array<Candidate> = []
  const problems: Array<DocumentIssue> = []
  const peers = json.peers as ReadonlyArray<unknown>
  const add = (item: unknown, line: number, path: string, peerId: string | undefined) => {
    const input = typeof item === "string" ? item : isRecord(item) ? item.multiaddr : undefined
    if (typeof input === "string") {
      candidates.push({ line, path, input: input.trim(), ...(peerId === undefined ? {} : { peerId }) })
    } else {
      problems.push({ line, path, input: show(item), reason: "an address must be a multiaddr string or {multiaddr}" })
    }
  }
  peers.forEach((peer, i) => {
    if (Array.isArray(peer) && Array.isArray(peer[3])) {
      // Version 2: [peerId | null, firstSeen, lastSeen, [[multiaddr, …counters], …], …]; a multiaddr
      // ending in a bare `/p2p` names the record's peer id.
      const peerId = typeof peer[0] === "string" ? peer[0] : undefined
      ;(peer[3] as ReadonlyArray<unknown>).forEach((a, j) => {
        const input = Array.isArray(a) ? a[0] : a
        const multiaddr = typeof input === "string" && input.endsWith("/p2p") ? input.slice(0, -4) : input
        add(multiaddr, i + 1, `peers[${i}][3][${j}]`, peerId)
      })
    } else if (isRecord(peer) && Array.isArray(peer.addresses)) {
      const peerId = typeof peer.peerId === "string" ? peer.peerId : undefined
      peer.addresses.forEach((a: unknown, j: number) => add(a, i + 1, `peers[${i}].addresses[${j}]`, peerId))
    } else {
      add(peer, i + 1, `peers[${i}]`, undefined)
    }
  })
  return { format: "cache-file", candidates, problems }
}

const extractForeign = (format: ForeignCache.Format, json: unknown): Extracted => {
  const decoded = ForeignCache.decodeAs(format, json)
  const candidates: Array<Candidate> = decoded.entries.map((entry) => ({
    line: entry.index + 1,
    path: entry.path,
    input: entry.multiaddr,
    ...(entry.peerId === undefined ? {} : { peerId: entry.peerId })
  }))
  const problems: Array<DocumentIssue> = decoded.bad.map((bad) => ({
    line: bad.index === undefined ? 0 : bad.index + 1,
    path: bad.path,
    input: bad.path,
    reason: bad.reason
  }))
  return { format, candidates, problems }
}

const extract = (rawBody: string, truncated: boolean): Extracted => {
  const body = stripBom(rawBody)
  const start = body.trimStart()
  if (!start.startsWith("[") && !start.startsWith("{")) return extractText(body, truncated)
  const parsed = JsonInput.parse(body)
  if (Either.isLeft(parsed)) {
    return {
      format: "unknown-json",
      candidates: [],
      problems: [{
        line: 0,
        input: show(start),
        reason: `${parsed.left.reason === "TooDeep" ? "JSON" : "malformed JSON"}${truncated ? " (the body was cut off at the size cap)" : ""}: ${parsed.left.detail}`
      }]
    }
  }
  const json = parsed.right
  if (Array.isArray(json)) return extractJsonArray(json)
  if (isRecord(json) && CacheFile.isCacheDocument(json)) return extractCacheFile(json)
  return Option.match(ForeignCache.detect(json), {
    onNone: () => ({
      format: "unknown-json" as const,
      candidates: [],
      problems: [{
        line: 0,
        input: show(start),
        reason: "JSON that is neither an array of multiaddrs, a bootstrap-cache file nor a known foreign cache"
      }]
    }),
    onSome: (format) => extractForeign(format, json)
  })
}

/**
 * Why the filter refuses an address, or `undefined` when it accepts it (see {@link AddressFilter}).
 *
 * @since 0.1.0
 */
export const refusal = (address: PeerAddress.PeerAddress, filter: AddressFilter = {}): string | undefined => {
  if (!PeerAddress.isDialable(address, { allowLoopback: filter.allowLoopback === true, allowPrivate: filter.allowPrivate === true })) {
    if (address.relayed) return "relayed addresses (/p2p-circuit) are not dialled directly"
    switch (address.scope) {
      case "loopback":
        return "loopback host refused (allowLoopback is off)"
      case "private":
      case "link-local":
        return `${address.scope} host refused (allowPrivate is off)`
      default:
        return `${address.scope} host is never dialled`
    }
  }
  if (filter.requirePeerId === true && Option.isNone(address.peerId)) {
    return "no peer id (/p2p/…) and requirePeerId is on"
  }
  if (filter.transports !== undefined && !filter.transports.includes(address.transport)) {
    return `transport ${JSON.stringify(address.transport)} is not among the allowed ${JSON.stringify(filter.transports)}`
  }
  return undefined
}

const parseCandidate = (c: Candidate): Either.Either<PeerAddress.PeerAddress, string> => {
  const parsed = Either.mapLeft(PeerAddress.parse(c.input), (e) => e.reason)
  if (c.peerId === undefined || Either.isLeft(parsed)) return parsed
  const address = parsed.right
  if (address.relayed) return parsed
  if (Option.isSome(address.peerId)) {
    return address.peerId.value === c.peerId
      ? parsed
      : Either.left(`address names peer ${address.peerId.value} but is listed under ${c.peerId}`)
  }
  return Either.mapLeft(PeerAddress.parse(`${address.multiaddr}/p2p/${c.peerId}`), (e) => e.reason)
}

/**
 * Parses a contacts body (see the module docs for formats and rules). Never fails (never throws, for
 * any input): everything that cannot be used is counted and the first `maxIssues` are reported as
 * {@link Issue}s; duplicates are counted but not reported. For the formats that file addresses under a
 * peer id outside the multiaddr (Autonomi, Chiral, the cache file), `/p2p/<peer id>` is appended to
 * addresses that lack it, and an address naming a different peer is invalid.
 *
 * Cost: O(body length); one `PeerAddress.parse` per entry.
 *
 * @since 0.1.0
 */
export const parse = (body: string, options: ParseOptions = {}): Parsed => {
  const maxIssues = options.maxIssues ?? DEFAULT_MAX_ISSUES
  const maxAddresses = options.maxAddresses ?? Number.POSITIVE_INFINITY
  const extracted = extract(body, options.truncated === true)
  const issues: Array<Issue> = []
  const report = (issue: Issue) => {
    if (issues.length < maxIssues) issues.push(issue)
  }
  for (const p of extracted.problems) report({ ...p, kind: "invalid" })

  const addresses: Array<PeerAddress.PeerAddress> = []
  // key → position in `addresses` (-1 when the first occurrence was over the limit)
  const seen = new Map<string, number>()
  let invalid = extracted.problems.length
  let filtered = 0
  let duplicates = 0
  let overLimit = 0
  for (const c of extracted.candidates) {
    const where = { line: c.line, ...(c.path === undefined ? {} : { path: c.path }), input: show(c.input) }
    const parsed = parseCandidate(c)
    if (Either.isLeft(parsed)) {
      invalid++
      report({ ...where, kind: "invalid", reason: parsed.left })
      continue
    }
    const address = parsed.right
    const refused = refusal(address, options.filter)
    if (refused !== undefined) {
      filtered++
      report({ ...where, kind: "filtered", reason: refused })
      continue
    }
    const at = seen.get(address.key)
    if (at !== undefined) {
      duplicates++
      // Merge: the first occurrence keeps its place and learns the peer id it lacked.
      const kept = at >= 0 ? addresses[at] : undefined
      if (kept !== undefined && Option.isNone(kept.peerId) && Option.isSome(address.peerId)) addresses[at] = address
      continue
    }
    if (addresses.length >= maxAddresses) {
      seen.set(address.key, -1)
      overLimit++
      continue
    }
    seen.set(address.key, addresses.length)
    addresses.push(address)
  }
  return {
    format: extracted.format,
    addresses,
    entries: extracted.candidates.length + extracted.problems.filter((p) => p.line > 0).length,
    invalid,
    filtered,
    duplicates,
    overLimit,
    issues
  }
}
