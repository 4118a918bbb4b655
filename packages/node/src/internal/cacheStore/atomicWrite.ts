/**
 * Writing the cache file so that no write ever leaves the cache directory or goes through a link the
 * store did not make: every file it writes is created exclusively under an unpredictable name, then
 * renamed into place (see the threat model in the README's store section).
 *
 * - `open(…, "wx")` is `O_CREAT | O_EXCL`: it fails on any existing name, a symbolic link included
 *   (POSIX: with `O_EXCL` no link is followed), so a planted link is never written through.
 * - Temp names carry 64 random bits (`node:crypto`), so nobody can plant at them in advance.
 * - `rename` and `link` act on names, never through a link at their target.
 * - Permission bits come from the file replaced, `& 0o777`: setuid, setgid and sticky never carry.
 *   They are set with `fchmod` on the open descriptor, never with a `chmod` of a path.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type { PlatformError } from "@effect/platform/Error"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { randomBytes } from "node:crypto"
import * as NodeFs from "node:fs"
import { errnoOf } from "../errno.js"

/** Permission bits of a new cache file. */
export const DEFAULT_MODE = 0o644

/** Strays a killed writer can leave: `.<name>.<anything>.tmp` and older `….tmp.bak` copies. */
export const isStray = (name: string, entry: string): boolean =>
  entry.startsWith(`.${name}.`) && (entry.endsWith(".tmp") || entry.endsWith(".tmp.bak"))

/** `fchmod` on an open descriptor (the platform `File` has no `chmod`). */
const fchmod = (fd: number, mode: number): Effect.Effect<void, NodeJS.ErrnoException> =>
  Effect.async<void, NodeJS.ErrnoException>((resume) => {
    NodeFs.fchmod(fd, mode, (err) => resume(err === null ? Effect.void : Effect.fail(err)))
  })

export interface WriterOptions {
  readonly fs: FileSystem.FileSystem
  readonly path: Path.Path
  /** The cache file. */
  readonly file: string
  /** Called when a `.bak` could not be kept (the write goes on). */
  readonly warn: (message: string) => Effect.Effect<void>
}

/** What failed while writing: the step and the platform error (or a bare errno). */
export interface WriteFailure {
  readonly operation: "write" | "rename" | "move-aside"
  readonly code: string | undefined
  readonly reason: string
}

const failure = (operation: WriteFailure["operation"]) => (e: PlatformError | NodeJS.ErrnoException): WriteFailure => ({
  operation,
  code: errnoOf(e),
  reason: e.message
})

/** What the writing functions share: the options and the names derived from the cache file. */
interface WriterContext extends WriterOptions {
  readonly dir: string
  readonly name: string
  readonly bakPath: string
}

/** A fresh name in the cache directory nobody can guess: `.<name>.<16 hex>.<kind>.tmp`. */
const tempName = (c: WriterContext, kind: string) => c.path.join(c.dir, `.${c.name}.${randomBytes(8).toString("hex")}.${kind}.tmp`)

/** fsync of the directory, so a rename in it is durable (ignored where unsupported, e.g. Windows). */
const syncDirectory = (c: WriterContext) => Effect.scoped(Effect.flatMap(c.fs.open(c.dir, { flag: "r" }), (f) => f.sync)).pipe(Effect.ignore)

/** The permission bits for a file replacing one with this `stat` (none: there is none): its own `& 0o777`. */
export const modeReplacing = (info: Option.Option<FileSystem.File.Info>): number =>
  Option.match(info, { onNone: () => DEFAULT_MODE, onSome: (i) => (i.type === "File" ? i.mode & 0o777 : DEFAULT_MODE) })

/** The permission bits for the new file: those of the regular file it replaces, `& 0o777`. */
const modeToKeep = (c: WriterContext) => Effect.map(Effect.option(c.fs.stat(c.file)), modeReplacing)

/** Creates `target` exclusively (never through a link), writes `bytes`, sets `mode`, fsyncs. */
const writeExclusive = (c: WriterContext, target: string, bytes: Uint8Array, mode: number) =>
  Effect.scoped(Effect.gen(function*() {
    const f = yield* c.fs.open(target, { flag: "wx", mode })
    // From here the name is ours: a failure removes it (before, it may be someone else's).
    yield* Effect.gen(function*() {
      // open's mode is masked by the umask: the bits are set on the descriptor itself when they
      // differ. The stat and the write are independent: they run concurrently.
      const [info] = yield* Effect.all([f.stat, f.writeAll(bytes)], { concurrency: "unbounded" })
      if ((info.mode & 0o777) !== mode) yield* fchmod(f.fd as unknown as number, mode)
      yield* f.sync
    }).pipe(Effect.tapError(() => c.fs.remove(target).pipe(Effect.ignore)))
  }))

/**
 * `<file>.bak` as a second name of the current file: `link` to a fresh name (a link is a new name,
 * it fails rather than follow or replace anything), then `rename` onto `.bak`. Where hard links are
 * refused (`EPERM`: another user's file under `protected_hardlinks`, file systems without them),
 * the bytes are copied into an exclusively created temp instead. A failure only costs the `.bak`:
 * it gives the warning to report (undefined when the `.bak` was kept).
 *
 * `linked`: the file has more than one name (`nlink > 1`, or unknown). `.bak` may then already be a
 * name of the same file (a write that kept its `.bak` and was aborted or killed before its rename),
 * and POSIX `rename` between two names of one file does nothing and succeeds: the temp name is then
 * removed after the rename, so it is not left behind.
 */
