import { CacheFile, PeerAddress, PeerTable } from "@bootstrap-cache/core"
import { type Bootstrap, CacheStore } from "@bootstrap-cache/node"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { Libp2p } from "@libp2p/interface"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CacheDiscovery } from "../src/index.js"
import { addressOf, makeNetwork, type Network, startNode } from "./fixtures/network.js"

/** Polls `f` every 20 ms until it holds, for at most `ms` (real I/O, bounded). */
const eventually = (f: () => boolean, ms: number) =>
  Effect.promise(async () => {
    const until = Date.now() + ms
    while (!f() && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
    return f()
  })

/** The cache file as another process would read it. */
const readCache = (path: string) =>
  Effect.flatMap(CacheStore.CacheStore, (s) => s.snapshot).pipe(
    Effect.provide(CacheStore.layer({ path, readOnly: true }).pipe(Layer.provide(NodeContext.layer)))
  )

const recordOf = (table: PeerTable.PeerTable, address: string) =>
  Option.map(PeerTable.lookupAddress(table, PeerAddress.unsafeParse(address)), (found) => found.record)

/** Distinct peers of the node's open connections. */
const connectedPeers = (node: Libp2p): Set<string> =>
  new Set(node.getConnections().filter((c) => c.status === "open").map((c) => c.remotePeer.toString()))

let net: Network
let dir: string

beforeAll(async () => {
  // 16 live nodes, 4 stopped (refusing), 3 silent peers, 1 imposter: 24 real libp2p nodes started.
  net = await makeNetwork({ live: 16, stopped: 4, silent: 3 })
  dir = mkdtempSync(join(tmpdir(), "bootstrap-cache-libp2p-"))
}, 60_000)

afterAll(async () => {
  await net?.close()
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

/**
 * A client node whose only discovery is the cache. Loopback addresses are allowed (the network is
 * on 127.0.0.1); exploration is off (`epsilon: 0`) so a warm start is deterministic; the stagger
 * is 1 s so a slow handshake on a loaded machine never starts a sixth dial.
 */
const client = (path: string, list: ReadonlyArray<string>, options: {
  readonly target?: number
  readonly runs: Array<Bootstrap.BootstrapResult>
  readonly events?: Array<Bootstrap.BootstrapEvent>
}) =>
  Effect.promise(() =>
    startNode({
      peerDiscovery: [
        CacheDiscovery.peerDiscovery({
          path,
          list,
          target: options.target ?? 5,
          bootstrap: {
            dialPolicy: { allowLoopback: true },
            timeout: 1_000,
            stagger: 1_000,
            epsilon: 0,
            onEvent: (e) => Effect.sync(() => void options.events?.push(e))
          },
          onRun: (r) => void options.runs.push(r)
        })
      ]
    })
  )

describe("CacheDiscovery on 24 real js-libp2p nodes", () => {
  it.live("a warm start reaches 5 connections with exactly 5 dials and 0 failures, then runs again when one drops", () =>
    Effect.gen(function*() {
      const path = join(dir, "warm.json")
      // Cold: the list (live, stopped, silent, imposter) seeds the cache; dead peers cost dials.
      const coldRuns: Array<Bootstrap.BootstrapResult> = []
      const cold = yield* client(path, net.list, { runs: coldRuns })
      assert.isTrue(yield* eventually(() => coldRuns.length > 0, 15_000), "the cold run ends")
      assert.isAtLeast(coldRuns[0]!.connected.length, 5)
      yield* Effect.log(`cold start: ${coldRuns[0]!.dials} dials, ${coldRuns[0]!.failures} failures, ${coldRuns[0]!.cancelled} cancelled`)
      yield* Effect.promise(async () => cold.stop())

      // Warm: a new node on the same cache file.
      const warmRuns: Array<Bootstrap.BootstrapResult> = []
      const warmEvents: Array<Bootstrap.BootstrapEvent> = []
      const warm = yield* client(path, net.list, { runs: warmRuns, events: warmEvents })
      const discovered = new Set<string>()
      warm.addEventListener("peer:discovery", (e) => void discovered.add(e.detail.id.toString()))
      assert.isTrue(yield* eventually(() => warmRuns.length > 0, 15_000), "the warm run ends")
      const run = warmRuns[0]!
      assert.strictEqual(run.dials, 5)
      assert.strictEqual(run.failures, 0)
      assert.strictEqual(run.connected.length, 5)
      assert.strictEqual(connectedPeers(warm).size, 5)
      assert.isTrue(yield* eventually(() => discovered.size === 5, 2_000), "one peer event per peer reached")

      // One connection drops: the module runs again for the missing peer.
      const [dropped, ...kept] = connectedPeers(warm)
      const mark = warmEvents.length
      yield* Effect.promise(() => warm.hangUp(warm.getConnections().find((c) => c.remotePeer.toString() === dropped)!.remotePeer))
      assert.isTrue(yield* eventually(() => warmRuns.length > 1 && connectedPeers(warm).size === 5, 10_000), "back at 5 peers")
      const again = warmRuns[1]!
      assert.strictEqual(again.target, 1)
      // Connected peers are no candidates: no dial of the second run reaches one of them, and one
      // dial completes for the one missing peer (a second one started by the stagger on a machine
      // too loaded to finish a handshake within 1 s is cancelled when the first connects).
      const started = warmEvents.slice(mark).flatMap((e) => e._tag === "DialStarted" ? [Option.getOrElse(e.address.peerId, () => "")] : [])
      assert.isAtLeast(started.length, 1)
      assert.isTrue(started.every((id) => id !== ""), "the cache's addresses name their peers")
      assert.deepStrictEqual(started.filter((id) => kept.includes(id)), [], "no dial to a connected peer")
      assert.strictEqual(again.dials - again.cancelled, 1, "one dial for one missing peer")
      assert.strictEqual(again.failures, 0)
      yield* Effect.promise(async () => warm.stop())
    }), 60_000)

  it.live("the imposter (a live node listed under another peer's id) is recorded as a failure", () =>
    Effect.gen(function*() {
      const path = join(dir, "imposter.json")
      const runs: Array<Bootstrap.BootstrapResult> = []
      const events: Array<Bootstrap.BootstrapEvent> = []
      const node = yield* client(path, [net.imposter, net.liveAddresses[1]!, net.liveAddresses[2]!], { target: 3, runs, events })
      assert.isTrue(yield* eventually(() => runs.length > 0, 15_000), "the run ends")
      yield* Effect.promise(async () => node.stop())
      assert.strictEqual(runs[0]!.connected.length, 2)
      assert.strictEqual(runs[0]!.failures, 1)
      const failed = events.flatMap((e) => (e._tag === "DialFailed" ? [e] : []))
      assert.deepStrictEqual(failed.map((e) => [e.address.multiaddr, e.error._tag]), [[net.imposter, "DialWrongPeerError"]])
      const record = recordOf(yield* readCache(path), net.imposter)
      assert.isTrue(Option.isSome(record))
      assert.strictEqual(Option.getOrThrow(record).failures, 1)
      assert.strictEqual(Option.getOrThrow(record).successes, 0)
    }), 30_000)

  it.live("outbound connections are recorded as successes, inbound ones only through identify's listen addresses; stop flushes", () =>
    Effect.gen(function*() {
      const path = join(dir, "feed.json")
      const runs: Array<Bootstrap.BootstrapResult> = []
      const node = yield* client(path, [net.liveAddresses[3]!], { target: 1, runs })
      assert.isTrue(yield* eventually(() => runs.length > 0, 15_000), "the run ends")
      const outbound = yield* Effect.promise(() => startNode())
      const inbound = yield* Effect.promise(() => startNode())
      const identified = new Set<string>()
      node.addEventListener("peer:identify", (e) => void identified.add(e.detail.peerId.toString()))
      yield* Effect.promise(() => node.dial(outbound.getMultiaddrs()[0]!))
      yield* Effect.promise(() => inbound.dial(node.getMultiaddrs()[0]!))
      // identify runs on both connections; then stop (which flushes) and read the file.
      assert.isTrue(yield* eventually(() => identified.has(inbound.peerId.toString()), 5_000), "identify of the inbound peer")
      yield* Effect.promise(async () => node.stop())
      const table = yield* readCache(path)
      const [outAddress, inAddress] = [addressOf(outbound), addressOf(inbound)]
      const out = recordOf(table, outAddress)
      const inn = recordOf(table, inAddress)
      yield* Effect.promise(async () => Promise.all([outbound.stop(), inbound.stop()]))
      assert.strictEqual(Option.map(out, (r) => r.successes).pipe(Option.getOrElse(() => -1)), 1, "outbound: a success")
      assert.strictEqual(Option.map(inn, (r) => r.successes).pipe(Option.getOrElse(() => -1)), 0, "inbound: known, no success")
      // Filed under the peer that told it, and its netgroup (addrman's source): not as our own dial.
      const sourcesOf = (address: string) =>
        Option.match(PeerTable.lookupAddress(table, PeerAddress.unsafeParse(address)), { onNone: () => [], onSome: (found) => found.peer.sources })
      assert.deepStrictEqual(sourcesOf(inAddress), [
        { _tag: "connection", via: inbound.peerId.toString(), viaNetgroup: PeerAddress.unsafeParse(inAddress).netgroup }
      ])
      // The outbound peer: our own dial (no `via`), then its own identify.
      assert.deepStrictEqual(sourcesOf(outAddress), [
        { _tag: "connection" },
        { _tag: "connection", via: outbound.peerId.toString(), viaNetgroup: PeerAddress.unsafeParse(outAddress).netgroup }
      ])
      assert.strictEqual(Option.map(recordOf(table, net.liveAddresses[3]!), (r) => r.successes).pipe(Option.getOrElse(() => -1)), 1)
    }), 30_000)

  it.live("a large cache starts from its head: the list is added once the whole table is in, and the stop writes it", () =>
    Effect.gen(function*() {
      const path = join(dir, "large.json")
      // 3,000 peers in private space (never dialled: the target is 0): a version 2 file well past its 64 KB head.
      let table = PeerTable.empty
      for (let i = 0; i < 3_000; i++) {
        table = PeerTable.add(table, PeerAddress.unsafeParse(`/ip4/10.${i >> 8}.${i & 255}.1/tcp/4001`), { now: 0, source: { _tag: "user" } })
      }
      const text = CacheFile.encodeCompact(table, { lastUpdated: Date.now(), hash: CacheStore.sha256 })
      assert.isAbove(text.length, 128 * 1024)
      writeFileSync(path, text)
      const node = yield* client(path, [net.liveAddresses[6]!], { target: 0, runs: [] })
      yield* Effect.promise(async () => node.stop())
      const after = yield* readCache(path)
      assert.strictEqual(PeerTable.size(after), 3_001)
      assert.isTrue(Option.isSome(recordOf(after, net.liveAddresses[6]!)), "the list address is in the file")
    }), 30_000)

  it.live("a cache that cannot be opened fails the node's start with the store's error", () =>
    Effect.gen(function*() {
      const file = join(dir, "not-a-directory")
      writeFileSync(file, "")
      const error = yield* Effect.flip(Effect.tryPromise(() =>
        startNode({ peerDiscovery: [CacheDiscovery.peerDiscovery({ path: join(file, "peers.json"), list: [] })] })
      ))
      const cause = error.cause as { readonly _tag?: string; readonly message?: string }
      assert.strictEqual(cause._tag, "CacheOpenError", String(cause.message))
    }))
})
