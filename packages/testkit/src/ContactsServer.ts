/**
 * A real HTTP contacts server for tests and demos: `node:http` on 127.0.0.1, an OS-chosen port, with
 * a scripted behaviour per path (serve a body, fail with a status, fail N times then succeed, delay,
 * hang, drip slowly, stream a huge body, send garbage, redirect, reset) and per-path counters, so a test can assert
 * how many requests reached the server ("the breaker rejected without a request") and whether a
 * response was abandoned by the client before it finished ("the fetcher stopped reading at the cap").
 *
 * The server is a scoped resource: it is closed, and every open connection destroyed, when the scope
 * closes.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

/**
 * What the server does for a path.
 *
 * - `Body`: `status` (default 200) with `body`; `contentType` default `text/plain; charset=utf-8`.
 * - `Status`: responds `status` with an optional short `body` (default the status text).
 * - `FailThenSucceed`: the first `failures` requests get `status` (default 503), with a `Retry-After:
 *   retryAfter` header when given, later ones `body`.
 * - `Delay`: waits `ms` milliseconds (real time, on the server) before sending `body`.
 * - `Hang`: reads the request and never answers.
 * - `Drip`: sends headers at once, then `chunkBytes` characters (default 1) every `intervalMs`
 *   milliseconds: through `body` once and ends if given, otherwise `/ip4/1.2.3.4/tcp/1\n` forever.
 * - `Huge`: streams `bytes` bytes (e.g. 20 MiB) of `line` repeated (default a valid multiaddr in the
 *   documentation range 203.0.113.0/24, which filters refuse), generated on the fly in blocks of whole lines (about 64 KiB),
 *   honouring backpressure, never holding the body in memory.
 * - `Garbage`: `bytes` bytes (default 4096) of deterministic pseudo-random bytes (seeded by `seed`),
 *   newlines included.
 * - `Reset`: destroys the socket without answering (a transport error for the client).
 * - `Redirect`: answers `status` (default 302) with `Location: location` (a path on this server or an
 *   absolute URL) and an empty body.
 *
 * @since 0.1.0
 */
export type Behaviour = Data.TaggedEnum<{
  Body: { readonly body: string; readonly status?: number; readonly contentType?: string }
  Status: { readonly status: number; readonly body?: string }
  FailThenSucceed: { readonly failures: number; readonly body: string; readonly status?: number; readonly retryAfter?: string }
  Delay: { readonly ms: number; readonly body: string }
  Hang: {}
  Drip: { readonly intervalMs: number; readonly body?: string; readonly chunkBytes?: number }
  Huge: { readonly bytes: number; readonly line?: string }
  Garbage: { readonly bytes?: number; readonly seed?: number }
  Reset: {}
  Redirect: { readonly location: string; readonly status?: number }
}>

/**
 * Constructors for {@link Behaviour}: `Behaviour.Body({ body })`, `Behaviour.Status({ status: 503 })`, …
 *
 * @since 0.1.0
 */
export const Behaviour = Data.taggedEnum<Behaviour>()

/**
 * Counters for one path since the server started (or since the path was last {@link ContactsServer.set}).
 *
 * - `requests`: requests received.
 * - `bytesSent`: body bytes handed to the socket (after backpressure), all responses.
 * - `completed`: responses that were sent to the end.
 * - `aborted`: responses whose connection closed before they were sent to the end (the client gave up).
 *
 * @since 0.1.0
 */
export interface PathStats {
  readonly requests: number
  readonly bytesSent: number
  readonly completed: number
  readonly aborted: number
}

/**
 * A running contacts server.
 *
 * - `url`: the base URL, `http://127.0.0.1:<port>` (no trailing slash).
 * - `urlFor(path)`: `url` + path (`path` starts with `/`).
 * - `set(path, behaviour)`: (re)scripts a path and resets its counters.
 * - `stats(path)`: the path's {@link PathStats}; zeros for a path never requested.
 * - `requests(path)`: shorthand for `stats(path).requests`.
 * - `awaitAborted(path)`: completes once a response on the path has been abandoned by the client
 *   (connection closed before the end). Bound it with a timeout in tests.
 *
 * Unscripted paths answer 404.
 *
 * @since 0.1.0
 */
export interface ContactsServer {
  readonly url: string
  readonly urlFor: (path: string) => string
  readonly set: (path: string, behaviour: Behaviour) => Effect.Effect<void>
  readonly stats: (path: string) => Effect.Effect<PathStats>
  readonly requests: (path: string) => Effect.Effect<number>
  readonly awaitAborted: (path: string) => Effect.Effect<void>
}

