/**
 * Imports into the file-backed store: a text in any format `CacheImport` reads, or a regular file
 * holding one. The loadable records become one `Import` change; bad entries are reported and skipped.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { type CacheFile, CacheImport, Journal } from "@bootstrap-cache/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { CacheImportError, type ImportReport } from "../../CacheStore.js"
import { loadableRecords } from "./boundary.js"

export interface ImporterOptions {
  readonly fs: FileSystem.FileSystem
  readonly hash: CacheFile.Hash
  readonly annotate: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** The size cap of `importFile` in bytes. */
  readonly maxBytes: number
  /** Appends one change to the store's pending log. */
  readonly record: (make: (at: number) => Journal.Op) => Effect.Effect<void>
}

/** Fails unless `info` is a regular file of at most `maxBytes`. */
const checkFile = (source: string, info: FileSystem.File.Info, maxBytes: number) =>
  info.type !== "File"
    ? Effect.fail(new CacheImportError({ source, reason: `it is a ${info.type.toLowerCase()}, not a regular file` }))
    : Number(info.size) > maxBytes
    ? Effect.fail(new CacheImportError({ source, reason: `${info.size} bytes, more than the import cap of ${maxBytes}` }))
    : Effect.void

/** The text of a regular file of at most `maxBytes`, never reading more than `maxBytes` + 1 bytes. */
const readCapped = (fs: FileSystem.FileSystem, source: string, maxBytes: number) =>
  Effect.scoped(Effect.gen(function*() {
    yield* checkFile(source, yield* fs.stat(source), maxBytes)
    const file = yield* fs.open(source, { flag: "r" })
    yield* checkFile(source, yield* file.stat, maxBytes)
    const chunks: Array<Uint8Array> = []
    let length = 0
    while (length <= maxBytes) {
      const chunk = yield* file.readAlloc(FileSystem.Size(Math.min(65_536, maxBytes + 1 - length)))
      if (Option.isNone(chunk) || chunk.value.length === 0) break
      chunks.push(chunk.value)
      length += chunk.value.length
    }
    if (length > maxBytes) {
      return yield* new CacheImportError({ source, reason: `more than the import cap of ${maxBytes} bytes` })
    }
    return new TextDecoder("utf-8").decode(Buffer.concat(chunks, length))
  }))

export const makeImporter = ({ annotate, fs, hash, maxBytes, record }: ImporterOptions) => {
  const importText = (text: string, from: string) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const parsed = yield* Either.match(CacheImport.parse(text, { now, from, hash }), {
        onLeft: (e) => Effect.fail(new CacheImportError({ source: from, reason: e.message })),
        onRight: Effect.succeed
      })
      const loadable = loadableRecords(parsed.records)
      const bad = [...parsed.bad, ...loadable.bad]
      if (loadable.records.length > 0) yield* record(() => Journal.Op.Import({ records: loadable.records }))
      if (bad.length > 0) {
        yield* Effect.logWarning(`import of ${from}: ${bad.length} bad entr${bad.length === 1 ? "y" : "ies"} skipped, first: ${bad[0]!.location}: ${bad[0]!.reason}`).pipe(annotate)
      }
      return { source: from, format: parsed.format, records: loadable.records.length, entries: parsed.entries, bad } satisfies ImportReport
    })

  /**
   * Imports a regular file of at most `maxBytes`; anything else (a FIFO, a device, a directory, a file
   * over the cap) fails at once, never blocks. The type and size are checked by path before opening
   * (opening a FIFO would wait for a writer) and again on the open file (it may have been swapped).
   */
  const importFile = (source: string) =>
    readCapped(fs, source, maxBytes).pipe(
      Effect.mapError((e) => e._tag === "CacheImportError" ? e : new CacheImportError({ source, reason: e.message })),
      Effect.flatMap((text) => importText(text, source))
    )

  return { importText, importFile }
}
