/**
 * @bootstrap-cache/testkit — test Layers, fast-check arbitraries, a local contacts server and a
 * simulated network.
 *
 * @since 0.1.0
 */

/** fast-check arbitraries for addresses, sources and table operations. */
export * as Arbitraries from "./Arbitraries.js"
