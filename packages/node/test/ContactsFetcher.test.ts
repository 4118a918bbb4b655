import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { ContactsServer } from "@bootstrap-cache/testkit"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { readFileSync } from "node:fs"
import * as ContactsFetcher from "../src/ContactsFetcher.js"

const { Behaviour } = ContactsServer

const fixtures = new URL("../../../fixtures/", import.meta.url)
const fixture = (name: string) => readFileSync(new URL(name, fixtures), "utf8")

// Real peers, from fixtures/autonomi-network-contacts.txt.
const PEERS = fixture("autonomi-network-contacts.txt")
const PEER_COUNT = 5
const B = "12D3KooWKgJQedzCxrp33u3dBD1mUZ9HTjEjgrxskEBvzoQWkRT9"
const B_BARE = "/ip4/46.101.80.187/udp/58070/quic-v1"

const MiB = 1024 * 1024

/** A fresh fetcher on a real undici client, for the duration of `f`. */
const withFetcher = <A, E>(
  options: ContactsFetcher.ContactsFetcherOptions,
  f: (fetcher: ContactsFetcher.ContactsFetcher["Type"]) => Effect.Effect<A, E>
) => Effect.scoped(Effect.flatMap(ContactsFetcher.make(options), f)).pipe(Effect.provide(NodeHttpClient.layerUndici))

const reasons = (error: ContactsFetcher.ContactsUnavailable) => error.failures.map((f) => [f.endpoint, f.reason])

/** Lets socket I/O run (one turn of Node's event loop) without touching any clock. */
const yieldToEventLoop = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/** Repeats `check` (letting socket I/O run between tries) until it holds. No clock involved. */
const waitUntil = (check: Effect.Effect<boolean>) =>
  Effect.repeat(Effect.zipRight(yieldToEventLoop, check), { until: (ok) => ok })

/**
 * Runs `effect` to completion on the TestClock, firing each pending sleep due within `horizonMs`
 * (retry backoffs) as soon as it is registered, never a later one (request timeouts). No real waiting.
 */
const driveBackoffs = <A, E>(effect: Effect.Effect<A, E>, horizonMs: number): Effect.Effect<A, E> =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    while (Option.isNone(yield* Fiber.poll(fiber))) {
      yield* yieldToEventLoop
      const now = yield* Clock.currentTimeMillis
      const due = Chunk.filter(yield* TestClock.sleeps(), (at) => at > now && at - now <= horizonMs)
      if (Chunk.isNonEmpty(due)) yield* TestClock.adjust(Math.min(...due) - now)
    }
    return yield* Fiber.join(fiber)
  })

/** Captures every log line (message and annotations) of `effect`. */
const captureLogs = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const logs: Array<{ level: string; message: string; annotations: Record<string, unknown> }> = []
    const logger = Logger.make(({ annotations, logLevel, message }) => {
      logs.push({ level: logLevel.label, message: String(message), annotations: Object.fromEntries(annotations) })
    })
    const result = yield* effect.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    return [result, logs] as const
  })

/** Runs the fetch and returns its error; fails the test if the fetch succeeded. */
const unavailable = <A>(effect: Effect.Effect<A, ContactsFetcher.ContactsUnavailable>) =>
  Effect.flip(effect)