const keepBak = (c: WriterContext, linked: boolean): Effect.Effect<string | undefined> =>
  Effect.gen(function*() {
    const bakTmp = tempName(c, "bak")
    const copy = c.fs.readFile(c.file).pipe(Effect.flatMap((bytes) => writeExclusive(c, bakTmp, bytes, DEFAULT_MODE)))
    return yield* c.fs.link(c.file, bakTmp).pipe(
      Effect.orElse(() => copy),
      Effect.zipRight(c.fs.rename(bakTmp, c.bakPath)),
      Effect.zipRight(linked ? c.fs.remove(bakTmp).pipe(Effect.ignore) : Effect.void),
      Effect.as(undefined),
      Effect.catchAll((e) => c.fs.remove(bakTmp).pipe(Effect.ignore, Effect.as(`could not keep ${c.bakPath}: ${e.message}`)))
    )
  })

/**
 * Options of {@link writeAtomic}: whether to keep the current file as `.bak`, the check that the
 * write may still be committed, and the permission bits when the caller has just read them
 * ({@link modeReplacing} of a `stat` of the file; else the file is `stat`ed).
 */
export interface WriteOptions {
  readonly keepBak: boolean
  readonly mayCommit: Effect.Effect<boolean>
  readonly mode?: number
  /** The file's number of names (`nlink` of that `stat`); unknown: treated as more than one. */
  readonly links?: number
}

/** What {@link writeAtomic} committed: the bytes written and the file's `stat` just after (none if it failed). */
export interface Written {
  readonly bytes: number
  readonly info: Option.Option<FileSystem.File.Info>
}

/**
 * temp file (exclusive, random name) → fsync → `commit` check → rename over the file → fsync of the
 * directory. `content` is the text (written as UTF-8) or its bytes. The `.bak` (when kept) is made
 * while the temp file is written: it only needs to be done before the rename, and it is the file as
 * it is until then whatever the write does (its failure is reported only when the write succeeds).
 * `commit` answers whether the write may still be committed (the lock is still this process's);
 * when it says no, the temp file is removed and `Aborted` returned. Returns the bytes written and
 * the new file's `stat`, taken while the directory is synced.
 */
const writeAtomic = (
  c: WriterContext,
  content: string | Uint8Array,
  options: WriteOptions
): Effect.Effect<Written | "Aborted", WriteFailure> =>
  Effect.gen(function*() {
    const tmp = tempName(c, "new")
    const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content
    const mode = options.mode ?? (yield* modeToKeep(c))
    const [, bakProblem] = yield* Effect.all([
      writeExclusive(c, tmp, bytes, mode).pipe(Effect.mapError(failure("write"))),
      options.keepBak ? Effect.uninterruptible(keepBak(c, options.links !== 1)) : Effect.succeed(undefined)
    ], { concurrency: "unbounded" })
    if (bakProblem !== undefined) yield* c.warn(bakProblem)
    if (!(yield* options.mayCommit)) {
      yield* c.fs.remove(tmp).pipe(Effect.ignore)
      return "Aborted" as const
    }
    yield* c.fs.rename(tmp, c.file).pipe(
      Effect.mapError(failure("rename")),
      Effect.tapError(() => c.fs.remove(tmp).pipe(Effect.ignore))
    )
    const [, info] = yield* Effect.all([syncDirectory(c), Effect.option(c.fs.stat(c.file))], { concurrency: "unbounded" })
    return { bytes: bytes.length, info }
  })

/**
 * Writes `text` to the first free `<file>.<kind>-<stamp>[-n]`, created exclusively (a name taken,
 * by a file or a link, is skipped): a copy kept aside is never written through a planted link.
 */
const writeAside = (c: WriterContext, kind: string, stamp: string, text: string): Effect.Effect<string, WriteFailure> =>
  Effect.gen(function*() {
    const bytes = new TextEncoder().encode(text)
    for (let n = 0; ; n++) {
      const candidate = `${c.file}.${kind}-${stamp}${n === 0 ? "" : `-${n}`}`
      const written = yield* writeExclusive(c, candidate, bytes, DEFAULT_MODE).pipe(
        Effect.as(true),
        Effect.catchAll((e) => (errnoOf(e) === "EEXIST" && n < 1000 ? Effect.succeed(false) : Effect.fail(failure("move-aside")(e))))
      )
      if (written) return candidate
    }
  })

/** Removes the strays of killed writers (see {@link isStray}); a link is removed, never followed. */
const removeStrays = (c: WriterContext) =>
  c.fs.readDirectory(c.dir).pipe(
    Effect.flatMap((entries) =>
      Effect.forEach(entries.filter((e) => isStray(c.name, e)), (e) => c.fs.remove(c.path.join(c.dir, e)).pipe(Effect.ignore), {
        discard: true
      })
    ),
    Effect.ignore
  )

export const makeWriter = (options: WriterOptions) => {
  const { file, path } = options
  const c: WriterContext = { ...options, dir: path.dirname(file), name: path.basename(file), bakPath: `${file}.bak` }
  return {
    writeAtomic: (content: string | Uint8Array, o: WriteOptions) => writeAtomic(c, content, o),
    writeAside: (kind: string, stamp: string, text: string) => writeAside(c, kind, stamp, text),
    removeStrays: removeStrays(c),
    bakPath: c.bakPath
  }
}

/** The writer {@link makeWriter} builds. */
export type Writer = ReturnType<typeof makeWriter>
