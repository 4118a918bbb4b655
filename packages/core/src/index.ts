/**
 * @bootstrap-cache/core — the functional core: pure data in, data out.
 * No I/O, no clock, no randomness of its own: time and random draws arrive as arguments.
 *
 * @since 0.1.0
 */

/** Parsed, normalised multiaddrs: peer id, host, port, transport, scope, netgroup, dedupe key. */
export * as PeerAddress from "./PeerAddress.js"
/** What the cache knows of one peer and each of its addresses (Schemas). */
export * as PeerRecord from "./PeerRecord.js"
/** The persistent peer table: add, record outcomes, remove, look up, stats. */
export * as PeerTable from "./PeerTable.js"
