/**
 * Reading the cache file: what is on disk (missing, valid, corrupt, unreadable), decoded behind a
 * boundary no defect crosses, and the memo that spares re-reading a file this process already knows.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type { PlatformError } from "@effect/platform/Error"
import { CacheFile } from "@bootstrap-cache/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { createHash } from "node:crypto"
import { sha256 } from "../../CacheStore.js"
import { errnoOf } from "../errno.js"

/** What reading a cache file found. `Corrupt` carries a one-line reason (never the bad input itself). */
export type DiskRead =
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Valid"; readonly decoded: CacheFile.Decoded; readonly text: string }
  | { readonly _tag: "Corrupt"; readonly reason: string }
  | { readonly _tag: "Unreadable"; readonly error: PlatformError }

/** How much of a decoder's message goes into a reason: a message may quote the bad input. */
const MAX_REASON = 300

/** A read whose stat or read failed: `Missing` when the file is not there. */
const failedRead = (error: PlatformError): DiskRead =>
  errnoOf(error) === "ENOENT" ? { _tag: "Missing" } : { _tag: "Unreadable", error }

const clip = (message: string): string => (message.length <= MAX_REASON ? message : `${message.slice(0, MAX_REASON)}…`)

/** One step of a decode: its result once done. */
type Step = { readonly done: true; readonly result: Either.Either<CacheFile.Decoded, string> } | { readonly done: false }

const NOT_DONE: Step = { done: false }

/**
 * Runs one step of `CacheFile.decodeSteps`. Total: a decoder that throws (a `RangeError` from nesting
 * deep enough to exhaust the stack, or any other defect) gives `Left` with the thrown message, exactly
 * as a decoder that reports the problem does, so the file is quarantined rather than the process stopped.
 */
const stepOf = (steps: ReturnType<typeof CacheFile.decodeSteps>): Step => {
  try {
    const next = steps.next()
    return next.done === true ? { done: true, result: Either.mapLeft(next.value, (e) => clip(e.message)) } : NOT_DONE
  } catch (defect) {
    const name = defect instanceof Error ? defect.name : "Error"
    const message = defect instanceof Error ? defect.message : String(defect)
    return { done: true, result: Either.left(`the decoder failed (${name}: ${clip(message)})`) }
  }
}

/** SHA-256 of text given in parts, as if joined (`CacheFile.HashParts` of {@link sha256}). */
export const sha256Parts: CacheFile.HashParts = (parts) => {
  const h = createHash("sha256")
  for (const part of parts) h.update(part)
  return h.digest("hex")
}

/** A decode's hash options: the store's default hash comes with its {@link sha256Parts}; any other alone. */
const hashOptions = (hash: CacheFile.Hash): { readonly hash: CacheFile.Hash; readonly hashParts?: CacheFile.HashParts } =>
  hash === sha256 ? { hash, hashParts: sha256Parts } : { hash }

/** Decodes the text of a cache file at once (see {@link decodeTextPausing}): total, as it is. */
export const decodeText = (text: string, hash: CacheFile.Hash): Either.Either<CacheFile.Decoded, string> => {
  const steps = CacheFile.decodeSteps(text, hashOptions(hash))
  for (;;) {
    const step = stepOf(steps)
    if (step.done) return step.result
  }
}

/** Resumes after the event loop's next check phase (`setImmediate`): I/O callbacks and timers due run first. */
export const nextMacrotask = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

/** Runs the steps `make` gives (a generator that pauses between slices), giving the event loop a turn between them. */
export const runPausing = (make: () => Iterator<unknown, unknown, void>): Effect.Effect<void> =>
  Effect.suspend(() => {
    const steps = make()
    const loop: Effect.Effect<void> = Effect.suspend(() => (steps.next().done === true ? Effect.void : Effect.zipRight(nextMacrotask, loop)))
    return loop
  })

/**
 * Decodes the text of a cache file a slice at a time (`CacheFile.decodeSteps`: the checksum, then
 * `CacheFile.LINES_PER_STEP` peer lines), giving the event loop a turn between slices: a 30k-peer file
 * never holds it for more than one slice, so dials and timers in flight keep running. The same result
 * as {@link decodeText}; total.
 */