describe("ContactsFetcher — fallback", () => {
  it.scoped("fails over to the next endpoint and records where each address came from", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({
        "/down": Behaviour.Status({ status: 503 }),
        "/peers": Behaviour.Body({ body: PEERS })
      })
      const endpoints = [server.urlFor("/down"), server.urlFor("/peers")]
      const result = yield* withFetcher({ endpoints, attempts: 1, concurrency: 1 }, (f) => f.fetch)
      expect(result.addresses).toHaveLength(PEER_COUNT)
      expect(result.addresses.every((a) => a.source === server.urlFor("/peers"))).toBe(true)
      expect(result.endpoints.map((r) => r.outcome)).toEqual(["failed", "ok"])
      const down = result.endpoints[0]!
      expect(Option.map(down.failure, (f) => [f.reason, f.status])).toEqual(Option.some(["status", 503]))
      expect(result.endpoints[1]).toMatchObject({ format: Option.some("text"), valid: PEER_COUNT, invalid: 0, requests: 1 })
    }))

  it.scoped("stops starting endpoints once targetAddresses distinct addresses are gathered", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({
        "/a": Behaviour.Body({ body: PEERS }),
        "/b": Behaviour.Body({ body: fixture("autonomi-network-contacts-example-tcp.txt") })
      })
      const result = yield* withFetcher(
        { endpoints: [server.urlFor("/a"), server.urlFor("/b")], concurrency: 1, targetAddresses: PEER_COUNT },
        (f) => f.fetch
      )
      expect(result.endpoints.map((r) => r.outcome)).toEqual(["ok", "skipped"])
      expect(yield* server.requests("/b")).toBe(0)
    }))

  it.scoped("merges an address served by two endpoints, keeping the first endpoint as its source", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({
        "/a": Behaviour.Body({ body: PEERS }),
        "/b": Behaviour.Body({ body: PEERS })
      })
      const endpoints = [server.urlFor("/a"), server.urlFor("/b")]
      const result = yield* withFetcher({ endpoints, concurrency: 2 }, (f) => f.fetch)
      expect(result.addresses).toHaveLength(PEER_COUNT)
      expect(new Set(result.addresses.map((a) => a.source))).toEqual(new Set([server.urlFor("/a")]))
      expect(result.endpoints.map((r) => r.valid)).toEqual([PEER_COUNT, PEER_COUNT])
    }))

  it.scoped("when every endpoint fails, ContactsUnavailable names each endpoint and its reason", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({
        "/down": Behaviour.Status({ status: 503 }),
        "/missing": Behaviour.Status({ status: 404 }),
        "/junk": Behaviour.Garbage({ bytes: 4096 }),
        "/quoted": Behaviour.Body({ body: fixture("safe-network-contacts-2023-quoted.txt") }),
        "/huge": Behaviour.Huge({ bytes: 4 * MiB }),
        "/reset": Behaviour.Reset()
      })
      const paths = ["/down", "/missing", "/junk", "/quoted", "/huge", "/reset"]
      const endpoints = [...paths.map(server.urlFor), "ftp://example.com/peers"]
      const error = yield* unavailable(
        withFetcher({ endpoints, attempts: 1, maxResponseBytes: 64 * 1024 }, (f) => f.fetch)
      )
      expect(error._tag).toBe("ContactsUnavailable")
      expect(reasons(error)).toEqual([
        [server.urlFor("/down"), "status"],
        [server.urlFor("/missing"), "status"],
        [server.urlFor("/junk"), "nothing-valid"],
        [server.urlFor("/quoted"), "nothing-valid"],
        [server.urlFor("/huge"), "too-large"],
        [server.urlFor("/reset"), "transport"],
        ["ftp://example.com/peers", "invalid-url"]
      ])
      expect(error.message).toContain(server.urlFor("/missing"))
    }))

  it.scoped("an address given without a peer id by one endpoint and with one by a later endpoint is kept with the peer id", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({
        "/bare": Behaviour.Body({ body: `${B_BARE}\n` }),
        "/full": Behaviour.Body({ body: `${B_BARE}/p2p/${B}\n` })
      })
      const result = yield* withFetcher(
        { endpoints: [server.urlFor("/bare"), server.urlFor("/full")], concurrency: 1 },
        (f) => f.fetch
      )
      expect(result.addresses.map((a) => [a.address.multiaddr, a.source])).toEqual([
        [`${B_BARE}/p2p/${B}`, server.urlFor("/full")]
      ])
    }))

  it.scoped("follows redirects up to maxRedirects, recording the configured URL as the source", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({
        "/old": Behaviour.Redirect({ location: "/peers" }),
        "/peers": Behaviour.Body({ body: PEERS }),
        "/loop": Behaviour.Redirect({ location: "/loop", status: 301 })
      })
      const result = yield* withFetcher({ endpoints: [server.urlFor("/old")] }, (f) => f.fetch)
      expect(result.addresses).toHaveLength(PEER_COUNT)
      expect(result.addresses.every((a) => a.source === server.urlFor("/old"))).toBe(true)
      expect(yield* server.requests("/peers")).toBe(1)

      const error = yield* unavailable(
        withFetcher({ endpoints: [server.urlFor("/loop")], maxRedirects: 2, attempts: 1 }, (f) => f.fetch)
      )
      expect(error.failures[0]).toMatchObject({ reason: "status", status: 301 })
      // The first request and two redirects.
      expect(yield* server.requests("/loop")).toBe(3)
    }))

  it.effect("with no endpoints configured fails with an empty ContactsUnavailable", () =>
    Effect.gen(function*() {
      const error = yield* unavailable(withFetcher({ endpoints: [] }, (f) => f.fetch))
      expect(error.failures).toEqual([])
      expect(error.message).toContain("no contacts endpoints")
    }))
})

