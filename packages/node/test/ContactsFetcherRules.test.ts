import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { ContactsServer, DnsServer } from "@bootstrap-cache/testkit"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as ContactsFetcher from "../src/ContactsFetcher.js"
import * as DnsResolver from "../src/DnsResolver.js"
import { redirectRefusal, resolvedRefusal, retryAfterMs } from "../src/internal/contactsFetcher/request.js"

const { Behaviour } = ContactsServer

// Real peers, from fixtures/autonomi-network-contacts.txt.
const PEERS = [
  "/ip4/139.59.168.228/udp/56309/quic-v1/p2p/12D3KooWFTMtaqu24ddDSXk9v5YxnuhJmTLFRunER1CG4wZ2XLUU",
  "/ip4/46.101.80.187/udp/58070/quic-v1/p2p/12D3KooWKgJQedzCxrp33u3dBD1mUZ9HTjEjgrxskEBvzoQWkRT9"
].join("\n")

const withFetcher = <A, E>(options: ContactsFetcher.ContactsFetcherOptions, f: (fetcher: ContactsFetcher.Fetcher) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.flatMap(ContactsFetcher.make(options), f)).pipe(Effect.provide(NodeHttpClient.layerUndici))

const yieldToEventLoop = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

describe("ContactsFetcher — redirect rule", () => {
  const none = { allowLoopback: false, allowPrivate: false }
  const u = (s: string) => new URL(s)

  it("allows the endpoint's own host and public hosts; refuses loopback, private, link-local, downgrades and other schemes", () => {
    const from = u("https://contacts.example/peers")
    expect(redirectRefusal(from, u("https://contacts.example/v2"), none)).toBeUndefined()
    expect(redirectRefusal(from, u("https://mirror.example/peers"), none)).toBeUndefined()
    expect(redirectRefusal(from, u("https://93.184.216.34/peers"), none)).toBeUndefined()
    expect(redirectRefusal(from, u("http://mirror.example/peers"), none)).toMatch(/https to http/)
    expect(redirectRefusal(from, u("file:///etc/passwd"), none)).toMatch(/file:/)
    expect(redirectRefusal(from, u("https://127.0.0.2/"), none)).toMatch(/loopback/)
    expect(redirectRefusal(from, u("https://localhost/"), none)).toMatch(/loopback/)
    expect(redirectRefusal(from, u("https://[::1]/"), none)).toMatch(/loopback/)
    expect(redirectRefusal(from, u("https://169.254.169.254/latest/meta-data"), none)).toMatch(/link-local/)
    expect(redirectRefusal(from, u("https://10.0.0.1/"), none)).toMatch(/private/)
    expect(redirectRefusal(from, u("https://0.0.0.0/"), none)).toMatch(/refused/)
    expect(redirectRefusal(from, u("https://10.0.0.1/"), { allowLoopback: false, allowPrivate: true })).toBeUndefined()
    expect(redirectRefusal(from, u("https://127.0.0.2/"), { allowLoopback: true, allowPrivate: false })).toBeUndefined()
  })

  it.scopedLive("an endpoint on 127.0.0.1 redirecting to 127.0.0.2 is refused by default: no request reaches 127.0.0.2", () =>
    Effect.gen(function*() {
      const inner = yield* ContactsServer.make({ "/peers": Behaviour.Body({ body: PEERS }) }, { host: "127.0.0.2" })
      const outer = yield* ContactsServer.make({ "/peers": Behaviour.Redirect({ location: inner.urlFor("/peers") }) })
      const options = { endpoints: [outer.urlFor("/peers")], attempts: 3 }
      const error = yield* Effect.flip(withFetcher(options, (f) => f.fetch))
      expect(error.failures.map((f) => f.reason)).toEqual(["redirect-refused"])
      expect(error.failures[0]!.detail).toContain("127.0.0.2")
      expect(yield* inner.requests("/peers")).toBe(0)
      // Not retried: a refusal is the endpoint's answer, not a transient fault.
      expect(yield* outer.requests("/peers")).toBe(1)

      const allowed = yield* withFetcher({ ...options, redirects: { allowLoopback: true } }, (f) => f.fetch)
      expect(allowed.addresses.length).toBe(2)
      expect(allowed.addresses[0]!.source).toBe(outer.urlFor("/peers"))
      expect(yield* inner.requests("/peers")).toBe(1)
    }))

  it.effect("a target named by host passes only if every address it resolves to does; a name that does not resolve is refused", () =>
    Effect.gen(function*() {
      const hosts: Record<string, ReadonlyArray<string>> = {
        "mirror.example": ["93.184.216.34", "2606:2800:220:1::1"],
        "internal.example": ["93.184.216.34", "10.1.2.3"],
        "rebind.example": ["127.0.0.2"],
        "empty.example": []
      }
      const resolveHost = (name: string) => name in hosts ? Effect.succeed(hosts[name]!) : Effect.fail({ code: "ENOTFOUND" })
      const check = (host: string, allow = none) => resolvedRefusal(u(`https://${host}/peers`), allow, resolveHost)
      expect(yield* check("mirror.example")).toBeUndefined()
      expect(yield* check("internal.example")).toBe(
        "redirect to private host internal.example (it resolves to 10.1.2.3) refused (redirects.allowPrivate is off)"
      )
      expect(yield* check("internal.example", { allowLoopback: false, allowPrivate: true })).toBeUndefined()
      expect(yield* check("rebind.example")).toMatch(/loopback host rebind\.example \(it resolves to 127\.0\.0\.2\)/)
      expect(yield* check("rebind.example", { allowLoopback: true, allowPrivate: false })).toBeUndefined()
      expect(yield* check("empty.example")).toMatch(/resolves to no address/)
      expect(yield* check("nowhere.example")).toMatch(/could not be resolved to check it \(ENOTFOUND\)/)
    }))

  it.scopedLive("a redirect to a public-looking name that resolves to 127.0.0.2 is refused: no request reaches 127.0.0.2", () =>
    Effect.gen(function*() {
      const inner = yield* ContactsServer.make({ "/peers": Behaviour.Body({ body: PEERS }) }, { host: "127.0.0.2" })
      const name = "mirror.contacts.example"
      const dns = yield* DnsServer.make({ zone: {}, hosts: { [name]: ["127.0.0.2"] } })
      const target = new URL(inner.urlFor("/peers"))
      target.hostname = name
      const outer = yield* ContactsServer.make({ "/peers": Behaviour.Redirect({ location: target.href }) })
      const dnsResolver = DnsResolver.make({ servers: [dns.address], timeout: 3_000, tries: 2 })
      const error = yield* Effect.flip(withFetcher({ endpoints: [outer.urlFor("/peers")], dnsResolver }, (f) => f.fetch))
      expect(error.failures.map((f) => f.reason)).toEqual(["redirect-refused"])
      expect(error.failures[0]!.detail).toContain(`${name} (it resolves to 127.0.0.2)`)
      expect(yield* dns.queries(name)).toBeGreaterThan(0)
      expect(yield* inner.requests("/peers")).toBe(0)
    }))

  it.scopedLive("fetchBody follows the same rule", () =>
    Effect.gen(function*() {
      const inner = yield* ContactsServer.make({ "/cache.json": Behaviour.Body({ body: "[]" }) }, { host: "127.0.0.2" })
      const outer = yield* ContactsServer.make({ "/cache.json": Behaviour.Redirect({ location: inner.urlFor("/cache.json") }) })
      const error = yield* Effect.flip(withFetcher({ endpoints: [] }, (f) => f.fetchBody(outer.urlFor("/cache.json"))))
      expect(error.reason).toBe("redirect-refused")
      expect(yield* inner.requests("/cache.json")).toBe(0)
    }))
})

