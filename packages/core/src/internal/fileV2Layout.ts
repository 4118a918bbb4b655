/**
 * Where each line of a version 2 file sits in the bytes an encoder last wrote, and the two ways to
 * build the next file from those bytes instead of copying every line again:
 *
 * - **in place**, when the head lists the same peers in the same order and every changed line is
 *   as long as the line it replaces (most outcomes: the counters and times keep their digits): the
 *   header and the changed lines are written over their old bytes;
 * - **by runs**, otherwise: the lines between two changed peers (or peers entering or leaving the
 *   head) did not move relative to each other, so each such run is one copy from the old bytes into
 *   a second buffer, and only the changed lines are written apart.
 *
 * Either way the file is the one `fileV2.encode` renders (the encoder's differential tests check
 * it), hashed whole once. `fileV2Encoder` decides which applies. A file with no last one to start
 * from is assembled line by line (`assemble`), or, by a preparation, a slice of lines at a time
 * without its checksums (`writeLinesSteps`), which the next save writes.
 *
 * @internal
 */
import { headerLine, ZEROS } from "./fileV2.js"

/** SHA-256 of bytes as 64 lowercase hex characters. */
export type BytesHash = (bytes: Uint8Array) => string

/**
 * The WHATWG encoder every runtime the core targets has (browsers, Node, Deno, Bun); declared here
 * because the core is type-checked without DOM or Node types.
 */
declare const TextEncoder: new() => {
  encodeInto(input: string, into: Uint8Array): { readonly read: number; readonly written: number }
}

/** `\n]}\n`: what follows the last line (in place of its `,\n`). */
export const END = [10, 93, 125, 10] as const

const COMMA = 44
const NEWLINE = 10

/**
 * The file in an encoder's buffer: each record's line (with its `,\n`) by record index (key order),
 * as its byte offset and length; the head's record indices in file order; the header's length in
 * characters; where the lines start (`headStart`, after the header's line break) and the head's
 * bytes end; the file's length; and the record whose line is last (its `,\n` is the end's start).
 */
export interface Layout {
  readonly offsets: Int32Array
  readonly lengths: Int32Array
  readonly head: ReadonlyArray<number>
  readonly prefixChars: number
  readonly headStart: number
  readonly headEnd: number
  readonly end: number
  readonly last: number
}

/** Writes `text` as UTF-8 at the start of `into` (which has room for it); returns the bytes written. */
export const utf8Into = (text: string, into: Uint8Array): number => new TextEncoder().encodeInto(text, into).written

const writeAscii = (bytes: Uint8Array, at: number, text: string): void => {
  for (let i = 0; i < text.length; i++) bytes[at + i] = text.charCodeAt(i)
}

/**
 * Fills both checksums of a file whose header (`prefix`, written with zeros for both) starts `out`:
 * `headChecksum` over the head's bytes `[headStart, headEnd)`, then `checksum` over the whole with
 * its own digits as zeros.
 */
export const writeChecksums = (out: Uint8Array, prefix: string, headStart: number, headEnd: number, hash: BytesHash): void => {
  writeAscii(out, prefix.indexOf(`"headChecksum":"`) + 16, hash(out.subarray(headStart, headEnd)))
  writeAscii(out, prefix.indexOf(`"checksum":"`) + 12, hash(out))
}

/** Where the head's bytes end once its `head` lines are written up to `at`, of `n` lines in all. */
const headEndAt = (at: number, head: number, n: number, headStart: number): number =>
  head === 0 ? headStart : at - (head === n ? 2 : 1)

/** The layout of a file assembled line by line: `lines[k]` (file order) is record `slots[k]`'s. */
export const layoutOf = (
  lines: ReadonlyArray<Uint8Array>,
  slots: Int32Array,
  head: ReadonlyArray<number>,
  prefixChars: number,
  headStart: number,
  end: number
): Layout => {
  const offsets = new Int32Array(lines.length)
  const lengths = new Int32Array(lines.length)
  let at = headStart
  let headEnd = headStart
  for (let k = 0; k < lines.length; k++) {
    offsets[slots[k]!] = at
    lengths[slots[k]!] = lines[k]!.length
    at += lines[k]!.length
    if (k === head.length - 1) headEnd = headEndAt(at, head.length, lines.length, headStart)
  }
  return { offsets, lengths, head: [...head], prefixChars, headStart, headEnd, end, last: slots[lines.length - 1]! }
}

