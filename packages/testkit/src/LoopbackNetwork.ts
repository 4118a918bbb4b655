/**
 * A real network on loopback: TCP listeners on 127.0.0.1 (OS-chosen ports) with scripted behaviours,
 * for tests and demos of dialing and bootstrapping without touching any other address.
 *
 * | behaviour | what a dialer sees | how it is made |
 * | --------- | ------------------ | -------------- |
 * | `Accept`  | connects at once   | a `node:net` server that accepts and closes each connection |
 * | `Refuse`  | `ECONNREFUSED`     | a free port below the kernel's ephemeral range (nothing listens on it) |
 * | `Hang`    | no answer: the connect times out | a listener whose accept queue is full and never drained |
 * | `Slow`    | connects after ~1 s or ~3 s (the SYN retransmissions of Linux) | like `Hang`, but the queue is drained `delayMs` after each {@link LoopbackNetwork.advance} |
 * | `Flap`    | accepts or refuses, by epoch | a server closed and re-opened on the same port by {@link LoopbackNetwork.advance} |
 * | `Handshake` | connects at once, greets after `delayMs` | a `node:net` server that writes a greeting line `delayMs` after accepting, then closes: a connection set-up (TCP + security + muxer, as libp2p's) that takes that long, for {@link handshakeDialer} |
 *
 * `Hang` and `Slow` are real: their listeners live in a worker thread whose event loop is blocked
 * (`Atomics.wait`) while the kernel accept queue (backlog 1, so two entries on Linux) is held full by
 * two filler connections; the kernel then drops further SYNs, exactly as for an overloaded peer. When
 * a `Slow` gate opens, the worker drains the queue and the dialer's next SYN retransmission (Linux:
 * 1 s, then 3 s, 7 s… after the first) gets through. On other kernels the timing may differ.
 *
 * The network is a scoped resource: closing the scope closes every server, destroys every filler and
 * terminates the workers.
 *
 * @since 0.1.0
 */
import { PeerAddress } from "@bootstrap-cache/core"
import { Dialer } from "@bootstrap-cache/node"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { createHash } from "node:crypto"
import * as Net from "node:net"
import { type Gate, startGate } from "./internal/gate.js"
import { freePort, HOST, listen, reservedPort, type Served, unlisten } from "./internal/served.js"

/**
 * What a listener does (see the module docs).
 *
 * - `Accept`: accepts every connection.
 * - `Refuse`: nothing listens on the port.
 * - `Hang`: never answers.
 * - `Slow`: answers only once its gate opens, `delayMs` (ms, real time) after the network started
 *   or was last advanced.
 * - `Flap`: at epoch `e` (0 at start, +1 per `advance`) it accepts when `pattern[e % pattern.length]`
 *   is true and refuses otherwise.
 * - `Handshake`: accepts every connection and greets it `delayMs` (ms, real time) later.
 *
 * @since 0.1.0
 */
export type Behaviour = Data.TaggedEnum<{
  Accept: {}
  Refuse: {}
  Hang: {}
  Slow: { readonly delayMs: number }
  Flap: { readonly pattern: ReadonlyArray<boolean> }
  Handshake: { readonly delayMs: number }
}>

/**
 * Constructors for {@link Behaviour}: `Behaviour.Accept()`, `Behaviour.Slow({ delayMs: 500 })`, …
 *
 * @since 0.1.0
 */
export const Behaviour = Data.taggedEnum<Behaviour>()

/**
 * One listener.
 *
 * - `index`: its position in the list given to {@link make}.
 * - `port`: its TCP port on 127.0.0.1.
 * - `peerId`: a valid, deterministic peer id (a sha256 multihash of the index, `Qm…`).
 * - `multiaddr`: `/ip4/127.0.0.1/tcp/<port>/p2p/<peerId>`.
 * - `accepted`: connections accepted so far (counted for `Accept` and `Flap`; 0 for the others).
 *
 * @since 0.1.0
 */
export interface Listener {
  readonly index: number
  readonly behaviour: Behaviour
  readonly port: number
  readonly peerId: string
  readonly multiaddr: string
  readonly accepted: Effect.Effect<number>
}

