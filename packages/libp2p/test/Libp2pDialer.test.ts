import { PeerAddress } from "@bootstrap-cache/core"
import { Dialer } from "@bootstrap-cache/node"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { Libp2p } from "@libp2p/interface"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { Libp2pDialer } from "../src/index.js"
import { makeNetwork, type Network, silentPeer, startNode } from "./fixtures/network.js"

/** Polls `f` every 20 ms until it holds, for at most `ms` (real I/O, bounded). */
const eventually = (f: () => boolean, ms: number) =>
  Effect.promise(async () => {
    const until = Date.now() + ms
    while (!f() && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
    return f()
  })

let net: Network
let client: Libp2p

beforeAll(async () => {
  net = await makeNetwork({ live: 3, stopped: 1, silent: 1 })
  client = await startNode()
}, 30_000)

afterAll(async () => {
  await client?.stop()
  await net?.close()
})

const dial = (address: string, timeoutMs = 2_000, node: Libp2p = client) =>
  Libp2pDialer.fromNode(node).dial(PeerAddress.unsafeParse(address), timeoutMs)

const peerOf = (address: string) => address.split("/p2p/")[1]!

describe("Libp2pDialer", () => {
  it.live("succeeds with an authenticated connection to the peer the address names", () =>
    Effect.gen(function*() {
      const rtt = yield* dial(net.liveAddresses[1]!)
      assert.isAtLeast(rtt, 0)
      const peers = client.getConnections().map((c) => c.remotePeer.toString())
      assert.include(peers, peerOf(net.liveAddresses[1]!))
    }))

  it.live("a peer already connected is not dialled again (local, not counted)", () =>
    Effect.gen(function*() {
      yield* dial(net.liveAddresses[2]!)
      const error = yield* Effect.flip(dial(net.liveAddresses[2]!))
      assert.strictEqual(error._tag, "DialLocalError")
      assert.strictEqual(error._tag === "DialLocalError" && error.reason, "connected")
      assert.isFalse(Dialer.isPeerFailure(error))
    }))

  it.live("a stopped node refuses: DialRefusedError, counted against the address", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(dial(net.stoppedAddresses[0]!))
      assert.strictEqual(error._tag, "DialRefusedError")
      assert.strictEqual(error.address, net.stoppedAddresses[0])
      assert.isTrue(Dialer.isPeerFailure(error))
    }))

  it.live("an imposter fails with DialWrongPeerError naming both ids, and leaves no connection", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(dial(net.imposter))
      assert.strictEqual(error._tag, "DialWrongPeerError")
      if (error._tag !== "DialWrongPeerError") return
      assert.strictEqual(error.expected, peerOf(net.imposter))
      assert.strictEqual(error.actual, peerOf(net.liveAddresses[0]!))
      assert.isTrue(Dialer.isPeerFailure(error))
      const peers = client.getConnections().map((c) => c.remotePeer.toString())
      assert.notInclude(peers, peerOf(net.liveAddresses[0]!))
    }))

  it.live("a silent peer times out: DialTimeoutError after the dial timeout", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(dial(net.silentAddresses[0]!, 300))
      assert.strictEqual(error._tag, "DialTimeoutError")
      assert.strictEqual(error._tag === "DialTimeoutError" && error.timeoutMs, 300)
      assert.isTrue(Dialer.isPeerFailure(error))
    }))

  it.live("a transport the node lacks is a local failure, never counted", () =>
    Effect.gen(function*() {
      const id = peerOf(net.liveAddresses[0]!)
      for (const address of [`/ip4/127.0.0.1/udp/4001/quic-v1/p2p/${id}`, `/ip4/127.0.0.1/tcp/4001/ws/p2p/${id}`]) {
        const error = yield* Effect.flip(dial(address))
        assert.strictEqual(error._tag, "DialLocalError")
        assert.strictEqual(error._tag === "DialLocalError" && error.reason, "no-transport")
        assert.isFalse(Dialer.isPeerFailure(error))
      }
    }))

  it.live("a dial the connection gater blocks is a local failure, never counted", () =>
    Effect.gen(function*() {
      const gated = yield* Effect.promise(() => startNode({ connectionGater: { denyDialMultiaddr: () => true } }))
      const error = yield* Effect.flip(dial(net.liveAddresses[0]!, 2_000, gated))
      yield* Effect.promise(async () => gated.stop())
      assert.strictEqual(error._tag, "DialLocalError")
      assert.strictEqual(error._tag === "DialLocalError" && error.reason, "gated")
      assert.isFalse(Dialer.isPeerFailure(error))
    }))

  it.live("a dial failing while the node stops is a local failure, never counted", () =>
    Effect.gen(function*() {
      const node = yield* Effect.promise(() => startNode())
      const silent = yield* Effect.promise(() => silentPeer())
      const fiber = yield* Effect.fork(Effect.flip(dial(`/ip4/127.0.0.1/tcp/${silent.port}/p2p/${peerOf(net.stoppedAddresses[0]!)}`, 5_000, node)))
      assert.isTrue(yield* eventually(() => silent.accepted() === 1, 2_000))
      yield* Effect.promise(async () => node.stop())
      const error = yield* Fiber.join(fiber)
      yield* Effect.promise(() => silent.close())
      assert.strictEqual(error._tag, "DialLocalError")
      assert.strictEqual(error._tag === "DialLocalError" && error.reason, "stopping")
      assert.isFalse(Dialer.isPeerFailure(error))
    }))

  it.live("an interrupted dial reaches libp2p and opens no connection; the half-open socket is measured", () =>
    Effect.gen(function*() {
      const node = yield* Effect.promise(() => startNode())
      const silent = yield* Effect.promise(() => silentPeer())
      const ghost = peerOf(net.stoppedAddresses[0]!)
      const address = `/ip4/127.0.0.1/tcp/${silent.port}/p2p/${ghost}`
      const fiber = yield* Effect.fork(dial(address, 10_000, node))
      // The TCP connection is up and the noise handshake waits on the silent peer: interrupt now.
      assert.isTrue(yield* eventually(() => silent.accepted() === 1, 2_000))
      const started = Date.now()
      yield* Fiber.interrupt(fiber)
      const interruptMs = Date.now() - started
      assert.isBelow(interruptMs, 1_000, "interruption waits for nothing")
      assert.deepStrictEqual(node.getConnections().map((c) => c.remotePeer.toString()), [])
      // libp2p aborts the upgrade and resets the TCP socket (`resetAndDestroy`): the peer sees it closed.
      const closed = yield* eventually(() => silent.open() === 0, 2_000)
      yield* Effect.log(`socket of the aborted dial closed at the peer after ${Date.now() - started} ms`)
      assert.isTrue(closed, "libp2p leaves no half-open socket behind")
      assert.deepStrictEqual(node.getConnections(), [])
      yield* Effect.promise(async () => node.stop())
      yield* Effect.promise(() => silent.close())
    }))
})