/**
 * The server could not listen on 127.0.0.1.
 *
 * @since 0.1.0
 */
export class ContactsServerError extends Data.TaggedError("ContactsServerError")<{
  readonly reason: string
}> {
  override get message(): string {
    return `contacts server failed to start: ${this.reason}`
  }
}

interface Route {
  behaviour: Behaviour
  requests: number
  bytesSent: number
  completed: number
  aborted: number
  abortedSignal: Deferred.Deferred<void>
}

const HUGE_LINE = "/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWLAX6Z1m5gNxPGZQRV6VEzCtipNGcP1YhrAYNYT3yq5mv\n"
const DRIP_LINE = "/ip4/1.2.3.4/tcp/1\n"
const CHUNK = 64 * 1024

/** A small deterministic generator (mulberry32), so garbage is the same on every run. */
const mulberry32 = (seed: number) => () => {
  let t = (seed += 0x6d2b79f5)
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** The server's mutable state: routes by path and pending timers (cleared when the server closes). */
interface State {
  readonly table: Map<string, Route>
  readonly timers: Set<NodeJS.Timeout>
}

const newRoute = (behaviour: Behaviour): Route => ({
  behaviour,
  requests: 0,
  bytesSent: 0,
  completed: 0,
  aborted: 0,
  abortedSignal: Deferred.unsafeMake<void>(FiberId.none)
})

/** The route of a path; an unscripted path gets a 404 route (so its requests are counted too). */
const routeFor = (state: State, path: string): Route => {
  let route = state.table.get(path)
  if (route === undefined) {
    route = newRoute(Behaviour.Status({ status: 404 }))
    state.table.set(path, route)
  }
  return route
}

/** Runs `f` after `ms` ms unless the server closes first. */
const later = (state: State, ms: number, f: () => void): void => {
  const t = setTimeout(() => {
    state.timers.delete(t)
    f()
  }, ms)
  state.timers.add(t)
}

/** One response in progress: its route, and writes that count the bytes handed to the socket. */
interface Reply {
  readonly state: State
  readonly res: Http.ServerResponse
  readonly write: (chunk: string | Buffer) => boolean
  readonly send: (status: number, body: string, contentType?: string, extra?: Http.OutgoingHttpHeaders) => void
}

/** Counts the request and the response's end (completed, or aborted by the client) on `route`. */
const track = (state: State, route: Route, res: Http.ServerResponse): Reply => {
  route.requests++
  let finished = false
  res.on("finish", () => {
    finished = true
    route.completed++
  })
  res.on("close", () => {
    if (!finished) {
      route.aborted++
      Deferred.unsafeDone(route.abortedSignal, Effect.void)
    }
  })
  const write = (chunk: string | Buffer): boolean => {
    route.bytesSent += typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.length
    return res.write(chunk)
  }
  const send = (status: number, body: string, contentType = "text/plain; charset=utf-8", extra: Http.OutgoingHttpHeaders = {}) => {
    res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body), ...extra })
    if (body.length > 0) write(body)
    res.end()
  }
  return { state, res, write, send }
}

/** `Drip`: headers at once, then `chunkBytes` characters every `intervalMs`. */
const drip = ({ res, state, write }: Reply, b: Extract<Behaviour, { _tag: "Drip" }>): void => {
  res.writeHead(200, { "content-type": "text/plain; charset=utf-8" })
  res.flushHeaders()
  const size = Math.max(1, b.chunkBytes ?? 1)
  let offset = 0
  const tick = () => {
    if (res.destroyed) return
    if (b.body === undefined) {
      let chunk = ""
      for (let i = 0; i < size; i++) chunk += DRIP_LINE[(offset + i) % DRIP_LINE.length]
      write(chunk)
      offset += size
    } else {
      write(b.body.slice(offset, offset + size))
      offset += size
      if (offset >= b.body.length) return void res.end()
    }
    later(state, b.intervalMs, tick)
  }
  later(state, b.intervalMs, tick)
}

/** `Huge`: `bytes` bytes of whole lines, generated block by block, honouring backpressure. */
const huge = ({ res, write }: Reply, b: Extract<Behaviour, { _tag: "Huge" }>): void => {
  res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-length": b.bytes })
  const line = b.line ?? HUGE_LINE
  // Whole lines per block, so consecutive blocks never split a line.
  const block = Buffer.from(line.repeat(Math.max(1, Math.floor(CHUNK / Buffer.byteLength(line)))))
  let remaining = b.bytes
  const pump = () => {
    while (remaining > 0 && !res.destroyed) {
      const chunk = remaining >= block.length ? block : block.subarray(0, remaining)
      remaining -= chunk.length
      if (!write(chunk)) return void res.once("drain", pump)
    }
    if (!res.destroyed) res.end()
  }
  pump()
}

