/**
 * One contacts request and its retries: a GET with its body read up to a cap, the body parsed, and
 * the loop that repeats an attempt through the endpoint's breaker with backoff (or the server's
 * `Retry-After`, up to a cap).
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import { Backoff, Contacts } from "@bootstrap-cache/core"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import { EndpointFailure, type FailureReason } from "../../ContactsFetcher.js"
import type { Guard } from "./guard.js"
import { type Body, get, readCapped, type RedirectAllowance, type ResolveHost, retryAfterMs } from "./request.js"

/** What a request, an attempt and its retries need, read once from the fetcher's options. */
export interface AttemptContext {
  /** Scoped client: every request of a redirect chain is aborted when the attempt's scope closes. */
  readonly client: HttpClient.HttpClient.With<HttpClientError.HttpClientError, Scope.Scope>
  readonly guard: Guard
  readonly maxRedirects: number
  readonly allow: RedirectAllowance
  /** Resolves redirect targets named by host, to check their addresses (the fetcher's DNS resolver). */
  readonly resolveHost: ResolveHost | undefined
  readonly accept: string
  readonly timeoutMs: number
  readonly maxRetryAfterMs: number
  readonly attempts: number
  readonly retryPolicy: Backoff.Policy
  /** `maxResponseBytes`, in bytes. */
  readonly cap: number
  readonly maxAddresses: number
  readonly filter: Contacts.AddressFilter
}

/** The outcome of one request: parsed body (if one was read) and, on failure, why. */
export interface AttemptResult {
  readonly body: Option.Option<Body>
  readonly parsed: Option.Option<Contacts.Parsed>
}

/** One attempt failed: the endpoint failure, whether a retry may help (after `retryAfterMs`, if the server said), and what was read. */
export class AttemptFailed extends Data.TaggedError("AttemptFailed")<{
  readonly failure: EndpointFailure
  readonly retryable: boolean
  readonly result: AttemptResult
  readonly retryAfterMs?: number
}> {}

/** The outcome of an endpoint's attempts: the value if one succeeded, what the last one read, its failure, and the counts. */
export interface RetriesOutcome<A> {
  readonly value: Option.Option<A>
  readonly lastResult: AttemptResult
  readonly lastFailure: EndpointFailure | undefined
  readonly counters: { attempts: number; requests: number }
}

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

export const emptyResult: AttemptResult = { body: Option.none(), parsed: Option.none() }

const requestsTotal = Metric.counter("bootstrap_cache_contacts_requests_total", {
  description: "HTTP requests sent to contacts endpoints"
})

export const failure = (endpoint: string, reason: FailureReason, detail: string, extra: { status?: number; retryAfterMs?: number } = {}) =>
  new EndpointFailure({ endpoint, reason, detail, ...extra })

/** A non-2xx answer as a failed attempt, with the server's `Retry-After` on 429 and 503. */
const statusFailure = (endpoint: string, status: number, retryAfterHeader: string | undefined) =>
  Effect.gen(function*() {
    const wait = status === 429 || status === 503
      ? retryAfterMs(retryAfterHeader, yield* Clock.currentTimeMillis)
      : undefined
    return new AttemptFailed({
      failure: failure(endpoint, "status", `HTTP ${status}${wait === undefined ? "" : `, Retry-After ${Math.round(wait / 1000)} s`}`, {
        status
      }),
      retryable: isRetryableStatus(status),
      result: emptyResult,
      ...(wait === undefined ? {} : { retryAfterMs: wait })
    })
  })

/** One GET and its body up to `limit` bytes, guarded by nothing: the breaker and retries wrap it. */
export const request = (ctx: AttemptContext, endpoint: string, limit: number): Effect.Effect<Body, AttemptFailed> =>
  Effect.scoped(
    Effect.gen(function*() {
      yield* Metric.increment(requestsTotal)
      const response = yield* get(ctx.client, endpoint, {
        maxRedirects: ctx.maxRedirects,
        allow: ctx.allow,
        accept: ctx.accept,
        resolveHost: ctx.resolveHost
      }).pipe(
        Effect.mapError((e) =>
          e._tag === "RedirectRefused"
            ? new AttemptFailed({ failure: failure(endpoint, "redirect-refused", `${e.reason} (Location ${e.location})`), retryable: false, result: emptyResult })
            : new AttemptFailed({ failure: failure(endpoint, "transport", errorDetail(e)), retryable: true, result: emptyResult })
        )
      )
      if (response.status < 200 || response.status > 299) {
        const failed = yield* statusFailure(endpoint, response.status, response.headers["retry-after"])
        return yield* failed
      }
      return yield* readCapped(response.stream, limit).pipe(
        Effect.mapError((e) => new AttemptFailed({ failure: failure(endpoint, "transport", errorDetail(e)), retryable: true, result: emptyResult }))
      )
    })
  ).pipe(
    Effect.timeoutFail({
      duration: Duration.millis(ctx.timeoutMs),
      onTimeout: () =>
        new AttemptFailed({ failure: failure(endpoint, "timeout", `no complete answer within ${ctx.timeoutMs} ms`), retryable: true, result: emptyResult })
    })
  )

/** One contacts attempt: the request, then the body parsed; no accepted address is a failure. */
export const attempt = (ctx: AttemptContext, endpoint: string): Effect.Effect<AttemptResult, AttemptFailed> =>
  Effect.flatMap(request(ctx, endpoint, ctx.cap), (body) => {
    const parsed = Contacts.parse(body.text, { filter: ctx.filter, maxAddresses: ctx.maxAddresses, truncated: body.truncated })
    const result: AttemptResult = { body: Option.some(body), parsed: Option.some(parsed) }
    if (parsed.addresses.length > 0) return Effect.succeed(result)
    const counts = `${parsed.invalid} invalid, ${parsed.filtered} filtered, ${parsed.duplicates} duplicate`
    return Effect.fail(
      new AttemptFailed({
        failure: body.truncated
          ? failure(endpoint, "too-large", `body exceeds ${ctx.cap} bytes and the first ${ctx.cap} bytes gave no address (${counts})`)
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
export const withRetries = <A>(ctx: AttemptContext, endpoint: string, run: Effect.Effect<A, AttemptFailed>) =>
  Effect.gen(function*() {
    const counters = { attempts: 0, requests: 0 }
    let value: Option.Option<A> = Option.none()
    let lastResult = emptyResult
    let lastFailure: EndpointFailure | undefined
    let backoff = Backoff.initial
    for (let i = 0; i < ctx.attempts; i++) {
      counters.attempts++
      const exit = yield* Effect.exit(ctx.guard.execute(endpoint, Effect.suspend(() => {
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
      if (!e.retryable || i === ctx.attempts - 1) break
      const [backoffMs, next] = Backoff.next(ctx.retryPolicy, backoff, yield* Random.next)
      backoff = next
      if (e.retryAfterMs !== undefined && e.retryAfterMs > ctx.maxRetryAfterMs) {
        lastFailure = failure(endpoint, e.failure.reason, `${e.failure.detail} exceeds maxRetryAfter ${ctx.maxRetryAfterMs} ms: not retried`, {
          ...(e.failure.status === undefined ? {} : { status: e.failure.status })
        })
        break
      }
      const delayMs = e.retryAfterMs ?? backoffMs
      yield* Effect.logDebug(`contacts attempt ${i + 1} failed (${e.failure.detail}), retrying in ${Math.round(delayMs)} ms`)
      yield* Effect.sleep(Duration.millis(delayMs))
    }
    const outcome: RetriesOutcome<A> = { value, lastResult, lastFailure, counters }
    return outcome
  })
