/**
 * Initial peer discovery over HTTP: when the cache is empty or stale, fetch contact lists from the
 * application's endpoints, each behind its own circuit breaker, with retries, a timeout, a size cap
 * and fallback from one endpoint to the next until enough addresses are gathered.
 *
 * The model is ant-bootstrap's `ContactsFetcher` (maidsafe/autonomi: endpoints tried with retries,
 * network-contacts bodies of one multiaddr per line) and Bitcoin Core's DNS seeding (ask seeds only
 * until enough addresses are known), with gobreaker-style per-endpoint breakers: a private
 * `Protection` instance keyed by endpoint URL (`core/CircuitBreaker` semantics, exponential open
 * period between a minimum and a maximum, no recovery ramp).
 *
 * Bodies are parsed by `@bootstrap-cache/core/Contacts` (format by content: plain text, JSON array,
 * this project's cache file, Safe Network / Autonomi / Chiral caches).
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type { Backoff, CircuitBreaker, Contacts, PeerAddress } from "@bootstrap-cache/core"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as DnsResolver from "./DnsResolver.js"
import * as ConfigHelpers from "./internal/config.js"
import * as internal from "./internal/contactsFetcher/fetcher.js"
import * as NodePlatform from "./internal/nodePlatform.js"

// ---------------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------------

/**
 * Per-endpoint circuit breaker settings (gobreaker semantics, see `core/CircuitBreaker`).
 *
 * - `failureThreshold` (default 5): consecutive failed requests that open the breaker.
 * - `minOpen` (default 30 s): the first open period; half-open (one probe request) afterwards.
 * - `maxOpen` (default 30 min): the longest open period.
 * - `factor` (default 2): growth of the open period per consecutive trip (trip n opens for
 *   `min(maxOpen, minOpen · factorⁿ⁻¹)` before jitter).
 * - `jitter` (default `"equal"`): jitter of the open period (`core/Backoff`); never below `minOpen`.
 *
 * @since 0.1.0
 */
export interface BreakerOptions {
  readonly failureThreshold?: number
  readonly minOpen?: Duration.DurationInput
  readonly maxOpen?: Duration.DurationInput
  readonly factor?: number
  readonly jitter?: Backoff.Jitter
}

/**
 * Configuration of the fetcher. Durations are `Duration.DurationInput` (a bare number is ms).
 *
 * | option                    | default        | meaning |
 * | ------------------------- | -------------- | ------- |
 * | `endpoints`               | (required)     | contacts URLs (http/https), in order of preference; none are built in |
 * | `requestTimeout`          | 10 s           | per request, headers and body together (a slow drip is cut off), redirects included |
 * | `attempts`                | 3              | requests per endpoint per fetch (1 = no retry) |
 * | `retryBackoff`            | 500 ms → 5 s, ×2, full jitter | delay between attempts (`core/Backoff` options) |
 * | `concurrency`             | 3              | endpoints fetched at the same time |
 * | `targetAddresses`         | 100            | stop starting new endpoints once this many distinct addresses are gathered |
 * | `maxResponseBytes`        | 1 MiB (1 048 576 bytes) | body cap; the body is streamed and reading stops at the cap (never buffered whole); the cut is reported (`truncated`, a warning, or `too-large`) |
 * | `maxAddressesPerEndpoint` | 1 000          | addresses accepted from one endpoint (the rest are counted in `overLimit`) |
 * | `filter`                  | public only    | `Contacts.AddressFilter`: `requirePeerId` (off), `transports` (any), `allowLoopback`, `allowPrivate` (off; on for local demos) |
 * | `maxRedirects`            | 5              | HTTP redirects (3xx with `Location`) followed per request; 0 = none |
 * | `redirects`               | public only    | where a redirect may lead: the endpoint's own host, or a public host; `allowLoopback` / `allowPrivate` (off) open loopback / private and link-local hosts; a host given by name is resolved with `dnsResolver` (when set) and refused unless every address passes. https never downgrades to http. A refused redirect fails the endpoint (`redirect-refused`, not retried) |
 * | `maxRetryAfter`           | 30 s           | a 429/503 with `Retry-After` is retried after the delay it asks for, if at most this; a longer one ends the retries |
 * | `dnsResolver`             | none (`layerNode`: the system's) | resolves `/dnsaddr` contacts into the addresses they stand for (`DnsResolver.resolve`), filtered again; one that resolves to nothing, and every one when no resolver is set, is kept as it is |
 * | `dnsaddr`                 | see `DnsResolver.ResolveOptions` | bounds of each `/dnsaddr` resolution (depth 32, 32 lookups, 1 000 addresses, 10 s) |
 * | `breaker`                 | see {@link BreakerOptions} | per-endpoint circuit breaker |
 * | `maxIssuesLogged`         | 5              | invalid/filtered lines logged per endpoint (all are counted) |
 *
 * Out-of-range numbers are clamped, never thrown: `attempts`, `concurrency`, `targetAddresses` and
 * `failureThreshold` below 1 mean 1; negative sizes and counts mean 0.
 *
 * @since 0.1.0
 */
