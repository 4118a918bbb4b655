import { describe, expect, it } from "@effect/vitest"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { CacheFile, PeerAddress, PeerTable } from "@bootstrap-cache/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { createHash } from "node:crypto"
import * as NodeFs from "node:fs"
import * as NodePathModule from "node:path"
import * as CacheStore from "../src/CacheStore.js"
import { open, T0, writeCache } from "./storeHelpers.js"

const Real = Layer.merge(NodeFileSystem.layer, NodePath.layer)
const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "bc-save-" }))

const at = (i: number) => PeerAddress.unsafeParse(`/ip4/23.${i >> 8}.${i & 255}.9/tcp/4001`)

/** The file as `CacheFile.encodeCompact` writes the table it holds, at its own `lastUpdated`, with `hash`. */
const asEncodeCompactWrites = (file: string, hash: CacheFile.Hash) => {
  const text = NodeFs.readFileSync(file, "utf8")
  const decoded = Either.getOrThrow(CacheFile.decode(text, { hash }))
  return { text, expected: CacheFile.encodeCompact(decoded.table, { lastUpdated: decoded.lastUpdated, hash }) }
}

/** A hash other than the store's SHA-256 (the store then hashes the text, not the bytes). */
const otherHash: CacheFile.Hash = (text) => createHash("sha256").update(`salt:${text}`).digest("hex")

describe("CacheStore saves", () => {
  for (const [name, hash] of [["SHA-256", undefined], ["a hash of the caller's", otherHash]] as const) {
    it.scoped(`every flush writes exactly encodeCompact's text of its table, flush after flush (${name})`, () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(T0)
        const file = NodePathModule.join(yield* tempDir, "peers.json")
        const seed = Array.from({ length: 300 }, (_, i) => at(i)).reduce(
          (t, a, i) => PeerTable.recordSuccess(PeerTable.add(t, a, { now: T0 - i, source: { _tag: "user" } }), a, T0 - i),
          PeerTable.empty
        )
        if (hash === undefined) writeCache(file, seed)
        const { close, store } = yield* open({ path: file, ...(hash === undefined ? {} : { hash }) })
        const check = () => {
          const { expected, text } = asEncodeCompactWrites(file, hash ?? CacheStore.sha256)
          expect(text).toBe(expected)
        }
        const steps: ReadonlyArray<Effect.Effect<void>> = [
          store.recordSuccess(at(3), { rttMs: 12 }),
          Effect.zipRight(store.recordFailure(at(7)), store.recordSuccess(at(250), { rttMs: 80 })),
          // A new peer (the key order changes) from a new source (every line's source indices do).
          store.add(at(400), { source: { _tag: "endpoint", url: "https://contacts.example/peers" } }),
          store.remove(at(5)),
          store.add(PeerAddress.unsafeParse("/ip4/23.9.9.9/tcp/4001/p2p/12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx"), { source: { _tag: "user" } }),
          store.setProtocols("12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx", ["/ipfs/kad/1.0.0", "/é/✓"]),
          store.recordSuccess(at(299))
        ]
        for (const step of steps) {
          yield* step
          yield* TestClock.adjust(Duration.seconds(30))
          expect((yield* store.flush)._tag).toBe("Written")
          check()
        }
        yield* close
      }).pipe(Effect.provide(Real)))
  }

  /** `n` turns of the event loop (not a sleep: the background preparation gets one slice a turn). */
  const turns = (n: number) =>
    Effect.forEach(Array.from({ length: n }), () => Effect.async<void>((resume) => void setImmediate(() => resume(Effect.void))), { discard: true })

  for (const given of [0, 1, 5, 40, 4_000]) {
    it.scoped(`the first flush of a store opened on a large file writes encodeCompact's text, prepared for ${given} turns of the event loop`, () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(T0)
        const file = NodePathModule.join(yield* tempDir, "peers.json")
        // Large enough to open from its head and to take several slices; two sources.
        const seed = Array.from({ length: 3_000 }, (_, i) => at(i)).reduce(
          (t, a, i) => PeerTable.recordSuccess(PeerTable.add(t, a, { now: T0 - i, source: i % 3 === 0 ? { _tag: "user" } : { _tag: "import", from: "a.json" } }), a, T0 - i),
          PeerTable.empty
        )
        writeCache(file, seed)
        const { close, store } = yield* open({ path: file })
        yield* store.snapshot
        yield* store.recordSuccess(at(3), { rttMs: 12 })
        yield* turns(given)
        // Changes recorded while the preparation runs, one of them a new peer (the key order changes).
        yield* store.recordFailure(at(2_999))
        if (given % 2 === 1) yield* store.add(at(3_500), { source: { _tag: "user" } })
        yield* TestClock.adjust(Duration.seconds(30))
        for (let flush = 0; flush < 3; flush++) {
          expect((yield* store.flush)._tag).toBe("Written")
          const { expected, text } = asEncodeCompactWrites(file, CacheStore.sha256)
          expect(text).toBe(expected)
          const decoded = Either.getOrThrow(CacheFile.decode(text, { hash: CacheStore.sha256 }))
          expect(PeerTable.size(decoded.table)).toBe(given % 2 === 1 ? 3_001 : 3_000)
          yield* store.recordSuccess(at(flush * 700), { rttMs: 40 + flush })
          yield* TestClock.adjust(Duration.seconds(30))
        }
        yield* close
      }).pipe(Effect.provide(Real)))
  }
})
