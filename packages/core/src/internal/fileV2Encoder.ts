/**
 * The version 2 file written as bytes by an encoder that remembers its last save: the peers in key
 * order, each record's compact parts and its line's UTF-8 bytes (by record identity: records are
 * immutable), and the file's source table. A save after a few changes re-renders and re-places only
 * the records that changed (found with `hashMapDiff`), copies every other line's bytes into one
 * buffer, and hashes that buffer once for `checksum` (and its head's bytes for `headChecksum`).
 * With the same keys and source table as the last save, the file is built from the last save's
 * bytes instead (`fileV2Layout`): patched in place when no line moves, else by copying the runs of
 * lines that did not change; only the hashes then run over the whole. The bytes are those of
 * `fileV2.encode`'s text either way (differential tests check it). All of that memory can be built
 * before the first save, a slice of peers at a time (`prepare`), so that the first save costs what
 * a steady one does.
 *
 * @internal
 */
import * as HashMap from "effect/HashMap"
import type * as PeerRecord from "../PeerRecord.js"
import type * as PeerTable from "../PeerTable.js"
import { headerLine, ZEROS } from "./fileV2.js"
import { HeadRanker } from "./fileV2Head.js"
import {
  assemble,
  type BytesHash,
  fileBytes,
  keepsLayout,
  type Layout,
  layoutOf,
  movedLength,
  moveRuns,
  patchInPlace,
  writeLinesSteps
} from "./fileV2Layout.js"
import { changedKeys } from "./hashMapDiff.js"
import * as recordCompact from "./recordCompact.js"
import { sortSteps } from "./sortSteps.js"

/**
 * The WHATWG encoder every runtime the core targets has (browsers, Node, Deno, Bun); declared here
 * because the core is type-checked without DOM or Node types.
 */
declare const TextEncoder: new() => {
  encodeInto(input: string, into: Uint8Array): { readonly read: number; readonly written: number }
}

export type { BytesHash } from "./fileV2Layout.js"

/** Options of {@link Encoder.encode}. */
export interface EncodeOptions {
  readonly lastUpdated: number
  readonly hash: BytesHash
  readonly head: number
}

/** Beyond this many changed peers, the key order is rebuilt rather than patched. */
const MAX_PATCHED = 8_192
/** Lines are encoded into slabs of this many bytes (a line longer than a slab gets its own). */
const SLAB_BYTES = 65_536

/** The peers of the last save in key order, where each key is, and each one's line (once rendered). */
interface Order {
  readonly table: PeerTable.PeerTable
  readonly records: Array<PeerRecord.PeerRecord>
  readonly position: Map<string, number>
  readonly lines: Array<Uint8Array | undefined>
}

const ASCII_COMMA_NEWLINE = [44, 10] as const

/** The peers in key order (`PeerTable.toRecords`' order: keys by the built-in string comparison). */
const orderOf = (table: PeerTable.PeerTable): Order => {
  const keys: Array<string> = []
  HashMap.forEach(table.peers, (_, key) => keys.push(key))
  keys.sort()
  const records: Array<PeerRecord.PeerRecord> = new Array(keys.length)
  const position = new Map<string, number>()
  for (let i = 0; i < keys.length; i++) {
    records[i] = HashMap.unsafeGet(table.peers, keys[i]!)
    position.set(keys[i]!, i)
  }
  return { table, records, position, lines: new Array(keys.length) }
}