describe("ContactsFetcher — Retry-After", () => {
  it("reads delay-seconds and HTTP dates", () => {
    expect(retryAfterMs("120", 0)).toBe(120_000)
    expect(retryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT", Date.parse("Wed, 21 Oct 2015 07:27:00 GMT"))).toBe(60_000)
    expect(retryAfterMs("soon", 0)).toBeUndefined()
    expect(retryAfterMs(undefined, 0)).toBeUndefined()
  })

  /**
   * Runs `effect`, firing each pending sleep due within 100 s (retry delays) as soon as it is
   * registered, never the 600 s request timeout, and records their lengths.
   */
  const driveAll = <A, E>(effect: Effect.Effect<A, E>) =>
    Effect.gen(function*() {
      const slept: Array<number> = []
      const fiber = yield* Effect.fork(effect)
      while (Option.isNone(yield* Fiber.poll(fiber))) {
        yield* yieldToEventLoop
        const now = yield* Clock.currentTimeMillis
        const due = Chunk.filter(yield* TestClock.sleeps(), (at) => at > now && at - now <= 100_000)
        if (Chunk.isNonEmpty(due)) {
          const next = Math.min(...due) - now
          slept.push(next)
          yield* TestClock.adjust(next)
        }
      }
      return { result: yield* Fiber.join(fiber), slept }
    })

  it.scoped("a 503 with Retry-After: 7 is retried after 7 s, not after the backoff", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({ "/peers": Behaviour.FailThenSucceed({ failures: 1, body: PEERS, retryAfter: "7" }) })
      const { result, slept } = yield* driveAll(
        withFetcher({ endpoints: [server.urlFor("/peers")], requestTimeout: 600_000 }, (f) => f.fetch)
      )
      expect(result.addresses.length).toBe(2)
      expect(slept).toEqual([7_000])
    }))

  it.scoped("a 429 asking for more than maxRetryAfter ends the retries at once", () =>
    Effect.gen(function*() {
      const server = yield* ContactsServer.make({
        "/peers": Behaviour.FailThenSucceed({ failures: 5, status: 429, body: PEERS, retryAfter: "3600" })
      })
      const { result, slept } = yield* driveAll(
        Effect.either(withFetcher({ endpoints: [server.urlFor("/peers")], maxRetryAfter: "1 minute", requestTimeout: 600_000 }, (f) => f.fetch))
      )
      expect(result._tag).toBe("Left")
      if (result._tag === "Left") expect(result.left.failures[0]!.detail).toMatch(/Retry-After 3600 s exceeds maxRetryAfter 60000 ms/)
      expect(slept).toEqual([])
      expect(yield* server.requests("/peers")).toBe(1)
    }))
})

