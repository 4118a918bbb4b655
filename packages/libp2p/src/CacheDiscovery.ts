/**
 * A js-libp2p peer discovery module (`peerDiscovery: [CacheDiscovery.peerDiscovery({ … })]`) that
 * bootstraps the node from its persistent peer cache, cache first: the `Bootstrap` of
 * `@bootstrap-cache/node` dials, through the node's connection manager, the peers that worked before
 * (falling back to the `list` and the contacts endpoints only when the cache cannot do it), emits
 * `peer` for each peer it reaches, and runs again whenever the node's connections drop below the
 * target. Unlike `@libp2p/bootstrap`, which dials its whole list on every start, a warm start dials
 * about `target` peers and no dead ones.
 *
 * While the node runs, the cache learns from it: each outbound connection the node opens for its
 * own reasons is recorded as a success of its address, and the listen addresses peers announce
 * through identify are added, filed under the announcing peer and its netgroup (`via`,
 * `viaNetgroup`: addrman's source, which selection and capacity bound per group; inbound
 * connections are not recorded: their remote port is the peer's ephemeral port, not an address to
 * dial). On stop the cache is flushed to disk.
 *
 * @since 0.1.0
 */
import type { Bootstrap, CacheStore, Protection } from "@bootstrap-cache/node"
import type { ComponentLogger, Connection, Libp2pEvents, PeerDiscovery, Startable, TypedEventTarget } from "@libp2p/interface"
import type { Multiaddr } from "@multiformats/multiaddr"
import type * as Duration from "effect/Duration"
import type * as Layer from "effect/Layer"
import * as internal from "./internal/discovery.js"
import "./polyfill.js"

/**
 * Options of {@link peerDiscovery}.
 *
 * | option | default | meaning |
 * |---|---|---|
 * | `path` | the `CacheStore` default (`BOOTSTRAP_CACHE_PATH`, system-wide, per-user) | the cache file |
 * | `list` | none | multiaddrs (with `/p2p/<id>`) added to the cache at start when absent, source `user`: the `@libp2p/bootstrap` list (a large cache opening from its head gets them once its whole table is in, so the start never waits for the decode) |
 * | `contacts` | none | contacts endpoint URLs asked when the cache cannot reach the target (`ContactsFetcher.layerNode`) |
 * | `target` | 5 | connected peers wanted; the bootstrap runs while the node has fewer |
 * | `bootstrap` | `Bootstrap` defaults | the other `Bootstrap.BootstrapOptions` (timeout 5 s, stagger 250 ms, `dialPolicy`, `epsilon` …) |
 * | `recheckInterval` | 30 s | how often the connection count is checked besides on each closed connection |
 * | `cache` | `CacheStore` defaults | other `CacheStore.CacheStoreOptions` (flush interval, stale age, lock …) |
 * | `store` | `CacheStore.layer` on `path` | a `CacheStore` Layer to use instead (tests, a store shared with the application) |
 * | `protection` | `Protection` defaults | per-address circuit breakers |
 * | `maxIdentifyAddresses` | 16 | listen addresses kept per identify message |
 * | `onRun` | none | called with the result of each bootstrap run (also a run that reached no peer) |
 *
 * @since 0.1.0
 */
export interface CacheDiscoveryInit {
  readonly path?: string
  readonly list?: ReadonlyArray<string>
  readonly contacts?: ReadonlyArray<string>
  readonly target?: number
  readonly bootstrap?: Omit<Bootstrap.BootstrapOptions, "target">
  readonly recheckInterval?: Duration.DurationInput
  readonly cache?: Omit<CacheStore.CacheStoreOptions, "path">
  readonly store?: Layer.Layer<CacheStore.CacheStore, unknown>
  readonly protection?: Protection.ProtectionOptions
  readonly maxIdentifyAddresses?: number
  readonly onRun?: (result: Bootstrap.BootstrapResult) => void
}

/**
 * The libp2p components the module uses (a libp2p node hands them to every module).
 *
 * @since 0.1.0
 */
export interface CacheDiscoveryComponents {
  readonly connectionManager: {
    readonly openConnection: (address: Multiaddr, options?: { signal?: AbortSignal }) => Promise<Connection>
    readonly getConnections: () => Array<Connection>
  }
  readonly events: TypedEventTarget<Libp2pEvents>
  readonly logger: ComponentLogger
  readonly transportManager?: { readonly dialTransportForMultiaddr: (address: Multiaddr) => unknown }
}

/**
 * The module's instance: a libp2p `PeerDiscovery` (emits `peer`) and `Startable`; `runs` counts the
 * completed bootstrap runs.
 *
 * @since 0.1.0
 */
export interface CacheDiscovery extends PeerDiscovery, Startable {
  readonly runs: number
}

/**
 * The module for libp2p's `peerDiscovery` list. Starting the node opens the cache (a cache that
 * cannot be opened fails the start with `CacheStore.CacheOpenError`) and, once the node is started,
 * runs the bootstrap; stopping the node interrupts a run in flight (its dials fail as `stopping`,
 * not against their peers) and flushes the cache.
 *
 * @since 0.1.0
 */
export const peerDiscovery = (init: CacheDiscoveryInit = {}): (components: CacheDiscoveryComponents) => CacheDiscovery =>
(components) => new internal.CacheDiscoveryService(components, init)

/**
 * The documented defaults of {@link CacheDiscoveryInit} (durations in ms).
 *
 * @since 0.1.0
 */
export const defaults = internal.defaults