/** Whether two lists of record indices are equal. */
const sameIndices = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Whether the next file keeps `layout`: the same head, and each changed line as long as before. */
export const keepsLayout = (layout: Layout, head: ReadonlyArray<number>, changed: ReadonlyMap<number, Uint8Array>): boolean => {
  if (!sameIndices(layout.head, head)) return false
  for (const [i, line] of changed) if (line.length !== layout.lengths[i]) return false
  return true
}

/**
 * The next file written over the last one in `out` (whose layout it keeps: {@link keepsLayout}):
 * the header (`prefix`, as many characters as before), the `changed` lines (record index → line
 * with `,\n`) at their offsets, the end, both checksums. Returns the file's bytes.
 */
export const patchInPlace = (
  out: Uint8Array,
  layout: Layout,
  prefix: string,
  changed: ReadonlyMap<number, Uint8Array>,
  hash: BytesHash
): Uint8Array => {
  const bytes = out.subarray(0, layout.end)
  utf8Into(prefix, bytes)
  for (const [i, line] of changed) bytes.set(line, layout.offsets[i]!)
  // A changed last line wrote its `,\n` over the end's first bytes.
  bytes.set(END, layout.end - END.length)
  writeChecksums(bytes, prefix, layout.headStart, layout.headEnd, hash)
  return bytes
}

/** The next file's length when it is built by runs from one of `layout` with `changed` lines. */
export const movedLength = (layout: Layout, changed: ReadonlyMap<number, Uint8Array>): number => {
  let total = layout.end
  for (const [i, line] of changed) total += line.length - layout.lengths[i]!
  return total
}

/**
 * The next file built from the last one (`old`, laid out as `layout`) into `into` (with room for
 * {@link movedLength}): the header (`prefix`, as many characters as before), the new `head`'s lines,
 * then every other line in key order — a run of records that are in neither head and unchanged is
 * one copy, since those lines were already adjacent — with the `changed` lines (record index → line
 * with `,\n`) in their places, the end and both checksums. `layout`'s offsets and lengths become the
 * new file's (it is consumed). Returns the file's bytes and its layout.
 */
export const moveRuns = (
  old: Uint8Array,
  into: Uint8Array,
  layout: Layout,
  prefix: string,
  head: ReadonlyArray<number>,
  changed: ReadonlyMap<number, Uint8Array>,
  hash: BytesHash
): { readonly bytes: Uint8Array; readonly layout: Layout } => {
  const { offsets, lengths } = layout
  const n = offsets.length
  let at = utf8Into(prefix, into)
  into[at++] = NEWLINE
  const headStart = at
  // One line to its place: a changed line's new bytes, or the old bytes of one that did not change.
  const place = (i: number): void => {
    const line = changed.get(i)
    if (line === undefined) into.set(old.subarray(offsets[i]!, offsets[i]! + lengths[i]!), at)
    else into.set(line, at)
    offsets[i] = at
    if (line !== undefined) lengths[i] = line.length
    at += lengths[i]!
  }
  for (const i of head) place(i)
  const headEnd = headEndAt(at, head.length, n, headStart)
  const inHead = new Set(head)
  const special = [...new Set([...changed.keys(), ...layout.head, ...head])].sort((a, b) => a - b)
  special.push(n)
  let next = 0
  let last = head.length > 0 ? head[head.length - 1]! : -1
  for (const s of special) {
    if (s > next) {
      // Records next … s − 1: in neither head and unchanged, so adjacent in the old file.
      const from = offsets[next]!
      const to = offsets[s - 1]! + lengths[s - 1]!
      into.set(old.subarray(from, to), at)
      const delta = at - from
      if (delta !== 0) for (let r = next; r < s; r++) offsets[r]! += delta
      at += to - from
      last = s - 1
    }
    if (s < n && !inHead.has(s)) {
      place(s)
      last = s
    }
    next = s + 1
  }
  // The old last line, copied unchanged, ends with the end's first bytes: its `,\n` comes back.
  if (!changed.has(layout.last)) {
    const oldLastEnd = offsets[layout.last]! + lengths[layout.last]!
    into[oldLastEnd - 2] = COMMA
    into[oldLastEnd - 1] = NEWLINE
  }
  into.set(END, at - 2)
  at += END.length - 2
  const bytes = into.subarray(0, at)
  writeChecksums(bytes, prefix, headStart, headEnd, hash)
  return { bytes, layout: { offsets, lengths, head: [...head], prefixChars: layout.prefixChars, headStart, headEnd, end: at, last } }
}

