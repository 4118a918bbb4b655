import { describe, expect, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { CacheFile, PeerAddress, PeerRecord, PeerTable } from "@bootstrap-cache/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as NodeFs from "node:fs"
import * as Os from "node:os"
import * as NodePathModule from "node:path"
import * as CacheStore from "../src/CacheStore.js"
import * as FileLock from "../src/FileLock.js"
import { decodeText } from "../src/internal/cacheStore/diskFile.js"
import { open, T0 } from "./storeHelpers.js"

// Mutated cache files: whatever the bytes, the store never fails or dies, a file it cannot read is
// quarantined byte-identical, and what it accepts it writes back in a form it reads again.
// The lock is not the subject here (its own tests are): a lock that is always free keeps 150 opens fast.
const FreeLock = Layer.succeed(FileLock.FileLock, FileLock.FileLock.of({
  acquire: (file) => Effect.succeed({ path: FileLock.lockPathOf(file), holder: { pid: process.pid, host: "test", acquiredAt: 0 }, isCompromised: Effect.succeed(false) })
}))
const Real = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, FreeLock)
const hash = CacheStore.sha256

const base: PeerTable.PeerTable = (() => {
  let t = PeerTable.empty
  const ids = ["12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx", "QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN"]
  ids.forEach((id, i) => {
    const a = PeerAddress.unsafeParse(`/ip4/1.2.3.${i + 1}/tcp/4001/p2p/${id}`)
    t = PeerTable.add(t, a, { now: T0, source: { _tag: "connection" } })
    t = PeerTable.recordSuccess(t, a, T0 + 1, { rttMs: 12.5, bytes: 1024 })
    t = PeerTable.recordFailure(t, a, T0 + 2)
    t = PeerTable.setProtocols(t, id, ["/ipfs/id/1.0.0", PeerRecord.RELAY_HOP_PROTOCOL])
  })
  return PeerTable.add(t, PeerAddress.unsafeParse("/ip4/5.6.7.8/udp/4001/quic-v1"), { now: T0, source: { _tag: "connection" } })
})()
const baseText = CacheFile.encode(base, { lastUpdated: T0, hash })
const baseDoc = JSON.parse(baseText) as { version: number; lastUpdated: number; checksum: string; peers: Array<Record<string, unknown>> }

/** A document with `peers` and a checksum that matches them, so decoding reaches the records. */
const resealed = (doc: typeof baseDoc, peersJson: string): string =>
  `{"version":${doc.version},"lastUpdated":${doc.lastUpdated},"checksum":"${hash(peersJson)}","peers":${peersJson}}`

const deep = (depth: number, open: string, close: string, inner = "1") => open.repeat(depth) + inner + close.repeat(depth)

const extremes = [1e308, -1, 1.5, 2 ** 53 + 2, -0, 1e-300, Number.MAX_SAFE_INTEGER]
const fields = ["successes", "failures", "consecutiveFailures", "lastSuccess", "lastFailure", "lastSeen", "rttMs", "bytesTransferred"]

/** One mutation of the encoded file, as bytes. */
const mutation: fc.Arbitrary<Uint8Array> = fc.oneof(
  // bit flips
  { weight: 4, arbitrary: fc.array(fc.tuple(fc.nat(baseText.length - 1), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 4 }).map((flips) => {
    const bytes = new TextEncoder().encode(baseText)
    for (const [i, bit] of flips) bytes[i] = bytes[i]! ^ (1 << bit)
    return bytes
  }) },
  // truncation
  { weight: 2, arbitrary: fc.nat(baseText.length - 1).map((n) => new TextEncoder().encode(baseText.slice(0, n))) },
  // deep nesting, in the peers, a record field, or the whole document (checksums made to match)
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1_000, max: 6_000 }), fc.constantFrom("peers", "field", "document", "object")).map(([depth, where]) => {
    const text = where === "document"
      ? deep(depth, "[", "]")
      : where === "object"
      ? deep(depth, "{\"a\":", "}")
      : where === "peers"
      ? resealed(baseDoc, deep(depth, "[", "]"))
      : resealed(baseDoc, JSON.stringify(baseDoc.peers).replace("\"protocols\":", `"protocols":${deep(depth, "[", "]", "[]")},"x":`))
    return new TextEncoder().encode(text)
  }) },
  // extreme numbers in a record field, checksum made to match
  { weight: 2, arbitrary: fc.tuple(fc.nat(baseDoc.peers.length - 1), fc.constantFrom(...fields), fc.constantFrom(...extremes)).map(([p, field, value]) => {
    const peers = structuredClone(baseDoc.peers)
    const address = (peers[p]!["addresses"] as Array<Record<string, unknown>>)[0]!
    address[field] = value
    return new TextEncoder().encode(resealed(baseDoc, JSON.stringify(peers)))
  }) },
  // `__proto__` keys in the header, a record or a capability set
  { weight: 1, arbitrary: fc.constantFrom("header", "record", "capabilities").map((where) => {
    const proto = "\"__proto__\":{\"polluted\":true,\"successes\":5}"
    const peersJson = JSON.stringify(baseDoc.peers)
    const text = where === "header"
      ? resealed(baseDoc, peersJson).replace("{", `{${proto},`)
      : where === "record"
      ? resealed(baseDoc, peersJson.replace("[{", `[{${proto},`))
      : resealed(baseDoc, peersJson.replace("\"capabilities\":{", `"capabilities":{${proto},`))
    return new TextEncoder().encode(text)
  }) }
)

