/**
 * @bootstrap-cache/node — Effect services and Layers for bootstrap-cache on Node.
 */

/** Per-key circuit breakers, health and recovery as an Effect service. */
export * as Protection from "./Protection.js"
/** Initial peer discovery over HTTP behind per-endpoint circuit breakers. */
export * as ContactsFetcher from "./ContactsFetcher.js"
