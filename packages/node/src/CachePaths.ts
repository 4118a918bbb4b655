/**
 * Where the peer cache lives. One file per machine is the point (every node and client on it learns
 * from the others), so the default is a system-wide directory when this process may write there, and
 * the per-user data directory otherwise:
 *
 * | platform | system-wide (when writable) | per-user fallback (env-paths `data`) |
 * |---|---|---|
 * | Linux and other Unixes | `/var/lib/bootstrap-cache/` (FHS: "state information … persists between invocations") | `$XDG_DATA_HOME/bootstrap-cache` or `~/.local/share/bootstrap-cache` |
 * | macOS | `/Library/Application Support/bootstrap-cache/` | `~/Library/Application Support/bootstrap-cache` |
 * | Windows | `%ProgramData%\bootstrap-cache\` | `%LOCALAPPDATA%\bootstrap-cache\Data` |
 *
 * The file in that directory is {@link FILE_NAME} (`peers.json`). An explicit path (the store's
 * `path` option) wins, then the environment variable {@link ENV_VAR} (`BOOTSTRAP_CACHE_PATH`), read
 * through Effect's `Config` so a `ConfigProvider` can set it in tests. Either may name the file or an
 * existing directory (the file is then `peers.json` inside it).
 *
 * "Writable" is decided without creating anything: the directory, or its nearest existing ancestor,
 * passes `access(W_OK)`. A root process on Linux therefore uses `/var/lib/…`; since the directory is
 * created with the default umask, other users can read that cache but not update it (their store then
 * runs read-only and says so in `info`), unless the administrator makes the directory group-writable.
 *
 * Platform directories come from `env-paths` (house rule: a well-kept library beats our own code).
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as internal from "./internal/cachePaths/resolve.js"

/**
 * The application name used in directory names.
 *
 * @since 0.1.0
 * @category constants
 */
export const APP_NAME = internal.APP_NAME

/**
 * The cache file's name inside its directory.
 *
 * @since 0.1.0
 * @category constants
 */
export const FILE_NAME = internal.FILE_NAME

/**
 * The environment variable that overrides the cache path (a file, or a directory to hold `peers.json`).
 *
 * @since 0.1.0
 * @category constants
 */
export const ENV_VAR = internal.ENV_VAR

/**
 * The system-wide directory for a platform (see the module table). `programData` is Windows'
 * `%ProgramData%` (default `C:\ProgramData`).
 *
 * @since 0.1.0
 * @category utils
 */
export const systemDirectory: (platform: NodeJS.Platform, programData?: string) => string = internal.systemDirectory

/**
 * The per-user data directory of this process's user (env-paths, without its `-nodejs` suffix).
 *
 * @since 0.1.0
 * @category utils
 */
export const userDirectory: () => string = internal.userDirectory

/**
 * Where a resolved path came from: the `path` option, the {@link ENV_VAR} variable, the system-wide
 * directory or the per-user directory.
 *
 * @since 0.1.0
 * @category models
 */
export type Origin = "option" | "env" | "system" | "user"

/**
 * A resolved cache file path and its origin.
 *
 * @since 0.1.0
 * @category models
 */
export interface Resolved {
  readonly path: string
  readonly origin: Origin
}

/**
 * Options of {@link resolve}. `path` is the explicit override. `systemDirectory` and
 * `userDirectory` replace the platform defaults (tests point them at temp directories).
 *
 * @since 0.1.0
 * @category models
 */
export interface ResolveOptions {
  readonly path?: string
  readonly systemDirectory?: string
  readonly userDirectory?: string
}

/**
 * Whether this process may create or write files in `dir`: it or its nearest existing ancestor
 * passes `access(W_OK)` and is a directory. Creates nothing.
 *
 * @since 0.1.0
 * @category utils
 */
export const isWritableDirectory: (dir: string) => Effect.Effect<boolean, never, FileSystem.FileSystem | Path.Path> =
  internal.isWritableDirectory

/**
 * Resolves the cache file path: the `path` option, else {@link ENV_VAR}, else `peers.json` in the
 * system-wide directory when writable, else in the per-user directory. Never fails: a malformed
 * environment is treated as unset.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolve = (options: ResolveOptions = {}): Effect.Effect<Resolved, never, FileSystem.FileSystem | Path.Path> =>
  Effect.map(internal.resolve(options), ({ origin, path }) => ({ path, origin }))
