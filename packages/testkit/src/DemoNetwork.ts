/**
 * The loopback network of `npm start` and of the `warm-vs-cold` benchmark, in one place: 40 real TCP
 * listeners on 127.0.0.1 (14 accept, 12 refuse, 8 never answer, 3 slow — their SYN is dropped for
 * ~1.2 s —, 3 flapping; shuffled with seed 2024) and a real contacts server with a broken endpoint
 * (`/broken`, HTTP 503) beside the good one (`/contacts`, listing every listener).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as ContactsServer from "./ContactsServer.js"
import * as LoopbackNetwork from "./LoopbackNetwork.js"

/**
 * The running demo network: its listeners' behaviours, the listeners, and the contacts server.
 *
 * @since 0.1.0
 */
export interface DemoNetwork {
  readonly behaviours: ReadonlyArray<LoopbackNetwork.Behaviour>
  readonly net: LoopbackNetwork.LoopbackNetwork
  readonly server: ContactsServer.ContactsServer
}

/**
 * Starts the demo network in the current scope (everything closes with it). Fails when a listener or
 * the server cannot start.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<
  DemoNetwork,
  LoopbackNetwork.LoopbackNetworkError | ContactsServer.ContactsServerError,
  Scope.Scope
> = Effect.gen(function*() {
  const behaviours = LoopbackNetwork.mix(
    { accept: 14, refuse: 12, hang: 8, slow: 3, flap: 3, slowDelayMs: 1_200, flapPattern: [true, false] },
    2024
  )
  const net = yield* LoopbackNetwork.make(behaviours)
  const server = yield* ContactsServer.make({
    "/broken": ContactsServer.Behaviour.Status({ status: 503 }),
    "/contacts": ContactsServer.Behaviour.Body({ body: net.contacts })
  })
  return { behaviours, net, server }
})