/** The built-in string comparison (UTF-16 code units), as `Array.prototype.sort` uses without one. */
const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** The version 2 writer of one store (see the module docs). Its memos are its own. */
export class Encoder {
  private order: Order | undefined
  /** A {@link prepare} under way: finished by the next `encode` before anything else. */
  private preparing: Generator<number, void, void> | undefined
  /** The record indices changed by the last `sync`; undefined when it rebuilt the order. */
  private dirty: Array<number> | undefined
  /** The layout of the file in `out`; undefined when `out` holds nothing to patch. */
  private layout: Layout | undefined
  /** How the last `encode` built its bytes (read by tests). */
  lastPath: "patched" | "moved" | "assembled" = "assembled"
  private readonly parts = new WeakMap<PeerRecord.PeerRecord, recordCompact.Parts>()
  /** Each source's JSON by source object: the records of one decode share their file's sources. */
  private readonly sourceJsons = new WeakMap<PeerRecord.Source, string>()
  private readonly sourceJsonOf = (source: PeerRecord.Source): string => {
    let json = this.sourceJsons.get(source)
    if (json === undefined) {
      json = recordCompact.sourceJson(source)
      this.sourceJsons.set(source, json)
    }
    return json
  }
  /** Each record's line and `,\n`, as UTF-8, for the current source table. */
  private lines = new WeakMap<PeerRecord.PeerRecord, Uint8Array>()
  /** How many times each source's JSON is listed, over every record. */
  private readonly sourceCounts = new Map<string, number>()
  private sourcesChanged = true
  private sourcesJson = "[]"
  private indexOf = new Map<string, number>()
  private readonly utf8 = new TextEncoder()
  private readonly ranker = new HeadRanker()
  private slab = new Uint8Array(0)
  private out = new Uint8Array(0)
  /** The buffer a file built by runs is written into; it then swaps with `out`. */
  private spare = new Uint8Array(0)
  private slabUsed = 0

  /** The file's bytes for `table` (see the module docs). */
  encode(table: PeerTable.PeerTable, options: EncodeOptions): Uint8Array {
    this.finishPreparing()
    const { lines: known, records } = this.sync(table)
    if (this.sourcesChanged) this.renumberSources(known)
    const lastUpdated = Math.floor(options.lastUpdated)
    const head = this.ranker.rank(records, Math.max(0, Math.floor(options.head)), lastUpdated)
    const reused = this.reuse(known, records, head, lastUpdated, options.hash)
    if (reused !== undefined) return reused
    this.lastPath = "assembled"
    const inHead = new Uint8Array(records.length)
    const lines: Array<Uint8Array> = new Array(records.length)
    const slots = new Int32Array(records.length)
    let k = 0
    for (const i of head) {
      inHead[i] = 1
      slots[k] = i
      lines[k++] = known[i] ??= this.lineOf(records[i]!)
    }
    for (let i = 0; i < records.length; i++) {
      if (inHead[i] === 1) continue
      slots[k] = i
      lines[k++] = known[i] ??= this.lineOf(records[i]!)
    }
    const total = fileBytes(lines, this.sourcesJson.length, lastUpdated, head.length)
    // The buffer is the encoder's own, reused while it fits: a fresh 4.5 MB buffer per save is
    // external memory V8 answers with collections.
    if (this.out.length < total) this.out = new Uint8Array(Math.ceil(total * 1.25))
    const { bytes, headStart, prefixChars } = assemble(this.out, lines, head.length, lastUpdated, this.sourcesJson, options.hash)
    if (lines.length > 0) this.layout = layoutOf(lines, slots, head, prefixChars, headStart, bytes.length)
    return bytes
  }

  /**
   * What a first `encode` of `table` at `now` (epoch ms) or later builds before it writes a byte —
   * the key order, each record's parts and line, the source table, every peer's score for the head —
   * a slice of `perStep` peers at a time: a generator that pauses (yields how far its current stage
   * is) between slices. The next `encode` finishes a preparation still under way first, so its bytes
   * are those of an encoder never prepared whatever was done; and since `encode` brings the key order
   * up to date from the changes since (`hashMapDiff`), `table` may be an older version of the table
   * it is given. Nothing is done (the generator ends at once) once this encoder has encoded or is
   * already preparing.
   */
  prepare(table: PeerTable.PeerTable, now: number, head: number, perStep: number): Generator<number, void, void> {
    if (this.order !== undefined || this.preparing !== undefined) return noSteps()
    const steps = this.prepareSteps(table, Math.floor(now), Math.max(0, Math.floor(head)), Math.max(1, Math.floor(perStep)))
    this.preparing = steps
    return this.drive(steps)
  }

  /** Runs `steps` while they are still this encoder's preparation (an `encode` may finish them first). */
  private *drive(steps: Generator<number, void, void>): Generator<number, void, void> {
    while (this.preparing === steps) {
      const next = steps.next()
      if (next.done === true) {
        this.preparing = undefined
        return
      }
      yield next.value
    }
  }

  private finishPreparing(): void {
    const steps = this.preparing
    if (steps === undefined) return
    this.preparing = undefined
    while (steps.next().done !== true) {
      // Each step runs the rest of the preparation.
    }
  }

