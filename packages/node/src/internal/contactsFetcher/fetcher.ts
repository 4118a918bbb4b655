/**
 * The body of `ContactsFetcher.make`: per-endpoint attempts through the breaker, retries with backoff
 * (or the server's `Retry-After`, up to a cap), parsing, `/dnsaddr` resolution, reports and merge.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { Backoff, Contacts, Dnsaddr, type PeerAddress } from "@bootstrap-cache/core"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import {
  ContactsUnavailable,
  defaults,
  EndpointFailure,
  type ContactsFetcherOptions,
  type EndpointReport,
  type FailureReason,
  type FetchedBody,
  type Fetcher,
  type FetchResult,
  type SourcedAddress
} from "../../ContactsFetcher.js"
import * as DnsResolver from "../../DnsResolver.js"
import { makeGuard } from "./guard.js"
import { type Body, get, readCapped, retryAfterMs } from "./request.js"

/** The outcome of one request: parsed body (if one was read) and, on failure, why. */
interface AttemptResult {
  readonly body: Option.Option<Body>
  readonly parsed: Option.Option<Contacts.Parsed>
}

/** One attempt failed: the endpoint failure, whether a retry may help (after `retryAfterMs`, if the server said), and what was read. */
class AttemptFailed extends Data.TaggedError("AttemptFailed")<{
  readonly failure: EndpointFailure
  readonly retryable: boolean
  readonly result: AttemptResult
  readonly retryAfterMs?: number
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

const failure = (endpoint: string, reason: FailureReason, detail: string, extra: { status?: number; retryAfterMs?: number } = {}) =>
  new EndpointFailure({ endpoint, reason, detail, ...extra })

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

export const make = (
  options: ContactsFetcherOptions
): Effect.Effect<Fetcher, never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const maxRedirects = Math.max(0, Math.floor(options.maxRedirects ?? defaults.maxRedirects))
    // withScope, so every request of a redirect chain is aborted when the attempt's scope closes.
    const client = HttpClient.withScope(yield* HttpClient.HttpClient)
    const allow = { allowLoopback: options.redirects?.allowLoopback === true, allowPrivate: options.redirects?.allowPrivate === true }
    const guard = yield* makeGuard(options.breaker)
    const timeoutMs = ms(options.requestTimeout, defaults.requestTimeoutMs)
    const maxRetryAfterMs = ms(options.maxRetryAfter, defaults.maxRetryAfterMs)
    const attempts = Math.max(1, Math.floor(options.attempts ?? defaults.attempts))
    const retryPolicy = Backoff.make(options.retryBackoff ?? defaults.retryBackoff)
    const concurrency = Math.max(1, Math.floor(options.concurrency ?? defaults.concurrency))
    const target = Math.max(1, options.targetAddresses ?? defaults.targetAddresses)
    const cap = Math.max(0, Math.floor(options.maxResponseBytes ?? defaults.maxResponseBytes))
    const maxAddresses = Math.max(0, options.maxAddressesPerEndpoint ?? defaults.maxAddressesPerEndpoint)
    const maxIssuesLogged = Math.max(0, options.maxIssuesLogged ?? defaults.maxIssuesLogged)
    const filter = options.filter ?? {}
    const accept = "text/plain, application/json;q=0.9, */*;q=0.5"