/**
 * A running loopback network.
 *
 * - `listeners`: in the order given.
 * - `epoch`: the current epoch (0 at start).
 * - `advance`: next epoch: flapping listeners open or close per their pattern, slow gates close and
 *   reopen `delayMs` later. Fails with {@link LoopbackNetworkError} when a port cannot be re-bound.
 * - `isUp(index)`: whether the listener would accept a connection now (`Slow`: once its gate is open).
 * - `contacts`: a contacts body listing every listener's multiaddr, one per line.
 *
 * @since 0.1.0
 */
export interface LoopbackNetwork {
  readonly listeners: ReadonlyArray<Listener>
  readonly epoch: Effect.Effect<number>
  readonly advance: Effect.Effect<void, LoopbackNetworkError>
  readonly isUp: (index: number) => Effect.Effect<boolean>
  readonly contacts: string
}

/**
 * The network could not be set up: a listener failed to bind, a worker failed to start, or a port
 * could not be re-bound. `listener` is the index concerned, when there is one.
 *
 * @since 0.1.0
 */
export class LoopbackNetworkError extends Data.TaggedError("LoopbackNetworkError")<{
  readonly reason: string
  readonly listener?: number
}> {
  override get message(): string {
    return `loopback network: ${this.listener === undefined ? "" : `listener ${this.listener}: `}${this.reason}`
  }
}

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

const base58 = (bytes: Uint8Array): string => {
  let n = 0n
  for (const b of bytes) n = n * 256n + BigInt(b)
  let out = ""
  while (n > 0n) {
    out = BASE58[Number(n % 58n)] + out
    n /= 58n
  }
  for (const b of bytes) {
    if (b !== 0) break
    out = "1" + out
  }
  return out
}

/**
 * A deterministic, valid peer id for listener `index`: base58btc of the sha256 multihash
 * (`0x12 0x20 ‖ sha256("loopback-peer-<index>")`), the same shape as an RSA `Qm…` peer id.
 *
 * @since 0.1.0
 */
export const peerIdFor = (index: number): string => {
  const digest = createHash("sha256").update(`loopback-peer-${index}`).digest()
  return base58(Uint8Array.from([0x12, 0x20, ...digest]))
}

/**
 * A deterministic mix of behaviours, shuffled with a seeded generator (mulberry32), e.g.
 * `mix({ accept: 20, refuse: 10, hang: 6, slow: 4, flap: 4 }, 7)`. `slowDelayMs` (default 1 500 ms)
 * is the delay of the `Slow` listeners; `flapPattern` (default up, down, up) that of the `Flap` ones.
 *
 * @since 0.1.0
 */
export const mix = (
  counts: {
    readonly accept?: number
    readonly refuse?: number
    readonly hang?: number
    readonly slow?: number
    readonly flap?: number
    readonly slowDelayMs?: number
    readonly flapPattern?: ReadonlyArray<boolean>
  },
  seed: number
): ReadonlyArray<Behaviour> => {
  const out: Array<Behaviour> = []
  const push = (n: number | undefined, b: Behaviour) => {
    for (let i = 0; i < (n ?? 0); i++) out.push(b)
  }
  push(counts.accept, Behaviour.Accept())
  push(counts.refuse, Behaviour.Refuse())
  push(counts.hang, Behaviour.Hang())
  push(counts.slow, Behaviour.Slow({ delayMs: counts.slowDelayMs ?? 1_500 }))
  push(counts.flap, Behaviour.Flap({ pattern: counts.flapPattern ?? [true, false, true] }))
  const random = mulberry32(seed)
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = out[i]!
    out[i] = out[j]!
    out[j] = t
  }
  return out
}

