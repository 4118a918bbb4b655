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
/** TCP listeners on 127.0.0.1 with behaviours (accept, refuse, hang, slow, flap) for dial and bootstrap tests. */
export * as LoopbackNetwork from "./LoopbackNetwork.js"
/** fast-check arbitraries for the policies: consistent dial histories, tables, prune configs. */
export * as PolicyArbitraries from "./PolicyArbitraries.js"
/** The seeded bootstrap simulation (`runSimulation`) behind `npm run simulate`. */
export * as SimulatedNetwork from "./SimulatedNetwork.js"
/** A fault-injecting FileSystem Layer (EACCES, EROFS, ENOSPC, EIO, torn writes) for store tests. */
export * as FaultyFileSystem from "./FaultyFileSystem.js"
/** The loopback network of `npm start` and the warm-vs-cold benchmark: 40 listeners and a contacts server. */
export * as DemoNetwork from "./DemoNetwork.js"
/** Test Layers of the library's services: an in-memory CacheStore, a scripted Dialer, a static ContactsFetcher (TestClock-driven). */
export * as TestLayers from "./TestLayers.js"
/** A real DNS server on 127.0.0.1 (UDP + TCP, dns-packet) answering TXT queries from a zone in memory. */
export * as DnsServer from "./DnsServer.js"
