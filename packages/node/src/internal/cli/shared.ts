/**
 * What every `bootstrap-cache` command shares: the CLI's error, the global options (`--cache`,
 * `--json`, `--lock-timeout`) and the store they open, the logger, the flush, printing and the
 * argument parsers. The commands are in the modules beside this one; the public module is `cli/Cli`.
 */
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import { JsonInput, PeerAddress } from "@bootstrap-cache/core"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as CacheStore from "../../CacheStore.js"

/**
 * A user error of the CLI that is not one of the services' own errors: a bad argument value, a
 * flush that could not write (`Skipped`). `message` is the one line printed.
 *
 * @since 0.1.0
 */
export class CliError extends Data.TaggedError("CliError")<{ readonly message: string }> {}

export const globalOptions = {
  cache: Options.text("cache").pipe(
    Options.withDescription("cache file (default: $BOOTSTRAP_CACHE_PATH, else the system or user location)"),
    Options.mapEffect((t) => t.trim() === "" ? Effect.fail(invalid("--cache must name a file, not be empty")) : Effect.succeed(t)),
    Options.optional
  ),
  json: Options.boolean("json").pipe(Options.withDescription("print only JSON on stdout")),
  lockTimeout: Options.text("lock-timeout").pipe(
    Options.withDescription("how long to wait for another process's lock on the cache file: 500ms, 10s (default 10s)"),
    Options.mapEffect((t) => {
      const d = parseDuration(t)
      return d === undefined
        ? Effect.fail(invalid(`--lock-timeout ${quote(t)} is not a duration (e.g. 500ms, 10s)`))
        : Effect.succeed(d)
    }),
    Options.optional
  )
}

export interface Globals {
  readonly cache: Option.Option<string>
  readonly json: boolean
  readonly lockTimeout: Option.Option<Duration.Duration>
}

export const root = Command.make("bootstrap-cache", globalOptions)

/** The global options, from after the command or else before it. */
export const globals = (local: Globals) =>
  Effect.map(root, (g): Globals => ({
    cache: Option.orElse(local.cache, () => g.cache),
    json: local.json || g.json,
    lockTimeout: Option.orElse(local.lockTimeout, () => g.lockTimeout)
  }))

export const storeLayer = (g: Globals): Layer.Layer<CacheStore.CacheStore, CacheStore.CacheOpenError, FileSystem.FileSystem | Path.Path> =>
  CacheStore.layer({
    ...(Option.isSome(g.cache) ? { path: g.cache.value } : {}),
    ...(Option.isSome(g.lockTimeout) ? { lock: { timeoutMs: Duration.toMillis(g.lockTimeout.value) } } : {}),
    flushInterval: Duration.infinity
  })

/** Set once a flush failed: the error is reported once, by the command (see {@link flush}). */
let warningsSilenced = false

/**
 * The CLI's logger: one line per log on stderr, `bootstrap-cache: warning: <message>`, with the log's
 * annotations as `key=value` when `verbose`. Warnings are dropped once a command's flush has failed
 * (the store's final flush would repeat that error as a warning; the command reports it once).
 *
 * @since 0.1.0
 */
export const logger = (verbose: boolean): Logger.Logger<unknown, void> =>
  Logger.make(({ annotations, logLevel, message }) => {
    if (warningsSilenced && logLevel.ordinal <= LogLevel.Warning.ordinal) return
    const parts = (Array.isArray(message) ? message : [message]).map((m) => (typeof m === "string" ? m : JSON.stringify(m)))
    const extra = verbose
      ? Array.from(HashMap.toEntries(annotations), ([k, v]) => ` ${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join("")
      : ""
    process.stderr.write(`bootstrap-cache: ${logLevel.label.toLowerCase().replace(/^warn$/, "warning")}: ${parts.join(" ")}${extra}\n`)
  })

/**
 * Flushes and fails with a one-line error when the file was not written. After a failed flush, the
 * store's final flush (when the command's scope closes) retries and fails the same way: its warning
 * would repeat the error, so warnings are silenced for the rest of the process (see {@link logger}).
 */
export const flush = Effect.gen(function*() {
  const store = yield* CacheStore.CacheStore
  const result = yield* store.flush.pipe(Effect.tapError(() => Effect.sync(() => void (warningsSilenced = true))))
  if (result._tag === "Skipped") {
    return yield* new CliError({ message: `the cache ${result.path} was not written: ${result.reason}` })
  }
  return result
})

export const print = (text: string) => Effect.sync(() => void process.stdout.write(text))

/** Bad input quoted in a message: at most its first 60 characters, on one line. */
export const quote = (input: string): string => JsonInput.preview(input)

export const parseAddresses = (inputs: ReadonlyArray<string>) =>
  Effect.forEach(inputs, (input) =>
    Either.match(PeerAddress.parse(input), {
      onLeft: (e) => Effect.fail(new CliError({ message: `invalid multiaddr ${quote(input)}: ${e.reason}` })),
      onRight: Effect.succeed
    }))

export const invalid = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

/** A positive integer option with a default. */
export const positiveInt = (name: string, fallback: number, description: string) =>
  Options.integer(name).pipe(
    Options.withDefault(fallback),
    Options.withDescription(description),
    Options.mapEffect((n) => (n >= 1 ? Effect.succeed(n) : Effect.fail(invalid(`--${name} must be at least 1, not ${n}`))))
  )

/**
 * Parses a duration as the CLI accepts it: a number of ms (`500`), or a number with a unit —
 * `ms`, `s`, `m`, `h`, or Effect's words (`5 seconds`, `200 millis`). `undefined` when malformed.
 *
 * @since 0.1.0
 */
export const parseDuration = (text: string): Duration.Duration | undefined => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|millis|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hours?)?\s*$/i.exec(text)
  if (m === null) return undefined
  const n = Number(m[1])
  const unit = (m[2] ?? "ms").toLowerCase()
  const factor = unit.startsWith("ms") || unit.startsWith("milli") ? 1 : unit.startsWith("s") ? 1_000 : unit.startsWith("m") ? 60_000 : 3_600_000
  return Duration.millis(n * factor)
}

