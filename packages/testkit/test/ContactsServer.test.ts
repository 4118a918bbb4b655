import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ContactsServer from "../src/ContactsServer.js"

const { Behaviour } = ContactsServer

/** A real HTTP GET with the platform's fetch: status and full body text. */
const get = (url: string) =>
  Effect.tryPromise(async () => {
    const res = await fetch(url)
    return { status: res.status, body: await res.text() }
  })

/** Reads at most `bytes` bytes of the body, then cancels the response. */
const readSome = (url: string, bytes: number) =>
  Effect.tryPromise(async () => {
    const res = await fetch(url)
    const reader = res.body!.getReader()
    let read = 0
    while (read < bytes) {
      const { done, value } = await reader.read()
      if (done) break
      read += value.length
    }
    await reader.cancel()
    return read
  })

const ADDR = "/ip4/139.59.168.228/udp/56309/quic-v1/p2p/12D3KooWFTMtaqu24ddDSXk9v5YxnuhJmTLFRunER1CG4wZ2XLUU"

describe("ContactsServer", () => {
  it.scopedLive("listens on 127.0.0.1 with an OS-chosen port and serves scripted bodies", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({ "/peers": Behaviour.Body({ body: `${ADDR}\n` }) })
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(server.urlFor("/peers")).toBe(`${server.url}/peers`)
      expect(yield* get(server.urlFor("/peers"))).toEqual({ status: 200, body: `${ADDR}\n` })
      expect(yield* server.requests("/peers")).toBe(1)
      expect(yield* server.stats("/peers")).toMatchObject({ requests: 1, completed: 1, aborted: 0, bytesSent: ADDR.length + 1 })
    }))

  it.scopedLive("answers 404 on unscripted paths and counts those requests too", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make()
      expect((yield* get(server.urlFor("/nothing"))).status).toBe(404)
      expect(yield* server.requests("/nothing")).toBe(1)
      expect(yield* server.requests("/never")).toBe(0)
    }))

  it.scopedLive("fails with a status, and fails N times before succeeding", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({
        "/down": Behaviour.Status({ status: 503 }),
        "/flaky": Behaviour.FailThenSucceed({ failures: 2, body: ADDR })
      })
      expect((yield* get(server.urlFor("/down"))).status).toBe(503)
      const statuses = []
      for (let i = 0; i < 4; i++) statuses.push((yield* get(server.urlFor("/flaky"))).status)
      expect(statuses).toEqual([503, 503, 200, 200])
    }))

  it.scopedLive("set() rescripts a path and resets its counters", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({ "/p": Behaviour.Status({ status: 500 }) })
      expect((yield* get(server.urlFor("/p"))).status).toBe(500)
      yield* server.set("/p", Behaviour.Body({ body: "ok", status: 201 }))
      expect(yield* server.requests("/p")).toBe(0)
      expect(yield* get(server.urlFor("/p"))).toEqual({ status: 201, body: "ok" })
    }))

  it.scopedLive("delays a response: a short delay answers, a long one is still unanswered when the client gives up", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({
        "/slow": Behaviour.Delay({ ms: 20, body: ADDR }),
        "/slower": Behaviour.Delay({ ms: 60_000, body: ADDR })
      })
      expect(yield* get(server.urlFor("/slow"))).toEqual({ status: 200, body: ADDR })
      const gaveUp = yield* Effect.either(
        Effect.tryPromise(() => fetch(server.urlFor("/slower"), { signal: AbortSignal.timeout(100) }))
      )
      expect(Either.isLeft(gaveUp)).toBe(true)
      yield* server.awaitAborted("/slower").pipe(Effect.timeout("5 seconds"))
      expect(yield* server.stats("/slower")).toMatchObject({ requests: 1, completed: 0, aborted: 1, bytesSent: 0 })
    }))

  it.scopedLive("hangs: the request is counted, never answered, and seen aborted when the client gives up", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({ "/hang": Behaviour.Hang() })
      const result = yield* Effect.either(
        Effect.tryPromise(() => fetch(server.urlFor("/hang"), { signal: AbortSignal.timeout(100) }))
      )
      expect(Either.isLeft(result)).toBe(true)
      yield* server.awaitAborted("/hang").pipe(Effect.timeout("5 seconds"))
      expect(yield* server.stats("/hang")).toMatchObject({ requests: 1, completed: 0, aborted: 1 })
    }))

  it.scopedLive("drips a body a few bytes at a time", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({
        "/drip": Behaviour.Drip({ intervalMs: 2, chunkBytes: 8, body: `${ADDR}\n` })
      })
      expect(yield* get(server.urlFor("/drip"))).toEqual({ status: 200, body: `${ADDR}\n` })
    }))

  it.scopedLive("streams a huge body on the fly, and stops when the client goes away", () =>
    Effect.gen(function*() {
      const size = 20 * 1024 * 1024
      const server = yield* ContactsServer.make({ "/huge": Behaviour.Huge({ bytes: size }) })
      const read = yield* readSome(server.urlFor("/huge"), 256 * 1024)
      expect(read).toBeGreaterThanOrEqual(256 * 1024)
      yield* server.awaitAborted("/huge").pipe(Effect.timeout("5 seconds"))
      const stats = yield* server.stats("/huge")
      expect(stats.completed).toBe(0)
      expect(stats.bytesSent).toBeLessThan(size)
    }))

  it.scopedLive("a huge body read to the end has exactly the announced size, in valid lines", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({ "/huge": Behaviour.Huge({ bytes: 300_000 }) })
      const { body } = yield* get(server.urlFor("/huge"))
      expect(body.length).toBe(300_000)
      expect(body.split("\n")[0]).toMatch(/^\/ip4\/203\.0\.113\.7\/tcp\/4001\/p2p\//)
    }))

  it.scopedLive("sends deterministic garbage of the requested size", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({ "/junk": Behaviour.Garbage({ bytes: 2048, seed: 7 }) })
      const bytes = () =>
        Effect.tryPromise(async () => new Uint8Array(await (await fetch(server.urlFor("/junk"))).arrayBuffer()))
      const first = yield* bytes()
      const second = yield* bytes()
      expect(first.length).toBe(2048)
      expect(second).toEqual(first)
      expect(first.some((b) => b > 0x7f)).toBe(true)
    }))

  it.scopedLive("redirects with a Location header (302 by default)", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({
        "/old": Behaviour.Redirect({ location: "/peers" }),
        "/moved": Behaviour.Redirect({ location: "/peers", status: 301 }),
        "/peers": Behaviour.Body({ body: ADDR })
      })
      const res = yield* Effect.tryPromise(() => fetch(server.urlFor("/old"), { redirect: "manual" }))
      expect([res.status, res.headers.get("location")]).toEqual([302, "/peers"])
      yield* Effect.promise(() => res.arrayBuffer())
      expect(yield* get(server.urlFor("/moved"))).toEqual({ status: 200, body: ADDR })
      expect(yield* server.requests("/peers")).toBe(1)
    }))

  it.scopedLive("resets the connection", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({ "/reset": Behaviour.Reset() })
      expect(Either.isLeft(yield* Effect.either(get(server.urlFor("/reset"))))).toBe(true)
      expect(yield* server.requests("/reset")).toBe(1)
    }))

  it.live("closes when its scope closes, ending hanging and dripping responses", () =>
    Effect.gen(function*() {
      const url = yield* Effect.scoped(
        Effect.gen(function*() {
          const server = yield* ContactsServer.make({
            "/hang": Behaviour.Hang(),
            "/drip": Behaviour.Drip({ intervalMs: 5 })
          })
          // Start requests that would never finish on their own.
          yield* Effect.forkDaemon(Effect.either(get(server.urlFor("/hang"))))
          yield* readSome(server.urlFor("/drip"), 4)
          return server.url
        })
      )
      const after = yield* Effect.either(get(`${url}/hang`))
      expect(Either.isLeft(after)).toBe(true)
    }).pipe(Effect.timeout("5 seconds")))
})
