/**
 * DNS lookups for `/dnsaddr` addresses: the `DnsResolver` service (TXT records of a name), its Node
 * Layer on `node:dns`'s `Resolver` (servers settable, so tests use a server on 127.0.0.1), and the
 * places where `/dnsaddr` names become dialable addresses: {@link resolve} / {@link resolveAll}
 * (contact lists) and {@link dialer} (a dialer that resolves before it dials).
 *
 * The resolution rule and its bounds are `@bootstrap-cache/core/Dnsaddr`'s (libp2p: TXT at
 * `_dnsaddr.<host>`, `dnsaddr=<multiaddr>`, recursive, filtered by the `/p2p` id); this module asks
 * the names and adds a deadline over the whole resolution.
 *
 * @since 0.1.0
 */
import type { Dnsaddr, PeerAddress } from "@bootstrap-cache/core"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Dialer from "./Dialer.js"
import * as internal from "./internal/dnsResolver/resolver.js"
import * as internalDialer from "./internal/dnsResolver/dialer.js"
import * as internalResolve from "./internal/dnsResolver/resolve.js"

/**
 * A lookup failed: the `name` asked, the resolver's `code` (`ENOTFOUND`, `ENODATA`, `ETIMEOUT`,
 * `ECONNREFUSED`, …) and its message.
 *
 * @since 0.1.0
 */
export class DnsLookupError extends Schema.TaggedError<DnsLookupError>()("DnsLookupError", {
  name: Schema.String,
  code: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `DNS lookup of ${this.name} failed (${this.code}: ${this.detail})`
  }
}

/**
 * The DNS resolver: `resolveTxt(name)` gives the TXT records of a name, each as its
 * character-strings (as `node:dns` gives them); `resolveHost(name)` gives the IP addresses of a host
 * name (IPv4 and IPv6, as text), the addresses a connection to that name would use. Either fails
 * with {@link DnsLookupError}.
 *
 * @category service
 * @since 0.1.0
 */
export class DnsResolver extends Context.Tag("@bootstrap-cache/node/DnsResolver")<DnsResolver, {
  readonly resolveTxt: (name: string) => Effect.Effect<ReadonlyArray<ReadonlyArray<string>>, DnsLookupError>
  readonly resolveHost: (name: string) => Effect.Effect<ReadonlyArray<string>, DnsLookupError>
}>() {}

/**
 * Options of the Node resolver.
 *
 * | option    | default            | meaning |
 * | --------- | ------------------ | ------- |
 * | `servers` | the system's (`/etc/resolv.conf`) | DNS servers, `"1.1.1.1"`, `"127.0.0.1:5353"`, `"[::1]:53"` |
 * | `timeout` | 2 s                | per query attempt (`node:dns` `Resolver` `timeout`) |
 * | `tries`   | 2                  | attempts per server before giving up (`node:dns` `tries`) |
 *
 * @category options
 * @since 0.1.0
 */
export interface DnsResolverOptions {
  readonly servers?: ReadonlyArray<string>
  readonly timeout?: Duration.DurationInput
  readonly tries?: number
}

/**
 * A resolver on `node:dns`'s `Resolver` (c-ares: UDP, TCP when an answer is truncated). Lookups are
 * interruptible: interruption cancels the resolver's queries. `resolveHost` asks the configured
 * `servers` for A and AAAA records; without `servers` it uses the system's lookup (`dns.lookup`,
 * getaddrinfo: `/etc/hosts` included), the one Node's own connections use.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: (options?: DnsResolverOptions) => DnsResolver["Type"] = internal.make

/**
 * The Node resolver as a Layer (see {@link make}).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: DnsResolverOptions = {}): Layer.Layer<DnsResolver> => Layer.sync(DnsResolver, () => make(options))

/**
 * The Node resolver with the system's servers.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerNode: Layer.Layer<DnsResolver> = layer()

/**
 * A resolver answering from a zone in memory: name → TXT records (one string each), and `hosts`:
 * host name → IP addresses. A name not in the zone fails with `ENOTFOUND`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerTest = (
  zone: Readonly<Record<string, ReadonlyArray<string>>>,
  hosts: Readonly<Record<string, ReadonlyArray<string>>> = {}
): Layer.Layer<DnsResolver> => Layer.succeed(DnsResolver, internal.fromZone(zone, hosts))

/**
 * The result of resolving one address: the dialable `addresses` (distinct; the address itself when
 * it is not `/dnsaddr`), records `filtered` out by peer id, and `warnings` (`Dnsaddr.Warning`: loops,
 * names that resolve to nothing, bad records, bounds reached, `deadline` when the whole resolution
 * ran out of time).
 *
 * @category models
 * @since 0.1.0
 */
export interface Resolution {
  readonly addresses: ReadonlyArray<PeerAddress.PeerAddress>
  readonly filtered: number
  readonly warnings: ReadonlyArray<Dnsaddr.Warning | { readonly kind: "deadline"; readonly name: string; readonly detail: string }>
}

/**
 * Bounds of a resolution: `Dnsaddr.Limits` (`maxDepth` 32, `maxLookups` 32, `maxAddresses` 1 000)
 * and `deadline` (default 10 s), the time the whole resolution may take; names not asked by then are
 * dropped with a `deadline` warning.
 *
 * @category options
 * @since 0.1.0
 */
export interface ResolveOptions extends Dnsaddr.Limits {
  readonly deadline?: Duration.DurationInput
}

/**
 * Resolves one address (see `core/Dnsaddr`). Never fails: every problem is a warning, also logged
 * with `Effect.logWarning` (annotated with the `dnsaddr` resolved and the TXT `name`).
 *
 * @category resolution
 * @since 0.1.0
 */
export const resolve: (address: PeerAddress.PeerAddress, options?: ResolveOptions) => Effect.Effect<Resolution, never, DnsResolver> =
  internalResolve.resolve

/**
 * Replaces every `/dnsaddr` address of a list by what it resolves to (see {@link resolve}); other
 * addresses stay as they are, in place. The result is distinct by `PeerAddress.key`.
 *
 * @category resolution
 * @since 0.1.0
 */
export const resolveAll: (
  addresses: ReadonlyArray<PeerAddress.PeerAddress>,
  options?: ResolveOptions
) => Effect.Effect<Resolution, never, DnsResolver> = internalResolve.resolveAll

/**
 * Wraps a dialer so that it dials `/dnsaddr` addresses: the name is resolved (within the dial's
 * timeout), then the resolved addresses the inner dialer supports are dialled one after another until
 * one connects. Fails with the last dial's error, or with `Dialer.DialUnreachableError` code
 * `ENODNSADDR` when the name resolves to nothing the inner dialer can dial (the warnings in `detail`).
 * Other addresses go to the inner dialer unchanged; `supports` is the inner dialer's, plus `/dnsaddr`.
 *
 * @category dialer
 * @since 0.1.0
 */
export const dialer: (inner: Dialer.Dialer["Type"], options?: ResolveOptions) => Effect.Effect<Dialer.Dialer["Type"], never, DnsResolver> =
  internalDialer.make

/**
 * A Layer of `Dialer` that resolves `/dnsaddr` before dialling through the given dialer Layer
 * (e.g. `Dialer.layer`, the TCP probe).
 *
 * @category layers
 * @since 0.1.0
 */
export const layerDialer = (
  inner: Layer.Layer<Dialer.Dialer>,
  options?: ResolveOptions
): Layer.Layer<Dialer.Dialer, never, DnsResolver> => internalDialer.layer(inner, options)