  /**
   * `sync`'s rebuild, the lines and scores of a first `encode` and its file (at `now`, unhashed), in
   * slices (see {@link prepare}).
   */
  private *prepareSteps(table: PeerTable.PeerTable, now: number, head: number, perStep: number): Generator<number, void, void> {
    const keys: Array<string> = []
    for (const key of HashMap.keys(table.peers)) if (keys.push(key) % perStep === 0) yield keys.length
    const sorted = yield* sortSteps(keys, compareStrings, perStep)
    const n = sorted.length
    const records: Array<PeerRecord.PeerRecord> = new Array(n)
    const position = new Map<string, number>()
    for (let i = 0; i < n; i++) {
      records[i] = HashMap.unsafeGet(table.peers, sorted[i]!)
      position.set(sorted[i]!, i)
      if ((i + 1) % perStep === 0) yield i + 1
    }
    // From here on the encoder's own memory is filled, as `sync` rebuilds it: no `encode` can run in
    // between (it finishes this generator first).
    this.sourceCounts.clear()
    this.sourcesChanged = true
    this.ranker.reset()
    for (let i = 0; i < n; i++) {
      this.count(records[i]!, 1)
      if ((i + 1) % perStep === 0) yield i + 1
    }
    const order: Order = { table, records, position, lines: new Array(n) }
    this.order = order
    this.dirty = undefined
    this.layout = undefined
    this.renumberSources(order.lines)
    for (let i = 0; i < n; i++) {
      order.lines[i] = this.lineOf(records[i]!)
      if ((i + 1) % perStep === 0) yield i + 1
    }
    yield* this.ranker.rescoreSteps(records, now, perStep)
    yield* this.layoutSteps(order, now, head, perStep)
  }

  /**
   * The file of `order` at `now` written into `out` as `encode` assembles it, but without its
   * checksums (every later save writes both anew) and a slice of lines at a time, and its layout
   * kept: the next save is then built from these bytes (patched in place or moved by runs) as a
   * steady one is. The buffer a save by runs writes into is made here too.
   */
  private *layoutSteps(order: Order, now: number, k: number, perStep: number): Generator<number, void, void> {
    const { lines, records } = order
    const n = records.length
    if (n === 0) return
    const head = this.ranker.rank(records, k, now)
    const inHead = new Uint8Array(n)
    const slots = new Int32Array(n)
    const ordered: Array<Uint8Array> = new Array(n)
    let m = 0
    for (const i of head) {
      inHead[i] = 1
      slots[m] = i
      ordered[m++] = lines[i]!
    }
    for (let i = 0; i < n; i++) {
      if (inHead[i] === 1) continue
      slots[m] = i
      ordered[m++] = lines[i]!
    }
    const total = fileBytes(ordered, this.sourcesJson.length, now, head.length)
    if (this.out.length < total) this.out = new Uint8Array(Math.ceil(total * 1.25))
    yield 0
    if (this.spare.length < total) this.spare = new Uint8Array(Math.ceil(total * 1.25))
    yield 0
    const prefix = headerLine(2, now, head.length, ZEROS, ZEROS, this.sourcesJson)
    this.layout = yield* writeLinesSteps(this.out, ordered, slots, head, prefix, perStep)
  }

  /**
   * The file built from the last save's bytes (see `fileV2Layout`), when the keys, the source table
   * and the header's length are the same; undefined otherwise (the caller assembles it whole).
   */
  private reuse(
    known: Array<Uint8Array | undefined>,
    records: ReadonlyArray<PeerRecord.PeerRecord>,
    head: ReadonlyArray<number>,
    lastUpdated: number,
    hash: BytesHash
  ): Uint8Array | undefined {
    const { dirty, layout } = this
    // Set again below once the new file's layout is known.
    this.layout = undefined
    if (layout === undefined || dirty === undefined || layout.offsets.length !== records.length) return undefined
    // The header is ASCII but for the (unchanged) sources: as many characters is as many bytes.
    const prefix = headerLine(2, lastUpdated, head.length, ZEROS, ZEROS, this.sourcesJson)
    if (prefix.length !== layout.prefixChars) return undefined
    const changed = new Map<number, Uint8Array>()
    for (const i of dirty) changed.set(i, known[i] ??= this.lineOf(records[i]!))
    if (keepsLayout(layout, head, changed)) {
      this.layout = layout
      this.lastPath = "patched"
      return patchInPlace(this.out, layout, prefix, changed, hash)
    }
    const total = movedLength(layout, changed)
    if (this.spare.length < total) this.spare = new Uint8Array(Math.ceil(total * 1.25))
    const into = this.spare
    const moved = moveRuns(this.out, into, layout, prefix, head, changed, hash)
    this.spare = this.out
    this.out = into
    this.layout = moved.layout
    this.lastPath = "moved"
    return moved.bytes
  }

