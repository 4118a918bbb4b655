/**
 * The `bootstrap-cache` command line, built with `@effect/cli`.
 *
 * ```
 * bootstrap-cache [--cache PATH] [--json] [--lock-timeout DURATION] <command>
 *   bootstrap [--endpoint URL]… [--target N] [--concurrency N] [--timeout DURATION]
 *             [--allow-loopback] [--allow-private] [--reconnect] [--dns-server HOST[:PORT]]…
 *   list [--sort quality|last-seen] [--limit N]
 *   stats
 *   add MULTIADDR… [--source user|connection]
 *   remove MULTIADDR…
 *   record MULTIADDR (--success [--rtt MS] | --failure)
 *   prune [--dry-run]
 *   import FILE|URL
 *   export [--format text|json]
 * ```
 *
 * `--cache`, `--json` and `--lock-timeout` (how long to wait for another process's lock on the cache
 * file, default 10 s — `FileLock`'s) are accepted before or after the command. The cache path is `--cache`, else
 * `BOOTSTRAP_CACHE_PATH`, else the default location (`CachePaths`); `--cache ""` is a usage error. Every command that changes the
 * cache flushes it before exiting (under the file lock, merging with other processes' changes), so
 * many `record` processes can run at once without losing an outcome.
 *
 * `/dnsaddr` addresses (kubo's, Filecoin's bootstrap lists) are dialled by resolving their TXT
 * records first (`DnsResolver`; the system's DNS servers, or `--dns-server`).
 *
 * Output: `--json` prints exactly one JSON document on stdout; otherwise readable tables. Warnings
 * and live progress go to stderr. User errors are one line on stderr and a non-zero exit code
 * (see `main.ts`), quoting at most a short prefix of any bad input.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import { JsonInput } from "@bootstrap-cache/core"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Logger from "effect/Logger"
import { bootstrapCommand } from "../internal/cli/bootstrapCommand.js"
import { addCommand, importCommand, pruneCommand, recordCommand, removeCommand } from "../internal/cli/editCommands.js"
import { exportCommand, listCommand, statsCommand } from "../internal/cli/inspectCommands.js"
import * as shared from "../internal/cli/shared.js"

// ---------------------------------------------------------------------------------------------------
// Errors, logging and arguments (bodies in internal/cli/shared)
// ---------------------------------------------------------------------------------------------------

/**
 * A user error of the CLI that is not one of the services' own errors: a bad argument value, a
 * flush that could not write (`Skipped`). `message` is the one line printed.
 *
 * @since 0.1.0
 */
export const CliError: typeof shared.CliError = shared.CliError

/** @since 0.1.0 */
export type CliError = shared.CliError

/**
 * The CLI's logger: one line per log on stderr, `bootstrap-cache: warning: <message>`, with the log's
 * annotations as `key=value` when `verbose`. Warnings are dropped once a command's flush has failed
 * (the store's final flush would repeat that error as a warning; the command reports it once).
 *
 * @since 0.1.0
 */
export const logger: (verbose: boolean) => Logger.Logger<unknown, void> = shared.logger

/**
 * Parses a duration as the CLI accepts it: a number of ms (`500`), or a number with a unit —
 * `ms`, `s`, `m`, `h`, or Effect's words (`5 seconds`, `200 millis`). `undefined` when malformed.
 *
 * @since 0.1.0
 */
export const parseDuration: (text: string) => Duration.Duration | undefined = shared.parseDuration

// ---------------------------------------------------------------------------------------------------
// The application
// ---------------------------------------------------------------------------------------------------

/**
 * The root command with every subcommand.
 *
 * @since 0.1.0
 */
export const command = shared.root.pipe(
  Command.withDescription("a persistent, self-learning peer bootstrap cache"),
  Command.withSubcommands([
    bootstrapCommand,
    listCommand,
    statsCommand,
    addCommand,
    removeCommand,
    recordCommand,
    pruneCommand,
    importCommand,
    exportCommand
  ])
)

/**
 * Runs the CLI on `argv` (as `process.argv`: node, script, then the arguments).
 *
 * @since 0.1.0
 */
export const run = (argv: ReadonlyArray<string>) =>
  Command.run(command, { name: "bootstrap-cache", version: "0.2.0" })(argv).pipe(
    Effect.catchIf(
      (e) => !ValidationError.isValidationError(e) && typeof e === "object" && e !== null && "message" in e && String(e.message).length > 300,
      (e) => Effect.fail(new CliError({ message: JsonInput.oneLine(String((e as { message: unknown }).message), 300) }))
    )
  )
