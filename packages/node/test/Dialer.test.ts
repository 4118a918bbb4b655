import { PeerAddress } from "@bootstrap-cache/core"
import { LoopbackNetwork } from "@bootstrap-cache/testkit"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as Net from "node:net"
import * as Dialer from "../src/Dialer.js"
import * as Protection from "../src/Protection.js"

const { Behaviour } = LoopbackNetwork

const dial = (multiaddr: string, timeout: number) =>
  Effect.flatMap(Dialer.Dialer, (d) => d.dial(PeerAddress.unsafeParse(multiaddr), timeout)).pipe(
    Effect.provide(Dialer.layer)
  )

describe("Dialer (node:net)", () => {
  it.scopedLive("connects to a listening port and reports a non-negative set-up time in ms", () =>
    Effect.gen(function*() {
      const net = yield* LoopbackNetwork.make([Behaviour.Accept()])
      const listener = net.listeners[0]!
      const rtt = yield* dial(listener.multiaddr, 2_000)
      assert.isAtLeast(rtt, 0)
      assert.isBelow(rtt, 2_000)
      assert.strictEqual(yield* listener.accepted, 1)
    }))

  it.scopedLive("a closed port fails with DialRefusedError naming the address", () =>
    Effect.gen(function*() {
      const net = yield* LoopbackNetwork.make([Behaviour.Refuse()])
      const ma = `/ip4/127.0.0.1/tcp/${net.listeners[0]!.port}`
      const error = yield* Effect.flip(dial(ma, 2_000))
      assert.strictEqual(error._tag, "DialRefusedError")
      assert.strictEqual(error.address, ma)
      assert.include(error.message, ma)
    }))

  it.scopedLive("a listener that never answers fails with DialTimeoutError after the timeout", () =>
    Effect.gen(function*() {
      const net = yield* LoopbackNetwork.make([Behaviour.Hang()])
      const error = yield* Effect.flip(dial(net.listeners[0]!.multiaddr, 250))
      assert.strictEqual(error._tag, "DialTimeoutError")
      assert.strictEqual(error._tag === "DialTimeoutError" && error.timeoutMs, 250)
      assert.include(error.message, net.listeners[0]!.multiaddr)
    }))

  it.effect("other transports fail with UnsupportedTransportError without any I/O", () =>
    Effect.gen(function*() {
      for (const [ma, transport] of [
        ["/ip4/1.2.3.4/udp/4001/quic-v1", "udp/quic-v1"],
        ["/dns4/example.com/tcp/443/wss", "tcp/wss"],
        ["/dnsaddr/bootstrap.libp2p.io", ""]
      ] as const) {
        const error = yield* Effect.flip(dial(ma, 1_000))
        assert.strictEqual(error._tag, "UnsupportedTransportError")
        assert.strictEqual(error._tag === "UnsupportedTransportError" && error.transport, transport)
        assert.isFalse(Dialer.isPeerFailure(error))
      }
      assert.isTrue(Dialer.supportsTcp(PeerAddress.unsafeParse("/dns6/example.com/tcp/1/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN")))
      assert.isFalse(Dialer.supportsTcp(PeerAddress.unsafeParse("/ip4/1.2.3.4/udp/4001/quic-v1")))
    }))

  it("a wrong peer counts against the address; a local failure never does", () => {
    const address = "/ip4/127.0.0.1/tcp/4001/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN"
    const wrong = new Dialer.DialWrongPeerError({ address, expected: "QmNnoo", actual: "12D3Koo" })
    assert.isTrue(Dialer.isPeerFailure(wrong))
    assert.include(wrong.message, "12D3Koo")
    for (const reason of ["no-transport", "gated", "stopping", "limit", "self", "connected"] as const) {
      const local = new Dialer.DialLocalError({ address, reason, detail: "x" })
      assert.isFalse(Dialer.isPeerFailure(local))
      assert.include(local.message, reason)
    }
    for (const e of [
      new Dialer.DialRefusedError({ address, code: "ECONNREFUSED" }),
      new Dialer.DialTimeoutError({ address, timeoutMs: 1 }),
      new Dialer.DialUnreachableError({ address, code: "EHOSTUNREACH", detail: "" })
    ]) assert.isTrue(Dialer.isPeerFailure(e))
  })

  it.scopedLive("dns4 resolves (localhost → 127.0.0.1) and connects", () =>
    Effect.gen(function*() {
      const net = yield* LoopbackNetwork.make([Behaviour.Accept()])
      const rtt = yield* dial(`/dns4/localhost/tcp/${net.listeners[0]!.port}`, 2_000)
      assert.isAtLeast(rtt, 0)
      assert.strictEqual(yield* net.listeners[0]!.accepted, 1)
    }))

  it.scopedLive("interrupting tcpProbe while its SYN goes unanswered destroys its socket", () =>
    Effect.gen(function*() {
      const net = yield* LoopbackNetwork.make([Behaviour.Hang()])
      const sockets = () => process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length
      /** Waits (bounded, real time) until the number of open TCP sockets of this process is `n`. */
      const awaitSockets = (n: number) =>
        Effect.async<void>((resume) => {
          const check = () => (sockets() === n ? resume(Effect.void) : void setTimeout(check, 5))
          check()
        }).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => `open sockets never reached ${n}: ${sockets()}` }))
      const before = sockets()
      const fiber = yield* Effect.fork(Dialer.tcpProbe(PeerAddress.unsafeParse(net.listeners[0]!.multiaddr)))
      yield* awaitSockets(before + 1)
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      yield* awaitSockets(before)
    }))

  it.live("interrupting a dial of make interrupts the dial function (its finalizer closes the connection)", () =>
    Effect.gen(function*() {
      // A server that counts closed connections; the dial is interrupted while the probe waits.
      let closed = 0
      const server = Net.createServer((s) => {
        s.on("error", () => {})
        s.on("close", () => closed++)
      })
      yield* Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void)))
      const port = (server.address() as Net.AddressInfo).port
      // A probe that connects, then never completes: only interruption can end it.
      const hanging = Dialer.make((address) =>
        Effect.async<number>(() => {
          const socket = Net.connect({ host: address.host, port })
          socket.on("error", () => {})
          return Effect.sync(() => socket.destroy())
        })
      )
      const fiber = yield* Effect.fork(hanging.dial(PeerAddress.unsafeParse(`/ip4/127.0.0.1/tcp/${port}`), 60_000))
      yield* Effect.async<void>((resume) => void server.once("connection", () => resume(Effect.void)))
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      yield* Effect.async<void>((resume) => {
        const check = () => (closed > 0 ? resume(Effect.void) : setImmediate(check))
        check()
      }).pipe(Effect.timeout("5 seconds"))
      assert.strictEqual(closed, 1)
      server.close()
    }))

  it.effect("make enforces the timeout on a custom dial function (TestClock)", () =>
    Effect.gen(function*() {
      const slow = Dialer.make(() => Effect.as(Effect.sleep("10 seconds"), 1))
      const fiber = yield* Effect.fork(Effect.flip(slow.dial(PeerAddress.unsafeParse("/ip4/1.2.3.4/tcp/1"), "2 seconds")))
      yield* TestClock.adjust("2 seconds")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "DialTimeoutError")
    }))
})

describe("Dialer.breakerDefaults", () => {
  const address = "/ip4/127.0.0.1/tcp/1"
  const failures = (error: Dialer.DialError) =>
    Effect.gen(function*() {
      const protection = yield* Protection.make(Dialer.breakerDefaults({}))
      for (let i = 0; i < 20; i++) yield* Effect.exit(protection.execute(address, Effect.fail(error)))
      return (yield* protection.status(address)).phase
    })

  it.scoped("local dial failures never open an address's breaker; the peer's own failures do", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* failures(new Dialer.DialLocalError({ address, reason: "stopping", detail: "node stopping" })), "closed")
      assert.strictEqual(yield* failures(new Dialer.UnsupportedTransportError({ address, transport: "udp/quic-v1" })), "closed")
      assert.strictEqual(yield* failures(new Dialer.DialRefusedError({ address, code: "ECONNREFUSED" })), "open")
    }))

  it("keeps an isExcluded the caller chose", () => {
    const mine = () => false
    assert.strictEqual(Dialer.breakerDefaults({ breaker: { isExcluded: mine } }).breaker.isExcluded, mine)
    assert.strictEqual(Dialer.breakerDefaults({}).breaker.isExcluded, Dialer.isLocalFailure)
  })
})
