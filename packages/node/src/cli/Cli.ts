/**
 * The `bootstrap-cache` command line, built with `@effect/cli`.
 *
 * ```
 * bootstrap-cache [--cache PATH] [--json] [--lock-timeout DURATION] <command>
 *   bootstrap [--endpoint URL]… [--target N] [--concurrency N] [--timeout DURATION]
 *             [--allow-loopback] [--allow-private] [--reconnect]
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
 * `BOOTSTRAP_CACHE_PATH`, else the default location (`CachePaths`). Every command that changes the
 * cache flushes it before exiting (under the file lock, merging with other processes' changes), so
 * many `record` processes can run at once without losing an outcome.
 *
 * Output: `--json` prints exactly one JSON document on stdout; otherwise readable tables. Warnings
 * and live progress go to stderr. User errors are one line on stderr and a non-zero exit code
 * (see `main.ts`).
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as Path from "@effect/platform/Path"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { CacheFile, PeerAddress, PeerTable, Prune, Score } from "@bootstrap-cache/core"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Bootstrap from "../Bootstrap.js"
import * as CacheStore from "../CacheStore.js"
import * as ContactsFetcher from "../ContactsFetcher.js"
import * as Dialer from "../Dialer.js"
import * as Render from "./Render.js"

// ---------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------

/**
 * A user error of the CLI that is not one of the services' own errors: a bad argument value, a
 * flush that could not write (`Skipped`). `message` is the one line printed.
 *
 * @since 0.1.0
 */
export class CliError extends Data.TaggedError("CliError")<{ readonly message: string }> {}

// ---------------------------------------------------------------------------------------------------
// Options shared by every command
// ---------------------------------------------------------------------------------------------------

const globalOptions = {
  cache: Options.text("cache").pipe(
    Options.withDescription("cache file (default: $BOOTSTRAP_CACHE_PATH, else the system or user location)"),
    Options.optional
  ),
  json: Options.boolean("json").pipe(Options.withDescription("print only JSON on stdout")),
  lockTimeout: Options.text("lock-timeout").pipe(
    Options.withDescription("how long to wait for another process's lock on the cache file: 500ms, 10s (default 10s)"),
    Options.mapEffect((t) => {
      const d = parseDuration(t)
      return d === undefined
        ? Effect.fail(invalid(`--lock-timeout ${JSON.stringify(t)} is not a duration (e.g. 500ms, 10s)`))
        : Effect.succeed(d)
    }),
    Options.optional
  )
}

interface Globals {
  readonly cache: Option.Option<string>
  readonly json: boolean
  readonly lockTimeout: Option.Option<Duration.Duration>
}

const root = Command.make("bootstrap-cache", globalOptions)

/** The global options, from after the command or else before it. */
const globals = (local: Globals) =>
  Effect.map(root, (g): Globals => ({
    cache: Option.orElse(local.cache, () => g.cache),
    json: local.json || g.json,
    lockTimeout: Option.orElse(local.lockTimeout, () => g.lockTimeout)
  }))

const storeLayer = (g: Globals): Layer.Layer<CacheStore.CacheStore, CacheStore.CacheOpenError, FileSystem.FileSystem | Path.Path> =>
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
const flush = Effect.gen(function*() {
  const store = yield* CacheStore.CacheStore
  const result = yield* store.flush.pipe(Effect.tapError(() => Effect.sync(() => void (warningsSilenced = true))))
  if (result._tag === "Skipped") {
    return yield* new CliError({ message: `the cache ${result.path} was not written: ${result.reason}` })
  }
  return result
})

const print = (text: string) => Effect.sync(() => void process.stdout.write(text))

const parseAddresses = (inputs: ReadonlyArray<string>) =>
  Effect.forEach(inputs, (input) => Either.match(PeerAddress.parse(input), { onLeft: Effect.fail, onRight: Effect.succeed }))

const invalid = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

/** A positive integer option with a default. */
const positiveInt = (name: string, fallback: number, description: string) =>
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

// ---------------------------------------------------------------------------------------------------
// bootstrap
// ---------------------------------------------------------------------------------------------------