describe("CacheStore against mutated cache files", () => {
  it("decoding never throws, and every table it accepts encodes to a file it accepts again (2 000 files)", () => {
    fc.assert(
      fc.property(mutation, (bytes) => {
        const read = decodeText(new TextDecoder().decode(bytes), hash)
        if (Either.isLeft(read)) {
          expect(read.left.length).toBeLessThan(360)
          return
        }
        const again = decodeText(CacheFile.encode(read.right.table, { lastUpdated: T0, hash }), hash)
        expect(Either.isRight(again)).toBe(true)
        expect(PeerTable.addressCount(Either.getOrThrow(again).table)).toBe(PeerTable.addressCount(read.right.table))
        expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined()
      }),
      { seed: 20261206, numRuns: 2_000 }
    )
  }, 30_000)

  it.live("a store opened on each of 100 mutated files never fails: bad files are quarantined byte-identical, accepted ones flush and load again", () =>
    Effect.gen(function*() {
      const root = NodeFs.mkdtempSync(NodePathModule.join(Os.tmpdir(), "bc-fuzz-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => NodeFs.rmSync(root, { recursive: true, force: true })))
      const samples = fc.sample(mutation, { seed: 6122026, numRuns: 100 })
      const address = PeerAddress.unsafeParse("/ip4/9.9.9.9/tcp/4001")
      for (const [i, bytes] of samples.entries()) {
        const dir = NodePathModule.join(root, String(i))
        NodeFs.mkdirSync(dir)
        const file = NodePathModule.join(dir, "peers.json")
        NodeFs.writeFileSync(file, bytes)
        const accepted = decodeText(new TextDecoder().decode(bytes), hash)
        const exit = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
          const { close, store } = yield* open({ path: file, prune: (t) => t })
          const seen = PeerTable.addressCount(yield* store.snapshot)
          yield* store.recordSuccess(address)
          yield* store.flush
          yield* close
          return seen
        })))
        expect(Exit.isSuccess(exit), `sample ${i}: ${Exit.isFailure(exit) ? String(exit.cause) : ""}`).toBe(true)
        const quarantined = NodeFs.readdirSync(dir).filter((e) => e.startsWith("peers.json.corrupt-"))
        if (Either.isLeft(accepted) || accepted.right.newer) {
          if (Either.isLeft(accepted)) {
            expect(quarantined, `sample ${i}`).toHaveLength(1)
            expect(Buffer.compare(NodeFs.readFileSync(NodePathModule.join(dir, quarantined[0]!)), Buffer.from(bytes))).toBe(0)
          }
          continue
        }
        expect(quarantined).toEqual([])
        const written = decodeText(NodeFs.readFileSync(file, "utf8"), hash)
        expect(Either.isRight(written), `sample ${i}`).toBe(true)
        const table = Either.getOrThrow(written).table
        for (const record of PeerTable.toRecords(accepted.right.table)) {
          for (const a of record.addresses) expect(PeerTable.lookupAddress(table, a.address)._tag).toBe("Some")
        }
      }
    }).pipe(Effect.scoped, Effect.provide(Real), Logger.withMinimumLogLevel(LogLevel.Error)), 60_000)
})
