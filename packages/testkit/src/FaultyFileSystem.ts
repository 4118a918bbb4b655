/**
 * A fault-injecting `@effect/platform` FileSystem for tests: it forwards every call to a real
 * FileSystem (files in a temp directory) and fails the calls that match an injected {@link Fault} with
 * the OS error it names — `EACCES`, `EPERM`, `EROFS`, `ENOSPC`, `EIO` — or writes only a prefix of the
 * data before failing (a **torn write**).
 *
 * Why: the tests run as root, where `chmod 0444` does not make a file read-only and a full disk cannot
 * be arranged, so read-only files and directories, read-only file systems, full disks and I/O errors
 * are simulated here. The errors are built exactly as `@effect/platform-node` builds them (a
 * `SystemError` whose `cause` is the errno exception with its `code`), so code under test cannot tell
 * them from real ones.
 *
 * Faults follow the kernel's order of checks where it matters: `mkdir` of an existing path fails with
 * `EEXIST` (or succeeds, recursive) before any injected fault, as Linux reports existence first.
 *
 * Every call is also recorded (`calls`), so a test can check the order of operations, e.g. that the
 * temp file was `sync`ed before the `rename`.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { SystemError } from "@effect/platform/Error"
import type { PlatformError } from "@effect/platform/Error"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"

/**
 * The OS errors a fault can raise.
 *
 * @since 0.1.0
 */
export type Errno = "EACCES" | "EPERM" | "EROFS" | "ENOSPC" | "EIO"

/**
 * The calls a fault can target. `write` covers `File.write` and `File.writeAll`; `sync` is
 * `File.sync` (of a file or, opened read-only, a directory).
 *
 * @since 0.1.0
 */
export type Method =
  | "open"
  | "write"
  | "sync"
  | "rename"
  | "link"
  | "copyFile"
  | "makeDirectory"
  | "remove"
  | "readFile"
  | "writeFile"
  | "stat"
  | "readDirectory"

/**
 * The methods that change the file system (what a read-only file system refuses). `open` counts
 * only when it opens for writing (a flag other than `r`).
 *
 * @since 0.1.0
 */
export const MUTATING: ReadonlyArray<Method> = ["open", "write", "rename", "link", "copyFile", "makeDirectory", "remove", "writeFile"]

/**
 * A fault: calls of `methods` on a path matching `path` (a substring, or a RegExp; every path when
 * absent) fail with `errno`, at most `times` times (unlimited when absent). With `tornAfterBytes`, a
 * `write` / `writeFile` first writes that many bytes of its data, then fails.
 *
 * @since 0.1.0
 */
export interface Fault {
  readonly methods: ReadonlyArray<Method>
  readonly errno: Errno
  readonly path?: string | RegExp
  readonly times?: number
  readonly tornAfterBytes?: number
}

/**
 * One recorded call: the method and the path (for `rename`/`link`/`copyFile`, `from -> to`; for
 * `open`, `path (flag)`), and whether a fault failed it.
 *
 * @since 0.1.0
 */
export interface Call {
  readonly method: Method | string
  readonly path: string
  readonly failed: boolean
}

/**
 * The control side of the faulty FileSystem: inject and clear faults, read the call log.
 *
 * @since 0.1.0
 */
export class FaultyFileSystem extends Context.Tag("@bootstrap-cache/testkit/FaultyFileSystem")<FaultyFileSystem, {
  readonly inject: (fault: Fault) => Effect.Effect<void>
  readonly clear: Effect.Effect<void>
  readonly calls: Effect.Effect<ReadonlyArray<Call>>
  readonly resetCalls: Effect.Effect<void>
}>() {}

/**
 * A fault making everything under `path` read-only, as on a read-only mount: every mutating call
 * fails with `EROFS` (or the given errno, e.g. `EACCES` for a directory without write permission).
 *
 * @since 0.1.0
 */
export const readOnly = (path: string | RegExp, errno: Errno = "EROFS"): Fault => ({ methods: MUTATING, errno, path })

/**
 * A full disk under `path`: writes fail with `ENOSPC` (after writing `tornAfterBytes` bytes, 0 by
 * default), as do new directories and copies.
 *
 * @since 0.1.0
 */
export const diskFull = (path: string | RegExp, tornAfterBytes = 0): Fault => ({
  methods: ["write", "writeFile", "copyFile", "makeDirectory"],
  errno: "ENOSPC",
  path,
  tornAfterBytes
})

const SYSCALLS: Record<string, string> = { writeFile: "open", readFile: "open", makeDirectory: "mkdir", remove: "rm" }

/** The error `@effect/platform-node` would produce for this errno. */
export const systemError = (errno: Errno, method: string, path: string): PlatformError => {
  const syscall = SYSCALLS[method] ?? method
  const description = `${errno}: simulated fault, ${syscall} '${path}'`
  return new SystemError({
    reason: errno === "EACCES" || errno === "EPERM" ? "PermissionDenied" : "Unknown",
    module: "FileSystem",
    method,
    pathOrDescriptor: path,
    syscall,
    description,
    cause: Object.assign(new Error(description), { code: errno, syscall, path })
  })
}

const matches = (fault: Fault, method: Method, path: string): boolean =>
  fault.methods.includes(method) &&
  (fault.path === undefined || (typeof fault.path === "string" ? path.includes(fault.path) : fault.path.test(path)))

/** Runs `run` unless a fault fires for `method` on `path` (see `make`). */
type Guard = <A, R = never>(
  method: Method,
  path: string,
  run: Effect.Effect<A, PlatformError, R>,
  torn?: (bytes: number) => Effect.Effect<unknown, PlatformError>,
  logPath?: string
) => Effect.Effect<A, PlatformError, R>

