import { PeerAddress } from "@bootstrap-cache/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Net from "node:net"
import { Behaviour, handshakeDial, make, mix, peerIdFor } from "../src/LoopbackNetwork.js"

/** A raw TCP connect to 127.0.0.1:port: "connected", or the error code; interruption destroys the socket. */
const connect = (port: number) =>
  Effect.async<string>((resume) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed("connected"))
    })
    socket.once("error", (e: NodeJS.ErrnoException) => {
      socket.destroy()
      resume(Effect.succeed(e.code ?? "error"))
    })
    return Effect.sync(() => socket.destroy())
  })

describe("LoopbackNetwork", () => {
  it.scopedLive("Handshake greets after its set-up time; the handshake dialer measures it, and fails on a connection closed without one", () =>
    Effect.gen(function*() {
      const net = yield* make([Behaviour.Handshake({ delayMs: 300 }), Behaviour.Accept(), Behaviour.Refuse()])
      const [slow, silent, refused] = net.listeners.map((l) => PeerAddress.unsafeParse(l.multiaddr))
      const setupMs = yield* handshakeDial(slow!, 5_000)
      assert.isAtLeast(setupMs, 290)
      assert.isBelow(setupMs, 5_000)
      assert.strictEqual(yield* net.isUp(0), true)
      const closed = yield* Effect.flip(handshakeDial(silent!, 5_000))
      assert.strictEqual(closed._tag, "DialUnreachableError")
      const refusal = yield* Effect.flip(handshakeDial(refused!, 5_000))
      assert.strictEqual(refusal._tag, "DialRefusedError")
    }))

  it.scopedLive("Accept connects, Refuse refuses, Hang never answers (bounded wait)", () =>
    Effect.gen(function*() {
      const net = yield* make([Behaviour.Accept(), Behaviour.Refuse(), Behaviour.Hang()])
      const [accept, refuse, hang] = net.listeners
      assert.strictEqual(yield* connect(accept!.port), "connected")
      assert.strictEqual(yield* connect(refuse!.port), "ECONNREFUSED")
      const pending = yield* connect(hang!.port).pipe(Effect.timeoutTo({
        duration: "300 millis",
        onTimeout: () => "pending",
        onSuccess: (s) => s
      }))
      assert.strictEqual(pending, "pending")
      // The accept counter counts real connections.
      assert.strictEqual(yield* accept!.accepted, 1)
      assert.isFalse(yield* net.isUp(2))
    }))

  it.scopedLive("Slow answers once its gate opens; Flap follows its pattern across advance", () =>
    Effect.gen(function*() {
      // The gate opens 400 ms after start (and after each advance): well before the first SYN
      // retransmission (1 s), and long enough that the isUp checks right after start and advance
      // (no I/O in between) cannot race the timer.
      const net = yield* make([Behaviour.Slow({ delayMs: 400 }), Behaviour.Flap({ pattern: [true, false] })])
      const [slow, flap] = net.listeners
      assert.isFalse(yield* net.isUp(0))
      // The first SYN is dropped; a retransmission after the gate opens gets through (bounded).
      const slowResult = yield* connect(slow!.port).pipe(Effect.timeoutTo({
        duration: "8 seconds",
        onTimeout: () => "timeout",
        onSuccess: (s) => s
      }))
      assert.strictEqual(slowResult, "connected")
      assert.isTrue(yield* net.isUp(0))

      assert.strictEqual(yield* connect(flap!.port), "connected")
      yield* net.advance
      // The slow gate closed again (checked before any I/O, so before its timer can reopen it).
      assert.isFalse(yield* net.isUp(0))
      assert.strictEqual(yield* net.epoch, 1)
      assert.strictEqual(yield* connect(flap!.port), "ECONNREFUSED")
      yield* net.advance
      assert.strictEqual(yield* connect(flap!.port), "connected")
      assert.strictEqual(yield* flap!.accepted, 2)
    }), 15_000)

  it.scopedLive("lists every listener as a parseable loopback multiaddr with a distinct peer id", () =>
    Effect.gen(function*() {
      const net = yield* make(mix({ accept: 3, refuse: 2, hang: 1 }, 1))
      const lines = net.contacts.trim().split("\n")
      assert.strictEqual(lines.length, 6)
      const parsed = lines.map(PeerAddress.parse)
      assert.isTrue(parsed.every(Either.isRight))
      const addresses = parsed.map((p) => Either.getOrThrow(p))
      assert.isTrue(addresses.every((a) => a.scope === "loopback" && a.transport === "tcp"))
      assert.strictEqual(new Set(addresses.map((a) => a.key)).size, 6)
      assert.strictEqual(new Set(net.listeners.map((l) => l.peerId)).size, 6)
    }))

  it("mix is deterministic for a seed and keeps the counts", () => {
    const a = mix({ accept: 5, refuse: 3, hang: 2, slow: 1, flap: 1 }, 42)
    const b = mix({ accept: 5, refuse: 3, hang: 2, slow: 1, flap: 1 }, 42)
    assert.deepStrictEqual(a.map((x) => x._tag), b.map((x) => x._tag))
    assert.strictEqual(a.filter((x) => x._tag === "Refuse").length, 3)
    assert.strictEqual(a.length, 12)
    assert.notDeepEqual(a.map((x) => x._tag), mix({ accept: 5, refuse: 3, hang: 2, slow: 1, flap: 1 }, 43).map((x) => x._tag))
    assert.match(peerIdFor(0), /^Qm/)
  })
})
