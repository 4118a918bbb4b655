/** The commands that read the cache: `list`, `stats`, `export`. */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { CacheFile, PeerTable, Score } from "@bootstrap-cache/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as CacheStore from "../../CacheStore.js"
import * as Render from "../../cli/Render.js"
import { globalOptions, globals, invalid, print, storeLayer } from "./shared.js"

export const listCommand = Command.make(
  "list",
  {
    ...globalOptions,
    sort: Options.choice("sort", ["quality", "last-seen"]).pipe(
      Options.withDefault("quality" as const),
      Options.withDescription("order: best quality first, or most recently seen first")
    ),
    limit: Options.integer("limit").pipe(
      Options.mapEffect((n) => (n >= 1 ? Effect.succeed(n) : Effect.fail(invalid(`--limit must be at least 1, not ${n}`)))),
      Options.optional,
      Options.withDescription("print at most N peers")
    )
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
      const shown = Option.match(o.limit, { onNone: () => peers, onSome: (n) => peers.slice(0, n) })
      yield* print(
        g.json
          ? Render.json(shown.map((p) => Render.peerJson(p, now)))
          : shown.length === 0
          ? "the cache is empty\n"
          : Render.peersTable(shown, now)
      )
    })
).pipe(Command.withDescription("list cached peers"))

export const statsCommand = Command.make("stats", globalOptions, (o) =>
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

export const exportCommand = Command.make(
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

