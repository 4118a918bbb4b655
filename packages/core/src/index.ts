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
/** Exponential backoff with none / full / equal / decorrelated jitter (AWS "Exponential Backoff and Jitter"). */
export * as Backoff from "./Backoff.js"
/** Pure circuit breaker with gobreaker v2 semantics, open-period backoff, slow calls, JSON snapshots. */
export * as CircuitBreaker from "./CircuitBreaker.js"
/** Sliding-window health: HEALTHY / DEGRADED / UNHEALTHY / UNKNOWN. */
export * as Health from "./Health.js"
/** Gradual recovery ramp after a breaker closes (LINEAR / EXPONENTIAL / STEP). */
export * as Recovery from "./Recovery.js"
/** One key's protection as a pure step: breaker + health window + recovery ramp, with cooldown and snapshots. */
export * as KeyProtection from "./KeyProtection.js"
/** Reports, `isHealthy` and one-line summaries of a key's protection and of a table of keys. */
export * as ProtectionStatus from "./ProtectionStatus.js"
/** Contact lists (text, JSON array, cache file, foreign caches) → filtered, de-duplicated addresses with line-numbered issues. */
export * as Contacts from "./Contacts.js"
/** Decoders for foreign peer caches: Safe Network, Autonomi ant-bootstrap v0/v1, Chiral. */
export * as ForeignCache from "./ForeignCache.js"
/** Quality score of an address and a peer: success rate with a prior, age decay, bonuses, RTT term. */
export * as Score from "./Score.js"
/** Epsilon-greedy, netgroup-diverse selection of peers to dial; relay-first reconnect order. */
export * as Selection from "./Selection.js"
/** Pruning and capacity: consecutive failures, unreliable and stale peers, caps — never below the minimum of working peers. */
export * as Prune from "./Prune.js"
/** The cache file format: versioned JSON with a checksum over the canonical peer payload. */
export * as CacheFile from "./CacheFile.js"
/** A cache-file writer that remembers its last save: only changed peers are re-rendered, the bytes are built once. */
export * as CacheFileEncoder from "./CacheFileEncoder.js"
/** The changes a process made since its last flush, replayed onto the file's table (the lossless merge). */
export * as Journal from "./Journal.js"
/** Import of this project's cache file and foreign caches into a peer table. */
export * as CacheImport from "./CacheImport.js"
/** `/dnsaddr` resolution as data: TXT names to ask, `dnsaddr=` records, recursion and peer-id filter with bounds. */
export * as Dnsaddr from "./Dnsaddr.js"
/** Untrusted JSON in: parsing with a nesting bound that never throws, short previews of bad values. */
export * as JsonInput from "./JsonInput.js"
/** The bootstrap's coordinator as a pure state machine: dial outcomes, endpoint answers and ticks in; dials, cancels, endpoint fetches and outcomes to record out. */
export * as BootstrapMachine from "./BootstrapMachine.js"