export interface ContactsFetcherOptions {
  readonly endpoints: ReadonlyArray<string>
  readonly requestTimeout?: Duration.DurationInput
  readonly attempts?: number
  readonly retryBackoff?: Backoff.Options
  readonly concurrency?: number
  readonly targetAddresses?: number
  readonly maxResponseBytes?: number
  readonly maxAddressesPerEndpoint?: number
  readonly filter?: Contacts.AddressFilter
  readonly maxRedirects?: number
  readonly redirects?: { readonly allowLoopback?: boolean; readonly allowPrivate?: boolean }
  readonly maxRetryAfter?: Duration.DurationInput
  readonly dnsResolver?: DnsResolver.DnsResolver["Type"]
  readonly dnsaddr?: DnsResolver.ResolveOptions
  readonly breaker?: BreakerOptions
  readonly maxIssuesLogged?: number
}

/**
 * The documented defaults of {@link ContactsFetcherOptions} (durations in ms, sizes in bytes).
 *
 * @since 0.1.0
 */
export const defaults = {
  requestTimeoutMs: 10_000,
  attempts: 3,
  retryBackoff: { min: 500, max: 5_000, factor: 2, jitter: "full" } satisfies Backoff.Options,
  concurrency: 3,
  targetAddresses: 100,
  maxResponseBytes: 1024 * 1024,
  maxAddressesPerEndpoint: 1_000,
  maxIssuesLogged: 5,
  maxRedirects: 5,
  maxRetryAfterMs: 30_000,
  breaker: { failureThreshold: 5, minOpenMs: 30_000, maxOpenMs: 30 * 60_000, factor: 2, jitter: "equal" as Backoff.Jitter }
} as const

// ---------------------------------------------------------------------------------------------------
// Errors and results
// ---------------------------------------------------------------------------------------------------

/**
 * Why an endpoint gave no addresses:
 * - `status`: a non-2xx HTTP status (`status` set);
 * - `timeout`: no complete answer within `requestTimeout`;
 * - `breaker-open`: its breaker rejected the request without sending it (`retryAfterMs` set);
 * - `too-large`: the body exceeded `maxResponseBytes` and the part read held no usable address;
 * - `nothing-valid`: the body was read but no line gave an accepted address;
 * - `transport`: connection refused or reset, DNS failure, malformed HTTP;
 * - `invalid-url`: the configured endpoint is not an http(s) URL (no request is made);
 * - `redirect-refused`: a redirect led outside what the redirect rule allows (see `redirects`).
 *
 * @since 0.1.0
 */
export const FailureReason = Schema.Literal(
  "status",
  "timeout",
  "breaker-open",
  "too-large",
  "nothing-valid",
  "transport",
  "invalid-url",
  "redirect-refused"
)

/** @since 0.1.0 */
export type FailureReason = typeof FailureReason.Type

/**
 * One endpoint failed: its URL, the {@link FailureReason}, a human `detail`, the HTTP `status` (for
 * `status`) and `retryAfterMs` (ms until the breaker admits a probe, for `breaker-open`).
 *
 * @since 0.1.0
 */
export class EndpointFailure extends Schema.TaggedError<EndpointFailure>()("EndpointFailure", {
  endpoint: Schema.String,
  reason: FailureReason,
  detail: Schema.String,
  status: Schema.optional(Schema.Number),
  retryAfterMs: Schema.optional(Schema.Number)
}) {
  override get message(): string {
    return `${this.endpoint}: ${this.reason} (${this.detail})`
  }
}

/**
 * No endpoint gave any address. `failures` has one {@link EndpointFailure} per configured endpoint, in
 * configuration order (empty when no endpoints are configured).
 *
 * @since 0.1.0
 */
