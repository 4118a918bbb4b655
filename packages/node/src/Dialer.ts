/**
 * The dialer: opens a connection to a peer address and reports the round-trip time of the
 * connection set-up, or why it failed.
 *
 * The Node implementation ({@link layer}) is a liveness probe: a TCP connection (`node:net`) to
 * `/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>[/p2p/<id>]`, closed as soon as it is established. Other
 * transports (QUIC, WebSocket, WebTransport, `/dnsaddr`, relayed addresses) fail with
 * {@link UnsupportedTransportError}: an application that speaks them plugs in its own dialer (for
 * example one built on libp2p's `dial`) with {@link make} / {@link layerFrom}.
 *
 * Every error names the address (its canonical multiaddr) so logs and CLI output can say which peer
 * failed and why.
 *
 * @since 0.1.0
 */
import { PeerAddress } from "@bootstrap-cache/core"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Net from "node:net"

// ---------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------

/**
 * The peer actively refused the connection (TCP RST: nothing listens on the port, `ECONNREFUSED`).
 *
 * @since 0.1.0
 */
export class DialRefusedError extends Schema.TaggedError<DialRefusedError>()("DialRefusedError", {
  address: Schema.String,
  code: Schema.String
}) {
  override get message(): string {
    return `dial ${this.address}: connection refused (${this.code})`
  }
}

/**
 * The connection was not established within the dial timeout (ms). A host that drops packets
 * (a firewall, an overloaded peer whose accept queue is full) ends here.
 *
 * @since 0.1.0
 */
export class DialTimeoutError extends Schema.TaggedError<DialTimeoutError>()("DialTimeoutError", {
  address: Schema.String,
  timeoutMs: Schema.Number
}) {
  override get message(): string {
    return `dial ${this.address}: no connection within ${this.timeoutMs} ms`
  }
}

/**
 * The host could not be reached: DNS failure (`ENOTFOUND`, `EAI_AGAIN`), no route (`EHOSTUNREACH`,
 * `ENETUNREACH`), reset during set-up, or any other OS error. `code` is the OS / resolver error code
 * and `detail` its message.
 *
 * @since 0.1.0
 */
export class DialUnreachableError extends Schema.TaggedError<DialUnreachableError>()("DialUnreachableError", {
  address: Schema.String,
  code: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `dial ${this.address}: unreachable (${this.code}: ${this.detail})`
  }
}

/**
 * This dialer does not speak the address's transport (`transport` as in `PeerAddress.transport`, e.g.
 * `udp/quic-v1`; `""` for `/dnsaddr`; `p2p-circuit` for relayed addresses). Not a fact about the
 * peer: callers should not count it as a failed dial.
 *
 * @since 0.1.0
 */
export class UnsupportedTransportError extends Schema.TaggedError<UnsupportedTransportError>()(
  "UnsupportedTransportError",
  {
    address: Schema.String,
    transport: Schema.String
  }
) {
  override get message(): string {
    return `dial ${this.address}: transport ${JSON.stringify(this.transport)} is not supported by this dialer`
  }
}

/**
 * The address answered, but the authenticated peer is not the one its `/p2p/<id>` names (`expected`)
 * — `actual` is the peer id the remote proved in the secure handshake (libp2p's
 * `UnexpectedPeerError`, the noise / TLS handshake check). A stale address whose port now belongs to
 * another peer, or an imposter: either way the address does not lead to its peer, so it is counted
 * against the address.
 *
 * @since 0.1.0
 */
export class DialWrongPeerError extends Schema.TaggedError<DialWrongPeerError>()("DialWrongPeerError", {
  address: Schema.String,
  expected: Schema.String,
  actual: Schema.String
}) {
  override get message(): string {
    return `dial ${this.address}: answered by peer ${this.actual}, not ${this.expected}`
  }
}

/**
 * Why a dial failed on this side before the peer had a say (see {@link DialLocalError}):
 * - `no-transport`: the local node has no transport for the address (libp2p `NoValidAddressesError`,
 *   `TransportUnavailableError`);
 * - `gated`: the local connection gater or deny list blocked the dial (libp2p `DialDeniedError`);
 * - `stopping`: the local node is not started or is shutting down (libp2p `NotStartedError`);
 * - `limit`: a local limit refused the dial (connection manager / dial queue full, resource limits);
 * - `self`: the address is this node's own (libp2p `InvalidPeerIdError` "Can not dial self");
 * - `connected`: the peer is already connected, so dialing it again would prove nothing about the
 *   address and add no peer (a dialer may refuse such a dial rather than reuse the connection).
 *
 * @since 0.1.0
 */
