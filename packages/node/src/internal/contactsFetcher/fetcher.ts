/**
 * The body of `ContactsFetcher.make`: per-endpoint attempts (see `attempt.ts`), `/dnsaddr`
 * resolution, logs, reports and the merge of every endpoint's addresses.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Backoff, Contacts, Dnsaddr, type PeerAddress } from "@bootstrap-cache/core"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import {
  ContactsUnavailable,
  defaults,
  type ContactsFetcherOptions,
  type EndpointFailure,
  type EndpointReport,
  type FetchedBody,
  type Fetcher,
  type FetchResult,
  type SourcedAddress
} from "../../ContactsFetcher.js"
import * as DnsResolver from "../../DnsResolver.js"
import { type AttemptContext, type AttemptResult, attempt, emptyResult, failure, request, withRetries } from "./attempt.js"
import { makeGuard } from "./guard.js"

/** Everything the fetcher's functions need, read once from its options. */
interface FetcherContext extends AttemptContext {
  readonly concurrency: number
  /** Addresses gathered after which the remaining endpoints are skipped. */
  readonly target: number
  readonly maxIssuesLogged: number
  readonly dnsResolver: ContactsFetcherOptions["dnsResolver"]
  readonly dnsaddr: ContactsFetcherOptions["dnsaddr"]
}

/** One endpoint's report and the addresses it gave (none unless it succeeded). */
interface EndpointResult {
  readonly report: EndpointReport
  readonly addresses: ReadonlyArray<PeerAddress.PeerAddress>
}

const endpointOutcomes = Metric.counter("bootstrap_cache_contacts_endpoint_outcomes_total", {
  description: "Contacts endpoint fetches by outcome (ok, failed, skipped) and reason"
})

const invalidUrl = (endpoint: string): EndpointFailure | undefined => {
  let url: URL | undefined
  try {
    url = new URL(endpoint)
  } catch {
    url = undefined
  }
  return url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")
    ? failure(endpoint, "invalid-url", "not an http(s) URL")
    : undefined
}

const ms = (d: Duration.DurationInput | undefined, fallback: number) => d === undefined ? fallback : Duration.toMillis(Duration.decode(d))

/** The options with their defaults applied and clamped to range. */
const makeContext = (options: ContactsFetcherOptions): Omit<FetcherContext, "client" | "guard"> => ({
  maxRedirects: Math.max(0, Math.floor(options.maxRedirects ?? defaults.maxRedirects)),
  allow: { allowLoopback: options.redirects?.allowLoopback === true, allowPrivate: options.redirects?.allowPrivate === true },
  resolveHost: options.dnsResolver?.resolveHost,
  accept: "text/plain, application/json;q=0.9, */*;q=0.5",
  timeoutMs: ms(options.requestTimeout, defaults.requestTimeoutMs),
  maxRetryAfterMs: ms(options.maxRetryAfter, defaults.maxRetryAfterMs),
  attempts: Math.max(1, Math.floor(options.attempts ?? defaults.attempts)),
  retryPolicy: Backoff.make(options.retryBackoff ?? defaults.retryBackoff),
  concurrency: Math.max(1, Math.floor(options.concurrency ?? defaults.concurrency)),
  target: Math.max(1, options.targetAddresses ?? defaults.targetAddresses),
  cap: Math.max(0, Math.floor(options.maxResponseBytes ?? defaults.maxResponseBytes)),
  maxAddresses: Math.max(0, options.maxAddressesPerEndpoint ?? defaults.maxAddressesPerEndpoint),
  maxIssuesLogged: Math.max(0, options.maxIssuesLogged ?? defaults.maxIssuesLogged),
  filter: options.filter ?? {},
  dnsResolver: options.dnsResolver,
  dnsaddr: options.dnsaddr
})