type RecordCall = (method: string, path: string, failed: boolean) => Effect.Effect<void>

/** An open file whose writes, truncations and syncs go through `guard` (reads never fail). */
const wrapFile = (guard: Guard, file: FileSystem.File, path: string): FileSystem.File => ({
  [FileSystem.FileTypeId]: FileSystem.FileTypeId,
  fd: file.fd,
  stat: file.stat,
  seek: (offset, from) => file.seek(offset, from),
  read: (buffer) => file.read(buffer),
  readAlloc: (size) => file.readAlloc(size),
  truncate: (length) => guard("write", path, file.truncate(length)),
  write: (buffer) => guard("write", path, file.write(buffer), (n) => file.writeAll(buffer.subarray(0, n))),
  writeAll: (buffer) => guard("write", path, file.writeAll(buffer), (n) => file.writeAll(buffer.subarray(0, n))),
  get sync() {
    return guard("sync", path, file.sync)
  }
})

/** `underlying` with every mutating call (and `stat`, `readFile`, `readDirectory`) through `guard`. */
const faultyFileSystem = (underlying: FileSystem.FileSystem, guard: Guard, record: RecordCall): FileSystem.FileSystem =>
  FileSystem.make({
    ...underlying,
    open: (path, options) => {
      const flag = options?.flag ?? "r"
      const run = Effect.map(underlying.open(path, options), (f) => wrapFile(guard, f, path))
      return flag === "r"
        ? Effect.zipRight(record("open", `${path} (r)`, false), run)
        : guard("open", path, run, undefined, `${path} (${flag})`)
    },
    rename: (from, to) => guard("rename", `${from} -> ${to}`, underlying.rename(from, to)),
    link: (from, to) => guard("link", `${from} -> ${to}`, underlying.link(from, to)),
    copyFile: (from, to) => guard("copyFile", `${from} -> ${to}`, underlying.copyFile(from, to)),
    // As the kernel does, an existing path answers `mkdir` with EEXIST before any EROFS/EACCES/ENOSPC
    // (so `mkdir -p` of an existing directory succeeds even on a read-only file system).
    makeDirectory: (path, options) =>
      Effect.flatMap(Effect.orElseSucceed(underlying.exists(path), () => false), (exists) =>
        exists
          ? Effect.zipRight(record("makeDirectory", path, false), underlying.makeDirectory(path, options))
          : guard("makeDirectory", path, underlying.makeDirectory(path, options))),
    remove: (path, options) => guard("remove", path, underlying.remove(path, options)),
    readFile: (path) => guard("readFile", path, underlying.readFile(path)),
    writeFile: (path, data, options) =>
      guard("writeFile", path, underlying.writeFile(path, data, options), (n) => underlying.writeFile(path, data.subarray(0, n), options)),
    stat: (path) => guard("stat", path, underlying.stat(path)),
    readDirectory: (path, options) => guard("readDirectory", path, underlying.readDirectory(path, options))
  })

/**
 * Wraps a FileSystem with fault injection (see the module docs).
 *
 * @since 0.1.0
 */
export const make = (underlying: FileSystem.FileSystem) =>
  Effect.gen(function*() {
    const faults = yield* Ref.make<ReadonlyArray<{ fault: Fault; left: number }>>([])
    const log = yield* Ref.make<ReadonlyArray<Call>>([])

    /** The fault that fires for this call, if any (consuming one of its `times`). */
    const fire = (method: Method, path: string): Effect.Effect<Fault | undefined> =>
      Ref.modify(faults, (list) => {
        const i = list.findIndex((f) => f.left > 0 && matches(f.fault, method, path))
        if (i < 0) return [undefined, list] as const
        const hit = list[i]!
        const next = list.map((f, j) => (j === i ? { ...f, left: f.left - 1 } : f))
        return [hit.fault, next] as const
      })

    const record: RecordCall = (method, path, failed) =>
      Ref.update(log, (calls) => [...calls, { method, path, failed }])

    /** Runs `run` unless a fault fires; a torn fault runs `torn(bytes)` first, then fails. */
    const guard: Guard = (method, path, run, torn, logPath = path) =>
      Effect.flatMap(fire(method, path), (fault) => {
        if (fault === undefined) return Effect.zipRight(record(method, logPath, false), run)
        const before = fault.tornAfterBytes !== undefined && torn !== undefined ? Effect.ignore(torn(fault.tornAfterBytes)) : Effect.void
        return before.pipe(
          Effect.zipRight(record(method, logPath, true)),
          Effect.zipRight(Effect.fail(systemError(fault.errno, method, path)))
        )
      })

    const fileSystem = faultyFileSystem(underlying, guard, record)

    const control = FaultyFileSystem.of({
      inject: (fault) => Ref.update(faults, (list) => [...list, { fault, left: fault.times ?? Number.POSITIVE_INFINITY }]),
      clear: Ref.set(faults, []),
      calls: Ref.get(log),
      resetCalls: Ref.set(log, [])
    })
    return { fileSystem, control }
  })

/**
 * The faulty FileSystem over the FileSystem of the context, with its control service.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<FileSystem.FileSystem | FaultyFileSystem, never, FileSystem.FileSystem> = Layer.effectContext(
  Effect.gen(function*() {
    const { control, fileSystem } = yield* make(yield* FileSystem.FileSystem)
    return Context.make(FileSystem.FileSystem, fileSystem).pipe(Context.add(FaultyFileSystem, control))
  })
)

/**
 * The faulty FileSystem over Node's real one.
 *
 * @since 0.1.0
 */
export const layerNode: Layer.Layer<FileSystem.FileSystem | FaultyFileSystem> = Layer.provide(layer, NodeFileSystem.layer)
