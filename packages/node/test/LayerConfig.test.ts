import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import { PeerAddress } from "@bootstrap-cache/core"
import { TestLayers } from "@bootstrap-cache/testkit"
import { assert, describe, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as NodePath from "node:path"
import * as Bootstrap from "../src/Bootstrap.js"
import * as CacheStore from "../src/CacheStore.js"
import * as ContactsFetcher from "../src/ContactsFetcher.js"
import * as Dialer from "../src/Dialer.js"
import * as Protection from "../src/Protection.js"

const fromMap = (entries: Record<string, string>) => ConfigProvider.fromMap(new Map(Object.entries(entries)))
const withConfig = (entries: Record<string, string>) => Effect.withConfigProvider(fromMap(entries))
/** The ConfigError message of reading `config` from `entries`. */
const configFailure = <A>(config: Config.Config<A>, entries: Record<string, string>) =>
  Effect.map(Effect.flip(withConfig(entries)(config)), (e) => String(e))

const A = PeerAddress.unsafeParse("/ip4/21.1.0.1/tcp/4001")

describe("CacheStore.config / layerConfig", () => {
  it.effect("reads every option under its name (nested ones nested); unset keys are left out", () =>
    Effect.gen(function*() {
      const options = yield* withConfig({
        flushInterval: "1 minute",
        staleAfter: "2 hours",
        shutdownTimeout: "1 second",
        readOnly: "true",
        maxPendingOps: "50",
        "lock.timeoutMs": "500"
      })(CacheStore.config)
      assert.deepStrictEqual(options, {
        flushInterval: Duration.minutes(1),
        staleAfter: Duration.hours(2),
        shutdownTimeout: Duration.seconds(1),
        readOnly: true,
        maxPendingOps: 50,
        lock: { timeoutMs: 500 }
      })
      assert.deepStrictEqual(yield* withConfig({})(CacheStore.config), {})
    }))

  it.effect("a malformed or out-of-range value fails with a ConfigError naming its key", () =>
    Effect.gen(function*() {
      assert.include(yield* configFailure(CacheStore.config, { maxPendingOps: "0" }), "maxPendingOps")
      assert.include(yield* configFailure(CacheStore.config, { flushInterval: "soon" }), "flushInterval")
      assert.include(yield* configFailure(CacheStore.config, { "lock.staleMs": "-1" }), "lock.staleMs")
    }))

  it.scoped("layerConfig builds the store from the provider: path through CachePaths' variable, staleAfter, readOnly", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "bc-layerconfig-" })
      const file = NodePath.join(dir, "peers.json")
      const provider = Layer.setConfigProvider(fromMap({ BOOTSTRAP_CACHE_PATH: file, staleAfter: "1 hour" }))
      const store = yield* CacheStore.CacheStore.pipe(
        Effect.provide(CacheStore.layerConfig(CacheStore.config).pipe(Layer.provide(provider)))
      )
      assert.strictEqual(store.path, file)
      yield* store.recordSuccess(A)
      assert.strictEqual((yield* store.flush)._tag, "Written")
      assert.isFalse(yield* store.isStale)
      yield* TestClock.adjust(Duration.minutes(61))
      assert.isTrue(yield* store.isStale, "stale after the configured hour, not the default 24 h")

      // The struct form (Config.Config.Wrap), and readOnly.
      const readOnly = yield* CacheStore.CacheStore.pipe(
        Effect.provide(
          CacheStore.layerConfig({ path: Config.string("file"), readOnly: Config.boolean("ro") }).pipe(
            Layer.provide(Layer.setConfigProvider(fromMap({ file, ro: "yes" })))
          )
        )
      )
      assert.isTrue((yield* readOnly.info).readOnly)
      assert.strictEqual((yield* readOnly.flush)._tag, "Skipped")
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("Bootstrap.config / layerConfig", () => {
  it.effect("reads the options, lists comma-separated, dialPolicy nested", () =>
    Effect.gen(function*() {
      const options = yield* withConfig({
        target: "3",
        concurrency: "4",
        timeout: "2 seconds",
        endpoints: "https://a.test/list,https://b.test/list",
        epsilon: "0.25",
        "dialPolicy.allowLoopback": "true",
        reconnect: "false"
      })(Bootstrap.config)
      assert.deepStrictEqual(options, {
        target: 3,
        concurrency: 4,
        timeout: Duration.seconds(2),
        endpoints: ["https://a.test/list", "https://b.test/list"],
        epsilon: 0.25,
        dialPolicy: { allowLoopback: true },
        reconnect: false
      })
      assert.deepStrictEqual(yield* withConfig({})(Bootstrap.config), {})
      assert.include(yield* configFailure(Bootstrap.config, { epsilon: "1.5" }), "epsilon")
      assert.include(yield* configFailure(Bootstrap.config, { concurrency: "0" }), "concurrency")
      assert.include(yield* configFailure(Bootstrap.config, { target: "many" }), "target")
    }))

  it.effect("layerConfig runs with the configured target (nested under a prefix)", () =>
    Effect.gen(function*() {
      const bootstrap = yield* Bootstrap.Bootstrap
      const fiber = yield* Effect.fork(bootstrap.run())
      yield* TestClock.adjust("1 minute")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.target, 2)
      assert.strictEqual(result.connected.length, 2)
      assert.strictEqual(result.dials, 2)
    }).pipe(Effect.provide(
      Bootstrap.layerConfig(Config.nested(Bootstrap.config, "bootstrap"), { contacts: true, protection: false }).pipe(
        Layer.provide(Layer.mergeAll(
          TestLayers.cacheStoreMemory(),
          TestLayers.dialerScripted({}, { otherwise: { ok: 10 } }),
          TestLayers.contactsFetcherStatic([0, 1, 2, 3].map((i) => `/ip4/2${i}.${i}.0.1/tcp/4001`))
        )),
        Layer.provide(Layer.setConfigProvider(fromMap({ "bootstrap.target": "2" })))
      )
    )))
})

describe("ContactsFetcher.config / layerConfig", () => {
  it.effect("endpoints are required; the rest optional, filter and breaker nested", () =>
    Effect.gen(function*() {
      assert.include(yield* configFailure(ContactsFetcher.config, {}), "endpoints")
      const options = yield* withConfig({
        endpoints: "https://a.test/",
        requestTimeout: "3 seconds",
        attempts: "1",
        maxResponseBytes: "4096",
        "filter.allowPrivate": "true",
        "filter.transports": "tcp,udp/quic-v1",
        "breaker.minOpen": "10 seconds",
        "breaker.failureThreshold": "2"
      })(ContactsFetcher.config)
      assert.deepStrictEqual(options, {
        endpoints: ["https://a.test/"],
        requestTimeout: Duration.seconds(3),
        attempts: 1,
        maxResponseBytes: 4096,
        filter: { allowPrivate: true, transports: ["tcp", "udp/quic-v1"] },
        breaker: { minOpen: Duration.seconds(10), failureThreshold: 2 }
      })
      assert.include(yield* configFailure(ContactsFetcher.config, { endpoints: "x", "breaker.factor": "0.5" }), "breaker.factor")
    }))

  it.effect("layerNodeConfig fetches from the configured endpoints", () =>
    Effect.gen(function*() {
      const fetcher = yield* ContactsFetcher.ContactsFetcher
      // Not an http(s) URL: refused before any request, so no network is involved.
      const failure = yield* Effect.flip(fetcher.fetch)
      assert.deepStrictEqual(failure.failures.map((f) => [f.endpoint, f.reason]), [["ftp://contacts.test/list", "invalid-url"]])
    }).pipe(Effect.provide(
      ContactsFetcher.layerNodeConfig(ContactsFetcher.config).pipe(
        Layer.provide(Layer.setConfigProvider(fromMap({ endpoints: "ftp://contacts.test/list" })))
      )
    )))
})

describe("Protection.layerConfig", () => {
  it.effect("builds the service from configured options (struct form)", () =>
    Effect.gen(function*() {
      const protection = yield* Protection.Protection
      const refused = new Dialer.DialRefusedError({ address: A.multiaddr, code: "ECONNREFUSED" })
      yield* Effect.either(protection.execute("k", Effect.fail(refused)))
      const status = yield* protection.status("k")
      assert.strictEqual(status.state, "open")
      assert.strictEqual(status.retryAfterMs, 7_000)
    }).pipe(Effect.provide(
      Protection.layerConfig({
        breaker: Config.map(Config.duration("openFor"), (timeout) => ({
          timeout,
          readyToTrip: (counts: { readonly consecutiveFailures: number }) => counts.consecutiveFailures >= 1
        })),
        recovery: Config.succeed(false as const)
      }).pipe(Layer.provide(Layer.setConfigProvider(fromMap({ openFor: "7 seconds" }))))
    )))

  it.effect("a missing value fails the Layer with a ConfigError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Layer.build(Protection.layerConfig({ idleTimeout: Config.duration("idle") })).pipe(Effect.scoped))
      assert.strictEqual(error._tag, "ConfigError")
      assert.include(String(error), "idle")
    }).pipe(withConfig({})))
})