describe("ContactsFetcher — /dnsaddr contacts", () => {
  it.scopedLive("a contacts list of /dnsaddr entries gives the addresses they resolve to", () =>
    Effect.gen(function*() {
      const dns = yield* DnsServer.make({ zone: DnsServer.kuboZone })
      const server = yield* ContactsServer.make({
        "/kubo": Behaviour.Body({
          body: "/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN\n" +
            "/dnsaddr/va1.bootstrap.libp2p.io/p2p/12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc8\n"
        })
      })
      const result = yield* withFetcher({
        endpoints: [server.urlFor("/kubo")],
        dnsResolver: DnsResolver.make({ servers: [dns.address], timeout: 3_000, tries: 2 }),
        filter: { transports: ["tcp", "udp/quic-v1", ""] }
      }, (f) => f.fetch)
      const addresses = result.addresses.map((a) => a.address)
      expect(addresses.every((a) => a.hostKind !== "dnsaddr")).toBe(true)
      expect(addresses.length).toBe(8)
      expect(new Set(addresses.map((a) => a.transport))).toEqual(new Set(["tcp", "udp/quic-v1"]))
    }))

  it.scopedLive("a /dnsaddr contact that resolves to nothing is kept as it is, for a resolving dialer to try later", () =>
    Effect.gen(function*() {
      const dns = yield* DnsServer.make({ zone: {} })
      const server = yield* ContactsServer.make({ "/list": Behaviour.Body({ body: "/dnsaddr/gone.example\n/ip4/8.8.8.8/tcp/4001\n" }) })
      const result = yield* withFetcher({
        endpoints: [server.urlFor("/list")],
        dnsResolver: DnsResolver.make({ servers: [dns.address], timeout: 3_000, tries: 2 })
      }, (f) => f.fetch)
      expect(result.addresses.map((a) => a.address.multiaddr)).toEqual(["/dnsaddr/gone.example", "/ip4/8.8.8.8/tcp/4001"])
      expect(yield* dns.queries("_dnsaddr.gone.example")).toBe(1)
    }))
})