/** The file's length in bytes, at most (the sources' JSON counted at 3 bytes a character). */
export const fileBytes = (lines: ReadonlyArray<Uint8Array>, sourcesLength: number, lastUpdated: number, head: number): number => {
  let total = headerLine(2, lastUpdated, head, ZEROS, ZEROS, "").length + 3 * sourcesLength + END.length
  for (const l of lines) total += l.length
  return total
}

/**
 * The file from its lines (each with `,\n`), written at the start of `out`: the header line with
 * both checksums, then the lines, the last without its comma, then `]}`. `headChecksum` covers the
 * head lines as written (commas and line breaks between them), `checksum` the whole with its own
 * digits as zeros. Returns the part of `out` written, where the lines start (`headStart`), where the
 * head's bytes end and the header's length in characters.
 */
export const assemble = (
  into: Uint8Array,
  lines: ReadonlyArray<Uint8Array>,
  head: number,
  lastUpdated: number,
  sources: string,
  hash: BytesHash
): { readonly bytes: Uint8Array; readonly headStart: number; readonly headEnd: number; readonly prefixChars: number } => {
  // The header is ASCII up to the sources, so its character offsets are byte offsets.
  const prefix = headerLine(2, lastUpdated, head, ZEROS, ZEROS, sources)
  let at = utf8Into(prefix, into)
  let headStart = at
  let headEnd = at
  if (lines.length === 0) {
    into.set(END, at)
    at += END.length
  } else {
    into[at++] = 10
    headStart = headEnd = at
    for (let i = 0; i < lines.length; i++) {
      into.set(lines[i]!, at)
      at += lines[i]!.length
      // The head's last line without its line break (and without a comma when it is the file's last).
      if (i === head - 1) headEnd = at - (head === lines.length ? 2 : 1)
    }
    // The last line's `,\n` becomes `\n]}\n`.
    into.set(END, at - 2)
    at += END.length - 2
  }
  const bytes = into.subarray(0, at)
  writeChecksums(bytes, prefix, headStart, headEnd, hash)
  return { bytes, headStart, headEnd, prefixChars: prefix.length }
}

/**
 * The lines (each with `,\n`; `lines[k]` is record `slots[k]`'s, file order) written after `prefix`
 * (a header whose checksums are left as they are: the next save writes both anew) at the start of
 * `into` (with room for them), a slice of `perStep` lines at a time (pausing after each), then the
 * end; returns the file's layout.
 */
export function* writeLinesSteps(
  into: Uint8Array,
  lines: ReadonlyArray<Uint8Array>,
  slots: Int32Array,
  head: ReadonlyArray<number>,
  prefix: string,
  perStep: number
): Generator<number, Layout, void> {
  let at = utf8Into(prefix, into)
  into[at++] = NEWLINE
  const headStart = at
  for (let k = 0; k < lines.length; k++) {
    into.set(lines[k]!, at)
    at += lines[k]!.length
    if ((k + 1) % perStep === 0) yield k + 1
  }
  // The last line's `,\n` becomes `\n]}\n`.
  into.set(END, at - 2)
  at += END.length - 2
  return layoutOf(lines, slots, head, prefix.length, headStart, at)
}