/** Live progress on a terminal (stderr): one line rewritten in place. */
const progressReporter = (target: number) => {
  const tty = process.stderr.isTTY === true
  let dials = 0
  let failed = 0
  let inFlight = 0
  let connected = 0
  let phase = "cache"
  const draw = () => {
    if (!tty) return
    process.stderr.write(
      `\r\x1b[K${phase}: ${dials} dials, ${inFlight} in flight, ${failed} failed, ${connected}/${target} connected`
    )
  }
  const onEvent = (e: Bootstrap.BootstrapEvent): Effect.Effect<void> =>
    Effect.sync(() => {
      switch (e._tag) {
        case "EndpointsFetching":
          phase = `endpoints (${e.reason})`
          break
        case "EndpointsFetched":
          phase = `${e.addresses} addresses from endpoints`
          break
        case "DialStarted":
          dials++
          inFlight = e.inFlight
          break
        case "DialSucceeded":
          connected = e.connected
          inFlight = e.inFlight
          break
        case "DialFailed":
          failed++
          inFlight = e.inFlight
          break
        case "DialCancelled":
        case "DialRejected":
          inFlight = e.inFlight
          break
      }
      draw()
    })
  const done = Effect.sync(() => void (tty && process.stderr.write("\r\x1b[K")))
  return { onEvent, done }
}

const bootstrapCommand = Command.make(
  "bootstrap",
  {
    ...globalOptions,
    endpoint: Options.text("endpoint").pipe(
      Options.withDescription("contacts endpoint URL (http/https) to ask when the cache cannot do it; repeatable"),
      Options.repeated
    ),
    target: positiveInt("target", Bootstrap.defaults.target, "live peers wanted"),
    concurrency: positiveInt("concurrency", Bootstrap.defaults.concurrency, "dials in flight at once"),
    timeout: Options.text("timeout").pipe(
      Options.withDefault("5s"),
      Options.withDescription("per-dial timeout: 500ms, 5s, 1m (a bare number is ms)"),
      Options.mapEffect((t) => {
        const d = parseDuration(t)
        return d === undefined || Duration.toMillis(d) <= 0
          ? Effect.fail(invalid(`--timeout ${JSON.stringify(t)} is not a duration (e.g. 500ms, 5s, 1m)`))
          : Effect.succeed(d)
      })
    ),
    allowLoopback: Options.boolean("allow-loopback").pipe(Options.withDescription("dial and accept 127.0.0.0/8 and ::1 peers")),
    allowPrivate: Options.boolean("allow-private").pipe(Options.withDescription("dial and accept private and link-local peers")),
    reconnect: Options.boolean("reconnect").pipe(Options.withDescription("redial known peers relay-first instead of epsilon-greedy"))
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* globals(o)
      const progress = progressReporter(o.target)
      const fetcher = o.endpoint.length === 0
        ? Layer.empty
        : ContactsFetcher.layerNode({
          endpoints: o.endpoint,
          filter: { allowLoopback: o.allowLoopback, allowPrivate: o.allowPrivate }
        })
      const outcome = yield* Effect.gen(function*() {
        const store = yield* CacheStore.CacheStore
        const contacts = Option.getOrUndefined(yield* Effect.serviceOption(ContactsFetcher.ContactsFetcher))
        return yield* Bootstrap.run(store, {
          contacts,
          target: o.target,
          concurrency: o.concurrency,
          timeout: o.timeout,
          dialPolicy: { allowLoopback: o.allowLoopback, allowPrivate: o.allowPrivate },
          reconnect: o.reconnect,
          ...(g.json ? {} : { onEvent: progress.onEvent })
        })
      }).pipe(
        Effect.either,
        Effect.ensuring(progress.done),
        Effect.provide(Layer.mergeAll(storeLayer(g), Dialer.layer, fetcher))
      )
      const result = Either.match(outcome, { onLeft: (e) => e.result, onRight: (r) => r })
      yield* print(g.json ? Render.json(Render.resultJson(result)) : Render.resultText(result))
      if (Either.isLeft(outcome)) return yield* Effect.fail(outcome.left)
    })
).pipe(Command.withDescription("join the network: cache first, endpoints when needed; records every dial"))

