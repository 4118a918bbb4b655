/**
 * @bootstrap-cache/testkit — test Layers, fast-check arbitraries, a local contacts server and a
 * simulated network.
 *
 * @since 0.1.0
 */

/** fast-check arbitraries for addresses, sources and table operations. */
export * as Arbitraries from "./Arbitraries.js"
/** A real local contacts server (node:http on 127.0.0.1) with scripted behaviours per path. */
export * as ContactsServer from "./ContactsServer.js"
