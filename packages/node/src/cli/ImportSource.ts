/**
 * Reading what `bootstrap-cache import` is given, safely: a file must be a regular file (a FIFO, a
 * device such as `/dev/zero`, a directory or a socket fails at once, never blocks or grows without
 * end) and at most the size cap; a URL goes through the contacts fetcher (its breakers, retries,
 * redirect rule, timeout and streaming cap).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { constants, type Stats } from "node:fs"
import * as Fs from "node:fs/promises"
import * as CacheStore from "../CacheStore.js"
import * as ContactsFetcher from "../ContactsFetcher.js"
import * as NodePlatform from "../internal/nodePlatform.js"

/**
 * The size cap of an import, file or URL: `CacheStore.MAX_IMPORT_BYTES` (16 MiB).
 *
 * @since 0.1.0
 */
export const MAX_IMPORT_BYTES = CacheStore.MAX_IMPORT_BYTES

const kind = (stats: Stats): string =>
  stats.isDirectory()
    ? "a directory"
    : stats.isFIFO()
    ? "a FIFO (named pipe)"
    : stats.isCharacterDevice()
    ? "a character device"
    : stats.isBlockDevice()
    ? "a block device"
    : stats.isSocket()
    ? "a socket"
    : "not a regular file"

/**
 * Reads a file to import. It is opened without blocking (`O_NONBLOCK`: opening a FIFO does not wait
 * for a writer) and checked on the open descriptor (no race with a file swapped in between), then
 * read up to `maxBytes` + 1 bytes. Fails with `CacheStore.CacheImportError` naming the path when it is
 * not a regular file, is larger than `maxBytes`, or cannot be read.
 *
 * @since 0.1.0
 */
export const readFile = (path: string, maxBytes = MAX_IMPORT_BYTES): Effect.Effect<string, CacheStore.CacheImportError> =>
  Effect.acquireUseRelease(
    Effect.tryPromise({
      try: () => Fs.open(path, constants.O_RDONLY | constants.O_NONBLOCK),
      catch: (e) => new CacheStore.CacheImportError({ source: path, reason: (e as NodeJS.ErrnoException).code ?? String(e) })
    }),
    (handle) =>
      Effect.gen(function*() {
        const stats = yield* Effect.promise(() => handle.stat())
        if (!stats.isFile()) {
          return yield* new CacheStore.CacheImportError({ source: path, reason: `${kind(stats)}, not a regular file` })
        }
        if (stats.size > maxBytes) {
          return yield* new CacheStore.CacheImportError({ source: path, reason: `${stats.size} bytes, more than the import cap of ${maxBytes}` })
        }
        // The size may change while reading: never read more than the cap and one byte.
        const buffer = Buffer.alloc(Math.min(maxBytes + 1, stats.size + 1))
        let length = 0
        while (length < buffer.length) {
          const { bytesRead } = yield* Effect.tryPromise({
            try: () => handle.read(buffer, length, buffer.length - length, length),
            catch: (e) => new CacheStore.CacheImportError({ source: path, reason: (e as NodeJS.ErrnoException).code ?? String(e) })
          })
          if (bytesRead === 0) break
          length += bytesRead
        }
        if (length > maxBytes) {
          return yield* new CacheStore.CacheImportError({ source: path, reason: `more than the import cap of ${maxBytes} bytes` })
        }
        return new TextDecoder("utf-8").decode(buffer.subarray(0, length))
      }),
    (handle) => Effect.promise(() => handle.close())
  )

/**
 * Fetches a URL to import through the contacts fetcher (`ContactsFetcher.make(...).fetchBody`),
 * capped at `maxBytes`. Fails with `CacheStore.CacheImportError` naming the URL when the fetch
 * fails or the body is larger than the cap.
 *
 * @since 0.1.0
 */
export const fetchUrl = (url: string, maxBytes = MAX_IMPORT_BYTES): Effect.Effect<string, CacheStore.CacheImportError> =>
  Effect.gen(function*() {
    const fetcher = yield* ContactsFetcher.make({ endpoints: [], requestTimeout: "30 seconds", maxResponseBytes: maxBytes })
    const body = yield* fetcher.fetchBody(url).pipe(
      Effect.mapError((e) => new CacheStore.CacheImportError({ source: url, reason: `${e.reason}: ${e.detail}` }))
    )
    if (body.truncated) {
      return yield* new CacheStore.CacheImportError({ source: url, reason: `the body is larger than the import cap of ${maxBytes} bytes` })
    }
    return body.text
  }).pipe(Effect.scoped, Effect.provide(NodePlatform.layerUndici))