const mulberry32 = (seed: number) => () => {
  let t = (seed += 0x6d2b79f5)
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const flapUp = (b: Behaviour & { _tag: "Flap" }, epoch: number): boolean =>
  b.pattern.length === 0 ? true : b.pattern[epoch % b.pattern.length] === true

/** A running network's mutable state: what each listener serves, the gates, the slow gates' timers, the epoch. */
interface State {
  readonly behaviours: ReadonlyArray<Behaviour>
  readonly ports: Array<number>
  readonly served: Map<number, Served>
  readonly gates: Array<Gate>
  readonly gateOf: Map<number, Gate>
  readonly slowGates: Array<{ readonly gate: Gate; readonly delayMs: number }>
  readonly timers: Set<NodeJS.Timeout>
  epoch: number
}

/** Runs a promise, failing with {@link LoopbackNetworkError} naming `what` (and the listener). */
const attempt = <A>(what: string, f: () => Promise<A>, listener?: number) =>
  Effect.tryPromise({
    try: f,
    catch: (e) =>
      new LoopbackNetworkError({
        reason: `${what}: ${e instanceof Error ? e.message : String(e)}`,
        ...(listener === undefined ? {} : { listener })
      })
  })

/** Gated listeners: one worker for the Hang ones, one per distinct Slow delay; every gate starts closed. */
const startGates = (state: State) =>
  Effect.gen(function*() {
    const groups = new Map<string, { indices: Array<number>; delayMs: number | undefined }>()
    state.behaviours.forEach((b, i) => {
      if (b._tag !== "Hang" && b._tag !== "Slow") return
      const key = b._tag === "Hang" ? "hang" : `slow:${b.delayMs}`
      const group = groups.get(key) ?? { indices: [], delayMs: b._tag === "Slow" ? b.delayMs : undefined }
      group.indices.push(i)
      groups.set(key, group)
    })
    for (const group of groups.values()) {
      const gate = yield* attempt("worker", () => startGate(group.indices.length))
      state.gates.push(gate)
      group.indices.forEach((index, k) => {
        state.ports[index] = gate.ports[k]!
        state.gateOf.set(index, gate)
      })
      yield* attempt("filling the accept queue", () => gate.close())
      if (group.delayMs !== undefined) state.slowGates.push({ gate, delayMs: group.delayMs })
    }
  })

/** The listeners served in this process (Accept, Flap, Handshake) and the refused ports. */
const startListeners = (state: State) =>
  Effect.gen(function*() {
    for (let i = 0; i < state.behaviours.length; i++) {
      const b = state.behaviours[i]!
      switch (b._tag) {
        case "Accept":
        case "Flap": {
          const s: Served = { server: undefined, accepted: 0, sockets: new Set() }
          state.served.set(i, s)
          // A flapping listener is closed and re-opened on its port: keep it out of the ephemeral range.
          state.ports[i] = yield* attempt("listen", () => (b._tag === "Flap" ? reservedPort((port) => listen(s, port)) : listen(s, 0)), i)
          if (b._tag === "Flap" && !flapUp(b, 0)) yield* Effect.promise(() => unlisten(s))
          break
        }
        case "Handshake": {
          const s: Served = { server: undefined, accepted: 0, sockets: new Set() }
          state.served.set(i, s)
          state.ports[i] = yield* attempt("listen", () => listen(s, 0, b.delayMs), i)
          break
        }
        case "Refuse":
          state.ports[i] = yield* attempt("reserving a refused port", freePort, i)
          break
      }
    }
  })

/** Opens each slow gate `delayMs` after now. */
const scheduleSlow = (state: State): void => {
  for (const { delayMs, gate } of state.slowGates) {
    const t = setTimeout(() => {
      state.timers.delete(t)
      gate.open()
    }, delayMs)
    state.timers.add(t)
  }
}

/** The next epoch: flapping listeners follow their pattern, slow gates close and reopen after their delay. */
const advance = (state: State) =>
  Effect.gen(function*() {
    state.epoch++
    for (const t of state.timers) clearTimeout(t)
    state.timers.clear()
    for (const [index, s] of state.served) {
      const b = state.behaviours[index]!
      if (b._tag !== "Flap") continue
      const up = flapUp(b, state.epoch)
      if (up && s.server === undefined) yield* attempt("re-binding", () => listen(s, state.ports[index]!), index)
      if (!up && s.server !== undefined) yield* Effect.promise(() => unlisten(s))
    }
    for (const { gate } of state.slowGates) yield* attempt("filling the accept queue", () => gate.close())
    scheduleSlow(state)
  })

/** Whether a listener accepts connections now. */
const isUp = (state: State, index: number): boolean => {
  const b = state.behaviours[index]
  if (b === undefined) return false
  switch (b._tag) {
    case "Accept":
    case "Handshake":
      return true
    case "Flap":
      return state.served.get(index)?.server !== undefined
    case "Slow":
      return state.gateOf.get(index)?.isOpen() === true
    default:
      return false
  }
}

/**
 * Starts the listeners on 127.0.0.1 (see {@link Behaviour}). Slow gates start closed and open
 * `delayMs` after start. Fails with {@link LoopbackNetworkError} when a listener cannot bind or a
 * worker cannot start.
 *
 * @since 0.1.0
 */
export const make = (
  behaviours: ReadonlyArray<Behaviour>
): Effect.Effect<LoopbackNetwork, LoopbackNetworkError, Scope.Scope> =>
  Effect.gen(function*() {
    const state: State = {
      behaviours,
      ports: new Array<number>(behaviours.length),
      served: new Map(),
      gates: [],
      gateOf: new Map(),
      slowGates: [],
      timers: new Set(),
      epoch: 0
    }
    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        for (const t of state.timers) clearTimeout(t)
        for (const s of state.served.values()) await unlisten(s)
        for (const g of state.gates) await g.dispose()
      })
    )
    yield* startGates(state)
    yield* startListeners(state)
    scheduleSlow(state)
    const listeners: Array<Listener> = behaviours.map((behaviour, index) => {
      const peerId = peerIdFor(index)
      const port = state.ports[index]!
      return {
        index,
        behaviour,
        port,
        peerId,
        multiaddr: `/ip4/${HOST}/tcp/${port}/p2p/${peerId}`,
        accepted: Effect.sync(() => state.served.get(index)?.accepted ?? 0)
      }
    })
    return {
      listeners,
      epoch: Effect.sync(() => state.epoch),
      advance: advance(state),
      isUp: (index: number) => Effect.sync(() => isUp(state, index)),
      contacts: listeners.map((l) => l.multiaddr).join("\n") + "\n"
    }
  })

