import { describe, expect, it } from "@effect/vitest"
import { PeerAddress } from "@bootstrap-cache/core"
import { DnsServer } from "@bootstrap-cache/testkit"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { readFileSync } from "node:fs"
import * as Net from "node:net"
import * as Dialer from "../src/Dialer.js"
import * as DnsResolver from "../src/DnsResolver.js"

const kuboList = readFileSync(new URL("../../../fixtures/kubo-bootstrap.txt", import.meta.url), "utf8")
  .split("\n").filter((l) => l.trim() !== "").map((l) => Either.getOrThrow(PeerAddress.parse(l)))
const addr = (text: string) => Either.getOrThrow(PeerAddress.parse(text))

/** A resolver pointed at the local server (timeouts with room for a loaded machine: the server always answers). */
const local = (server: DnsServer.DnsServer) => DnsResolver.layer({ servers: [server.address], timeout: 3_000, tries: 2 })

describe("DnsResolver against a DNS server on 127.0.0.1", () => {
  it.scopedLive("the kubo bootstrap list resolves to dialable TCP and QUIC addresses of the named peers", () =>
    Effect.gen(function*() {
      const server = yield* DnsServer.make({ zone: DnsServer.kuboZone })
      const r = yield* DnsResolver.resolveAll(kuboList).pipe(Effect.provide(local(server)))
      expect(r.warnings).toEqual([])
      // 5 /dnsaddr entries × 5 addresses each (tcp, quic-v1 on ip4 and ip6, wss) + the 2 literal ones.
      expect(r.addresses.length).toBe(27)
      expect(r.addresses.every((a) => a.hostKind !== "dnsaddr")).toBe(true)
      const tcp = r.addresses.filter((a) => a.transport === "tcp")
      const quic = r.addresses.filter((a) => a.transport === "udp/quic-v1")
      expect(tcp.length).toBe(11)
      expect(quic.length).toBe(11)
      // Each /dnsaddr/bootstrap.libp2p.io/p2p/<id> entry keeps only its own peer's records.
      for (const entry of kuboList.filter((a) => a.hostKind === "dnsaddr")) {
        const mine = r.addresses.filter((a) => a.peerId._tag === "Some" && a.peerId.value === (entry.peerId as { value: string }).value)
        expect(mine.length).toBe(5)
      }
      expect(r.filtered).toBe(12)
      expect(yield* server.queries("_dnsaddr.bootstrap.libp2p.io")).toBe(4)
    }))

  it.scopedLive("a loop, a name that resolves to nothing and a bad record end with clear warnings", () =>
    Effect.gen(function*() {
      const server = yield* DnsServer.make({
        zone: {
          "_dnsaddr.a.example": ["dnsaddr=/dnsaddr/b.example", "dnsaddr=/ip4/8.8.8.8/tcp/4001", `dnsaddr=/bogus/${"x".repeat(5000)}`],
          "_dnsaddr.b.example": ["dnsaddr=/dnsaddr/a.example", "dnsaddr=/dnsaddr/nothing.example"]
        }
      })
      const r = yield* DnsResolver.resolve(addr("/dnsaddr/a.example")).pipe(Effect.provide(local(server)))
      expect(r.addresses.map((a) => a.multiaddr)).toEqual(["/ip4/8.8.8.8/tcp/4001"])
      const kinds = r.warnings.map((w) => `${w.kind} ${w.name}`).sort()
      expect(kinds).toEqual([
        "bad-record _dnsaddr.a.example",
        "lookup-failed _dnsaddr.nothing.example",
        "loop _dnsaddr.a.example"
      ])
      expect(r.warnings.find((w) => w.kind === "lookup-failed")!.detail).toBe("ENOTFOUND")
      for (const w of r.warnings) expect(w.detail.length).toBeLessThan(200)
    }))

  it.scopedLive("10,000 entries (a name listing 100 names of 100 records each) stop at the bounds with warnings", () =>
    Effect.gen(function*() {
      const zone: Record<string, ReadonlyArray<string>> = {
        "_dnsaddr.big.example": Array.from({ length: 100 }, (_, i) => `dnsaddr=/dnsaddr/n${i}.big.example`)
      }
      for (let i = 0; i < 100; i++) {
        zone[`_dnsaddr.n${i}.big.example`] = Array.from({ length: 100 }, (_, j) => `dnsaddr=/ip4/9.${i}.${j}.1/tcp/4001`)
      }
      const server = yield* DnsServer.make({ zone })
      const r = yield* DnsResolver.resolve(addr("/dnsaddr/big.example"), { maxLookups: 16, maxAddresses: 500 }).pipe(
        Effect.provide(local(server))
      )
      expect(r.addresses.length).toBe(500)
      const kinds = r.warnings.map((w) => w.kind)
      expect(kinds).toContain("too-many-lookups")
      expect(kinds).toContain("too-many-addresses")
      // Names asked (each twice: UDP answer truncated, then TCP): the first 15 after the root.
      let asked = 0
      for (let i = 0; i < 100; i++) if ((yield* server.queries(`_dnsaddr.n${i}.big.example`)) > 0) asked++
      expect(asked).toBe(15)
    }))

  it.scopedLive("one name with thousands of records is carried over TCP and cut to what fits", () =>
    Effect.gen(function*() {
      const records = Array.from({ length: 10_000 }, (_, i) => `dnsaddr=/ip4/9.9.${i >> 8}.${i & 255}/tcp/4001`)
      const server = yield* DnsServer.make({ zone: { "_dnsaddr.flat.example": records } })
      const r = yield* DnsResolver.resolve(addr("/dnsaddr/flat.example")).pipe(Effect.provide(local(server)))
      expect(r.addresses.length).toBeGreaterThan(100)
      expect(r.addresses.length).toBeLessThanOrEqual(1000)
    }))

  it.scopedLive("resolveHost gives a name's A and AAAA addresses; an unknown name fails with ENOTFOUND", () =>
    Effect.gen(function*() {
      const server = yield* DnsServer.make({ zone: {}, hosts: { "both.example": ["127.0.0.2", "::1"], "v4.example": ["127.0.0.3"] } })
      const resolver = yield* Effect.provide(DnsResolver.DnsResolver, local(server))
      expect([...(yield* resolver.resolveHost("both.example"))].sort()).toEqual(["127.0.0.2", "::1"])
      expect(yield* resolver.resolveHost("v4.example")).toEqual(["127.0.0.3"])
      const error = yield* Effect.flip(resolver.resolveHost("missing.example"))
      expect(error).toMatchObject({ _tag: "DnsLookupError", name: "missing.example", code: "ENOTFOUND" })
      const inMemory = yield* Effect.provide(DnsResolver.DnsResolver, DnsResolver.layerTest({}, { "both.example": ["127.0.0.2"] }))
      expect(yield* inMemory.resolveHost("Both.Example.")).toEqual(["127.0.0.2"])
      expect((yield* Effect.flip(inMemory.resolveHost("missing.example"))).code).toBe("ENOTFOUND")
    }))

  it.scopedLive("a server that never answers costs at most the deadline, with a warning", () =>
    Effect.gen(function*() {
      const server = yield* DnsServer.make({
        zone: { "_dnsaddr.slow.example": Array.from({ length: 20 }, (_, i) => `dnsaddr=/dnsaddr/s${i}.example`) },
        silent: Array.from({ length: 20 }, (_, i) => `_dnsaddr.s${i}.example`)
      })
      const r = yield* DnsResolver.resolve(addr("/dnsaddr/slow.example"), { deadline: 500 }).pipe(
        Effect.provide(DnsResolver.layer({ servers: [server.address], timeout: 150, tries: 1 }))
      )
      expect(r.addresses).toEqual([])
      const kinds = new Set(r.warnings.map((w) => w.kind))
      expect(kinds.has("deadline") || kinds.has("lookup-failed")).toBe(true)
      // 150 ms a silent name: at most ~4 of the 20 were asked before the 500 ms deadline.
      let asked = 0
      for (let i = 0; i < 20; i++) asked += yield* server.queries(`_dnsaddr.s${i}.example`)
      expect(asked).toBeLessThan(8)
    }))
})