export const decodeTextPausing = (text: string, hash: CacheFile.Hash): Effect.Effect<Either.Either<CacheFile.Decoded, string>> =>
  Effect.suspend(() => {
    const steps = CacheFile.decodeSteps(text, hashOptions(hash))
    const loop: Effect.Effect<Either.Either<CacheFile.Decoded, string>> = Effect.suspend(() => {
      const step = stepOf(steps)
      return step.done ? Effect.succeed(step.result) : Effect.zipRight(nextMacrotask, loop)
    })
    return loop
  })

/** How many bytes of the file {@link headerKey} reads: the header is in the first ~150. */
const HEADER_BYTES = 512

/**
 * `version:lastUpdated:checksum` of a file laid out as `CacheFile.encodeCompact` or `CacheFile.encode`
 * writes it, from its first bytes; undefined for any other layout.
 */
export const headerKey = (text: string): string | undefined => CacheFile.headerKey(text.slice(0, HEADER_BYTES))

/**
 * How many bytes of the file its head is read from (`CacheFile.decodeHead`): the head of 32 peers
 * takes ~10 KB. A file no larger than this is decoded whole at once: there is nothing to gain.
 */
export const HEAD_BYTES = 65_536

/** What this process last read from or wrote to the file (see {@link makeDiskFile}). */
interface Known {
  readonly id: string
  readonly header: string
  readonly decoded: CacheFile.Decoded
}

const identityOf = (i: FileSystem.File.Info): string =>
  `${Option.getOrElse(i.ino, () => -1)}:${i.size}:${Option.match(i.mtime, { onNone: () => -1, onSome: (d) => d.getTime() })}`

/**
 * Reads `file` (and its `.bak`) with `fs`.
 *
 * `readMain` remembers what it read: the file's identity (inode, size, mtime in ms), its header
 * (version, lastUpdated, checksum) and what it decoded to. A later read that finds the same identity
 * **and** the same header skips reading and decoding again. Both are needed: writers replace the file
 * by rename, but an inode freed by an unlink can be reused at once by the next temp file, mtime moves
 * with a coarse clock (and `cp -p` / `touch -r` set it at will), and a same-length counter change
 * keeps the size. The checksum in the header covers the peers, so an equal header means equal peers;
 * the identity on top makes a body damaged under an intact header re-read (and found corrupt). Files
 * with rejected records, of a newer version, or whose header is not in the first bytes are never
 * remembered.
 */
/** What the readers below need: the file system and the checksum's hash. */
interface Reader {
  readonly fs: FileSystem.FileSystem
  readonly hash: CacheFile.Hash
}

const utf8 = new TextDecoder()

/** Reads and decodes `p`. Anything but a regular file (a FIFO would block the read) is `Corrupt`. */
const readPath = (r: Reader, p: string): Effect.Effect<DiskRead> =>
  Effect.flatMap(Effect.either(r.fs.stat(p)), (info) => readStatted(r, p, info))

/** Reads and decodes `p` given its stat (or the error the stat failed with). */
const readStatted = (r: Reader, p: string, info: Either.Either<FileSystem.File.Info, PlatformError>): Effect.Effect<DiskRead> =>
  Either.match(info, {
    onLeft: (error) => Effect.succeed(failedRead(error)),
    onRight: (i) =>
      i.type === "File"
        ? readRegular(r, p)
        : Effect.succeed<DiskRead>({ _tag: "Corrupt", reason: `it is a ${i.type.toLowerCase()}, not a regular file` })
  })

/** A file no larger than a head is decoded at once: its slices would cost turns of the event loop, not save them. */
const decodeRead = (r: Reader, text: string) =>
  text.length <= HEAD_BYTES ? Effect.sync(() => decodeText(text, r.hash)) : decodeTextPausing(text, r.hash)

const readRegular = (r: Reader, p: string): Effect.Effect<DiskRead> =>
  r.fs.readFileString(p).pipe(
    Effect.flatMap((text) =>
      Effect.map(decodeRead(r, text), (decoded): DiskRead =>
        Either.match(decoded, {
          onLeft: (reason) => ({ _tag: "Corrupt", reason }),
          onRight: (decoded) => ({ _tag: "Valid", decoded, text })
        }))
    ),
    Effect.catchAll((error) => Effect.succeed(failedRead(error)))
  )

/**
 * The head of `file` (`CacheFile.decodeHead` on its first {@link HEAD_BYTES}, decoded before
 * anything else of the file is read), when it is a regular file larger than that in a format
 * version this module writes; none otherwise, and on any error (the whole file is then read as
 * always, with its quarantine rules). `info` is the file's stat, taken just before.
 */
