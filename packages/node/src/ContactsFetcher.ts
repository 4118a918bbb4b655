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
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Backoff, type CircuitBreaker, Contacts, type PeerAddress } from "@bootstrap-cache/core"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as ConfigHelpers from "./internal/config.js"
import * as Protection from "./Protection.js"

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
 * - `invalid-url`: the configured endpoint is not an http(s) URL (no request is made).
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
  "invalid-url"
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

// ---------------------------------------------------------------------------------------------------
// Per-endpoint breakers (internal seam over Protection)
// ---------------------------------------------------------------------------------------------------

/**
 * Rejection by an endpoint's breaker. Internal: surfaces as an {@link EndpointFailure} `breaker-open`.
 */
class BreakerRejected extends Data.TaggedError("BreakerRejected")<{
  readonly key: string
  readonly retryAfterMs: number
}> {}

/**
 * The seam for per-endpoint protection: `execute(key, effect)` runs `effect` when the key's breaker
 * admits it and records the outcome, or fails with {@link BreakerRejected} without running it.
 * Backed by a private `Protection` instance, so the fetcher's breaker settings do not leak into (or
 * depend on) the peers' protection.
 */
interface Guard {
  readonly execute: <A, E>(key: string, effect: Effect.Effect<A, E>) => Effect.Effect<A, E | BreakerRejected>
  readonly status: Effect.Effect<ReadonlyArray<BreakerStatus>>
}

const makeGuard = (options: BreakerOptions = {}): Effect.Effect<Guard, never, Scope.Scope> =>
  Effect.gen(function*() {
    const threshold = Math.max(1, Math.floor(options.failureThreshold ?? defaults.breaker.failureThreshold))
    const maxOpen = options.maxOpen ?? defaults.breaker.maxOpenMs
    const protection = yield* Protection.make({
      breaker: {
        timeout: options.minOpen ?? defaults.breaker.minOpenMs,
        readyToTrip: (counts) => counts.consecutiveFailures >= threshold,
        openBackoff: {
          max: maxOpen,
          factor: options.factor ?? defaults.breaker.factor,
          jitter: options.jitter ?? defaults.breaker.jitter
        }
      },
      // An endpoint that has just recovered is fetched rarely: no ramp, one probe is enough.
      recovery: false,
      // Keep a key (its trip streak) long enough for the open period to keep growing between fetches.
      idleTimeout: Duration.times(Duration.decode(maxOpen), 4)
    })
    const seen = new Set<string>()
    const execute = <A, E>(key: string, effect: Effect.Effect<A, E>): Effect.Effect<A, E | BreakerRejected> =>
      Effect.suspend(() => {
        seen.add(key)
        return protection.execute(key, effect).pipe(
          Effect.catchIf(
            (e): e is Protection.ProtectionRejection =>
              e instanceof Protection.CircuitOpenError ||
              e instanceof Protection.CircuitTooManyRequestsError ||
              e instanceof Protection.CircuitThrottledError,
            (e) => new BreakerRejected({ key, retryAfterMs: e.retryAfterMs })
          )
        )
      })
    const status = Effect.suspend(() =>
      Effect.forEach([...seen], (endpoint) =>
        Effect.map(protection.status(endpoint), (s): BreakerStatus => ({
          endpoint,
          state: s.state,
          retryAfterMs: s.retryAfterMs,
          consecutiveFailures: s.counts.consecutiveFailures,
          trips: s.trips
        })))
    )
    return { execute, status }
  })

// ---------------------------------------------------------------------------------------------------
// Fetching one endpoint
// ---------------------------------------------------------------------------------------------------

interface Body {
  readonly text: string
  readonly bytesRead: number
  readonly truncated: boolean
}

/**
 * Reads a byte stream up to `cap` bytes and stops: the stream is not pulled further (so the
 * connection is aborted) once a chunk crosses the cap. `bytesRead` counts every byte received, so it
 * is at most `cap` + one chunk.
 */
const readCapped = <E>(stream: Stream.Stream<Uint8Array, E>, cap: number): Effect.Effect<Body, E> =>
  Effect.map(
    Stream.runFoldWhile(
      stream,
      { chunks: [] as Array<Uint8Array>, kept: 0, bytesRead: 0, truncated: false },
      (s) => !s.truncated,
      (s, chunk) => {
        s.bytesRead += chunk.length
        if (s.kept + chunk.length > cap) {
          s.chunks.push(chunk.subarray(0, cap - s.kept))
          s.kept = cap
          s.truncated = true
        } else {
          s.chunks.push(chunk)
          s.kept += chunk.length
        }
        return s
      }
    ),
    (s) => ({
      text: new TextDecoder("utf-8").decode(Buffer.concat(s.chunks, s.kept)),
      bytesRead: s.bytesRead,
      truncated: s.truncated
    })
  )