describe("ContactsFetcher — retries", () => {
  it.scoped("retries a flaky endpoint with backoff until it answers", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({ "/flaky": Behaviour.FailThenSucceed({ failures: 2, body: PEERS }) })
      const result = yield* withFetcher(
        { endpoints: [server.urlFor("/flaky")], attempts: 3, retryBackoff: { min: 1_000, max: 1_000, jitter: "none" } },
        (f) => driveBackoffs(f.fetch, 5_000)
      )
      expect(result.addresses).toHaveLength(PEER_COUNT)
      expect(result.endpoints[0]).toMatchObject({ outcome: "ok", attempts: 3, requests: 3 })
      expect(yield* server.requests("/flaky")).toBe(3)
    }))

  it.scoped("defaults to 3 attempts per endpoint", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({ "/flaky": Behaviour.FailThenSucceed({ failures: 3, body: PEERS }) })
      const error = yield* unavailable(withFetcher(
        { endpoints: [server.urlFor("/flaky")], retryBackoff: { min: 1_000, max: 1_000, jitter: "none" } },
        (f) => driveBackoffs(f.fetch, 5_000)
      ))
      expect(error.failures[0]).toMatchObject({ reason: "status", status: 503 })
      expect(yield* server.requests("/flaky")).toBe(3)
    }))

  it.scoped("does not retry a 404 or a body with nothing valid", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({
        "/missing": Behaviour.Status({ status: 404 }),
        "/junk": Behaviour.Body({ body: "nothing here\n" })
      })
      yield* unavailable(
        withFetcher({ endpoints: [server.urlFor("/missing"), server.urlFor("/junk")], attempts: 5 }, (f) => f.fetch)
      )
      expect(yield* server.requests("/missing")).toBe(1)
      expect(yield* server.requests("/junk")).toBe(1)
    }))

  it.scoped("waits the backoff between attempts on Effect's clock", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({ "/flaky": Behaviour.FailThenSucceed({ failures: 1, body: PEERS }) })
      yield* withFetcher(
        {
          endpoints: [server.urlFor("/flaky")],
          attempts: 2,
          requestTimeout: 60_000,
          retryBackoff: { min: 10_000, max: 10_000, jitter: "none" }
        },
        (f) =>
          Effect.gen(function*() {
            const fiber = yield* Effect.fork(f.fetch)
            // Until the retry is asleep: the first request was answered 503 and a 10 s sleep is pending.
            yield* Effect.repeat(Effect.zipRight(yieldToEventLoop, TestClock.sleeps()), {
              until: (sleeps) => Chunk.some(sleeps, (at) => at === 10_000)
            })
            expect(yield* server.requests("/flaky")).toBe(1)
            yield* TestClock.adjust("9999 millis")
            expect(yield* server.requests("/flaky")).toBe(1)
            yield* TestClock.adjust("1 millis")
            const result = yield* Fiber.join(fiber)
            expect(result.addresses).toHaveLength(PEER_COUNT)
            expect(yield* server.requests("/flaky")).toBe(2)
          })
      )
    }))
})

