/**
 * Imports into the file-backed store: a text in any format `CacheImport` reads, or a regular file
 * holding one. The loadable records become one `Import` change; bad entries are reported and skipped.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import { type CacheFile, CacheImport, Journal } from "@bootstrap-cache/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { CacheImportError, type ImportReport } from "../../CacheStore.js"
import { loadableRecords } from "./boundary.js"

export interface ImporterOptions {
  readonly fs: FileSystem.FileSystem
  readonly hash: CacheFile.Hash
  readonly annotate: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Appends one change to the store's pending log. */
  readonly record: (make: (at: number) => Journal.Op) => Effect.Effect<void>
}

export const makeImporter = ({ annotate, fs, hash, record }: ImporterOptions) => {
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

  /** Imports a regular file; anything else (a FIFO, a device, a directory) fails at once, never blocks. */
  const importFile = (source: string) =>
    fs.stat(source).pipe(
      Effect.filterOrFail(
        (info) => info.type === "File",
        (info) => new CacheImportError({ source, reason: `it is a ${info.type.toLowerCase()}, not a regular file` })
      ),
      Effect.zipRight(fs.readFileString(source)),
      Effect.mapError((e) => e._tag === "CacheImportError" ? e : new CacheImportError({ source, reason: e.message })),
      Effect.flatMap((text) => importText(text, source))
    )

  return { importText, importFile }
}
