/**
 * @bootstrap-cache/libp2p — bootstrap-cache for js-libp2p: a `Dialer` through the libp2p node and a
 * cache-first `PeerDiscovery` service. Importing it installs `Promise.withResolvers` where the runtime
 * lacks it (Node 20; see `polyfill`).
 *
 * @since 0.1.0
 */
import "./polyfill.js"

/** A `Dialer` through a js-libp2p node: authenticated connections to the peer the address names. */
export * as Libp2pDialer from "./Libp2pDialer.js"
/** `Promise.withResolvers` for Node 20, installed only where missing. */
export * as Polyfill from "./polyfill.js"
/** A js-libp2p `PeerDiscovery` module running the cache-first bootstrap through the node's connection manager. */
export * as CacheDiscovery from "./CacheDiscovery.js"