describe("ContactsFetcher — circuit breaker", () => {
  const breaker = { failureThreshold: 2, minOpen: 1_000, maxOpen: 8_000, factor: 2, jitter: "none" } as const

  it.scoped("opens after repeated failures and then rejects without a request; half-open after the open period", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({ "/down": Behaviour.Status({ status: 500 }) })
      const down = server.urlFor("/down")
      yield* withFetcher({ endpoints: [down], attempts: 1, breaker }, (f) =>
        Effect.gen(function*() {
          yield* unavailable(f.fetch)
          yield* unavailable(f.fetch)
          expect(yield* server.requests("/down")).toBe(2)

          // Open: rejected without a request, with the time until the probe.
          const rejected = yield* unavailable(f.fetch)
          expect(rejected.failures[0]).toMatchObject({ reason: "breaker-open", retryAfterMs: 1_000 })
          expect(yield* server.requests("/down")).toBe(2)
          yield* TestClock.adjust("999 millis")
          expect((yield* unavailable(f.fetch)).failures[0]).toMatchObject({ reason: "breaker-open", retryAfterMs: 1 })
          expect(yield* server.requests("/down")).toBe(2)

          // Half-open: one probe goes through.
          yield* TestClock.adjust("1 millis")
          expect((yield* f.breakers)[0]).toMatchObject({ endpoint: down, state: "half-open" })
          yield* server.set("/down", Behaviour.Body({ body: PEERS }))
          const result = yield* f.fetch
          expect(result.addresses).toHaveLength(PEER_COUNT)
          expect(yield* server.requests("/down")).toBe(1)
          expect((yield* f.breakers)[0]).toMatchObject({ state: "closed", retryAfterMs: 0 })
        }))
    }))

  it.scoped("a failed probe reopens the breaker for twice as long, up to maxOpen", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({ "/down": Behaviour.Status({ status: 500 }) })
      yield* withFetcher({ endpoints: [server.urlFor("/down")], attempts: 1, breaker }, (f) =>
        Effect.gen(function*() {
          yield* unavailable(f.fetch)
          yield* unavailable(f.fetch)
          const openPeriods: Array<number> = []
          for (let trip = 0; trip < 5; trip++) {
            const status = (yield* f.breakers)[0]!
            expect(status.state).toBe("open")
            openPeriods.push(status.retryAfterMs)
            yield* TestClock.adjust(`${status.retryAfterMs} millis`)
            // The probe is sent, fails, and reopens the breaker.
            const error = yield* unavailable(f.fetch)
            expect(error.failures[0]!.reason).toBe("status")
          }
          expect(openPeriods).toEqual([1_000, 2_000, 4_000, 8_000, 8_000])
          expect(yield* server.requests("/down")).toBe(2 + 5)
        }))
    }))

  it.scoped("an open endpoint is skipped quickly while the next one answers", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({
        "/down": Behaviour.Status({ status: 502 }),
        "/peers": Behaviour.Body({ body: PEERS })
      })
      const endpoints = [server.urlFor("/down"), server.urlFor("/peers")]
      yield* withFetcher({ endpoints, attempts: 1, concurrency: 1, breaker }, (f) =>
        Effect.gen(function*() {
          yield* f.fetch
          yield* f.fetch
          const result = yield* f.fetch
          expect(result.addresses).toHaveLength(PEER_COUNT)
          expect(result.endpoints[0]).toMatchObject({ outcome: "failed", requests: 0, attempts: 1 })
          expect(Option.map(result.endpoints[0]!.failure, (e) => e.reason)).toEqual(Option.some("breaker-open"))
          expect(yield* server.requests("/down")).toBe(2)
        }))
    }))

  it.scoped("retries stop when the breaker opens, reporting the failure that opened it", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({ "/down": Behaviour.Status({ status: 503 }) })
      const error = yield* unavailable(
        withFetcher(
          {
            endpoints: [server.urlFor("/down")],
            attempts: 5,
            retryBackoff: { min: 100, max: 100, jitter: "none" },
            breaker
          },
          (f) => driveBackoffs(f.fetch, 500)
        )
      )
      expect(error.failures[0]).toMatchObject({ reason: "status", status: 503 })
      expect(yield* server.requests("/down")).toBe(2)
    }))
})