describe("DnsResolver.dialer", () => {
  const listen = Effect.acquireRelease(
    Effect.async<Net.Server>((resume) => {
      const server = Net.createServer((s) => s.destroy())
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  )

  it.scopedLive("dials a /dnsaddr name through the TCP probe: refused address first, then the live one", () =>
    Effect.gen(function*() {
      const live = yield* listen
      const port = (live.address() as Net.AddressInfo).port
      const dead = yield* listen
      const deadPort = (dead.address() as Net.AddressInfo).port
      yield* Effect.promise(() => new Promise<void>((r) => dead.close(() => r())))
      const server = yield* DnsServer.make({
        zone: {
          "_dnsaddr.peers.test": [
            `dnsaddr=/ip4/127.0.0.1/udp/${port}/quic-v1`,
            `dnsaddr=/ip4/127.0.0.1/tcp/${deadPort}`,
            `dnsaddr=/ip4/127.0.0.1/tcp/${port}`
          ]
        }
      })
      const dialer = yield* Dialer.Dialer.pipe(
        Effect.provide(DnsResolver.layerDialer(Dialer.layer).pipe(Layer.provide(local(server))))
      )
      const target = addr("/dnsaddr/peers.test")
      expect(dialer.supports(target)).toBe(true)
      const rtt = yield* dialer.dial(target, 2_000)
      expect(rtt).toBeGreaterThanOrEqual(0)
      const nothing = yield* Effect.flip(dialer.dial(addr("/dnsaddr/nothing.test"), 2_000))
      expect(nothing._tag).toBe("DialUnreachableError")
      expect((nothing as Dialer.DialUnreachableError).code).toBe("ENODNSADDR")
      expect(nothing.message).toContain("lookup-failed _dnsaddr.nothing.test")
    }))
})

describe("DnsResolver.make", () => {
  it.effect("a malformed server address is a typed lookup failure, not a defect", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(DnsResolver.make({ servers: ["not a server"] }).resolveTxt("_dnsaddr.example.com"))
      expect(error._tag).toBe("DnsLookupError")
      expect(error.code).toBe("EBADSERVER")
    }))
})
