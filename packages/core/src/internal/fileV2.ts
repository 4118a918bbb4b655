/**
 * The layout of a version 2 cache file: a header line, then one compact peer per line
 * (`recordCompact`), the `head` best peers first (by score at the write), the rest by peer key.
 *
 * ```
 * {"version":2,"lastUpdated":…,"head":32,"headChecksum":"…","checksum":"…","sources":[…],"peers":[
 * [peer],
 * …
 * [peer]
 * ]}
 * ```
 *
 * - `checksum`: SHA-256 of the whole text with the 64 digits of `checksum` itself written as `0`s,
 *   so the header (version, lastUpdated, head, sources) is covered as well as the peers. Every
 *   version from 2 on computes `checksum` this way; a version that needs another scheme names its
 *   field differently. A file whose text is not in this layout (re-indented by hand) is checked
 *   against this layout re-rendered from its values.
 * - `headChecksum`: SHA-256 of the head lines as written (each with its trailing `,`, joined by
 *   line breaks), so the head can be read and trusted without reading the rest of the file.
 */
import * as Option from "effect/Option"
import type * as PeerRecord from "../PeerRecord.js"
import * as PeerTable from "../PeerTable.js"
import * as Score from "../Score.js"
import * as recordCompact from "./recordCompact.js"

/** The 64 zeros the checksum is computed over. */
export const ZEROS = "0".repeat(64)

/** The header line up to `"peers":[`, with the given checksums. */
export const headerLine = (
  version: number,
  lastUpdated: number,
  head: number,
  headChecksum: string,
  checksum: string,
  sources: string
): string =>
  `{"version":${version},"lastUpdated":${lastUpdated},"head":${head},"headChecksum":"${headChecksum}","checksum":"${checksum}","sources":${sources},"peers":[`

/** The peers section: each line, a comma after all but the last, a line break after each. */
const peersText = (lines: ReadonlyArray<string>): string => (lines.length === 0 ? "" : `\n${lines.join(",\n")}`)

/** The full text from its parts, checksums given. */
export const render = (header: string, lines: ReadonlyArray<string>): string => `${header}${peersText(lines)}\n]}\n`

/** The text of the `head` lines as {@link headerLine}'s `headChecksum` covers them. */
export const headText = (lines: ReadonlyArray<string>, head: number): string =>
  lines.slice(0, head).map((l, i) => (i < lines.length - 1 ? `${l},` : l)).join("\n")

/** `Score.peer` at `now` with the default config, computed from its parts (no Option per peer: 30k a save). */
export const peerScore = (peer: PeerRecord.PeerRecord, now: number): number => {
  let best = Number.NEGATIVE_INFINITY
  for (const r of peer.addresses) {
    const term = Score.addressTerm(r, now)
    if (term > best) best = term
  }
  return best === Number.NEGATIVE_INFINITY ? 0 : Score.clamp01(best + Score.capabilityAdjustment(peer))
}

/**
 * Indices of the `k` best peers at `now` by `Score.peer` (ties: the earlier index, which in peer-key
 * order is the smaller key), best first. O(n·k), k small.
 */
export const headIndices = (records: ReadonlyArray<PeerRecord.PeerRecord>, k: number, now: number): Array<number> => {
  const best: Array<{ readonly i: number; readonly score: number }> = []
  for (let i = 0; i < records.length && k > 0; i++) {
    const score = peerScore(records[i]!, now)
    if (best.length === k && score <= best[k - 1]!.score) continue
    let at = best.length
    while (at > 0 && best[at - 1]!.score < score) at--
    best.splice(at, 0, { i, score })
    if (best.length > k) best.pop()
  }
  return best.map((b) => b.i)
}

/** The head peers ({@link headIndices}), then the others in peer-key order. */
const ranked = (
  records: ReadonlyArray<PeerRecord.PeerRecord>,
  k: number,
  now: number
): { readonly head: Array<PeerRecord.PeerRecord>; readonly rest: Array<PeerRecord.PeerRecord> } => {
  const best = headIndices(records, k, now)
  const inHead = new Set(best)
  return { head: best.map((i) => records[i]!), rest: records.filter((_, i) => !inHead.has(i)) }
}