describe("ContactsFetcher — limits", () => {
  it.scopedLive("cuts a 20 MiB body off at the cap without buffering it, and uses the complete lines read", () =>
    Effect.gen(function*() {
      const size = 20 * MiB
      const server = yield* ContactsServer.make({
        "/huge": Behaviour.Huge({ bytes: size, line: `${B_BARE}/p2p/${B}\n` })
      })
      const [result, logs] = yield* captureLogs(withFetcher({ endpoints: [server.urlFor("/huge")] }, (f) => f.fetch))
      const report = result.endpoints[0]!
      expect(report).toMatchObject({ outcome: "ok", truncated: true, valid: 1 })
      expect(report.bytesRead).toBeGreaterThanOrEqual(MiB)
      // Stopped at the cap: at most one network chunk past it.
      expect(report.bytesRead).toBeLessThanOrEqual(MiB + 64 * 1024)
      expect(report.duplicates).toBeGreaterThan(10_000)
      expect(report.invalid).toBe(0)
      // Reported to the operator, not only in the result.
      expect(logs.filter((l) => l.level === "WARN" && l.message.includes("cut off")).map((l) => l.annotations.endpoint))
        .toEqual([server.urlFor("/huge")])
      // The server saw the client go away before the end.
      yield* server.awaitAborted("/huge").pipe(Effect.timeout("5 seconds"))
      const stats = yield* server.stats("/huge")
      expect(stats.completed).toBe(0)
      expect(stats.bytesSent).toBeLessThan(size)
    }))

  it.scoped("a body dripping slowly, and a server that never answers, hit the request timeout (Effect's clock)", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({
        "/drip": Behaviour.Drip({ intervalMs: 5 }),
        "/hang": Behaviour.Hang()
      })
      const endpoints = [server.urlFor("/drip"), server.urlFor("/hang")]
      const error = yield* withFetcher({ endpoints, attempts: 1, requestTimeout: 1_000, concurrency: 2 }, (f) =>
        Effect.gen(function*() {
          const fiber = yield* Effect.fork(f.fetch)
          // Both requests are in flight and the drip's body is flowing: bytes arrive, the answer never completes.
          yield* waitUntil(Effect.map(
            Effect.all([server.requests("/hang"), server.stats("/drip")]),
            ([hang, drip]) => hang === 1 && drip.bytesSent >= 40
          ))
          yield* TestClock.adjust("999 millis")
          expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
          yield* TestClock.adjust("1 millis")
          return yield* Effect.flip(Fiber.join(fiber))
        }))
      expect(reasons(error)).toEqual([[endpoints[0], "timeout"], [endpoints[1], "timeout"]])
      expect(error.failures[0]!.detail).toContain("1000 ms")
      // The abandoned requests were closed, not left open.
      yield* server.awaitAborted("/drip").pipe(Effect.timeout("5 seconds"))
      yield* server.awaitAborted("/hang").pipe(Effect.timeout("5 seconds"))
    }))

  it.scoped("defaults: a 10 s request timeout, and at most 3 endpoints fetched at a time", () =>
    Effect.gen(function*() {
      expect(ContactsFetcher.defaults).toMatchObject({
        requestTimeoutMs: 10_000,
        attempts: 3,
        concurrency: 3,
        targetAddresses: 100,
        maxResponseBytes: 1024 * 1024,
        maxAddressesPerEndpoint: 1_000,
        maxRedirects: 5,
        breaker: { failureThreshold: 5, minOpenMs: 30_000, maxOpenMs: 30 * 60_000, factor: 2 }
      })
      const paths = ["/h1", "/h2", "/h3", "/h4"]
      const server = yield* ContactsServer.make(Object.fromEntries(paths.map((p) => [p, Behaviour.Hang()])))
      const endpoints = paths.map(server.urlFor)
      const requests = Effect.forEach(paths, (p) => server.requests(p))
      yield* withFetcher({ endpoints, attempts: 1 }, (f) =>
        Effect.gen(function*() {
          const fiber = yield* Effect.fork(f.fetch)
          yield* waitUntil(Effect.map(requests, (n) => n[0] === 1 && n[1] === 1 && n[2] === 1))
          // Three endpoints started (each goes through its breaker first); the fourth waits for a slot.
          expect((yield* f.breakers).map((b) => b.endpoint)).toEqual(endpoints.slice(0, 3))
          expect(yield* requests).toEqual([1, 1, 1, 0])
          yield* TestClock.adjust("9999 millis")
          expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
          yield* TestClock.adjust("1 millis")
          // The first three timed out at 10 s; the fourth starts now.
          yield* waitUntil(Effect.map(requests, (n) => n[3] === 1))
          yield* TestClock.adjust("10 seconds")
          const error = yield* Effect.flip(Fiber.join(fiber))
          expect(reasons(error).map(([, reason]) => reason)).toEqual(["timeout", "timeout", "timeout", "timeout"])
        }))
    }))

  it.scoped("accepts at most maxAddressesPerEndpoint addresses from one endpoint", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({ "/dot": Behaviour.Body({ body: fixture("polkadot-bootnodes.txt") }) })
      const result = yield* withFetcher(
        { endpoints: [server.urlFor("/dot")], maxAddressesPerEndpoint: 50 },
        (f) => f.fetch
      )
      expect(result.addresses).toHaveLength(50)
      expect(result.endpoints[0]).toMatchObject({ valid: 50, overLimit: 356, duplicates: 6 })
    }))

  it.scoped("applies the address filter: loopback refused by default, admitted for local demos", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({
        "/local": Behaviour.Body({ body: "/ip4/127.0.0.1/tcp/4001\n/ip4/192.168.1.2/udp/4001/quic-v1\n" })
      })
      const endpoints = [server.urlFor("/local")]
      const error = yield* unavailable(withFetcher({ endpoints }, (f) => f.fetch))
      expect(error.failures[0]).toMatchObject({ reason: "nothing-valid" })
      const result = yield* withFetcher(
        { endpoints, filter: { allowLoopback: true, allowPrivate: true, transports: ["tcp"] } },
        (f) => f.fetch
      )
      expect(result.addresses.map((a) => a.address.multiaddr)).toEqual(["/ip4/127.0.0.1/tcp/4001"])
      expect(result.endpoints[0]).toMatchObject({ valid: 1, filtered: 1 })
    }))
})

