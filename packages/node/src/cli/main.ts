/**
 * Entry point of the `bootstrap-cache` executable: runs the CLI on `process.argv` with the Node
 * platform, prints user errors as one line on stderr, and sets the exit code.
 *
 * | exit code | meaning |
 * |---|---|
 * | 0 | done |
 * | 1 | a user error (bad multiaddr, unreadable file, lock timeout, cache not writable, no peer reached…) |
 * | 2 | bad command line (unknown option, missing argument); `@effect/cli` printed the help |
 * | 70 | an internal error (a bug): one line, and the full cause when `BOOTSTRAP_CACHE_DEBUG=1` |
 * | 130, 143 | ended by SIGINT, SIGTERM (128 + the signal's number, as a shell reports it) |
 *
 * A reader that closes stdout early (`bootstrap-cache export | head -1`) is no error: what is left
 * to print is dropped and the command ends as it would have.
 *
 * Logs (warnings and up by default; `BOOTSTRAP_CACHE_LOG=debug|info|warning|error|none`) go to
 * stderr, one line each (`bootstrap-cache: warning: <message>`; at `debug` and `info`, with the
 * log's annotations as `key=value`), so `--json` output on stdout stays parseable.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Cli from "./Cli.js"

const LEVELS: Record<string, LogLevel.LogLevel> = {
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warning: LogLevel.Warning,
  warn: LogLevel.Warning,
  error: LogLevel.Error,
  none: LogLevel.None
}

const logLevel = LEVELS[(process.env.BOOTSTRAP_CACHE_LOG ?? "warning").toLowerCase()] ?? LogLevel.Warning

const logging = Layer.mergeAll(
  Logger.replace(Logger.defaultLogger, Cli.logger(logLevel.ordinal <= LogLevel.Info.ordinal)),
  Logger.minimumLogLevel(logLevel)
)

const message = (e: unknown): string =>
  typeof e === "object" && e !== null && "message" in e && typeof e.message === "string" && e.message.length > 0
    ? e.message
    : String(e)

// Output to a reader that has gone (EPIPE) is dropped, as the help's is (bin/bootstrap-cache.mjs).
process.stdout.on("error", () => {})

/** The signal that ended the run, read when the interrupted program exits (see the teardown below). */
const signalled: { name?: "SIGINT" | "SIGTERM" } = {}
process.once("SIGINT", () => (signalled.name ??= "SIGINT"))
process.once("SIGTERM", () => (signalled.name ??= "SIGTERM"))

/** The exit code of the whole run: the program's own, 130 / 143 when a signal interrupted it, else 70. */
const exitCode = (exit: Exit.Exit<number, unknown>): number =>
  Exit.isSuccess(exit)
    ? exit.value
    : Exit.isInterrupted(exit) && signalled.name !== undefined
    ? (signalled.name === "SIGINT" ? 130 : 143)
    : 70

const program: Effect.Effect<number> = Cli.run(process.argv).pipe(
  Effect.as(0),
  Effect.catchAllCause((cause) => {
    if (Cause.isInterruptedOnly(cause)) return Effect.succeed(130)
    const failure = Cause.failureOption(cause)
    if (failure._tag === "Some") {
      const e = failure.value
      // @effect/cli has already printed the usage error with the help.
      if (ValidationError.isValidationError(e)) return Effect.succeed(2)
      return Effect.sync(() => {
        process.stderr.write(`bootstrap-cache: ${message(e).split("\n")[0]}\n`)
        return 1
      })
    }
    return Effect.sync(() => {
      process.stderr.write(`bootstrap-cache: internal error: ${message(Cause.squash(cause)).split("\n")[0]}\n`)
      if (process.env.BOOTSTRAP_CACHE_DEBUG === "1") process.stderr.write(Cause.pretty(cause) + "\n")
      return 70
    })
  }),
  Effect.provide(Layer.merge(NodeContext.layer, logging))
)

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  teardown: (exit, onExit) => onExit(exitCode(exit as Exit.Exit<number, unknown>))
})