export const DialLocalReason = Schema.Literal("no-transport", "gated", "stopping", "limit", "self", "connected")

/**
 * @since 0.1.0
 */
export type DialLocalReason = typeof DialLocalReason.Type

/**
 * A dial that failed for a local reason ({@link DialLocalReason}), with the underlying error's
 * name and message in `detail`. Not a fact about the peer: {@link isPeerFailure} is false, so it is
 * never recorded against the address.
 *
 * @since 0.1.0
 */
export class DialLocalError extends Schema.TaggedError<DialLocalError>()("DialLocalError", {
  address: Schema.String,
  reason: DialLocalReason,
  detail: Schema.String
}) {
  override get message(): string {
    return `dial ${this.address}: not attempted here (${this.reason}: ${this.detail})`
  }
}

/**
 * Every way a dial can fail.
 *
 * @since 0.1.0
 */
export type DialError =
  | DialRefusedError
  | DialTimeoutError
  | DialUnreachableError
  | DialWrongPeerError
  | UnsupportedTransportError
  | DialLocalError

/**
 * Whether a dial error says something about the peer or its address (refused, timeout, unreachable,
 * wrong peer), as opposed to this side's limits (unsupported transport, a local failure). Only the
 * former should be recorded as failures.
 *
 * @since 0.1.0
 */
export const isPeerFailure = (error: DialError): boolean =>
  error._tag !== "UnsupportedTransportError" && error._tag !== "DialLocalError"

/**
 * Whether `error` (any value a protected dial can fail with) is a {@link DialError} that is not the
 * peer's fault (an unsupported transport, a {@link DialLocalError}). It is the `isExcluded` rule
 * (gobreaker v2 `IsExcluded`: counted as neither success nor failure) for breakers keyed by address,
 * so a stopping node or a gater never opens a healthy peer's breaker; see {@link breakerDefaults}.
 *
 * @since 0.1.0
 * @category errors
 */
export const isLocalFailure = (error: unknown): boolean =>
  typeof error === "object" && error !== null &&
  ((error as { _tag?: unknown })._tag === "UnsupportedTransportError" ||
    (error as { _tag?: unknown })._tag === "DialLocalError")

/**
 * `options` for per-address breakers with {@link isLocalFailure} as their `breaker.isExcluded` when
 * the caller set none, so only failures that are the peer's count towards opening its breaker.
 * The facade (`BootstrapCache.layer`) and the libp2p discovery build their `Protection` this way.
 *
 * @since 0.1.0
 * @category protection
 */
export const breakerDefaults = <O extends { readonly breaker?: { readonly isExcluded?: (error: unknown) => boolean } }>(
  options: O
): O & { readonly breaker: { readonly isExcluded: (error: unknown) => boolean } } =>
  ({ ...options, breaker: { isExcluded: isLocalFailure, ...options.breaker } }) as O & {
    readonly breaker: { readonly isExcluded: (error: unknown) => boolean }
  }

// ---------------------------------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------------------------------

/**
 * A dial function: connects to `address` within `timeout` and succeeds with the connection set-up
 * time in ms (from the start of the dial to the connection being established), or fails with a
 * {@link DialError} naming the address. Interrupting it must abort the attempt and release its
 * resources.
 *
 * @since 0.1.0
 */
export type Dial = (
  address: PeerAddress.PeerAddress,
  timeout: Duration.DurationInput
) => Effect.Effect<number, DialError>

/**
 * The dialer service.
 *
 * - `dial(address, timeout)`: see {@link Dial}.
 * - `supports(address)`: whether this dialer speaks the address's transport at all; the bootstrap
 *   dials only addresses it supports, so an unsupported address is never counted against its peer.
 *
 * @since 0.1.0
 */
export class Dialer extends Context.Tag("@bootstrap-cache/node/Dialer")<Dialer, {
  readonly dial: Dial
  readonly supports: (address: PeerAddress.PeerAddress) => boolean
}>() {}