export class ContactsUnavailable extends Schema.TaggedError<ContactsUnavailable>()("ContactsUnavailable", {
  failures: Schema.Array(EndpointFailure)
}) {
  override get message(): string {
    return this.failures.length === 0
      ? "no contacts endpoints configured"
      : `no contacts endpoint gave an address: ${this.failures.map((f) => f.message).join("; ")}`
  }
}

/**
 * An accepted address and the endpoint URL it came from: `source` is the URL exactly as configured
 * (before any redirect), ready for `PeerRecord.Source` `{ _tag: "endpoint", url: source }`.
 *
 * @since 0.1.0
 */
export interface SourcedAddress {
  readonly address: PeerAddress.PeerAddress
  readonly source: string
}

/**
 * What happened at one endpoint during a fetch.
 *
 * - `outcome`: `ok` (gave addresses), `failed` (see `failure`), `skipped` (not tried: enough addresses
 *   were already gathered).
 * - `requests`: HTTP requests sent (a breaker rejection sends none); `attempts`: tries including
 *   rejected ones.
 * - `format`, `valid`, `invalid`, `filtered`, `duplicates`, `overLimit`, `issues`: from parsing the
 *   last body read (`Contacts.Parsed`; zeros and none when no body was read). `valid` counts the
 *   addresses this endpoint gave, before de-duplication against other endpoints.
 * - `truncated`: the body was cut at `maxResponseBytes`; `bytesRead`: body bytes received (≤ cap + one
 *   network chunk).
 * - `durationMs`: time spent on the endpoint, retries included.
 *
 * @since 0.1.0
 */
export interface EndpointReport {
  readonly endpoint: string
  readonly outcome: "ok" | "failed" | "skipped"
  readonly failure: Option.Option<EndpointFailure>
  readonly attempts: number
  readonly requests: number
  readonly format: Option.Option<Contacts.Format>
  readonly valid: number
  readonly invalid: number
  readonly filtered: number
  readonly duplicates: number
  readonly overLimit: number
  readonly issues: ReadonlyArray<Contacts.Issue>
  readonly truncated: boolean
  readonly bytesRead: number
  readonly durationMs: number
}

/**
 * The result of a fetch: the distinct `addresses` (by `PeerAddress.key`; the first endpoint in
 * configuration order wins, except that an address without a peer id is replaced, with its source, by
 * the same address with one from a later endpoint) each with its source URL, and one
 * {@link EndpointReport} per endpoint in configuration order.
 *
 * @since 0.1.0
 */
export interface FetchResult {
  readonly addresses: ReadonlyArray<SourcedAddress>
  readonly endpoints: ReadonlyArray<EndpointReport>
}

/**
 * What {@link make} builds: the {@link ContactsFetcher} service plus `fetchBody(url, { maxBytes })`,
 * one URL's body as text through the same breakers, retries, redirect rule, timeout and streaming
 * cap (`maxBytes`, default `maxResponseBytes`; a longer body is cut and `truncated`), without
 * parsing; it fails with the {@link EndpointFailure} of the last attempt. `import URL` uses it.
 *
 * @since 0.1.0
 */
export interface Fetcher extends Context.Tag.Service<ContactsFetcher> {
  readonly fetchBody: (url: string, options?: { readonly maxBytes?: number }) => Effect.Effect<FetchedBody, EndpointFailure>
}

/**
 * A body fetched by `fetchBody`: the URL as given, its `text` (up to the cap), the body bytes
 * received and whether it was cut at the cap.
 *
 * @since 0.1.0
 */
export interface FetchedBody {
  readonly url: string
  readonly text: string
  readonly bytesRead: number
  readonly truncated: boolean
}

/**
 * The state of one endpoint's breaker: `state` (`closed`, `open`, `half-open`), `retryAfterMs` (ms
 * until an open breaker admits a probe, else 0), `consecutiveFailures` in the current generation and
 * `trips` (consecutive openings, which drive the exponential open period).
 *
 * @since 0.1.0
 */
export interface BreakerStatus {
  readonly endpoint: string
  readonly state: CircuitBreaker.State
  readonly retryAfterMs: number
  readonly consecutiveFailures: number
  readonly trips: number
}

// ---------------------------------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------------------------------

/**
 * The contacts fetcher.
 *
 * - `fetch`: fetches from the configured endpoints (see {@link make} for the algorithm). Fails with
 *   {@link ContactsUnavailable} when no endpoint gave an address.
 * - `fetchFrom(endpoints)`: the same with other endpoints (breakers are shared by URL).
 * - `breakers`: the state of every breaker seen so far.
 *
 * @since 0.1.0
 */