/** Options of {@link encode}. */
export interface EncodeOptions {
  readonly lastUpdated: number
  readonly hash: (text: string) => string
  readonly head: number
}

/**
 * Writes a table as a version 2 file (see the module docs). Deterministic for equal tables and
 * options. The plain definition: every record rendered, keys sorted, one text; the store's encoder
 * (`fileV2Encoder`) keeps all three across saves and is checked against this.
 */
export const encode = (table: PeerTable.PeerTable, options: EncodeOptions): string => {
  const lastUpdated = Math.floor(options.lastUpdated)
  const { head, rest } = ranked(PeerTable.toRecords(table), Math.max(0, Math.floor(options.head)), lastUpdated)
  const ordered = head.concat(rest)
  const parts = ordered.map(recordCompact.encodePartsPlain)
  // The file's source table: every distinct source once, sorted, so the table (and so each line) only
  // changes when the set of sources does.
  const distinct = new Set<string>()
  for (const p of parts) for (const s of p.sources) distinct.add(s)
  const table_ = [...distinct].sort()
  const indexOf = new Map(table_.map((s, i) => [s, i]))
  const lines = parts.map((p) => recordCompact.renderParts(p, indexOf))
  const headChecksum = options.hash(headText(lines, head.length))
  const sources = `[${table_.join(",")}]`
  const zeroed = render(headerLine(2, lastUpdated, head.length, headChecksum, ZEROS, sources), lines)
  const checksum = options.hash(zeroed)
  return zeroed.replace(`"checksum":"${ZEROS}"`, `"checksum":"${checksum}"`)
}

/** Where the checksum's digits start in a text of this layout (in its first line), or -1. */
export const checksumOffset = (text: string): number => {
  const lineEnd = text.indexOf("\n")
  const at = text.indexOf(`"checksum":"`, 0)
  return at < 0 || (lineEnd >= 0 && at > lineEnd) ? -1 : at + 12
}

/** The text with the checksum's digits zeroed, when the text is in this layout. */
export const zeroedText = (text: string): string | undefined => zeroedParts(text)?.join("")

/**
 * {@link zeroedText} in three parts, cut at ASCII characters: the text up to the digits, the 64 zeros,
 * the rest (slices of the text: hashed part by part, the whole is never copied).
 */
export const zeroedParts = (text: string): [string, string, string] | undefined => {
  const at = checksumOffset(text)
  return at < 0 || text.length < at + 64 ? undefined : [text.slice(0, at), ZEROS, text.slice(at + 64)]
}

/**
 * Where a text exactly in this layout has its parts: the header line parsed (its `peers` empty), and
 * where each peer's line starts (`starts`, offsets into the text; line `i` ends 2 characters — its
 * `,` and line break — before line `i + 1` starts, the last one at `end`). Undefined when the text is
 * not in the layout: no header line ending in `"peers":[` that parses, a separator other than `,` +
 * line break, or an end other than `\n]}\n`. A peer line is not checked to be one JSON value: its
 * parse tells ({@link lineValues}).
 */
export const splitLines = (
  text: string
): { readonly header: unknown; readonly starts: ReadonlyArray<number>; readonly end: number } | undefined => {
  const first = text.indexOf("\n")
  if (first < 0 || !text.startsWith(`{"version":`) || !text.endsWith(`\n${PEERS_END}`)) return undefined
  const headerText = text.slice(0, first)
  if (!headerText.endsWith(`"peers":[`)) return undefined
  let header: unknown
  try {
    header = JSON.parse(`${headerText}]}`)
  } catch {
    return undefined
  }
  const end = text.length - PEERS_END.length - 1
  const starts: Array<number> = []
  let at = first + 1
  while (at <= end) {
    const next = text.indexOf("\n", at)
    starts.push(at)
    if (next === end) break
    if (text.charCodeAt(next - 1) !== 44 /* , */) return undefined
    at = next + 1
  }
  return { header, starts, end }
}