/** `Garbage`: deterministic pseudo-random bytes, about 5% newlines. */
const garbage = ({ res, write }: Reply, b: Extract<Behaviour, { _tag: "Garbage" }>): void => {
  const random = mulberry32(b.seed ?? 42)
  const bytes = Buffer.alloc(b.bytes ?? 4096)
  for (let i = 0; i < bytes.length; i++) {
    const r = random()
    bytes[i] = r < 0.05 ? 0x0a : Math.floor(random() * 256)
  }
  res.writeHead(200, { "content-type": "text/plain", "content-length": bytes.length })
  write(bytes)
  res.end()
}

/** Answers one request with its path's behaviour. */
const handle = (state: State) => (req: Http.IncomingMessage, res: Http.ServerResponse): void => {
  const route = routeFor(state, (req.url ?? "/").split("?")[0] ?? "/")
  const reply = track(state, route, res)
  const n = route.requests
  const { send } = reply
  req.resume()
  const b = route.behaviour
  switch (b._tag) {
    case "Body":
      return send(b.status ?? 200, b.body, b.contentType)
    case "Status":
      return send(b.status, b.body ?? (Http.STATUS_CODES[b.status] ?? ""))
    case "FailThenSucceed":
      return n <= b.failures
        ? send(b.status ?? 503, Http.STATUS_CODES[b.status ?? 503] ?? "", undefined, b.retryAfter === undefined ? {} : { "retry-after": b.retryAfter })
        : send(200, b.body)
    case "Delay":
      return later(state, b.ms, () => {
        if (!res.destroyed) send(200, b.body)
      })
    case "Hang":
      return
    case "Reset":
      return void req.socket.destroy()
    case "Redirect":
      res.writeHead(b.status ?? 302, { location: b.location, "content-length": 0 })
      return void res.end()
    case "Drip":
      return drip(reply, b)
    case "Huge":
      return huge(reply, b)
    case "Garbage":
      return garbage(reply, b)
  }
}

/** Listens on `host` with an OS-chosen port; closing clears the timers and destroys every connection. */
const listen = (state: State, host: string) =>
  Effect.acquireRelease(
    Effect.async<Http.Server, ContactsServerError>((resume) => {
      const server = Http.createServer(handle(state))
      server.once("error", (e) => resume(Effect.fail(new ContactsServerError({ reason: e.message }))))
      server.listen(0, host, () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.async<void>((resume) => {
        for (const t of state.timers) clearTimeout(t)
        state.timers.clear()
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
  )

/** A path's counters; zeros for a path never requested. */
const statsOf = (state: State, path: string): PathStats => {
  const r = state.table.get(path)
  return r === undefined
    ? { requests: 0, bytesSent: 0, completed: 0, aborted: 0 }
    : { requests: r.requests, bytesSent: r.bytesSent, completed: r.completed, aborted: r.aborted }
}

/**
 * Starts a contacts server on 127.0.0.1 (or another loopback address given as `options.host`, e.g.
 * `127.0.0.2` for redirect tests) with an OS-chosen port, scripted with `routes`
 * (path → {@link Behaviour}); more paths can be scripted later with `set`. Closed when the scope
 * closes: listening stops and every connection is destroyed, so hanging and dripping responses end.
 *
 * Fails with {@link ContactsServerError} when it cannot listen.
 *
 * @since 0.1.0
 */
export const make = (
  routes: Readonly<Record<string, Behaviour>> = {},
  options: { readonly host?: string } = {}
): Effect.Effect<ContactsServer, ContactsServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const host = options.host ?? "127.0.0.1"
    const state: State = { table: new Map(), timers: new Set() }
    for (const [path, behaviour] of Object.entries(routes)) state.table.set(path, newRoute(behaviour))
    const server = yield* listen(state, host)
    const url = `http://${host}:${(server.address() as AddressInfo).port}`
    const stats = (path: string) => Effect.sync(() => statsOf(state, path))
    return {
      url,
      urlFor: (path: string) => `${url}${path}`,
      set: (path: string, behaviour: Behaviour) => Effect.sync(() => void state.table.set(path, newRoute(behaviour))),
      stats,
      requests: (path: string) => Effect.map(stats(path), (s) => s.requests),
      awaitAborted: (path: string) => Effect.suspend(() => Deferred.await(routeFor(state, path).abortedSignal))
    }
  })