/** Logs the first `maxIssuesLogged` skipped entries, how many more there were, a cut-off body, and the counts. */
const logIssues = (ctx: FetcherContext, result: AttemptResult) =>
  Effect.gen(function*() {
    const parsed = Option.getOrUndefined(result.parsed)
    const body = Option.getOrUndefined(result.body)
    if (parsed === undefined || body === undefined) return
    yield* Effect.forEach(
      parsed.issues.slice(0, ctx.maxIssuesLogged),
      (issue) =>
        Effect.logWarning(`contacts ${issue.kind} entry skipped: ${issue.reason}`).pipe(
          Effect.annotateLogs({ line: issue.line, input: issue.input, ...(issue.path === undefined ? {} : { path: issue.path }) })
        ),
      { discard: true }
    )
    const unused = parsed.invalid + parsed.filtered
    if (unused > ctx.maxIssuesLogged) {
      yield* Effect.logWarning(`contacts: ${unused - Math.min(ctx.maxIssuesLogged, parsed.issues.length)} more invalid or filtered entries not logged`)
    }
    if (body.truncated) {
      yield* Effect.logWarning(`contacts body cut off at ${ctx.cap} bytes (maxResponseBytes); only the lines before the cut were used`)
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

/**
 * `/dnsaddr` addresses replaced by what they resolve to (when a resolver is configured), filtered
 * again. One that resolves to nothing (no DNS here, a name gone) is kept as it is: a resolving
 * dialer can still try it later.
 */
const resolveDnsaddr = (ctx: FetcherContext, addresses: ReadonlyArray<PeerAddress.PeerAddress>) => {
  const resolver = ctx.dnsResolver
  if (resolver === undefined || !addresses.some(Dnsaddr.needsResolution)) return Effect.succeed(addresses)
  return Effect.forEach(addresses, (a) =>
    Dnsaddr.needsResolution(a)
      ? Effect.map(DnsResolver.resolve(a, ctx.dnsaddr), (r) => {
        const usable = r.addresses.filter((x) => Contacts.refusal(x, ctx.filter) === undefined)
        return usable.length === 0 ? [a] : usable
      })
      : Effect.succeed([a]), { concurrency: 4 }).pipe(
    Effect.map((lists) => {
      const keys = new Set<string>()
      return lists.flat().filter((a) => !keys.has(a.key) && keys.add(a.key) !== undefined)
    }),
    Effect.provideService(DnsResolver.DnsResolver, resolver)
  )
}

/** Fetches one endpoint: breaker, retries with backoff, report. Never fails. */
const fetchEndpoint = (ctx: FetcherContext, endpoint: string): Effect.Effect<EndpointResult> =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const bad = invalidUrl(endpoint)
    if (bad !== undefined) {
      return { report: report(endpoint, "failed", Option.some(bad), { attempts: 0, requests: 0, durationMs: 0 }, emptyResult), addresses: [] }
    }
    const run = yield* withRetries(ctx, endpoint, attempt(ctx, endpoint))
    const lastResult = Option.getOrElse(run.value, () => run.lastResult)
    const durationMs = (yield* Clock.currentTimeMillis) - started
    yield* logIssues(ctx, lastResult)
    if (run.lastFailure !== undefined) {
      yield* Effect.logWarning(`contacts endpoint failed: ${run.lastFailure.reason} (${run.lastFailure.detail})`)
      yield* Metric.increment(Metric.tagged(Metric.tagged(endpointOutcomes, "outcome", "failed"), "reason", run.lastFailure.reason))
      return { report: report(endpoint, "failed", Option.some(run.lastFailure), { ...run.counters, durationMs }, lastResult), addresses: [] }
    }
    yield* Metric.increment(Metric.tagged(endpointOutcomes, "outcome", "ok"))
    const parsed = Option.match(lastResult.parsed, { onNone: () => [], onSome: (p) => p.addresses })
    return {
      report: report(endpoint, "ok", Option.none(), { ...run.counters, durationMs }, lastResult),
      addresses: yield* resolveDnsaddr(ctx, parsed)
    }
  }).pipe(Effect.annotateLogs({ endpoint }))

const skipped = (endpoint: string): EndpointReport =>
  report(endpoint, "skipped", Option.none(), { attempts: 0, requests: 0, durationMs: 0 }, emptyResult)

/** Fetches `endpoint` unless `target` addresses are already `gathered`, then adds its addresses' keys to them. */
const fetchUnlessEnough = (ctx: FetcherContext, gathered: Ref.Ref<Set<string>>, endpoint: string): Effect.Effect<EndpointResult> =>
  Effect.gen(function*() {
    if ((yield* Ref.get(gathered)).size >= ctx.target) {
      yield* Metric.increment(Metric.tagged(endpointOutcomes, "outcome", "skipped"))
      return { report: skipped(endpoint), addresses: [] as ReadonlyArray<PeerAddress.PeerAddress> }
    }
    const result = yield* fetchEndpoint(ctx, endpoint)
    yield* Ref.update(gathered, (keys) => {
      const next = new Set(keys)
      for (const a of result.addresses) next.add(a.key)
      return next
    })
    return result
  })

/** Every endpoint's addresses in endpoint order, once per key; a later copy with a peer id replaces one without. */
const mergeAddresses = (results: ReadonlyArray<EndpointResult>): Array<SourcedAddress> => {
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
  return addresses
}

const fetchFrom = (ctx: FetcherContext, endpoints: ReadonlyArray<string>): Effect.Effect<FetchResult, ContactsUnavailable> =>
  Effect.gen(function*() {
    const gathered = yield* Ref.make(new Set<string>())
    const results = yield* Effect.forEach(endpoints, (endpoint) => fetchUnlessEnough(ctx, gathered, endpoint), {
      concurrency: ctx.concurrency
    })
    const addresses = mergeAddresses(results)
    if (addresses.length === 0) {
      return yield* new ContactsUnavailable({ failures: results.flatMap(({ report }) => Option.toArray(report.failure)) })
    }
    return { addresses, endpoints: results.map((r) => r.report) }
  })

const fetchBody = (
  ctx: FetcherContext,
  url: string,
  bodyOptions: { readonly maxBytes?: number } = {}
): Effect.Effect<FetchedBody, EndpointFailure> =>
  Effect.gen(function*() {
    const bad = invalidUrl(url)
    if (bad !== undefined) return yield* bad
    const limit = Math.max(0, Math.floor(bodyOptions.maxBytes ?? ctx.cap))
    const run = yield* withRetries(ctx, url, request(ctx, url, limit))
    if (run.lastFailure !== undefined) return yield* run.lastFailure
    const body = Option.getOrThrow(run.value)
    return { url, text: body.text, bytesRead: body.bytesRead, truncated: body.truncated }
  }).pipe(Effect.annotateLogs({ endpoint: url }))

export const make = (
  options: ContactsFetcherOptions
): Effect.Effect<Fetcher, never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const settings = makeContext(options)
    // The HTTP modules load here, not with this module: a process that never fetches never loads them.
    const Http = yield* Effect.promise(() => import("@effect/platform/HttpClient"))
    // withScope, so every request of a redirect chain is aborted when the attempt's scope closes.
    const client = Http.withScope(yield* Http.HttpClient)
    const guard = yield* makeGuard(options.breaker)
    const ctx: FetcherContext = { ...settings, client, guard }
    return {
      fetch: fetchFrom(ctx, options.endpoints),
      fetchFrom: (endpoints) => fetchFrom(ctx, endpoints),
      fetchBody: (url, bodyOptions) => fetchBody(ctx, url, bodyOptions),
      breakers: guard.status
    }
  })