export class ContactsFetcher extends Context.Tag("@bootstrap-cache/node/ContactsFetcher")<ContactsFetcher, {
  readonly fetch: Effect.Effect<FetchResult, ContactsUnavailable>
  readonly fetchFrom: (endpoints: ReadonlyArray<string>) => Effect.Effect<FetchResult, ContactsUnavailable>
  readonly breakers: Effect.Effect<ReadonlyArray<BreakerStatus>>
}>() {}

/**
 * Builds the fetcher's service from its options, with the given HTTP client.
 *
 * The algorithm, per fetch:
 * 1. Endpoints are taken in configuration order, `concurrency` at a time. An endpoint is started only
 *    while fewer than `targetAddresses` distinct addresses have been gathered; otherwise it is `skipped`.
 * 2. Each attempt goes through the endpoint's breaker (key = the URL). An open breaker rejects it
 *    without a request (`breaker-open`, with `retryAfterMs`); after the open period one probe is let
 *    through (half-open); its success closes the breaker, its failure reopens it for longer
 *    (`minOpen · factorⁿ⁻¹`, capped at `maxOpen`).
 * 3. An attempt is a GET with `requestTimeout` over redirects, headers and body (up to `maxRedirects`
 *    redirects are followed, each only where the redirect rule allows: see `redirects`). A non-2xx status fails. The body is streamed and reading stops at
 *    `maxResponseBytes` (`truncated`, logged as a warning); the request is then aborted. It is parsed
 *    with `Contacts.parse` (format by content, never by Content-Type; `filter`;
 *    `maxAddressesPerEndpoint`). No accepted address is a failure (`too-large` if truncated, else
 *    `nothing-valid`).
 * 4. Timeouts, transport errors and 5xx/408/429 are retried up to `attempts` with `retryBackoff`
 *    delays, or after the `Retry-After` of a 429/503 when it is at most `maxRetryAfter` (RFC 9110
 *    §10.2.3; a longer one ends the retries); other failures, and breaker rejections, are not.
 *    `/dnsaddr` addresses are then resolved when a `dnsResolver` is configured.
 * 5. The first `maxIssuesLogged` invalid or filtered lines of each endpoint are logged with
 *    `Effect.logWarning` (message: kind and reason; annotations: `endpoint`, `line`, `input`, `path`);
 *    failures are logged as warnings, and each endpoint's counts (accepted, invalid, filtered,
 *    duplicates, over the limit, bytes) at info level. Metrics: `bootstrap_cache_contacts_requests_total`
 *    and `bootstrap_cache_contacts_endpoint_outcomes_total{outcome,reason}`.
 *
 * The fetch itself never fails on one endpoint's trouble: it fails with {@link ContactsUnavailable}
 * only when no endpoint gave an address, listing every endpoint's {@link EndpointFailure}.
 *
 * @since 0.1.0
 */
export const make: (
  options: ContactsFetcherOptions
) => Effect.Effect<Fetcher, never, HttpClient.HttpClient | Scope.Scope> = internal.make

/**
 * The fetcher as a Layer over an `HttpClient` (see {@link make}).
 *
 * @since 0.1.0
 */
export const layer = (options: ContactsFetcherOptions): Layer.Layer<ContactsFetcher, never, HttpClient.HttpClient> =>
  Layer.scoped(ContactsFetcher, make(options))

/**
 * The fetcher on Node's undici HTTP client (`NodeHttpClient.layerUndici`, whose modules are imported
 * when this Layer is built), resolving `/dnsaddr` contacts with the system's DNS servers
 * (`DnsResolver.make()`) unless `dnsResolver` is given.
 *
 * @since 0.1.0
 */
export const layerNode = (options: ContactsFetcherOptions): Layer.Layer<ContactsFetcher> =>
  layer({ dnsResolver: DnsResolver.make(), ...options }).pipe(Layer.provide(NodePlatform.layerUndici))

// ---------------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------------