// ---------------------------------------------------------------------------------------------------
// A dialer that waits for the handshake
// ---------------------------------------------------------------------------------------------------

/**
 * Dials a TCP address and waits for the peer's first bytes, as a libp2p dial waits for the security
 * and muxer handshakes: succeeds with the set-up time in ms (connect to first byte), fails with
 * `DialRefusedError` (ECONNREFUSED), `DialUnreachableError` (any other socket error, or a connection
 * closed before any byte) or `UnsupportedTransportError` (not TCP). Against a `Handshake` listener the
 * set-up time is its `delayMs`. The socket is closed at the end, and when the dial is interrupted.
 *
 * @category dialers
 * @since 0.1.0
 */
export const handshakeDial: Dialer.Dial = (address) =>
  Effect.suspend(() => {
    const endpoint = Option.getOrUndefined(PeerAddress.tcpEndpoint(address))
    if (endpoint === undefined) {
      return Effect.fail(new Dialer.UnsupportedTransportError({ address: address.multiaddr, transport: address.transport }))
    }
    return Effect.gen(function*() {
      const start = yield* Clock.currentTimeNanos
      yield* Effect.async<void, Dialer.DialError>((resume) => {
        const socket = Net.connect({ host: endpoint.host, port: endpoint.port })
        const fail = (code: string, detail: string) => {
          socket.destroy()
          resume(Effect.fail(
            code === "ECONNREFUSED"
              ? new Dialer.DialRefusedError({ address: address.multiaddr, code })
              : new Dialer.DialUnreachableError({ address: address.multiaddr, code, detail })
          ))
        }
        socket.once("data", () => {
          socket.destroy()
          resume(Effect.void)
        })
        socket.once("end", () => fail("ECONNRESET", "closed before the handshake"))
        socket.once("error", (e: NodeJS.ErrnoException) => fail(e.code ?? "EUNKNOWN", e.message))
        return Effect.sync(() => socket.destroy())
      })
      return Number((yield* Clock.currentTimeNanos) - start) / 1e6
    })
  })

/**
 * A `Dialer` over {@link handshakeDial} (TCP addresses only).
 *
 * @category dialers
 * @since 0.1.0
 */
export const handshakeDialer: Layer.Layer<Dialer.Dialer> = Dialer.layerFrom(handshakeDial, Dialer.supportsTcp)