    /** One GET and its body up to `limit` bytes, guarded by nothing: the breaker and retries wrap it. */
    const request = (endpoint: string, limit: number): Effect.Effect<Body, AttemptFailed> =>
      Effect.scoped(
        Effect.gen(function*() {
          yield* Metric.increment(requestsTotal)
          const response = yield* get(client, endpoint, { maxRedirects, allow, accept }).pipe(
            Effect.mapError((e) =>
              e._tag === "RedirectRefused"
                ? new AttemptFailed({ failure: failure(endpoint, "redirect-refused", `${e.reason} (Location ${e.location})`), retryable: false, result: emptyResult })
                : new AttemptFailed({ failure: failure(endpoint, "transport", errorDetail(e)), retryable: true, result: emptyResult })
            )
          )
          if (response.status < 200 || response.status > 299) {
            const wait = response.status === 429 || response.status === 503
              ? retryAfterMs(response.headers["retry-after"], yield* Clock.currentTimeMillis)
              : undefined
            return yield* new AttemptFailed({
              failure: failure(endpoint, "status", `HTTP ${response.status}${wait === undefined ? "" : `, Retry-After ${Math.round(wait / 1000)} s`}`, {
                status: response.status
              }),
              retryable: isRetryableStatus(response.status),
              result: emptyResult,
              ...(wait === undefined ? {} : { retryAfterMs: wait })
            })
          }
          return yield* readCapped(response.stream, limit).pipe(
            Effect.mapError((e) => new AttemptFailed({ failure: failure(endpoint, "transport", errorDetail(e)), retryable: true, result: emptyResult }))
          )
        })
      ).pipe(
        Effect.timeoutFail({
          duration: Duration.millis(timeoutMs),
          onTimeout: () =>
            new AttemptFailed({ failure: failure(endpoint, "timeout", `no complete answer within ${timeoutMs} ms`), retryable: true, result: emptyResult })
        })
      )

    /** One contacts attempt: the request, then the body parsed; no accepted address is a failure. */
    const attempt = (endpoint: string): Effect.Effect<AttemptResult, AttemptFailed> =>
      Effect.flatMap(request(endpoint, cap), (body) => {
        const parsed = Contacts.parse(body.text, { filter, maxAddresses, truncated: body.truncated })
        const result: AttemptResult = { body: Option.some(body), parsed: Option.some(parsed) }
        if (parsed.addresses.length > 0) return Effect.succeed(result)
        const counts = `${parsed.invalid} invalid, ${parsed.filtered} filtered, ${parsed.duplicates} duplicate`
        return Effect.fail(
          new AttemptFailed({
            failure: body.truncated
              ? failure(endpoint, "too-large", `body exceeds ${cap} bytes and the first ${cap} bytes gave no address (${counts})`)
              : failure(endpoint, "nothing-valid", `${parsed.format}: no accepted address (${counts})`),
            retryable: false,
            result
          })
        )
      })

    /**
     * Runs `run` through the endpoint's breaker with retries: backoff between attempts, or the
     * server's `Retry-After` when it gave one (a `Retry-After` beyond `maxRetryAfter` ends the
     * retries). Never fails: the last failure, if any, is returned.
     */
    const withRetries = <A>(endpoint: string, run: Effect.Effect<A, AttemptFailed>) =>
      Effect.gen(function*() {
        const counters = { attempts: 0, requests: 0 }
        let value: Option.Option<A> = Option.none()
        let lastResult = emptyResult
        let lastFailure: EndpointFailure | undefined
        let backoff = Backoff.initial
        for (let i = 0; i < attempts; i++) {
          counters.attempts++
          const exit = yield* Effect.exit(guard.execute(endpoint, Effect.suspend(() => {
            counters.requests++
            return run
          })))
          if (Exit.isSuccess(exit)) {
            value = Option.some(exit.value)
            lastFailure = undefined
            break
          }
          const error = Cause.failureOption(exit.cause)
          if (Option.isNone(error)) return yield* Effect.failCause(exit.cause as Cause.Cause<never>)
          const e = error.value
          if (e._tag === "BreakerRejected") {
            // A retry refused because the breaker just opened reports the failure that opened it.
            lastFailure ??= failure(endpoint, "breaker-open", `circuit open, retry in ${e.retryAfterMs} ms`, { retryAfterMs: e.retryAfterMs })
            break
          }
          lastResult = e.result
          lastFailure = e.failure
          if (!e.retryable || i === attempts - 1) break
          const [backoffMs, next] = Backoff.next(retryPolicy, backoff, yield* Random.next)
          backoff = next
          if (e.retryAfterMs !== undefined && e.retryAfterMs > maxRetryAfterMs) {
            lastFailure = failure(endpoint, e.failure.reason, `${e.failure.detail} exceeds maxRetryAfter ${maxRetryAfterMs} ms: not retried`, {
              ...(e.failure.status === undefined ? {} : { status: e.failure.status })
            })
            break
          }
          const delayMs = e.retryAfterMs ?? backoffMs
          yield* Effect.logDebug(`contacts attempt ${i + 1} failed (${e.failure.detail}), retrying in ${Math.round(delayMs)} ms`)
          yield* Effect.sleep(Duration.millis(delayMs))
        }
        return { value, lastResult, lastFailure, counters }
      })

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