/**
 * The fetcher's options read from Effect's `Config` (the `ConfigProvider`: environment variables by
 * default, `ConfigProvider.fromMap` / `fromJson` in tests), each under its option's name. `endpoints`
 * is required; the others are optional (an unset value keeps the default of
 * {@link ContactsFetcherOptions}):
 *
 * | key | type | default |
 * |---|---|---|
 * | `endpoints` | list of http(s) URLs (comma-separated in a flat provider), **required** | — |
 * | `requestTimeout` | duration (`"10 seconds"`) | 10 s |
 * | `attempts`, `concurrency`, `targetAddresses` | integers ≥ 1 | 3, 3, 100 |
 * | `maxResponseBytes` | integer ≥ 0, bytes | 1 048 576 |
 * | `maxAddressesPerEndpoint`, `maxRedirects`, `maxIssuesLogged` | integers ≥ 0 | 1 000, 5, 5 |
 * | `filter.requirePeerId`, `filter.allowLoopback`, `filter.allowPrivate` | booleans | false |
 * | `filter.transports` | list of `PeerAddress.transport`s | any |
 * | `breaker.failureThreshold` | integer ≥ 1 | 5 |
 * | `breaker.minOpen`, `breaker.maxOpen` | durations | 30 s, 30 min |
 * | `breaker.factor` | number ≥ 1 | 2 |
 *
 * (`retryBackoff` and `breaker.jitter` are `core/Backoff` values: add them with `Config.map`.) Nest
 * under a prefix with `Config.nested(ContactsFetcher.config, "contacts")`.
 *
 * Fails with a `ConfigError` naming the key when `endpoints` is missing, or a value is malformed or
 * out of range.
 *
 * @since 0.1.0
 */
export const config: Config.Config<ContactsFetcherOptions> = Config.map(
  Config.all({
    endpoints: Config.array(Config.nonEmptyString(), "endpoints"),
    requestTimeout: ConfigHelpers.optional(Config.duration("requestTimeout")),
    attempts: ConfigHelpers.optional(ConfigHelpers.integerAtLeast("attempts", 1)),
    concurrency: ConfigHelpers.optional(ConfigHelpers.integerAtLeast("concurrency", 1)),
    targetAddresses: ConfigHelpers.optional(ConfigHelpers.integerAtLeast("targetAddresses", 1)),
    maxResponseBytes: ConfigHelpers.optional(ConfigHelpers.integerAtLeast("maxResponseBytes", 0)),
    maxAddressesPerEndpoint: ConfigHelpers.optional(ConfigHelpers.integerAtLeast("maxAddressesPerEndpoint", 0)),
    maxRedirects: ConfigHelpers.optional(ConfigHelpers.integerAtLeast("maxRedirects", 0)),
    maxIssuesLogged: ConfigHelpers.optional(ConfigHelpers.integerAtLeast("maxIssuesLogged", 0)),
    filter: Config.nested(
      ConfigHelpers.struct({
        requirePeerId: ConfigHelpers.optional(Config.boolean("requirePeerId")),
        transports: ConfigHelpers.optional(Config.array(Config.nonEmptyString(), "transports")),
        allowLoopback: ConfigHelpers.optional(Config.boolean("allowLoopback")),
        allowPrivate: ConfigHelpers.optional(Config.boolean("allowPrivate"))
      }),
      "filter"
    ),
    breaker: Config.nested(
      ConfigHelpers.struct({
        failureThreshold: ConfigHelpers.optional(ConfigHelpers.integerAtLeast("failureThreshold", 1)),
        minOpen: ConfigHelpers.optional(Config.duration("minOpen")),
        maxOpen: ConfigHelpers.optional(Config.duration("maxOpen")),
        factor: ConfigHelpers.optional(
          Config.number("factor").pipe(Config.validate({ message: "must be a number ≥ 1", validation: (n) => n >= 1 }))
        )
      }),
      "breaker"
    )
  }),
  ({ endpoints, ...rest }) => ({ endpoints, ...ConfigHelpers.compact(rest) })
)

/**
 * {@link layer} with its options read from `Config`: a `Config<ContactsFetcherOptions>` ({@link config},
 * `Config.all({ … })`) or a struct of `Config`s per option (`Config.Config.Wrap`, as Effect's own
 * `layerConfig`s take). Needs an `HttpClient`; fails with the `ConfigError` of a missing or malformed
 * value when the Layer is built.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<ContactsFetcherOptions>
): Layer.Layer<ContactsFetcher, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))

/**
 * {@link layerNode} (Node's undici HTTP client) with its options read from `Config` (see
 * {@link layerConfig}).
 *
 * @since 0.1.0
 */
export const layerNodeConfig = (
  config: Config.Config.Wrap<ContactsFetcherOptions>
): Layer.Layer<ContactsFetcher, ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layerNode))
