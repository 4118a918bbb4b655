/**
 * A `Dialer` (of `@bootstrap-cache/node`) that dials through a js-libp2p node: a dial succeeds only
 * with an authenticated libp2p connection (secure channel and muxer negotiated) whose remote peer is
 * the one the multiaddr names in `/p2p/<id>`.
 *
 * Interrupting the dial (the bootstrap cancelling it, or the dial timeout) aborts the `AbortSignal`
 * handed to libp2p, so libp2p stops the attempt. libp2p failures become the `Dialer` errors:
 *
 * | libp2p reports | Dialer error | counted against the address |
 * |---|---|---|
 * | `ECONNREFUSED` | `DialRefusedError` | yes |
 * | other OS errors (`EHOSTUNREACH`, `ECONNRESET`, …) | `DialUnreachableError` | yes |
 * | its own dial / upgrade timeouts | `DialTimeoutError` | yes |
 * | noise's identity mismatch, `UnexpectedPeerError`, or a connection to another peer | `DialWrongPeerError` | yes |
 * | `NoValidAddressesError`, `TransportUnavailableError` | `DialLocalError` `no-transport` | no |
 * | `DialDeniedError` and the gater's denials | `DialLocalError` `gated` | no |
 * | the node not started or stopping | `DialLocalError` `stopping` | no |
 * | `InvalidPeerIdError` "Can not dial self" | `DialLocalError` `self` | no |
 *
 * Transports are whatever the node has (tcp, ws, wss, quic-v1, webtransport, circuit relay): an
 * address it cannot dial fails with `no-transport`, never counted against its peer.
 *
 * @since 0.1.0
 */
import type { PeerAddress } from "@bootstrap-cache/core"
import { Dialer } from "@bootstrap-cache/node"
import type { Connection } from "@libp2p/interface"
import { multiaddr, type Multiaddr } from "@multiformats/multiaddr"
import * as Duration from "effect/Duration"
import * as Layer from "effect/Layer"
import * as internal from "./internal/dial.js"
import "./polyfill.js"

/**
 * How a dial reaches libp2p: `libp2p.dial` or the connection manager's `openConnection`, called
 * with the dial's `AbortSignal`.
 *
 * @since 0.1.0
 */
export type DialFunction = (address: Multiaddr, options: { readonly signal: AbortSignal }) => Promise<Connection>

/**
 * Options of {@link make}.
 *
 * - `isStopping()`: whether the node is stopping or stopped; a dial failing then is a
 *   `DialLocalError` `stopping`, not a failure of the peer (default: never).
 * - `supports(address)`: the addresses the node can dial (default: all; a transport the node lacks
 *   then fails with `no-transport`, which is not counted).
 * - `isConnected(peerId)`: whether the node already has a connection to the peer (canonical peer id
 *   string). When it does, the dial fails at once with `DialLocalError` `connected` instead of
 *   letting libp2p hand back the existing connection, which would prove nothing about the address
 *   and add no peer (default: never).
 * - `onConnection(connection, address)`: called with each connection a dial opened, after the peer
 *   check.
 *
 * @since 0.1.0
 */
export interface Libp2pDialerOptions {
  readonly isStopping?: () => boolean
  readonly supports?: (address: PeerAddress.PeerAddress) => boolean
  readonly isConnected?: (peerId: string) => boolean
  readonly onConnection?: (connection: Connection, address: PeerAddress.PeerAddress) => void
}

/**
 * The structural part of a js-libp2p node that {@link fromNode} uses (`Libp2p` has it).
 *
 * @since 0.1.0
 */
export interface DialingNode {
  readonly status: string
  readonly dial: DialFunction
  readonly getConnections: () => ReadonlyArray<Connection>
}

/**
 * The dialer over a libp2p dial function (see the module docs). Succeeds with the set-up time in ms
 * (from the start of the dial to the authenticated connection, Effect `Clock`). The dial timeout is
 * enforced by `Dialer.make`: when it passes, the dial is interrupted, libp2p's signal aborts, and the
 * dial fails with `DialTimeoutError`.
 *
 * @since 0.1.0
 */
export const make = (dial: DialFunction, options: Libp2pDialerOptions = {}): Dialer.Dialer["Type"] =>
  Dialer.make(
    (address, timeout) =>
      internal.dial(dial, options, address, multiaddr(address.multiaddr), Duration.toMillis(Duration.decode(timeout))),
    options.supports
  )

/**
 * {@link make} over a running `Libp2p` node: dials with `node.dial`, treats failures while
 * `node.status` is not `started` as `stopping`, and skips peers the node is already connected to.
 *
 * @since 0.1.0
 */
export const fromNode = (node: DialingNode, options: Omit<Libp2pDialerOptions, "isStopping" | "isConnected"> = {}) =>
  make((address, o) => node.dial(address, o), {
    ...options,
    isStopping: () => node.status !== "started",
    isConnected: (peerId) => internal.hasOpenConnection(node.getConnections(), peerId)
  })

/**
 * A Layer of the `Dialer` service over a running `Libp2p` node ({@link fromNode}), for the
 * `Bootstrap` Layer of `@bootstrap-cache/node`.
 *
 * @since 0.1.0
 */
export const layer = (node: DialingNode, options: Omit<Libp2pDialerOptions, "isStopping" | "isConnected"> = {}): Layer.Layer<Dialer.Dialer> =>
  Layer.succeed(Dialer.Dialer, fromNode(node, options))
