/**
 * The body of `CachePaths.resolve`, which also hands back the stat it took of the file, so that the
 * store's open does not take it again.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import envPaths from "env-paths"
import type { Origin, ResolveOptions } from "../../CachePaths.js"

export const APP_NAME = "bootstrap-cache"
export const FILE_NAME = "peers.json"
export const ENV_VAR = "BOOTSTRAP_CACHE_PATH"

export const systemDirectory = (platform: NodeJS.Platform, programData?: string): string => {
  switch (platform) {
    case "darwin":
      return `/Library/Application Support/${APP_NAME}`
    case "win32":
      return `${programData ?? "C:\\ProgramData"}\\${APP_NAME}`
    default:
      return `/var/lib/${APP_NAME}`
  }
}

export const userDirectory = (): string => envPaths(APP_NAME, { suffix: "" }).data

export const isWritableDirectory = (dir: string): Effect.Effect<boolean, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    let current = path.resolve(dir)
    while (true) {
      const info = yield* Effect.option(fs.stat(current))
      if (Option.isSome(info)) {
        if (info.value.type !== "Directory") return false
        return yield* fs.access(current, { writable: true }).pipe(Effect.as(true), Effect.orElseSucceed(() => false))
      }
      const parent = path.dirname(current)
      if (parent === current) return false
      current = parent
    }
  })

/** A resolved path, its origin, and the stat of the file when resolving took one (see {@link resolve}). */
export interface Statted {
  readonly path: string
  readonly origin: Origin
  /**
   * Present when resolving stat-ed the file itself (an override that is not a directory): none when
   * the stat failed (the file is missing or cannot be stat-ed), else its stat.
   */
  readonly stat?: Option.Option<FileSystem.File.Info>
}

/**
 * An override naming an existing directory means `peers.json` inside it. Otherwise the stat taken is
 * the file's own, and is kept.
 */
const fileIn = (p: string, origin: Origin): Effect.Effect<Statted, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const info = yield* Effect.option(fs.stat(p))
    return Option.isSome(info) && info.value.type === "Directory"
      ? { path: path.join(p, FILE_NAME), origin }
      : { path: path.resolve(p), origin, stat: info }
  })

/** `CachePaths.resolve`, with the stat of the file when it took one. */
export const resolve = (options: ResolveOptions = {}): Effect.Effect<Statted, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    if (options.path !== undefined && options.path !== "") return yield* fileIn(options.path, "option")
    const env = yield* Config.option(Config.nonEmptyString(ENV_VAR)).pipe(Effect.orElseSucceed(() => Option.none<string>()))
    if (Option.isSome(env)) return yield* fileIn(env.value, "env")
    const system = options.systemDirectory ?? systemDirectory(process.platform, process.env.ProgramData)
    if (yield* isWritableDirectory(system)) return { path: path.join(system, FILE_NAME), origin: "system" as const }
    return { path: path.join(options.userDirectory ?? userDirectory(), FILE_NAME), origin: "user" as const }
  })