/** The outcome of one request: parsed body (if one was read) and, on failure, why. */
interface AttemptResult {
  readonly body: Option.Option<Body>
  readonly parsed: Option.Option<Contacts.Parsed>
}

/** One attempt failed: the endpoint failure, whether a retry may help, and what was read, if anything. */
class AttemptFailed extends Data.TaggedError("AttemptFailed")<{
  readonly failure: EndpointFailure
  readonly retryable: boolean
  readonly result: AttemptResult
}> {}

const isRetryableStatus = (status: number) => status >= 500 || status === 408 || status === 429

const errorDetail = (e: unknown): string => {
  if (typeof e === "object" && e !== null) {
    const cause = (e as { cause?: unknown }).cause
    const causeMessage = cause instanceof Error
      ? (cause as Error & { code?: string }).code ?? cause.message
      : undefined
    const message = (e as { message?: unknown }).message
    const text = typeof message === "string" ? message : String(e)
    return causeMessage === undefined ? text : `${text}: ${causeMessage}`
  }
  return String(e)
}

const emptyResult: AttemptResult = { body: Option.none(), parsed: Option.none() }

const requestsTotal = Metric.counter("bootstrap_cache_contacts_requests_total", {
  description: "HTTP requests sent to contacts endpoints"
})
const endpointOutcomes = Metric.counter("bootstrap_cache_contacts_endpoint_outcomes_total", {
  description: "Contacts endpoint fetches by outcome (ok, failed, skipped) and reason"
})

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
 *    redirects are followed). A non-2xx status fails. The body is streamed and reading stops at
 *    `maxResponseBytes` (`truncated`, logged as a warning); the request is then aborted. It is parsed
 *    with `Contacts.parse` (format by content, never by Content-Type; `filter`;
 *    `maxAddressesPerEndpoint`). No accepted address is a failure (`too-large` if truncated, else
 *    `nothing-valid`).
 * 4. Timeouts, transport errors and 5xx/408/429 are retried up to `attempts` with `retryBackoff`
 *    delays; other failures, and breaker rejections, are not.
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
export const make = (
  options: ContactsFetcherOptions
): Effect.Effect<ContactsFetcher["Type"], never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const maxRedirects = Math.max(0, Math.floor(options.maxRedirects ?? defaults.maxRedirects))
    // withScope first, so every request of a redirect chain is aborted when the attempt's scope closes.
    const scoped = HttpClient.withScope(yield* HttpClient.HttpClient)
    const client = maxRedirects > 0 ? HttpClient.followRedirects(scoped, maxRedirects) : scoped
    const guard = yield* makeGuard(options.breaker)
    const timeoutMs = options.requestTimeout === undefined
      ? defaults.requestTimeoutMs
      : Duration.toMillis(Duration.decode(options.requestTimeout))
    const attempts = Math.max(1, Math.floor(options.attempts ?? defaults.attempts))
    const retryPolicy = Backoff.make(options.retryBackoff ?? defaults.retryBackoff)
    const concurrency = Math.max(1, Math.floor(options.concurrency ?? defaults.concurrency))
    const target = Math.max(1, options.targetAddresses ?? defaults.targetAddresses)
    const cap = Math.max(0, Math.floor(options.maxResponseBytes ?? defaults.maxResponseBytes))
    const maxAddresses = Math.max(0, options.maxAddressesPerEndpoint ?? defaults.maxAddressesPerEndpoint)
    const maxIssuesLogged = Math.max(0, options.maxIssuesLogged ?? defaults.maxIssuesLogged)
    const filter = options.filter ?? {}

    const failure = (endpoint: string, reason: FailureReason, detail: string, extra: { status?: number; retryAfterMs?: number } = {}) =>
      new EndpointFailure({ endpoint, reason, detail, ...extra })

    /** One GET, guarded by nothing: the breaker and retries wrap it. */
    const attempt = (endpoint: string): Effect.Effect<AttemptResult, AttemptFailed> =>
      Effect.scoped(
        Effect.gen(function*() {
          yield* Metric.increment(requestsTotal)
          const response = yield* client.execute(
            HttpClientRequest.get(endpoint).pipe(
              HttpClientRequest.setHeader("accept", "text/plain, application/json;q=0.9, */*;q=0.5")
            )
          ).pipe(
            Effect.mapError((e) =>
              new AttemptFailed({ failure: failure(endpoint, "transport", errorDetail(e)), retryable: true, result: emptyResult })
            )
          )
          if (response.status < 200 || response.status > 299) {
            return yield* new AttemptFailed({
              failure: failure(endpoint, "status", `HTTP ${response.status}`, { status: response.status }),
              retryable: isRetryableStatus(response.status),
              result: emptyResult
            })
          }
          const body = yield* readCapped(response.stream, cap).pipe(
            Effect.mapError((e) =>
              new AttemptFailed({ failure: failure(endpoint, "transport", errorDetail(e)), retryable: true, result: emptyResult })
            )
          )
          const parsed = Contacts.parse(body.text, { filter, maxAddresses, truncated: body.truncated })
          const result: AttemptResult = { body: Option.some(body), parsed: Option.some(parsed) }
          if (parsed.addresses.length === 0) {
            const counts = `${parsed.invalid} invalid, ${parsed.filtered} filtered, ${parsed.duplicates} duplicate`
            return yield* new AttemptFailed({
              failure: body.truncated
                ? failure(endpoint, "too-large", `body exceeds ${cap} bytes and the first ${cap} bytes gave no address (${counts})`)
                : failure(endpoint, "nothing-valid", `${parsed.format}: no accepted address (${counts})`),
              retryable: false,
              result
            })
          }
          return result
        })
      ).pipe(
        Effect.timeoutFail({
          duration: Duration.millis(timeoutMs),
          onTimeout: () =>
            new AttemptFailed({
              failure: failure(endpoint, "timeout", `no complete answer within ${timeoutMs} ms`),
              retryable: true,
              result: emptyResult
            })
        })
      )

    const logIssues = (result: AttemptResult) =>
      Effect.gen(function*() {
        const parsed = Option.getOrUndefined(result.parsed)
        const body = Option.getOrUndefined(result.body)
        if (parsed === undefined || body === undefined) return
        yield* Effect.forEach(
          parsed.issues.slice(0, maxIssuesLogged),
          (issue) =>
            Effect.logWarning(`contacts ${issue.kind} entry skipped: ${issue.reason}`).pipe(
              Effect.annotateLogs({ line: issue.line, input: issue.input, ...(issue.path === undefined ? {} : { path: issue.path }) })
            ),
          { discard: true }
        )
        const unused = parsed.invalid + parsed.filtered
        if (unused > maxIssuesLogged) {
          yield* Effect.logWarning(`contacts: ${unused - Math.min(maxIssuesLogged, parsed.issues.length)} more invalid or filtered entries not logged`)
        }
        if (body.truncated) {
          yield* Effect.logWarning(`contacts body cut off at ${cap} bytes (maxResponseBytes); only the lines before the cut were used`)
        }
        yield* Effect.logInfo(
          `contacts ${parsed.format}: ${parsed.addresses.length} accepted, ${parsed.invalid} invalid, ${parsed.filtered} filtered, ` +
            `${parsed.duplicates} duplicates, ${parsed.overLimit} over the limit, ${body.bytesRead} bytes${body.truncated ? " (truncated)" : ""}`
        )
      })

    const report = (
      endpoint: string,
      outcome: EndpointReport["outcome"],
      fail: Option.Option<EndpointFailure>,
      counters: { attempts: number; requests: number; durationMs: number },
      result: AttemptResult
    ): EndpointReport => {
      const parsed = Option.getOrUndefined(result.parsed)
      const body = Option.getOrUndefined(result.body)
      return {
        endpoint,
        outcome,
        failure: fail,
        ...counters,
        format: Option.map(result.parsed, (p) => p.format),
        valid: parsed?.addresses.length ?? 0,
        invalid: parsed?.invalid ?? 0,
        filtered: parsed?.filtered ?? 0,
        duplicates: parsed?.duplicates ?? 0,
        overLimit: parsed?.overLimit ?? 0,
        issues: parsed?.issues ?? [],
        truncated: body?.truncated ?? false,
        bytesRead: body?.bytesRead ?? 0
      }
    }

    /** Fetches one endpoint: breaker, retries with backoff, report. Never fails. */
    const fetchEndpoint = (
      endpoint: string
    ): Effect.Effect<{ readonly report: EndpointReport; readonly addresses: ReadonlyArray<PeerAddress.PeerAddress> }> =>
      Effect.gen(function*() {
        const started = yield* Clock.currentTimeMillis
        const counters = { attempts: 0, requests: 0 }
        let url: URL | undefined
        try {
          url = new URL(endpoint)
        } catch {
          url = undefined
        }
        if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
          return {
            report: report(
              endpoint,
              "failed",
              Option.some(failure(endpoint, "invalid-url", "not an http(s) URL")),
              { ...counters, durationMs: 0 },
              emptyResult
            ),
            addresses: []
          }
        }
        let lastResult = emptyResult
        let lastFailure: EndpointFailure | undefined
        let backoff = Backoff.initial
        for (let i = 0; i < attempts; i++) {
          counters.attempts++
          const exit = yield* Effect.exit(
            guard.execute(endpoint, Effect.suspend(() => {
              counters.requests++
              return attempt(endpoint)
            }))
          )
          if (Exit.isSuccess(exit)) {
            lastResult = exit.value
            lastFailure = undefined
            break
          }
          const error = Cause.failureOption(exit.cause)
          if (Option.isNone(error)) return yield* Effect.failCause(exit.cause as Cause.Cause<never>)
          const e = error.value
          if (e._tag === "BreakerRejected") {
            // A retry refused because the breaker just opened reports the failure that opened it.
            lastFailure ??= failure(endpoint, "breaker-open", `circuit open, retry in ${e.retryAfterMs} ms`, {
              retryAfterMs: e.retryAfterMs
            })
            break
          }
          lastResult = e.result
          lastFailure = e.failure
          if (!e.retryable || i === attempts - 1) break
          const [delayMs, next] = Backoff.next(retryPolicy, backoff, yield* Random.next)
          backoff = next
          yield* Effect.logDebug(`contacts attempt ${i + 1} failed (${e.failure.detail}), retrying in ${Math.round(delayMs)} ms`)
          yield* Effect.sleep(Duration.millis(delayMs))
        }
        const durationMs = (yield* Clock.currentTimeMillis) - started
        yield* logIssues(lastResult)
        if (lastFailure !== undefined) {
          yield* Effect.logWarning(`contacts endpoint failed: ${lastFailure.reason} (${lastFailure.detail})`)
          yield* Metric.increment(Metric.tagged(Metric.tagged(endpointOutcomes, "outcome", "failed"), "reason", lastFailure.reason))
          return {
            report: report(endpoint, "failed", Option.some(lastFailure), { ...counters, durationMs }, lastResult),
            addresses: []
          }
        }
        yield* Metric.increment(Metric.tagged(endpointOutcomes, "outcome", "ok"))
        return {
          report: report(endpoint, "ok", Option.none(), { ...counters, durationMs }, lastResult),
          addresses: Option.match(lastResult.parsed, { onNone: () => [], onSome: (p) => p.addresses })
        }
      }).pipe(Effect.annotateLogs({ endpoint }))

    const skipped = (endpoint: string): EndpointReport =>
      report(endpoint, "skipped", Option.none(), { attempts: 0, requests: 0, durationMs: 0 }, emptyResult)

    const fetchFrom = (endpoints: ReadonlyArray<string>): Effect.Effect<FetchResult, ContactsUnavailable> =>
      Effect.gen(function*() {
        const gathered = yield* Ref.make(new Set<string>())
        const results = yield* Effect.forEach(
          endpoints,
          (endpoint) =>
            Effect.gen(function*() {
              if ((yield* Ref.get(gathered)).size >= target) {
                yield* Metric.increment(Metric.tagged(endpointOutcomes, "outcome", "skipped"))
                return { report: skipped(endpoint), addresses: [] as ReadonlyArray<PeerAddress.PeerAddress> }
              }
              const result = yield* fetchEndpoint(endpoint)
              yield* Ref.update(gathered, (keys) => {
                const next = new Set(keys)
                for (const a of result.addresses) next.add(a.key)
                return next
              })
              return result
            }),
          { concurrency }
        )
        // key → position in `addresses`
        const seen = new Map<string, number>()
        const addresses: Array<SourcedAddress> = []
        for (const { addresses: found, report } of results) {
          for (const address of found) {
            const at = seen.get(address.key)
            if (at === undefined) {
              seen.set(address.key, addresses.length)
              addresses.push({ address, source: report.endpoint })
            } else if (Option.isNone(addresses[at]!.address.peerId) && Option.isSome(address.peerId)) {
              addresses[at] = { address, source: report.endpoint }
            }
          }
        }
        if (addresses.length === 0) {
          return yield* new ContactsUnavailable({
            failures: results.flatMap(({ report }) => Option.toArray(report.failure))
          })
        }
        return { addresses, endpoints: results.map((r) => r.report) }
      })

    return {
      fetch: fetchFrom(options.endpoints),
      fetchFrom,
      breakers: guard.status
    }
  })

/**
 * The fetcher as a Layer over an `HttpClient` (see {@link make}).
 *
 * @since 0.1.0
 */
export const layer = (options: ContactsFetcherOptions): Layer.Layer<ContactsFetcher, never, HttpClient.HttpClient> =>
  Layer.scoped(ContactsFetcher, make(options))

/**
 * The fetcher on Node's undici HTTP client (`NodeHttpClient.layerUndici`).
 *
 * @since 0.1.0
 */
export const layerNode = (options: ContactsFetcherOptions): Layer.Layer<ContactsFetcher> =>
  layer(options).pipe(Layer.provide(NodeHttpClient.layerUndici))

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