/**
 * A dialer from a dial function and the predicate of the addresses it supports (default: all).
 * The timeout is enforced here (the function need not enforce it): an attempt still running after
 * `timeout` is interrupted and fails with {@link DialTimeoutError}.
 *
 * @since 0.1.0
 */
export const make = (dial: Dial, supports: (address: PeerAddress.PeerAddress) => boolean = () => true): Dialer["Type"] =>
  Dialer.of({
    supports,
    dial: (address, timeout) => {
      const timeoutMs = Duration.toMillis(Duration.decode(timeout))
      return dial(address, timeout).pipe(
        Effect.timeoutFail({
          duration: Duration.millis(timeoutMs),
          onTimeout: () => new DialTimeoutError({ address: address.multiaddr, timeoutMs })
        })
      )
    }
  })

/**
 * A Layer of {@link Dialer} from a dial function (see {@link make}): how an application plugs in its
 * own transport (libp2p, QUIC, WebSocket…).
 *
 * @since 0.1.0
 */
export const layerFrom = (
  dial: Dial,
  supports?: (address: PeerAddress.PeerAddress) => boolean
): Layer.Layer<Dialer> => Layer.succeed(Dialer, make(dial, supports))

const REFUSED = new Set(["ECONNREFUSED"])

const errnoOf = (e: unknown): { code: string; detail: string } => {
  const code = typeof e === "object" && e !== null && typeof (e as { code?: unknown }).code === "string"
    ? (e as { code: string }).code
    : "EUNKNOWN"
  return { code, detail: e instanceof Error ? e.message : String(e) }
}

/**
 * The TCP liveness probe: connects to the address's TCP endpoint (`PeerAddress.tcpEndpoint`) with
 * `node:net`, and destroys the socket as soon as it is connected. `dns4` / `dns6` hosts resolve to
 * IPv4 / IPv6 only; `dns` to either. Succeeds with the set-up time in ms, measured with Effect's
 * `Clock` (sub-millisecond precision).
 *
 * Fails with {@link UnsupportedTransportError} for any address without a plain TCP endpoint,
 * {@link DialRefusedError} on `ECONNREFUSED`, {@link DialUnreachableError} on any other socket or
 * resolver error. It does not enforce the timeout itself (see {@link make}); interruption destroys the
 * socket at once.
 *
 * @since 0.1.0
 */
export const tcpProbe = (address: PeerAddress.PeerAddress): Effect.Effect<number, DialError> =>
  Effect.suspend(() => {
    const endpoint = Option.getOrUndefined(PeerAddress.tcpEndpoint(address))
    if (endpoint === undefined) {
      return Effect.fail(
        new UnsupportedTransportError({
          address: address.multiaddr,
          transport: address.relayed ? "p2p-circuit" : address.transport
        })
      )
    }
    const family = address.hostKind === "dns4" ? 4 : address.hostKind === "dns6" ? 6 : undefined
    return Effect.gen(function*() {
      const start = yield* Clock.currentTimeNanos
      yield* Effect.async<void, DialError>((resume) => {
        const socket = Net.connect({ host: endpoint.host, port: endpoint.port, ...(family === undefined ? {} : { family }) })
        socket.once("connect", () => {
          socket.destroy()
          resume(Effect.void)
        })
        socket.once("error", (e) => {
          socket.destroy()
          const { code, detail } = errnoOf(e)
          resume(Effect.fail(
            REFUSED.has(code)
              ? new DialRefusedError({ address: address.multiaddr, code })
              : new DialUnreachableError({ address: address.multiaddr, code, detail })
          ))
        })
        return Effect.sync(() => socket.destroy())
      })
      const end = yield* Clock.currentTimeNanos
      return Number(end - start) / 1e6
    })
  })

/**
 * Whether {@link tcpProbe} can dial the address: it has a plain TCP endpoint
 * (`PeerAddress.tcpEndpoint`).
 *
 * @since 0.1.0
 */
export const supportsTcp = (address: PeerAddress.PeerAddress): boolean => Option.isSome(PeerAddress.tcpEndpoint(address))

/**
 * The Node dialer: {@link tcpProbe} under the dial timeout, supporting TCP addresses only.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<Dialer> = layerFrom((address) => tcpProbe(address), supportsTcp)
