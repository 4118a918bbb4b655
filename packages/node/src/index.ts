/**
 * @bootstrap-cache/node — Effect services and Layers for bootstrap-cache on Node.
 */

/** Per-key circuit breakers, health and recovery as an Effect service. */
export * as Protection from "./Protection.js"
/** Initial peer discovery over HTTP behind per-endpoint circuit breakers. */
export * as ContactsFetcher from "./ContactsFetcher.js"
/** Dialing a peer address: the Dialer service, the node:net TCP liveness probe, typed dial errors. */
export * as Dialer from "./Dialer.js"
/** The cache-first bootstrap: load, ask the endpoints when needed, dial until the target, record, prune, flush. */
export * as Bootstrap from "./Bootstrap.js"
/** The shared, crash-safe, multi-process-safe peer cache file: read-merge-write under a lock. */
export * as CacheStore from "./CacheStore.js"
/** A cross-process lock on a separate lock file (proper-lockfile) with dead-holder and stale-lock recovery. */
export * as FileLock from "./FileLock.js"
/** Where the cache lives by default: a system-wide directory when writable, else the per-user data directory. */
export * as CachePaths from "./CachePaths.js"
/** The common case in one Layer: store, dialer, protection, contacts fetcher and bootstrap, endpoints given once. */
export * as BootstrapCache from "./BootstrapCache.js"
/** The CLI's output: the JSON shapes of `--json` and the human tables (peers, stats, bootstrap results). */
export * as Render from "./cli/Render.js"
