import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import { createHash } from "node:crypto"
import { CacheFile, type PeerAddress, type PeerRecord, PeerTable } from "@bootstrap-cache/core"
import { Arbitraries } from "@bootstrap-cache/testkit"
import { lineValues, splitLines } from "../src/internal/fileV2.js"

const hash: CacheFile.Hash = (text) => createHash("sha256").update(text).digest("hex")
const T0 = 1_700_000_000_000
const ZEROS = "0".repeat(64)
const encodeTable = Schema.encodeSync(PeerTable.PeerTableFromRecords)

/** A table from entries: each adds its address from its source, then records a success or a failure or nothing. */
const entry = FastCheck.tuple(Arbitraries.peerAddress, Arbitraries.source, FastCheck.nat(1_000_000), FastCheck.constantFrom("add", "success", "failure"))
const tableOf = (entries: ReadonlyArray<readonly [PeerAddress.PeerAddress, PeerRecord.Source, number, string]>) => {
  let t = PeerTable.empty
  for (const [address, source, at, outcome] of entries) {
    t = PeerTable.add(t, address, { now: T0 + at, source })
    if (outcome === "success") t = PeerTable.recordSuccess(t, address, T0 + at, { rttMs: at % 300 })
    if (outcome === "failure") t = PeerTable.recordFailure(t, address, T0 + at)
  }
  return t
}

/** The text with its checksum computed anew, so an edit is read as the file's content, not as damage. */
const resealed = (text: string): string => {
  const at = text.indexOf(`"checksum":"`) + 12
  const zeroed = text.slice(0, at) + ZEROS + text.slice(at + 64)
  return zeroed.slice(0, at) + hash(zeroed) + zeroed.slice(at + 64)
}

