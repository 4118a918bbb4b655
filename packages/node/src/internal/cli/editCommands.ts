/** The commands that change the cache: `add`, `remove`, `record`, `prune`, `import` (each flushes before it exits). */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { CacheImport, JsonInput, PeerTable, Prune } from "@bootstrap-cache/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as CacheStore from "../../CacheStore.js"
import * as ImportSource from "../../cli/ImportSource.js"
import * as Render from "../../cli/Render.js"
import { CliError, flush, globalOptions, globals, parseAddresses, print, storeLayer } from "./shared.js"

const multiaddrs = Args.text({ name: "multiaddr" }).pipe(Args.atLeast(1))

export const addCommand = Command.make(
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

export const removeCommand = Command.make("remove", { ...globalOptions, addresses: multiaddrs }, (o) =>
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

export const recordCommand = Command.make(
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

export const pruneCommand = Command.make(
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

export const importCommand = Command.make(
  "import",
  { ...globalOptions, source: Args.text({ name: "file|url" }) },
  (o) =>
    Effect.gen(function*() {
      const g = yield* globals(o)
      const isUrl = /^https?:\/\//i.test(o.source)
      // Read (and size-checked) before the cache is opened: a bad source never takes the lock.
      const text = isUrl ? yield* ImportSource.fetchUrl(o.source) : yield* ImportSource.readFile(o.source)
      const now = yield* Clock.currentTimeMillis
      // What the entries come to once merged: an address listed twice is one address.
      const { addresses, peers } = Either.match(CacheImport.parse(text, { now, from: o.source, hash: CacheStore.sha256 }), {
        onLeft: () => ({ addresses: 0, peers: 0 }),
        onRight: (parsed) => {
          const table = PeerTable.fromRecords(parsed.records)
          return { addresses: PeerTable.addressCount(table), peers: PeerTable.size(table) }
        }
      })
      const report = yield* Effect.gen(function*() {
        const store = yield* CacheStore.CacheStore
        const report = yield* store.importText(text, o.source)
        yield* flush
        return report
      }).pipe(Effect.provide(storeLayer(g)))
      yield* print(
        g.json
          ? Render.json({ ...report, addresses, peers })
          : `imported ${addresses} address${addresses === 1 ? "" : "es"} (${peers} peer${peers === 1 ? "" : "s"}) from ${report.source} [${report.format}]` +
            (report.entries > addresses ? `, ${report.entries - addresses} repeated entr${report.entries - addresses === 1 ? "y" : "ies"} counted once` : "") +
            (report.bad.length === 0 ? "\n" : `, skipped ${report.bad.length}:\n` +
              report.bad.slice(0, 10).map((b) => `  ${b.location}: ${JsonInput.oneLine(b.reason, 200)}\n`).join("") +
              (report.bad.length > 10 ? `  … and ${report.bad.length - 10} more\n` : ""))
      )
    })
).pipe(Command.withDescription("merge a peer list, a bootstrap-cache file or a foreign cache (a regular file or an http(s) URL, 16 MiB at most); importing the same source twice counts it once"))

