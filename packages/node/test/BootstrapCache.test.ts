// The facade on real parts: a cache file in a temp directory, TCP listeners and a contacts server on
// 127.0.0.1.
import { PeerTable } from "@bootstrap-cache/core"
import { ContactsServer, LoopbackNetwork } from "@bootstrap-cache/testkit"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Bootstrap from "../src/Bootstrap.js"
import * as BootstrapCache from "../src/BootstrapCache.js"
import * as CacheStore from "../src/CacheStore.js"
import * as Dialer from "../src/Dialer.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "bootstrap-cache-facade-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** One run through a freshly built facade Layer (its scope closes after the run: final flush). */
const once = (options: BootstrapCache.BootstrapCacheOptions) =>
  Effect.gen(function*() {
    const result = yield* Effect.flatMap(Bootstrap.Bootstrap, (b) => b.run())
    const table = yield* Effect.flatMap(CacheStore.CacheStore, (s) => s.snapshot)
    return { result, table }
  }).pipe(Effect.provide(BootstrapCache.layer(options)), Effect.withRandom(Random.make(5)))

describe("BootstrapCache.layer (real temp dir, loopback network)", () => {
  it.scopedLive("endpoints given once: a cold run asks them and writes the file, a warm run is cache-first", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const net = yield* LoopbackNetwork.make(LoopbackNetwork.mix({ accept: 6, refuse: 3 }, 11))
      const server = yield* ContactsServer.make({ "/contacts": ContactsServer.Behaviour.Body({ body: net.contacts }) })
      const options: BootstrapCache.BootstrapCacheOptions = {
        endpoints: [server.urlFor("/contacts")],
        path: join(dir, "peers.json"),
        store: { flushInterval: Duration.infinity },
        dialPolicy: { allowLoopback: true }, // also the contacts filter: given once
        target: 3,
        timeout: 2_000
      }
      const cold = yield* once(options)
      assert.isTrue(cold.result.endpointsUsed)
      assert.deepStrictEqual(cold.result.endpointReason, Option.some("empty" as const))
      assert.isAtLeast(cold.result.connected.length, 3)
      assert.isTrue(existsSync(join(dir, "peers.json")))
      assert.strictEqual(PeerTable.size(cold.table), net.listeners.length)

      const warm = yield* once(options)
      assert.isFalse(warm.result.endpointsUsed)
      assert.strictEqual(yield* server.requests("/contacts"), 1)
      assert.isTrue(warm.result.connected.every((c) => c.origin === "cache"))
    }), 30_000)

  it.scopedLive("without endpoints the endpoints are never asked; the dialer and the breakers are options", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const dials: Array<string> = []
      const dialer = Layer.succeed(
        Dialer.Dialer,
        Dialer.make((address) => Effect.sync(() => void dials.push(address.multiaddr)).pipe(Effect.as(1)))
      )
      const error = yield* Effect.flip(once({ path: join(dir, "peers.json"), dialer, protection: false, target: 2 }))
      assert.strictEqual(error._tag, "NoPeersError")
      if (error._tag !== "NoPeersError") return
      assert.isFalse(error.result.endpointsUsed)
      assert.deepStrictEqual(error.result.endpointReason, Option.none())
      assert.deepStrictEqual(dials, [])
    }), 30_000)
})
