/**
 * One HTTP GET of the contacts fetcher: redirects followed by hand under the redirect rule, the body
 * streamed and cut at a cap, and the `Retry-After` of a refusal read.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { PeerAddress } from "@bootstrap-cache/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/** A body read up to a cap: its text, the bytes received, and whether it was cut. */
export interface Body {
  readonly text: string
  readonly bytesRead: number
  readonly truncated: boolean
}

/**
 * Reads a byte stream up to `cap` bytes and stops: the stream is not pulled further (so the
 * connection is aborted) once a chunk crosses the cap. `bytesRead` counts every byte received, so it
 * is at most `cap` + one chunk.
 */
export const readCapped = <E>(stream: Stream.Stream<Uint8Array, E>, cap: number): Effect.Effect<Body, E> =>
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

/** Which address spaces a redirect may lead into (loopback; private and link-local). */
export interface RedirectAllowance {
  readonly allowLoopback: boolean
  readonly allowPrivate: boolean
}

/** The address space of a URL host: an IP literal's scope, `localhost` names as loopback, other names public. */
const hostScope = (hostname: string): PeerAddress.Scope => {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase()
  if (host === "localhost" || host.endsWith(".localhost")) return "loopback"
  const kind = host.includes(":") ? "ip6" : /^\d+(\.\d+){3}$/.test(host) ? "ip4" : undefined
  if (kind === undefined) return "public"
  return Either.match(PeerAddress.parse(`/${kind}/${host}/tcp/1`), { onLeft: () => "reserved" as const, onRight: (a) => a.scope })
}

/** Why a redirect into `scope` is refused (`what` names the host, or the address it resolved to), or `undefined`. */
const scopeRefusal = (scope: PeerAddress.Scope, what: string, allow: RedirectAllowance): string | undefined => {
  switch (scope) {
    case "public":
      return undefined
    case "loopback":
      return allow.allowLoopback ? undefined : `redirect to loopback ${what} refused (redirects.allowLoopback is off)`
    case "private":
    case "link-local":
      return allow.allowPrivate ? undefined : `redirect to ${scope} ${what} refused (redirects.allowPrivate is off)`
    default:
      return `redirect to ${scope} ${what} refused`
  }
}

/**
 * Why a redirect from the configured endpoint `from` to `to` is refused, or `undefined` when it is
 * allowed. The endpoint was configured, so its own host is trusted; any other host must be a public
 * one unless `allow` opens loopback or private/link-local space; `https` never downgrades to `http`;
 * only http(s) is followed. A host given by name counts as public here: {@link resolvedRefusal}
 * checks the addresses it resolves to.
 */
export const redirectRefusal = (from: URL, to: URL, allow: RedirectAllowance): string | undefined => {
  if (to.protocol !== "http:" && to.protocol !== "https:") return `redirect to a ${to.protocol} URL refused`
  if (from.protocol === "https:" && to.protocol === "http:") return "redirect from https to http refused"
  if (to.hostname === from.hostname) return undefined
  return scopeRefusal(hostScope(to.hostname), `host ${to.hostname}`, allow)
}

/** Whether a redirect target is named by a host name other than the endpoint's (not an IP literal, not `localhost`). */
const isOtherName = (from: URL, to: URL): boolean => {
  const host = to.hostname.replace(/^\[|\]$/g, "")
  return to.hostname !== from.hostname && !host.includes(":") && !/^\d+(\.\d+){3}$/.test(host) && hostScope(host) === "public"
}

/** The addresses of a host name, or why they could not be had. */
export type ResolveHost = (name: string) => Effect.Effect<ReadonlyArray<string>, { readonly code: string }>

/**
 * Why a redirect to a host *name* is refused once resolved, or `undefined`: every address it resolves
 * to must pass the same rule as an IP literal (a public name pointing at 127.0.0.1 or 10.0.0.0/8 is
 * refused like the literal); a name that does not resolve is refused. The HTTP client looks the
 * name up again when it connects, so a DNS answer that changes in between (rebinding) is not caught.
 */
export const resolvedRefusal = (to: URL, allow: RedirectAllowance, resolveHost: ResolveHost): Effect.Effect<string | undefined> =>
  resolveHost(to.hostname).pipe(
    Effect.map((addresses) => {
      for (const address of addresses) {
        const refusal = scopeRefusal(hostScope(address), `host ${to.hostname} (it resolves to ${address})`, allow)
        if (refusal !== undefined) return refusal
      }
      return addresses.length === 0 ? `redirect to host ${to.hostname} refused: it resolves to no address` : undefined
    }),
    Effect.catchAll((e) => Effect.succeed(`redirect to host ${to.hostname} refused: it could not be resolved to check it (${e.code})`))
  )

const REDIRECT = new Set([301, 302, 303, 307, 308])

/** A redirect the rule refused: the target and why. */
export interface RedirectRefused {
  readonly _tag: "RedirectRefused"
  readonly location: string
  readonly reason: string
}

/**
 * GETs `url`, following up to `maxRedirects` redirects that {@link redirectRefusal} (and, for a
 * target named by host name, {@link resolvedRefusal}) allows. A
 * redirect past the limit is returned as the response (the caller sees its 3xx status); a refused one
 * fails with {@link RedirectRefused}.
 */
export const get = (
  client: HttpClient.HttpClient.With<HttpClientError.HttpClientError, Scope.Scope>,
  url: string,
  options: {
    readonly maxRedirects: number
    readonly allow: RedirectAllowance
    readonly accept: string
    /** Resolves redirect targets given by name, to check their addresses; without it, names count as public. */
    readonly resolveHost?: ResolveHost | undefined
  }
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError | RedirectRefused, Scope.Scope> =>
  Effect.gen(function*() {
    // Loaded with the first request, not with this module (see `nodePlatform`).
    const Request: typeof HttpClientRequest = yield* Effect.promise(() => import("@effect/platform/HttpClientRequest"))
    const origin = new URL(url)
    let current = origin
    for (let hop = 0;; hop++) {
      const response = yield* client.execute(
        Request.get(current).pipe(Request.setHeader("accept", options.accept))
      )
      const location = response.headers["location"]
      if (!REDIRECT.has(response.status) || location === undefined || hop >= options.maxRedirects) return response
      let next: URL
      try {
        next = new URL(location, current)
      } catch {
        return yield* Effect.fail<RedirectRefused>({ _tag: "RedirectRefused", location: location.slice(0, 80), reason: "not a URL" })
      }
      const refusal = redirectRefusal(origin, next, options.allow) ??
        (options.resolveHost !== undefined && isOtherName(origin, next)
          ? yield* resolvedRefusal(next, options.allow, options.resolveHost)
          : undefined)
      if (refusal !== undefined) {
        return yield* Effect.fail<RedirectRefused>({ _tag: "RedirectRefused", location: next.href.slice(0, 200), reason: refusal })
      }
      current = next
    }
  })

/**
 * The delay a `Retry-After` header asks for, in ms (RFC 9110 §10.2.3: delay-seconds or an HTTP
 * date, relative to `now`, epoch ms), or `undefined` when absent or malformed.
 */
export const retryAfterMs = (header: string | undefined, now: number): number | undefined => {
  if (header === undefined) return undefined
  const text = header.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const date = Date.parse(text)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}