  /** The records in key order, patched for the peers that changed since the last save. */
  private sync(table: PeerTable.PeerTable): Order {
    const known = this.order
    const changed = known === undefined ? undefined : known.table === table ? [] : changedKeys(known.table.peers, table.peers, MAX_PATCHED)
    this.dirty = undefined
    if (known === undefined || changed === undefined) {
      this.sourceCounts.clear()
      this.sourcesChanged = true
      this.ranker.reset()
      const order = orderOf(table)
      for (const r of order.records) this.count(r, 1)
      this.order = order
      return order
    }
    const dirty: Array<number> = []
    for (const key of changed) {
      const i = known.position.get(key)!
      dirty.push(i)
      const next = HashMap.unsafeGet(table.peers, key)
      this.count(known.records[i]!, -1)
      this.count(next, 1)
      known.records[i] = next
      known.lines[i] = undefined
      this.ranker.changed(i)
    }
    this.dirty = dirty
    this.order = { ...known, table }
    return this.order
  }

  private partsOf(record: PeerRecord.PeerRecord): recordCompact.Parts {
    let parts = this.parts.get(record)
    if (parts === undefined) {
      parts = recordCompact.encodeParts(record, this.sourceJsonOf)
      this.parts.set(record, parts)
    }
    return parts
  }

  /** Counts a record's sources in (`+1`) or out (`-1`); a source appearing or vanishing renumbers them. */
  private count(record: PeerRecord.PeerRecord, by: 1 | -1): void {
    for (const s of this.partsOf(record).sources) {
      const n = (this.sourceCounts.get(s) ?? 0) + by
      if (n === 0) {
        this.sourceCounts.delete(s)
        this.sourcesChanged = true
      } else {
        if (n === 1 && by === 1) this.sourcesChanged = true
        this.sourceCounts.set(s, n)
      }
    }
  }

  /** The source table: every distinct source once, sorted (as `fileV2.encode`); every line re-rendered. */
  private renumberSources(lines: Array<Uint8Array | undefined>): void {
    const sorted = [...this.sourceCounts.keys()].sort()
    const json = `[${sorted.join(",")}]`
    if (json !== this.sourcesJson || this.indexOf.size !== sorted.length) {
      this.sourcesJson = json
      this.indexOf = new Map(sorted.map((s, i) => [s, i]))
      this.lines = new WeakMap()
      this.layout = undefined
      lines.fill(undefined)
    }
    this.sourcesChanged = false
  }

  /** A record's line and `,\n` as UTF-8, encoded into the current slab. */
  private lineOf(record: PeerRecord.PeerRecord): Uint8Array {
    let bytes = this.lines.get(record)
    if (bytes === undefined) {
      const text = recordCompact.renderParts(this.partsOf(record), this.indexOf)
      bytes = this.encodeLine(text)
      this.lines.set(record, bytes)
    }
    return bytes
  }

  private encodeLine(text: string): Uint8Array {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const most = 3 * text.length + 2
    if (this.slab.length - this.slabUsed < most) {
      this.slab = new Uint8Array(Math.max(SLAB_BYTES, most))
      this.slabUsed = 0
    }
    const into = this.slab.subarray(this.slabUsed)
    const { written } = this.utf8.encodeInto(text, into)
    into[written] = ASCII_COMMA_NEWLINE[0]
    into[written + 1] = ASCII_COMMA_NEWLINE[1]
    this.slabUsed += written + 2
    return into.subarray(0, written + 2)
  }
}

/** A generator with no steps. */
function* noSteps(): Generator<number, void, void> {}
