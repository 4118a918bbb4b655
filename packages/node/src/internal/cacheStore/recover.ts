/**
 * Recovery of a corrupt cache file: moved aside (never deleted), then the previous good copy
 * `<file>.bak` put back in its place when it decodes, else an empty cache.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type { CacheFile } from "@bootstrap-cache/core"
import { PeerTable } from "@bootstrap-cache/core"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { CacheWriteError } from "../../CacheStore.js"
import { errnoOf } from "../errno.js"
import type { Writer } from "./atomicWrite.js"
import type { DiskFile } from "./diskFile.js"

export interface RecoveryOptions {
  readonly fs: FileSystem.FileSystem
  readonly file: string
  readonly disk: DiskFile
  readonly writer: Writer
  readonly warn: (message: string) => Effect.Effect<void>
  readonly writeError: (operation: string, e: { readonly code: string | undefined; readonly reason: string }) => CacheWriteError
}

/** An ISO-8601 time usable in a file name (`2026-12-06T20-51-59-123Z`). */
const stamp = (now: number): string => new Date(now).toISOString().replace(/[:.]/g, "-")

export const makeRecovery = ({ disk, file, fs, warn, writeError, writer }: RecoveryOptions) => {
  /** A free name `<file>.<kind>-<timestamp>[-n]`, so an earlier copy is never overwritten. */
  const asideName = (kind: string, now: number) =>
    Effect.gen(function*() {
      const stem = `${file}.${kind}-${stamp(now)}`
      for (let n = 0; ; n++) {
        const candidate = n === 0 ? stem : `${stem}-${n}`
        // A link planted at the name counts as taken (`readLink` sees it, `exists` would follow it).
        const taken = (yield* fs.exists(candidate).pipe(Effect.orElseSucceed(() => false))) || (yield* disk.isLink(candidate))
        if (!taken) return candidate
      }
    })

  /** `<file>.bak` when it decodes (its text too, to put it back), else none (with a warning if it is there). */
  const readBak = Effect.gen(function*() {
    const bak = yield* disk.readPath(writer.bakPath)
    if (bak._tag === "Valid") {
      yield* warn(`restored the previous good copy ${writer.bakPath} (${PeerTable.size(bak.decoded.table)} peers)`)
      return Option.some(bak)
    }
    if (bak._tag !== "Missing") yield* warn(`the previous copy ${writer.bakPath} is not usable either: starting empty`)
    return Option.none()
  })

  const loadBak = Effect.map(readBak, Option.map((bak) => bak.decoded))

  /**
   * Under the lock: the corrupt file is renamed aside (a rename never follows a link), then the
   * `.bak`, if it decodes, is written back in its place through the same exclusive temp + rename as
   * any write (never a copy onto a predictable name). Fails when the move fails; a failed write-back
   * only leaves the main file missing (the `.bak` stays).
   */
  const recoverCorrupt = (reason: string, now: number): Effect.Effect<Option.Option<CacheFile.Decoded>, CacheWriteError> =>
    Effect.gen(function*() {
      const aside = yield* asideName("corrupt", now)
      yield* fs.rename(file, aside).pipe(Effect.mapError((e) => writeError("move-aside", { code: errnoOf(e), reason: e.message })))
      yield* warn(`the cache file is corrupt (${reason}); moved aside to ${aside}`)
      const bak = yield* readBak
      if (Option.isSome(bak)) {
        yield* writer.writeAtomic(bak.value.text, { keepBak: false, mayCommit: Effect.succeed(true) }).pipe(
          Effect.catchAll((e) => warn(`could not put ${writer.bakPath} back in place: ${e.reason}`))
        )
      }
      return Option.map(bak, (b) => b.decoded)
    })

  return { recoverCorrupt, loadBak, stamp }
}

/** The recovery {@link makeRecovery} builds. */
export type Recovery = ReturnType<typeof makeRecovery>