    /**
     * `/dnsaddr` addresses replaced by what they resolve to (when a resolver is configured), filtered
     * again. One that resolves to nothing (no DNS here, a name gone) is kept as it is: a resolving
     * dialer can still try it later.
     */
    const resolveDnsaddr = (addresses: ReadonlyArray<PeerAddress.PeerAddress>) => {
      const resolver = options.dnsResolver
      if (resolver === undefined || !addresses.some(Dnsaddr.needsResolution)) return Effect.succeed(addresses)
      return Effect.forEach(addresses, (a) =>
        Dnsaddr.needsResolution(a)
          ? Effect.map(DnsResolver.resolve(a, options.dnsaddr), (r) => {
            const usable = r.addresses.filter((x) => Contacts.refusal(x, filter) === undefined)
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
    const fetchEndpoint = (
      endpoint: string
    ): Effect.Effect<{ readonly report: EndpointReport; readonly addresses: ReadonlyArray<PeerAddress.PeerAddress> }> =>
      Effect.gen(function*() {
        const started = yield* Clock.currentTimeMillis
        const bad = invalidUrl(endpoint)
        if (bad !== undefined) {
          return { report: report(endpoint, "failed", Option.some(bad), { attempts: 0, requests: 0, durationMs: 0 }, emptyResult), addresses: [] }
        }
        const run = yield* withRetries(endpoint, attempt(endpoint))
        const lastResult = Option.getOrElse(run.value, () => run.lastResult)
        const durationMs = (yield* Clock.currentTimeMillis) - started
        yield* logIssues(lastResult)
        if (run.lastFailure !== undefined) {
          yield* Effect.logWarning(`contacts endpoint failed: ${run.lastFailure.reason} (${run.lastFailure.detail})`)
          yield* Metric.increment(Metric.tagged(Metric.tagged(endpointOutcomes, "outcome", "failed"), "reason", run.lastFailure.reason))
          return { report: report(endpoint, "failed", Option.some(run.lastFailure), { ...run.counters, durationMs }, lastResult), addresses: [] }
        }
        yield* Metric.increment(Metric.tagged(endpointOutcomes, "outcome", "ok"))
        const parsed = Option.match(lastResult.parsed, { onNone: () => [], onSome: (p) => p.addresses })
        return {
          report: report(endpoint, "ok", Option.none(), { ...run.counters, durationMs }, lastResult),
          addresses: yield* resolveDnsaddr(parsed)
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
          return yield* new ContactsUnavailable({ failures: results.flatMap(({ report }) => Option.toArray(report.failure)) })
        }
        return { addresses, endpoints: results.map((r) => r.report) }
      })

    const fetchBody = (url: string, bodyOptions: { readonly maxBytes?: number } = {}): Effect.Effect<FetchedBody, EndpointFailure> =>
      Effect.gen(function*() {
        const bad = invalidUrl(url)
        if (bad !== undefined) return yield* bad
        const limit = Math.max(0, Math.floor(bodyOptions.maxBytes ?? cap))
        const run = yield* withRetries(url, request(url, limit))
        if (run.lastFailure !== undefined) return yield* run.lastFailure
        const body = Option.getOrThrow(run.value)
        return { url, text: body.text, bytesRead: body.bytesRead, truncated: body.truncated }
      }).pipe(Effect.annotateLogs({ endpoint: url }))

    return {
      fetch: fetchFrom(options.endpoints),
      fetchFrom,
      fetchBody,
      breakers: guard.status
    }
  })