/** Edits of a written file's text: each keeps or breaks the exact layout in its own way. */
const edits: ReadonlyArray<(lines: Array<string>) => Array<string>> = [
  (lines) => lines,
  // A record no decoder accepts: rejected, with its line.
  (lines) => lines.length > 2 ? [lines[0]!, "[1,2],", ...lines.slice(1)] : lines,
  // A record split over two lines: no longer the layout (a line is not one JSON value).
  (lines) => lines.length > 2 ? [lines[0]!, lines[1]!.replace(",", ",\n"), ...lines.slice(2)] : lines,
  // Two records on one line.
  (lines) => lines.length > 3 ? [lines[0]!, `${lines[1]!}${lines[2]!}`, ...lines.slice(3)] : lines,
  // Trailing blanks and a carriage return (JSON whitespace).
  (lines) => lines.map((l, i) => (i === 1 ? `${l}  \r` : l)),
  // A newer version.
  (lines) => [lines[0]!.replace(`{"version":2`, `{"version":3`), ...lines.slice(1)],
  // A separator missing (the document is no longer JSON).
  (lines) => lines.length > 2 ? [lines[0]!, `${lines[1]!.slice(0, -1)} `, ...lines.slice(2)] : lines,
  // An empty line among the peers.
  (lines) => lines.length > 2 ? [lines[0]!, "", ...lines.slice(1)] : lines,
  // Two values on one line and one value over two lines: as many values as lines, shifted.
  (lines) => lines.length > 3 ? [lines[0]!, `${lines[1]!},${lines[2]!}`, lines[3]!.replace(",", ",\n"), ...lines.slice(4)] : lines,
  // A peer id that is none, and an unknown field in the header.
  (lines) => [lines[0]!.replace(`"head":`, `"extra":{"a":[1]},"head":`), ...lines.slice(1).map((l) => l.replace(/^\[null,/, `["notapeerid",`))]
]

const summary = (decoded: Either.Either<CacheFile.Decoded, CacheFile.CacheFileError>) =>
  Either.match(decoded, {
    onLeft: (e) => ({ error: e.message }),
    onRight: (d) => ({ ...d, table: encodeTable(d.table) })
  })

/** A written file with one of the {@link edits}, its checksum computed anew when `reseal`. */
const editedText = (entries: Parameters<typeof tableOf>[0], edit: number, reseal: boolean): string => {
  const written = CacheFile.encodeCompact(tableOf(entries), { lastUpdated: T0, hash, head: 2 })
  const lines = written.split("\n")
  const edited = [...edits[edit]!(lines.slice(0, -2)), ...lines.slice(-2)].join("\n")
  return reseal ? resealed(edited) : edited
}

describe("CacheFile line-by-line decode", () => {
  it.prop(
    "decodes every text, edited or not, exactly as the whole document decodes",
    [FastCheck.array(entry, { maxLength: 40 }), FastCheck.integer({ min: 0, max: edits.length - 1 }), FastCheck.boolean()],
    ([entries, edit, reseal]) => {
      const text = editedText(entries, edit, reseal)
      expect(summary(CacheFile.decode(text, { hash }))).toStrictEqual(summary(CacheFile.decodeWhole(text, { hash })))
    },
    { fastCheck: { seed: 5, numRuns: 300 } }
  )

  it.prop(
    "checks the checksum with hashParts, when given, exactly as with the hash of the zeroed text",
    [FastCheck.array(entry, { maxLength: 20 }), FastCheck.integer({ min: 0, max: edits.length - 1 }), FastCheck.boolean()],
    ([entries, edit, reseal]) => {
      const text = editedText(entries, edit, reseal)
      const calls: Array<ReadonlyArray<string>> = []
      const hashParts: CacheFile.HashParts = (parts) => {
        calls.push(parts)
        return hash(parts.join(""))
      }
      expect(summary(CacheFile.decode(text, { hash, hashParts }))).toStrictEqual(summary(CacheFile.decode(text, { hash })))
      // The line-by-line path hashes the zeroed text in parts: the text is never joined again.
      if (splitLines(text) !== undefined) expect(calls.map((parts) => parts.length)).toStrictEqual([3])
      // A hashParts that disagrees makes the fast path step aside: the whole document decides.
      const wrong = CacheFile.decode(text, { hash, hashParts: () => ZEROS })
      expect(summary(wrong)).toStrictEqual(summary(CacheFile.decodeWhole(text, { hash })))
    },
    { fastCheck: { seed: 6, numRuns: 200 } }
  )

  it("reads a written file line by line: a rejected record keeps its line", () => {
    const written = CacheFile.encodeCompact(PeerTable.empty, { lastUpdated: T0, hash })
    expect(Either.getOrThrow(CacheFile.decode(written, { hash })).rejected).toStrictEqual([])
    const text = resealed(written.replace(`"peers":[\n]}`, `"peers":[\n[1,2]\n]}`))
    const decoded = Either.getOrThrow(CacheFile.decode(text, { hash }))
    expect(decoded.rejected.map((r) => r.line)).toStrictEqual([2])
    expect(summary(Either.right(decoded))).toStrictEqual(summary(CacheFile.decodeWhole(text, { hash })))
  })

  it.prop(
    "reads the peer lines a run at a time, runs of any length: the whole document's peers, or a throw",
    [FastCheck.array(entry, { maxLength: 40 }), FastCheck.integer({ min: 0, max: edits.length - 1 }), FastCheck.integer({ min: 1, max: 7 })],
    ([entries, edit, run]) => {
      const written = CacheFile.encodeCompact(tableOf(entries), { lastUpdated: T0, hash, head: 2 })
      const lines = written.split("\n")
      const text = [...edits[edit]!(lines.slice(0, -2)), ...lines.slice(-2)].join("\n")
      const layout = splitLines(text)
      if (layout === undefined) return
      const at = lineValues(text, layout, run)
      let values: Array<unknown> | undefined
      try {
        values = layout.starts.map((_, i) => at(i))
      } catch {
        values = undefined
      }
      const whole = (() => {
        try {
          return (JSON.parse(text) as { peers: Array<unknown> }).peers
        } catch {
          return undefined
        }
      })()
      if (values !== undefined) expect(values).toStrictEqual(whole)
      // Every edit that keeps one value per line is read; the others may be refused.
      if (edit === 0 || edit === 1) expect(values).toBeDefined()
    },
    { fastCheck: { seed: 7, numRuns: 300 } }
  )

  /** Every pause of a stepped decode, and its result. */
  const stepped = (text: string, linesPerStep: number) => {
    const steps = CacheFile.decodeSteps(text, { hash, linesPerStep })
    const pauses: Array<number> = []
    for (;;) {
      const next = steps.next()
      if (next.done === true) return { pauses, result: next.value }
      pauses.push(next.value)
    }
  }

  it.prop(
    "decodes in steps of any size exactly as in one go, pausing after the checksum and every linesPerStep peer lines",
    [FastCheck.array(entry, { maxLength: 40 }), FastCheck.integer({ min: 0, max: edits.length - 1 }), FastCheck.integer({ min: 1, max: 9 })],
    ([entries, edit, linesPerStep]) => {
      const written = CacheFile.encodeCompact(tableOf(entries), { lastUpdated: T0, hash, head: 2 })
      const lines = written.split("\n")
      const text = resealed([...edits[edit]!(lines.slice(0, -2)), ...lines.slice(-2)].join("\n"))
      const { pauses, result } = stepped(text, linesPerStep)
      expect(summary(result)).toStrictEqual(summary(CacheFile.decodeWhole(text, { hash })))
      expect(summary(result)).toStrictEqual(summary(CacheFile.decode(text, { hash })))
      const peers = PeerTable.size(Either.getOrThrow(CacheFile.decode(written, { hash })).table)
      if (edit === 0) {
        const expected = peers > linesPerStep ? [0, ...Array.from({ length: Math.floor((peers - 1) / linesPerStep) }, (_, i) => (i + 1) * linesPerStep)] : []
        expect(pauses).toStrictEqual(expected)
      }
    },
    { fastCheck: { seed: 6, numRuns: 200 } }
  )
})
