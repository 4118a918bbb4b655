/**
 * The body of the libp2p dialer: one dial through libp2p under Effect interruption, the peer check,
 * and the error reading (`dialErrors.ts`).
 */
import { PeerAddress } from "@bootstrap-cache/core"
import { Dialer } from "@bootstrap-cache/node"
import type { Connection } from "@libp2p/interface"
import type { Multiaddr } from "@multiformats/multiaddr"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { DialFunction, Libp2pDialerOptions } from "../Libp2pDialer.js"
import { classify, describe } from "./dialErrors.js"

/** A peer id in the canonical form of `PeerAddress` (base58btc), or the input when it is not one. */
export const canonicalPeerId = (id: string): string => Option.getOrElse(PeerAddress.normalizePeerId(id), () => id)

/** Whether `connections` hold an open connection to `peerId` (canonical). */
export const hasOpenConnection = (connections: ReadonlyArray<Connection>, peerId: string): boolean =>
  connections.some((c) => c.status === "open" && canonicalPeerId(c.remotePeer.toString()) === peerId)

/** Closes a connection without waiting on the peer (libp2p `abort`), ignoring errors. */
const drop = (connection: Connection, reason: string) =>
  Effect.sync(() => {
    try {
      connection.abort(new Error(reason))
    } catch {
      // already closed
    }
  })

/**
 * Dials `target` (the parsed `address`) through `dial` with the fiber's `AbortSignal` (Effect
 * aborts it on interruption), checks the authenticated peer against the address's `/p2p` id, and
 * succeeds with the set-up time in ms.
 */
export const dial = (
  dialFn: DialFunction,
  options: Libp2pDialerOptions,
  address: PeerAddress.PeerAddress,
  target: Multiaddr,
  timeoutMs: number
): Effect.Effect<number, Dialer.DialError> =>
  Effect.gen(function*() {
    const expected = Option.getOrUndefined(address.peerId)
    if (expected !== undefined && options.isConnected?.(expected) === true) {
      return yield* new Dialer.DialLocalError({
        address: address.multiaddr,
        reason: "connected",
        detail: `already connected to ${expected}`
      })
    }
    const start = yield* Clock.currentTimeNanos
    const connection = yield* Effect.tryPromise({
      try: (signal) => dialFn(target, { signal }),
      catch: (error) =>
        classify(error, {
          address: address.multiaddr,
          expectedPeer: expected,
          timeoutMs,
          stopping: options.isStopping?.() === true
        })
    })
    const end = yield* Clock.currentTimeNanos
    const actual = canonicalPeerId(connection.remotePeer.toString())
    if (expected !== undefined && actual !== expected) {
      yield* drop(connection, `dialled ${expected}, authenticated ${actual}`)
      return yield* new Dialer.DialWrongPeerError({ address: address.multiaddr, expected, actual })
    }
    if (options.onConnection !== undefined) {
      const onConnection = options.onConnection
      yield* Effect.try(() => onConnection(connection, address)).pipe(
        Effect.catchAll((e) => Effect.logWarning(`onConnection failed for ${address.multiaddr}: ${describe(e.error)}`))
      )
    }
    return Number(end - start) / 1e6
  })