// ---------------------------------------------------------------------------------------------------
// list, stats, export
// ---------------------------------------------------------------------------------------------------

const listCommand = Command.make(
  "list",
  {
    ...globalOptions,
    sort: Options.choice("sort", ["quality", "last-seen"]).pipe(
      Options.withDefault("quality" as const),
      Options.withDescription("order: best quality first, or most recently seen first")
    ),
    limit: Options.integer("limit").pipe(Options.optional, Options.withDescription("print at most N peers"))
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* globals(o)
      const table = yield* Effect.flatMap(CacheStore.CacheStore, (s) => s.snapshot).pipe(Effect.provide(storeLayer(g)))
      const now = yield* Clock.currentTimeMillis
      const quality = new Map<string, number>()
      const peers = Array.from(PeerTable.peers(table))
      for (const p of peers) quality.set(p.addresses[0]!.address.key, Score.peer(p, now))
      peers.sort((a, b) =>
        o.sort === "quality"
          ? quality.get(b.addresses[0]!.address.key)! - quality.get(a.addresses[0]!.address.key)! || b.lastSeen - a.lastSeen
          : b.lastSeen - a.lastSeen
      )
      const shown = Option.match(o.limit, { onNone: () => peers, onSome: (n) => peers.slice(0, Math.max(0, n)) })
      yield* print(
        g.json
          ? Render.json(shown.map((p) => Render.peerJson(p, now)))
          : shown.length === 0
          ? "the cache is empty\n"
          : Render.peersTable(shown, now)
      )
    })
).pipe(Command.withDescription("list cached peers"))

const statsCommand = Command.make("stats", globalOptions, (o) =>
  Effect.gen(function*() {
    const g = yield* globals(o)
    const { info, table } = yield* Effect.gen(function*() {
      const store = yield* CacheStore.CacheStore
      return { table: yield* store.snapshot, info: yield* store.info }
    }).pipe(Effect.provide(storeLayer(g)))
    const now = yield* Clock.currentTimeMillis
    const stats = PeerTable.stats(table)
    yield* print(
      g.json
        ? Render.json({
          path: info.path,
          ...stats,
          oldestSeen: stats.oldestSeen ?? null,
          newestSeen: stats.newestSeen ?? null,
          stale: info.stale,
          lastUpdated: Option.getOrNull(info.lastUpdated)
        })
        : Render.statsText(info.path, stats, info.stale, now)
    )
  })).pipe(Command.withDescription("print cache statistics"))

const exportCommand = Command.make(
  "export",
  {
    ...globalOptions,
    format: Options.choice("format", ["text", "json"]).pipe(
      Options.withDefault("text" as const),
      Options.withDescription("text: one multiaddr per line; json: a bootstrap-cache file (importable)")
    )
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* globals(o)
      const table = yield* Effect.flatMap(CacheStore.CacheStore, (s) => s.snapshot).pipe(Effect.provide(storeLayer(g)))
      const now = yield* Clock.currentTimeMillis
      yield* print(
        o.format === "json" || g.json
          ? CacheFile.encode(table, { hash: CacheStore.sha256, lastUpdated: now })
          : PeerTable.toRecords(table).flatMap((p) => p.addresses.map((r) => r.address.multiaddr + "\n")).join("")
      )
    })
).pipe(Command.withDescription("print every cached address (text) or the cache as a file (json)"))

// ---------------------------------------------------------------------------------------------------
// add, remove, record, prune, import
// ---------------------------------------------------------------------------------------------------

const multiaddrs = Args.text({ name: "multiaddr" }).pipe(Args.atLeast(1))

