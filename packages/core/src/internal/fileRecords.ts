/**
 * The records part of a cache file's decode (`CacheFile.decode`, `decodeSteps`): each record by the
 * fast decoder of its layout, else expanded and handed to the `PeerRecord` Schema, which names the
 * offending field; the table built as the records come, a slice at a time for a decode that pauses.
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { Decoded, Header, Rejected } from "../CacheFile.js"
import * as PeerRecord from "../PeerRecord.js"
import * as jsonGuard from "./jsonGuard.js"
import * as tableBuild from "./peerTableRecords.js"
import * as recordCompact from "./recordCompact.js"
import * as recordJson from "./recordJson.js"

const schemaDecodePeer = Schema.decodeUnknownEither(PeerRecord.PeerRecord, { errors: "first" })

const MAX_REASON = 200
/** A reason cut to at most 200 characters (a message may quote the bad input). */
export const short = (s: string): string => (s.length > MAX_REASON ? `${s.slice(0, MAX_REASON)}…` : s)

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")

/** The first issue of a Schema error: its path as named fields and its message. */
export const firstIssue = (error: ParseResult.ParseError): { path: string; message: string } => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  return issue === undefined
    ? { path: "", message: short(error.message) }
    : { path: formatPath(issue.path), message: short(issue.message) }
}

/** One record that the fast path refused: expanded to named fields, bounded-checked, then the Schema. */
export const decodeSlow = (u: unknown, v1: boolean, sources: ReadonlyArray<unknown>): Either.Either<PeerRecord.PeerRecord, { path: string; reason: string }> => {
  const named = v1 ? u : recordCompact.expand(u, sources)
  if (named instanceof recordCompact.Malformed) return Either.left({ path: named.path, reason: named.reason })
  const guard = jsonGuard.check(named)
  if (guard !== undefined) return Either.left({ path: guard.path, reason: short(guard.reason) })
  const decoded = schemaDecodePeer(named)
  if (Either.isRight(decoded)) return Either.right(decoded.right)
  const issue = firstIssue(decoded.left)
  return Either.left({ path: issue.path, reason: issue.message })
}

/**
 * The records of a checked document (`newest`: the newest version the caller understands): `count` peers, the `i`th given by `peerAt` (see {@link Decoded}),
 * pausing after every `linesPerStep` of them; the table is built as they come (`PeerTable.fromRecords`
 * in slices).
 */
export const bodySteps = function*(
  header: Schema.Schema.Type<typeof Header>,
  newest: number,
  count: number,
  peerAt: (i: number) => unknown,
  encodedSources: ReadonlyArray<unknown>,
  firstLine: number | undefined,
  linesPerStep: number
): Generator<number, Decoded, void> {
  const { checksum, lastUpdated, version } = header
  const v1 = version === 1
  const newer = version > newest
  const memo = recordJson.decodeMemo()
  const sources = encodedSources.map((s) => recordJson.decodeSource(s, memo))
  const records: Array<PeerRecord.PeerRecord> = []
  const rejected: Array<Rejected> = []
  const build = tableBuild.start(count)
  for (let i = 0; i < count; i++) {
    if (i > 0 && i % linesPerStep === 0) {
      tableBuild.advance(build, records, records.length)
      yield i
    }
    const peer = peerAt(i)
    const fast = v1 ? recordJson.decodeFast(peer, memo) : recordCompact.decodeFast(peer, sources, memo)
    if (fast !== null) {
      records.push(fast)
      continue
    }
    const slow = decodeSlow(peer, v1, encodedSources)
    if (Either.isRight(slow)) records.push(slow.right)
    else rejected.push({ index: i, path: `peers[${i}]${slow.left.path}`, reason: slow.left.reason, ...(firstLine === undefined ? {} : { line: firstLine + i }) })
  }
  tableBuild.advance(build, records, records.length)
  return { version, lastUpdated, checksum, table: tableBuild.finish(build), rejected, newer, warnings: warningsOf(version, newest, rejected) }
}

const warningsOf = (version: number, newest: number, rejected: ReadonlyArray<Rejected>): Array<string> => {
  const warnings: Array<string> = []
  if (version > newest) warnings.push(`the file is version ${version}, newer than this version (${newest}): read as far as understood, never overwritten`)
  if (rejected.length > 0) {
    const first = rejected[0]!
    warnings.push(
      `${rejected.length} peer record(s) could not be read and were left out, first: ${first.path}${first.line === undefined ? "" : ` (line ${first.line})`}: ${first.reason}`
    )
  }
  return warnings
}