describe("ContactsFetcher — formats", () => {
  const own = {
    version: 1,
    checksum: "sha256:0",
    peers: [{ peerId: B, addresses: [{ multiaddr: B_BARE }], firstSeen: 0, lastSeen: 0 }]
  }
  const autonomiV1 = { peers: [[B, [B_BARE]]], last_updated: { secs_since_epoch: 1, nanos_since_epoch: 0 }, network_version: "1", cache_version: "1" }
  const autonomiV0 = {
    peers: { [B]: [{ addr: B_BARE, success_count: 1, failure_count: 0, last_seen: { secs_since_epoch: 1, nanos_since_epoch: 0 } }] },
    last_updated: { secs_since_epoch: 1, nanos_since_epoch: 0 },
    network_version: "1"
  }
  const chiral = { version: 1, last_updated: 1, peers: [{ peer_id: B, addresses: [B_BARE], last_seen: 1, successful_transfers: 1, failed_transfers: 0, average_latency_ms: 12, is_bootstrap: false }] }
  const safe = { last_updated: "2024-11-20T12:00:00Z", peers: [{ ip: "46.101.80.187", port: 58070, last_seen: { secs_since_epoch: 1, nanos_since_epoch: 0 }, success_count: 0, failure_count: 0 }] }

  const cases: ReadonlyArray<readonly [string, string, string, number]> = [
    ["/kubo", fixture("kubo-bootstrap.txt"), "text", 7],
    ["/celestia", fixture("celestia-mainnet-bootstrappers.txt"), "text", 6],
    ["/lotus", fixture("filecoin-lotus-mainnet-2023-09.txt"), "text", 17],
    ["/nebula", fixture("nebula-filecoin-multiaddrs-2021-07-14.txt"), "text", 1_000],
    ["/crlf", PEERS.replaceAll("\n", "\r\n"), "text", PEER_COUNT],
    ["/array", JSON.stringify(PEERS.trim().split("\n")), "json-array", PEER_COUNT],
    ["/own", JSON.stringify(own), "cache-file", 1],
    ["/v0", JSON.stringify(autonomiV0), "autonomi-v0", 1],
    ["/v1", JSON.stringify(autonomiV1), "autonomi-v1", 1],
    ["/chiral", JSON.stringify(chiral), "chiral", 1],
    ["/safe", JSON.stringify(safe), "safe-network", 1],
    // maidsafe/safe_network bootstrap_cache `BootstrapEndpoints`, what its contacts endpoints serve.
    ["/safe-endpoint", JSON.stringify({ peers: PEERS.trim().split("\n"), metadata: { last_updated: "2024-11-20T12:00:00Z", description: "" } }), "safe-network", PEER_COUNT],
    ["/polkadot-json", JSON.stringify(fixture("polkadot-bootnodes.txt").trim().split("\n")), "json-array", 406]
  ]

  it.scoped("detects every format by content (served as application/octet-stream) and parses it", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make(
        Object.fromEntries(cases.map(([path, body]) => [path, Behaviour.Body({ body, contentType: "application/octet-stream" })]))
      )
      for (const [path, , format, valid] of cases) {
        const result = yield* withFetcher({ endpoints: [server.urlFor(path)] }, (f) => f.fetch)
        expect([path, Option.getOrNull(result.endpoints[0]!.format), result.endpoints[0]!.valid]).toEqual([path, format, valid])
      }
    }))

  it.scoped("reports invalid lines with their line numbers and logs the first few, annotated with the endpoint", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({
        "/mixed": Behaviour.Body({ body: `# header\n${PEERS}bad one\n\nbad two\nbad three\n` })
      })
      const url = server.urlFor("/mixed")
      const [result, logs] = yield* captureLogs(withFetcher({ endpoints: [url], maxIssuesLogged: 2 }, (f) => f.fetch))
      const report = result.endpoints[0]!
      expect(report).toMatchObject({ outcome: "ok", valid: PEER_COUNT, invalid: 3 })
      expect(report.issues.map((i) => [i.line, i.input])).toEqual([[7, "bad one"], [9, "bad two"], [10, "bad three"]])
      const warnings = logs.filter((l) => l.message.includes("skipped"))
      expect(warnings.map((w) => [w.annotations.endpoint, w.annotations.line, w.level])).toEqual([[url, 7, "WARN"], [url, 9, "WARN"]])
      expect(warnings[0]!.message).toContain("invalid")
      expect(logs.some((l) => l.message.includes("1 more invalid or filtered"))).toBe(true)
      expect(logs.find((l) => l.level === "INFO" && l.annotations.endpoint === url)?.message).toContain(`${PEER_COUNT} accepted, 3 invalid`)
    }))

  it.scoped("a real bad list (every line quoted) fails with nothing-valid and keeps its issues", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({
        "/quoted": Behaviour.Body({ body: fixture("safe-network-contacts-2023-quoted.txt") })
      })
      const result = yield* Effect.either(
        withFetcher({ endpoints: [server.urlFor("/quoted")] }, (f) => f.fetch)
      )
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) {
        expect(result.left.failures[0]!.detail).toContain("7 invalid")
      }
    }))
})