const addCommand = Command.make(
  "add",
  {
    ...globalOptions,
    addresses: multiaddrs,
    source: Options.choice("source", ["user", "connection"]).pipe(
      Options.withDefault("user" as const),
      Options.withDescription("where the addresses come from")
    )
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* globals(o)
      // Every address is checked before any is added: a typo adds nothing.
      const addresses = yield* parseAddresses(o.addresses)
      const flushed = yield* Effect.gen(function*() {
        const store = yield* CacheStore.CacheStore
        for (const a of addresses) yield* store.add(a, { source: { _tag: o.source } })
        return yield* flush
      }).pipe(Effect.provide(storeLayer(g)))
      yield* print(
        g.json
          ? Render.json({ added: addresses.map((a) => a.multiaddr), path: flushed.path })
          : `added ${addresses.length} address${addresses.length === 1 ? "" : "es"} to ${flushed.path}\n`
      )
    })
).pipe(Command.withDescription("add peer addresses"))

const removeCommand = Command.make("remove", { ...globalOptions, addresses: multiaddrs }, (o) =>
  Effect.gen(function*() {
    const g = yield* globals(o)
    const addresses = yield* parseAddresses(o.addresses)
    const { known, path } = yield* Effect.gen(function*() {
      const store = yield* CacheStore.CacheStore
      const table = yield* store.snapshot
      const known = addresses.filter((a) => Option.isSome(PeerTable.lookupAddress(table, a)))
      for (const a of known) yield* store.remove(a)
      return { known, path: (yield* flush).path }
    }).pipe(Effect.provide(storeLayer(g)))
    const unknown = addresses.filter((a) => !known.includes(a))
    yield* print(
      g.json
        ? Render.json({ removed: known.map((a) => a.multiaddr), unknown: unknown.map((a) => a.multiaddr), path })
        : `removed ${known.length} address${known.length === 1 ? "" : "es"}${unknown.length > 0 ? ` (${unknown.length} not in the cache)` : ""}\n`
    )
  })).pipe(Command.withDescription("remove peer addresses"))

const recordCommand = Command.make(
  "record",
  {
    ...globalOptions,
    address: Args.text({ name: "multiaddr" }),
    success: Options.boolean("success").pipe(Options.withDescription("the dial succeeded")),
    failure: Options.boolean("failure").pipe(Options.withDescription("the dial failed")),
    rtt: Options.float("rtt").pipe(Options.optional, Options.withDescription("round-trip time of a successful dial, ms"))
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* globals(o)
      if (o.success === o.failure) return yield* new CliError({ message: "record needs exactly one of --success or --failure" })
      if (o.failure && Option.isSome(o.rtt)) return yield* new CliError({ message: "--rtt goes with --success only" })
      if (Option.isSome(o.rtt) && !(o.rtt.value >= 0)) {
        return yield* new CliError({ message: `--rtt must be a non-negative number of ms, not ${o.rtt.value}` })
      }
      const [address] = yield* parseAddresses([o.address])
      const path = yield* Effect.gen(function*() {
        const store = yield* CacheStore.CacheStore
        if (o.success) yield* store.recordSuccess(address!, Option.match(o.rtt, { onNone: () => ({}), onSome: (rttMs) => ({ rttMs }) }))
        else yield* store.recordFailure(address!)
        return (yield* flush).path
      }).pipe(Effect.provide(storeLayer(g)))
      yield* print(
        g.json
          ? Render.json({ multiaddr: address!.multiaddr, outcome: o.success ? "success" : "failure", path })
          : `recorded a ${o.success ? "success" : "failure"} for ${address!.multiaddr}\n`
      )
    })
).pipe(Command.withDescription("record one dial outcome and save it (safe to run from many processes at once)"))