const readHeadOf = (r: Reader, file: string, info: FileSystem.File.Info): Effect.Effect<Option.Option<CacheFile.Head>> =>
  Effect.gen(function*() {
    if (info.type !== "File" || Number(info.size) <= HEAD_BYTES) return Option.none()
    const prefix = yield* Effect.scoped(Effect.flatMap(r.fs.open(file, { flag: "r" }), (f) => f.readAlloc(HEAD_BYTES)))
    if (Option.isNone(prefix)) return Option.none()
    const head = yield* Effect.try(() => CacheFile.decodeHead(utf8.decode(prefix.value), { hash: r.hash }))
    return Option.filter(head, (h) => h.version <= CacheFile.VERSION)
  }).pipe(Effect.orElseSucceed(() => Option.none()))

/** Whether `p` itself is a symbolic link (`readlink` succeeds only on one). */
const isLinkWith = (fs: FileSystem.FileSystem, p: string): Effect.Effect<boolean> =>
  fs.readLink(p).pipe(Effect.as(true), Effect.orElseSucceed(() => false))

export const makeDiskFile = (fs: FileSystem.FileSystem, file: string, hash: CacheFile.Hash) => {
  let known: Known | undefined
  const r: Reader = { fs, hash }

  const identity = fs.stat(file).pipe(Effect.map(identityOf), Effect.option)

  /**
   * Whether the file is still the one `k` describes: same identity and same header, read from one
   * descriptor (so of one inode) at once.
   */
  const isKnown = (k: Known) =>
    Effect.scoped(Effect.gen(function*() {
      const f = yield* fs.open(file, { flag: "r" })
      const [info, head] = yield* Effect.all([f.stat, f.readAlloc(HEADER_BYTES)], { concurrency: "unbounded" })
      return identityOf(info) === k.id && Option.isSome(head) && headerKey(utf8.decode(head.value)) === k.header
    })).pipe(Effect.orElseSucceed(() => false))

  /**
   * Reads the cache file, or takes what this process knows of it when it is unchanged. `stat` is the
   * file's stat (or its error), taken before the read: one stat gives the identity remembered and the
   * regular-file check.
   */
  const readMainFrom = (stat: Effect.Effect<Either.Either<FileSystem.File.Info, PlatformError>>): Effect.Effect<DiskRead> =>
    Effect.gen(function*() {
      const k = known
      if (k !== undefined && (yield* isKnown(k))) return { _tag: "Valid", decoded: k.decoded, text: "" } satisfies DiskRead
      // The identity is taken before the read: a file replaced in between is read anew next time.
      const info = yield* stat
      return remember(Option.map(Either.getRight(info), identityOf), yield* readStatted(r, file, info))
    })

  /** Remembers what `read` found when it is worth remembering (see {@link makeDiskFile}); returns it. */
  const remember = (id: Option.Option<string>, read: DiskRead): DiskRead => {
    const header = read._tag === "Valid" ? headerKey(read.text) : undefined
    known = Option.isSome(id) && read._tag === "Valid" && header !== undefined && read.decoded.rejected.length === 0 &&
        !read.decoded.newer
      ? { id: id.value, header, decoded: read.decoded }
      : undefined
    return read
  }

  const readMain = readMainFrom(Effect.either(fs.stat(file)))

  /**
   * Remembers the file this process just wrote (`text`, decoding to `table` at `lastUpdated`), by its
   * `stat` taken after the write (or stats it when none is given).
   */
  const rememberWritten = (text: string, decoded: Omit<CacheFile.Decoded, "checksum">, info?: Option.Option<FileSystem.File.Info>) =>
    Effect.map(info === undefined ? identity : Effect.succeed(Option.map(info, identityOf)), (written) => {
      const header = headerKey(text)
      known = Option.isSome(written) && header !== undefined
        ? { id: written.value, header, decoded: { ...decoded, checksum: header.slice(header.lastIndexOf(":") + 1) } }
        : undefined
    })

  return {
    readPath: (p: string) => readPath(r, p),
    readMain,
    readMainFrom,
    readHeadOf: (info: FileSystem.File.Info) => readHeadOf(r, file, info),
    rememberWritten,
    isLink: (p: string) => isLinkWith(fs, p),
    identity
  }
}

/** The reader {@link makeDiskFile} builds. */
export type DiskFile = ReturnType<typeof makeDiskFile>