/** How many peer lines {@link lineValues} parses in one `JSON.parse`. */
const LINES_PER_PARSE = 256

/**
 * The parsed value of each peer line of a {@link splitLines} layout, by line index (lines asked in
 * order): the lines are parsed `linesPerParse` at a time (default {@link LINES_PER_PARSE}), as one
 * JSON array of the text between them (their `,` + line break separators are JSON's), which spares a
 * string and a parser call per line. Throws when such a run of lines is not as many JSON values as
 * lines — the text only looked like this layout. A run that parses holds the values the whole
 * document's `peers` array holds at those indices: runs are cut at separators, and a JSON string
 * holds no line break.
 */
export const lineValues = (
  text: string,
  layout: { readonly starts: ReadonlyArray<number>; readonly end: number },
  linesPerParse: number = LINES_PER_PARSE
): (i: number) => unknown => {
  const { end, starts } = layout
  let from = 0
  let values: Array<unknown> = []
  return (i) => {
    if (i < from || i >= from + values.length) {
      const to = Math.min(starts.length, i + linesPerParse)
      const parsed: unknown = JSON.parse(`[${text.slice(starts[i]!, to < starts.length ? starts[to]! - 2 : end)}]`)
      if (!Array.isArray(parsed) || parsed.length !== to - i) throw new Error(`lines ${i} to ${to} are not one JSON value each`)
      from = i
      values = parsed
    }
    return values[i - from]
  }
}
const PEERS_END = "]}\n"

/** A version ≥ 2 header, as far as this module reads it. */
export interface Header {
  readonly version: number
  readonly lastUpdated: number
  readonly head: number
  readonly headChecksum: string
  readonly checksum: string
  readonly sources: ReadonlyArray<unknown>
  readonly peers: ReadonlyArray<unknown>
}

/**
 * The text re-rendered in this layout from the parsed values, checksum zeroed: what the checksum of
 * a file whose text was re-laid out covers. The values must have passed `jsonGuard` (bounded depth).
 */
export const rerendered = (h: Header): string =>
  render(
    headerLine(h.version, h.lastUpdated, h.head, h.headChecksum, ZEROS, JSON.stringify(h.sources)),
    h.peers.map((p) => JSON.stringify(p))
  )

/**
 * The header line and the first `head` peer lines of a text prefix in this layout, parsed; none when
 * the prefix is not in this layout, is too short, or its head lines do not hash to `headChecksum`.
 */
export const readHead = (
  prefix: string,
  hash: (text: string) => string
): Option.Option<{ readonly header: Omit<Header, "peers">; readonly lines: ReadonlyArray<unknown> }> => {
  const first = prefix.indexOf("\n")
  if (first < 0 || !prefix.startsWith(`{"version":`)) return Option.none()
  let header: Omit<Header, "peers">
  try {
    header = JSON.parse(`${prefix.slice(0, first)}]}`)
  } catch {
    return Option.none()
  }
  const { head, headChecksum } = header as Partial<Header>
  if (typeof head !== "number" || !Number.isSafeInteger(head) || head < 0 || typeof headChecksum !== "string") return Option.none()
  const lines: Array<string> = []
  let at = first + 1
  for (let i = 0; i < head; i++) {
    const end = prefix.indexOf("\n", at)
    if (end < 0) return Option.none()
    lines.push(prefix.slice(at, end))
    at = end + 1
  }
  if (hash(lines.join("\n")) !== headChecksum) return Option.none()
  const parsed: Array<unknown> = new Array(lines.length)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    try {
      parsed[i] = JSON.parse(line.endsWith(",") ? line.slice(0, -1) : line)
    } catch {
      return Option.none()
    }
  }
  return Option.some({ header, lines: parsed })
}
