/**
 * `warm-vs-cold`: time to 5 live peers for a starting node, with a warm cache over a cold start, on a
 * real loopback network (`LoopbackNetwork`: 40 TCP listeners on 127.0.0.1 — 14 accept, 12 refuse,
 * 8 never answer, 3 slow, 3 flapping — and a `ContactsServer` listing them), set up as `npm start`
 * (`examples/demo.ts`) does it: a fresh `CacheStore` on a temp file, the real TCP `Dialer`,
 * the HTTP `ContactsFetcher` on two endpoints — a broken one (HTTP 503, tried twice with a 100–200 ms
 * backoff) before the good one —, `Bootstrap.run` with a 2 s dial timeout and target 5.
 *
 * Each pair of runs uses a new cache file: cold (no file: the endpoint is fetched, then dialled),
 * then warm (a fresh store on the file the cold run saved, as a restarted node). Time is measured
 * from the start of opening the store to the `TargetReached` event (so the load of the cache counts).
 * Reported: median warm / median cold. Target ≤ 0.2.
 *
 * `warm-vs-cold-one-endpoint`: the same with only the good endpoint, whose cold start is just one
 * loopback HTTP request plus the dials — the least a cache can save.
 *
 * The endpoints are on loopback and answer at once, so the cold start here is far faster than over the
 * Internet (one HTTP round trip of a few ms, not hundreds): the ratio is an upper bound of what the
 * cache saves.
 */
import { Bootstrap, CacheStore, ContactsFetcher, Dialer } from "@bootstrap-cache/node"
import { DemoNetwork } from "@bootstrap-cache/testkit"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { median, type Result } from "./harness.js"
import { platform, tempDir } from "./storeFiles.js"

const TARGET = 5

export const run = async (quick: boolean): Promise<Array<Result>> => {
  const pairs = quick ? 3 : 7
  const { dir, dispose } = tempDir("warm")
  try {
    return await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const { server } = yield* DemoNetwork.make
      const fetcherOf = (paths: ReadonlyArray<string>) =>
        ContactsFetcher.layerNode({
          endpoints: paths.map((p) => server.urlFor(p)),
          filter: { allowLoopback: true },
          attempts: 2,
          retryBackoff: { min: 100, max: 200 }
        })

      const once = (path: string, seed: number, fetcher: Layer.Layer<ContactsFetcher.ContactsFetcher>) =>
        Effect.gen(function*() {
          let reachedAt = Number.NaN
          const start = performance.now()
          const result = yield* Effect.gen(function*() {
            const store = yield* CacheStore.CacheStore
            const contacts = Option.getOrUndefined(yield* Effect.serviceOption(ContactsFetcher.ContactsFetcher))
            return yield* Bootstrap.run(store, {
              contacts,
              target: TARGET,
              timeout: Duration.seconds(2),
              dialPolicy: { allowLoopback: true },
              onEvent: (e) => e._tag === "TargetReached" ? Effect.sync(() => void (reachedAt = performance.now())) : Effect.void
            })
          }).pipe(
            Effect.withRandom(Random.make(seed)),
            Effect.provide(Layer.mergeAll(CacheStore.layer({ path, flushInterval: Duration.infinity }), Dialer.layer, fetcher))
          )
          if (!result.targetReached || Number.isNaN(reachedAt)) {
            return yield* Effect.fail(new Error(`run ${seed} reached ${result.connected.length} of ${TARGET} peers`))
          }
          return { ms: reachedAt - start, result }
        })

      const pairsOf = (name: string, baselineName: string, fetcher: Layer.Layer<ContactsFetcher.ContactsFetcher>, withTarget: boolean) =>
        Effect.gen(function*() {
          const cold: Array<number> = []
          const warm: Array<number> = []
          const warmFromCache: Array<boolean> = []
          const inRun: Array<number> = []
          const coldDials: Array<number> = []
          const warmDials: Array<number> = []
          for (let p = 0; p < pairs; p++) {
            const path = join(dir, `${name}-${p}.json`)
            const c = yield* once(path, 2 * p + 1, fetcher)
            const w = yield* once(path, 2 * p + 2, fetcher)
            cold.push(c.ms)
            inRun.push(w.ms - Option.getOrElse(w.result.timeToTargetMs, () => Number.NaN))
            warm.push(w.ms)
            coldDials.push(c.result.dials)
            warmDials.push(w.result.dials)
            warmFromCache.push(!w.result.endpointsUsed)
          }
          const coldMs = median(cold)
          const warmMs = median(warm)
          const ratio = warmMs / coldMs
          return {
            name,
            value: warmMs,
            unit: "ms",
            baseline: coldMs,
            baselineName,
            ratio,
            ...(withTarget ? { target: "ratio ≤ 0.2", met: ratio <= 0.2 } : {}),
            note: `time to ${TARGET} live peers, median of ${pairs} pairs; cold ${cold.map((x) => x.toFixed(0)).join(", ")} ms ` +
              `(dials ${coldDials.join(", ")}); warm ${warm.map((x) => x.toFixed(0)).join(", ")} ms (dials ${warmDials.join(", ")}, ` +
              `${warmFromCache.filter((x) => x).length}/${pairs} from the cache alone; median ${median(inRun).toFixed(0)} ms of a warm start ` +
              `is before Bootstrap.run: opening the store and building the dialer and fetcher layers)`
          } satisfies Result
        })
      return [
        yield* pairsOf("warm-vs-cold", "cold start as npm start: empty cache, a 503 endpoint then the good one, dials", fetcherOf(["/broken", "/contacts"]), true),
        yield* pairsOf("warm-vs-cold-one-endpoint", "cold start with only the good endpoint (instant on loopback)", fetcherOf(["/contacts"]), false)
      ]
    })).pipe(Effect.provide(platform)))
  } finally {
    dispose()
  }
}
