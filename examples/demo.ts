/**
 * `npm start`: the main job on real input, with no network beyond 127.0.0.1.
 *
 * 1. Imports the real public bootstrap lists of `fixtures/` into a scratch cache and shows
 *    how they parse: valid, invalid, duplicates, and the valid ones by transport.
 * 2. Starts a real network on loopback: 40 TCP listeners on 127.0.0.1 — half of them dead (refusing,
 *    or never answering), a few slow (their SYN is dropped until their gate opens), a few flapping —
 *    and a real HTTP contacts server listing them, next to a broken endpoint (HTTP 503).
 * 3. Bootstraps cold (empty cache in a temp directory → endpoints → dials), then warm several times
 *    (cache-first, a fresh `CacheStore` each time as a restarted node would have), advancing the
 *    network between runs (flapping listeners change state, slow gates close again), and prints one
 *    row per run: source, dials started, the most in flight at once, failures (of which timeouts),
 *    cancelled dials (started, then abandoned at the target: wasted), hit rate, time to the first
 *    peer and to 5 peers. Dials are staggered (Happy Eyeballs, RFC 8305 §5), so a warm cache of good
 *    peers costs about 5 dials and cancels about none.
 *
 * Finishes in well under 60 s. The temp directory is removed at the end. It uses the packages as a
 * user would, through their entry points (`@bootstrap-cache/node`, `@bootstrap-cache/testkit`), and
 * lives outside them: the testkit depends on the node package, never the other way round.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Contacts, PeerTable } from "@bootstrap-cache/core"
import { Bootstrap, CacheStore, ContactsFetcher, Dialer, Render } from "@bootstrap-cache/node"
import { DemoNetwork, type LoopbackNetwork } from "@bootstrap-cache/testkit"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const FIXTURES = fileURLToPath(new URL("../fixtures/", import.meta.url))
const TARGET = 5
const TIMEOUT = Duration.seconds(2)
const WARM_RUNS = 4
const say = (text: string) => Effect.sync(() => void process.stdout.write(text))

// ---------------------------------------------------------------------------------------------------
// 1. The real public lists
// ---------------------------------------------------------------------------------------------------

const TRANSPORTS = ["tcp", "tcp/ws", "tcp/wss", "udp/quic-v1", "udp/quic-v1/webtransport", ""] as const

const fixtures = (dir: string) =>
  Effect.gen(function*() {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith(".txt")).sort()
    const rows: Array<Array<string | number>> = []
    const report = yield* Effect.gen(function*() {
      const store = yield* CacheStore.CacheStore
      for (const file of files) {
        const text = readFileSync(join(FIXTURES, file), "utf8")
        // The same parser the contacts fetcher uses; every host scope admitted so nothing is hidden.
        const parsed = Contacts.parse(text, { filter: { allowLoopback: true, allowPrivate: true }, maxIssues: 1 })
        const byTransport = new Map<string, number>()
        for (const a of parsed.addresses) byTransport.set(a.transport, (byTransport.get(a.transport) ?? 0) + 1)
        const other = parsed.addresses.length - TRANSPORTS.reduce((n, t) => n + (byTransport.get(t) ?? 0), 0)
        yield* Effect.either(store.importFile(join(FIXTURES, file)))
        rows.push([
          file.replace(/\.txt$/, ""),
          parsed.entries,
          parsed.addresses.length,
          parsed.invalid,
          parsed.filtered,
          parsed.duplicates,
          ...TRANSPORTS.map((t) => byTransport.get(t) ?? 0),
          other
        ])
      }
      yield* store.flush
      return PeerTable.stats(yield* store.snapshot)
    }).pipe(Effect.provide(CacheStore.layer({ path: join(dir, "fixtures.json"), flushInterval: Duration.infinity })))
    yield* say("\n== 1. Real public bootstrap lists (fixtures/) imported into a scratch cache\n\n")
    yield* say(Render.table(
      ["LIST", "LINES", "VALID", "INVALID", "UNDIALABLE", "DUP", "TCP", "WS", "WSS", "QUIC", "WEBTRANSPORT", "DNSADDR", "OTHER"],
      rows
    ))
    yield* say(
      `\nscratch cache: ${report.peers} peers, ${report.addresses} addresses (UNDIALABLE: unspecified or reserved hosts such as /ip6/::, kept out of the dial lists)\n`
    )
  })

// ---------------------------------------------------------------------------------------------------
// 2 and 3. A loopback network and the bootstrap runs
// ---------------------------------------------------------------------------------------------------

const runs = (dir: string) =>
  Effect.gen(function*() {
    const { behaviours, net, server } = yield* DemoNetwork.make
    const count = (tag: LoopbackNetwork.Behaviour["_tag"]) => behaviours.filter((b) => b._tag === tag).length
    yield* say(
      `\n== 2. Loopback network: ${behaviours.length} TCP listeners on 127.0.0.1 — ${count("Accept")} accept, ` +
        `${count("Refuse")} refuse, ${count("Hang")} never answer, ${count("Slow")} slow (~1 s), ${count("Flap")} flap\n` +
        `   contacts endpoints: ${server.urlFor("/broken")} (503), ${server.urlFor("/contacts")}\n` +
        `   dial timeout ${Duration.format(TIMEOUT)}, concurrency ${Bootstrap.defaults.concurrency}, ` +
        `stagger ${Bootstrap.defaults.staggerMs} ms, target ${TARGET}\n`
    )

    const cachePath = join(dir, "peers.json")
    const fetcher = ContactsFetcher.layerNode({
      endpoints: [server.urlFor("/broken"), server.urlFor("/contacts")],
      filter: { allowLoopback: true },
      attempts: 2,
      retryBackoff: { min: 100, max: 200 }
    })
    const rows: Array<Array<string | number>> = []
    const failures: Array<number> = []
    const cancelled: Array<number> = []
    for (let run = 0; run <= WARM_RUNS; run++) {
      if (run > 0) yield* net.advance
      const outcome = yield* Effect.gen(function*() {
        const store = yield* CacheStore.CacheStore
        const contacts = Option.getOrUndefined(yield* Effect.serviceOption(ContactsFetcher.ContactsFetcher))
        return yield* Bootstrap.run(store, {
          contacts,
          target: TARGET,
          timeout: TIMEOUT,
          dialPolicy: { allowLoopback: true }
        })
      }).pipe(
        Effect.withRandom(Random.make(run + 1)),
        Effect.either,
        Effect.provide(Layer.mergeAll(
          CacheStore.layer({ path: cachePath, flushInterval: Duration.infinity }),
          Dialer.layer,
          fetcher
        ))
      )
      const r = Either.match(outcome, { onLeft: (e) => e.result, onRight: (x) => x })
      failures.push(r.failures)
      cancelled.push(r.cancelled)
      rows.push([
        run === 0 ? "cold" : `warm ${run}`,
        r.endpointsUsed ? `endpoints (${Option.getOrElse(r.endpointReason, () => "")})` : "cache",
        r.cachedPeers,
        r.dials,
        r.peakInFlight,
        r.failures,
        r.failuresByReason.timeout,
        r.cancelled,
        r.cachedAttempts === 0 ? "-" : Render.percent(r.hitRate),
        Option.match(r.timeToFirstPeerMs, { onNone: () => "-", onSome: Render.ms }),
        Option.match(r.timeToTargetMs, { onNone: () => "-", onSome: Render.ms }),
        `${r.connected.length}/${TARGET}`
      ])
    }
    yield* say(`\n== 3. Bootstrap runs (cache ${cachePath})\n\n`)
    yield* say(Render.table(
      ["RUN", "SOURCE", "CACHED", "DIALS", "PEAK", "FAILED", "TIMEOUT", "CANCELLED", "HIT RATE", "FIRST PEER", `${TARGET} PEERS`, "CONNECTED"],
      rows
    ))
    const warm = failures.slice(1)
    yield* say(
      `\nfailed dials: cold ${failures[0]}, warm ${warm.join(", ")} — ` +
        (Math.max(...warm) < failures[0]! ? "the cache learnt which peers are dead.\n" : "no improvement (unexpected).\n") +
        `cancelled (wasted) dials: cold ${cancelled[0]}, warm ${cancelled.slice(1).join(", ")} — PEAK is the most dials in flight at once ` +
        `(staggered: ${TARGET} to start, one more per failure or ${Bootstrap.defaults.staggerMs} ms without progress, at most ${Bootstrap.defaults.concurrency}).\n`
    )
    const table = yield* Effect.flatMap(CacheStore.CacheStore, (s) => s.snapshot).pipe(
      Effect.provide(CacheStore.layer({ path: cachePath, flushInterval: Duration.infinity, readOnly: true }))
    )
    const now = yield* Clock.currentTimeMillis
    const stats = PeerTable.stats(table)
    yield* say(
      `\ncache after ${WARM_RUNS + 1} runs: ${stats.peers} peers, ${stats.totalSuccesses} successes, ${stats.totalFailures} failures; best peers:\n\n`
    )
    const best = Array.from(PeerTable.peers(table)).sort((a, b) =>
      b.addresses.reduce((n, r) => n + r.successes - r.failures, 0) - a.addresses.reduce((n, r) => n + r.successes - r.failures, 0)
    )
    yield* say(Render.peersTable(best.slice(0, 6), now))
  })

const main = Effect.gen(function*() {
  const started = yield* Clock.currentTimeMillis
  const dir = mkdtempSync(join(tmpdir(), "bootstrap-cache-demo-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
  yield* fixtures(dir)
  yield* runs(dir)
  yield* say(`\ndone in ${Render.ms((yield* Clock.currentTimeMillis) - started)}\n`)
}).pipe(
  Effect.scoped,
  Effect.provide(Layer.mergeAll(
    NodeContext.layer,
    Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger)),
    Logger.minimumLogLevel(LogLevel.Error)
  ))
)

Effect.runPromise(main).then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`npm start failed: ${e instanceof Error ? e.message : String(e)}\n`)
    process.exit(1)
  }
)