const pruneCommand = Command.make(
  "prune",
  { ...globalOptions, dryRun: Options.boolean("dry-run").pipe(Options.withDescription("show what would be removed")) },
  (o) =>
    Effect.gen(function*() {
      const g = yield* globals(o)
      const removed = yield* Effect.gen(function*() {
        const store = yield* CacheStore.CacheStore
        const now = yield* Clock.currentTimeMillis
        const { removed } = Prune.prune(yield* store.snapshot, now)
        if (!o.dryRun) {
          for (const r of removed) for (const a of r.addresses) yield* store.remove(a)
          yield* flush
        }
        return removed
      }).pipe(Effect.provide(storeLayer(g)))
      const count = removed.reduce((n, r) => n + r.addresses.length, 0)
      yield* print(
        g.json
          ? Render.json({
            dryRun: o.dryRun,
            removed: removed.map((r) => ({
              peerKey: r.peerKey,
              wholePeer: r.wholePeer,
              reason: r.reason,
              detail: r.detail,
              addresses: r.addresses.map((a) => a.multiaddr)
            }))
          })
          : (removed.length === 0 ? "" : Render.table(
            ["ADDRESS", "REASON", "DETAIL"],
            removed.flatMap((r) => r.addresses.map((a) => [a.multiaddr, r.reason, r.detail]))
          )) + `${o.dryRun ? "would remove" : "removed"} ${count} address${count === 1 ? "" : "es"}\n`
      )
    })
).pipe(Command.withDescription("remove bad, stale and surplus entries (Prune rules)"))

const MAX_IMPORT_BYTES = 16 * 1024 * 1024

/** GETs a URL as text: 30 s timeout, 16 MiB cap, 2xx only. */
const fetchText = (url: string) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.get(url)
    if (response.status < 200 || response.status > 299) {
      return yield* new CacheStore.CacheImportError({ source: url, reason: `HTTP ${response.status}` })
    }
    const chunks: Array<Uint8Array> = []
    let size = 0
    yield* Stream.runForEach(response.stream, (chunk) =>
      Effect.suspend(() => {
        size += chunk.length
        if (size > MAX_IMPORT_BYTES) {
          return Effect.fail(new CacheStore.CacheImportError({ source: url, reason: `larger than ${MAX_IMPORT_BYTES} bytes` }))
        }
        chunks.push(chunk)
        return Effect.void
      }))
    return new TextDecoder("utf-8").decode(Buffer.concat(chunks))
  }).pipe(
    Effect.scoped,
    Effect.timeoutFail({
      duration: "30 seconds",
      onTimeout: () => new CacheStore.CacheImportError({ source: url, reason: "no complete answer within 30 s" })
    }),
    Effect.catchIf(
      (e): e is Exclude<typeof e, CacheStore.CacheImportError> => e._tag !== "CacheImportError",
      (e) => Effect.fail(new CacheStore.CacheImportError({ source: url, reason: e.message }))
    ),
    Effect.provide(NodeHttpClient.layerUndici)
  )

const importCommand = Command.make(
  "import",
  { ...globalOptions, source: Args.text({ name: "file|url" }) },
  (o) =>
    Effect.gen(function*() {
      const g = yield* globals(o)
      const isUrl = /^https?:\/\//i.test(o.source)
      const text = isUrl ? Option.some(yield* fetchText(o.source)) : Option.none<string>()
      const report = yield* Effect.gen(function*() {
        const store = yield* CacheStore.CacheStore
        const report = Option.isSome(text) ? yield* store.importText(text.value, o.source) : yield* store.importFile(o.source)
        yield* flush
        return report
      }).pipe(Effect.provide(storeLayer(g)))
      yield* print(
        g.json
          ? Render.json(report)
          : `imported ${report.entries} address${report.entries === 1 ? "" : "es"} (${report.records} peers) from ${report.source} [${report.format}]` +
            (report.bad.length === 0 ? "\n" : `, skipped ${report.bad.length}:\n` +
              report.bad.slice(0, 10).map((b) => `  ${b.location}: ${b.reason}\n`).join("") +
              (report.bad.length > 10 ? `  … and ${report.bad.length - 10} more\n` : ""))
      )
    })
).pipe(Command.withDescription("merge a peer list, a bootstrap-cache file or a foreign cache (file or http(s) URL)"))

// ---------------------------------------------------------------------------------------------------
// The application
// ---------------------------------------------------------------------------------------------------

/**
 * The root command with every subcommand.
 *
 * @since 0.1.0
 */
export const command = root.pipe(
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
export const run = Command.run(command, { name: "bootstrap-cache", version: "0.1.0" })
