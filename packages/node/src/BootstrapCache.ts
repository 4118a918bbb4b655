/**
 * The common case in one Layer: the cache store on disk, a dialer, per-address protection, the
 * contacts fetcher and the bootstrap, wired together on Node with the endpoints and the dial policy
 * given once.
 *
 * ```ts
 * const BootstrapLive = BootstrapCache.layer({ endpoints: ["https://example.org/contacts"], target: 5 })
 * program.pipe(Effect.provide(BootstrapLive), NodeRuntime.runMain)
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Bootstrap from "./Bootstrap.js"
import * as CacheStore from "./CacheStore.js"
import * as ContactsFetcher from "./ContactsFetcher.js"
import * as Dialer from "./Dialer.js"
import * as DnsResolver from "./DnsResolver.js"
import * as NodePlatform from "./internal/nodePlatform.js"
import * as Protection from "./Protection.js"

/**
 * Options of {@link layer}: the {@link Bootstrap.BootstrapOptions} of every run, and
 *
 * | option | default | meaning |
 * |---|---|---|
 * | `endpoints` | none | contacts URLs (the fallback when the cache cannot do it); none: the endpoints are never asked |
 * | `path` | `CachePaths.resolve` (env `BOOTSTRAP_CACHE_PATH`, system-wide, per-user) | the cache file, or a directory for `peers.json` |
 * | `store` | `CacheStore` defaults | the other `CacheStoreOptions` (flush interval, staleness, lock, …) |
 * | `contacts` | `ContactsFetcher` defaults, `filter` = `dialPolicy` | the other `ContactsFetcherOptions` (timeouts, retries, limits, …) |
 * | `protection` | `Protection` defaults, local dial failures excluded (`Dialer.breakerDefaults`) | `ProtectionOptions` of the per-address breakers; `false`: no breakers |
 * | `dialer` | `Dialer.layer` (the TCP probe) behind `DnsResolver.layerDialer` (`/dnsaddr` resolved through the system resolver) | the `Dialer` Layer, e.g. `Dialer.layerFrom(libp2pDial)` |
 *
 * @category options
 * @since 0.1.0
 */
export interface BootstrapCacheOptions extends Bootstrap.BootstrapOptions {
  readonly path?: string
  readonly store?: Omit<CacheStore.CacheStoreOptions, "path">
  readonly contacts?: Omit<ContactsFetcher.ContactsFetcherOptions, "endpoints">
  readonly protection?: Protection.ProtectionOptions | false
  readonly dialer?: Layer.Layer<Dialer.Dialer>
}

/**
 * The `Bootstrap` service (and the `CacheStore` it runs on, for stats and imports), with everything
 * it needs built from `options` on Node (file system, path; the undici HTTP client only when there are
 * `endpoints`). Fails with
 * `CacheStore.CacheOpenError` when the cache file cannot be opened. The store is flushed when the
 * Layer's scope closes.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: BootstrapCacheOptions = {}
): Layer.Layer<Bootstrap.Bootstrap | CacheStore.CacheStore, CacheStore.CacheOpenError> => {
  const { contacts, dialer, path, protection, store, ...runOptions } = options
  const endpoints = options.endpoints ?? []
  const storeLayer = CacheStore.layer({ ...store, ...(path === undefined ? {} : { path }) }).pipe(
    Layer.provide(NodePlatform.layerFileSystem)
  )
  const bootstrap = Layer.scoped(
    Bootstrap.Bootstrap,
    Effect.gen(function*() {
      // The fetcher's HTTP client is built in the Layer's scope, so it lives as long as the Layer.
      const fetcher = endpoints.length === 0 ? Option.none() : Option.some(
        yield* ContactsFetcher.make({ filter: options.dialPolicy ?? {}, ...contacts, endpoints }).pipe(
          Effect.provide(yield* Layer.build(NodePlatform.layerUndici))
        )
      )
      return Bootstrap.make({
        store: yield* CacheStore.CacheStore,
        dialer: yield* Dialer.Dialer,
        contacts: fetcher,
        protection: protection === false
          ? Option.none()
          : Option.some(yield* Protection.make(Dialer.breakerDefaults(protection ?? {})))
      }, runOptions)
    })
  )
  const dialing = dialer ?? DnsResolver.layerDialer(Dialer.layer).pipe(Layer.provide(DnsResolver.layerNode))
  return bootstrap.pipe(Layer.provideMerge(Layer.merge(storeLayer, dialing)))
}
