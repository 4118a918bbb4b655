import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import * as Dnsaddr from "../src/Dnsaddr.js"
import * as PeerAddress from "../src/PeerAddress.js"

const addr = (text: string) => Either.getOrThrow(PeerAddress.parse(text))

// Peer ids from kubo's bootstrap list (fixtures/kubo-bootstrap.txt).
const AM6 = "QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb"
const NY5 = "QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa"

const zone: Record<string, ReadonlyArray<string>> = {
  "_dnsaddr.bootstrap.libp2p.io": [
    `dnsaddr=/dnsaddr/am6.bootstrap.libp2p.io/p2p/${AM6}`,
    `dnsaddr=/dnsaddr/ny5.bootstrap.libp2p.io/p2p/${NY5}`,
    "v=spf1 -all"
  ],
  "_dnsaddr.am6.bootstrap.libp2p.io": [
    `dnsaddr=/ip4/147.75.87.27/tcp/4001/p2p/${AM6}`,
    `dnsaddr=/ip4/147.75.87.27/udp/4001/quic-v1/p2p/${AM6}`
  ],
  "_dnsaddr.ny5.bootstrap.libp2p.io": [
    `dnsaddr=/ip4/147.75.109.213/tcp/4001/p2p/${NY5}`
  ]
}
const lookup = (z: Record<string, ReadonlyArray<string>>) => (name: string) => z[name] ?? "ENOTFOUND"

describe("Dnsaddr", () => {
  it("asks _dnsaddr.<host> and reads dnsaddr= records, joining a record's character-strings", () => {
    expect(Dnsaddr.txtName("bootstrap.libp2p.io.")).toBe("_dnsaddr.bootstrap.libp2p.io")
    expect(Dnsaddr.recordValue(["dnsaddr=/ip4/1.2.3.4", "/tcp/1"])).toEqual(Option.some("/ip4/1.2.3.4/tcp/1"))
    expect(Dnsaddr.recordValue("\"dnsaddr=/ip4/1.2.3.4/tcp/1\"")).toEqual(Option.some("/ip4/1.2.3.4/tcp/1"))
    expect(Dnsaddr.recordValue("v=spf1 -all")).toEqual(Option.none())
  })

  it("resolves recursively and keeps only the records of the peer the address names", () => {
    const r = Dnsaddr.resolveWith(addr(`/dnsaddr/bootstrap.libp2p.io/p2p/${AM6}`), lookup(zone))
    expect(r.addresses.map((a) => a.multiaddr)).toEqual([
      `/ip4/147.75.87.27/tcp/4001/p2p/${AM6}`,
      `/ip4/147.75.87.27/udp/4001/quic-v1/p2p/${AM6}`
    ])
    expect(r.filtered).toBe(1)
    expect([...r.asked]).toEqual(["_dnsaddr.bootstrap.libp2p.io", "_dnsaddr.am6.bootstrap.libp2p.io"])
    expect(r.warnings).toEqual([])
  })

  it("without a peer id, every peer of the name is kept", () => {
    const r = Dnsaddr.resolveWith(addr("/dnsaddr/bootstrap.libp2p.io"), lookup(zone))
    expect(r.addresses.length).toBe(3)
  })

  it("an address that is not /dnsaddr is its own resolution, with no lookup", () => {
    const a = addr("/ip4/1.2.3.4/tcp/4001")
    const r = Dnsaddr.resolveWith(a, () => { throw new Error("no lookup expected") })
    expect(r.addresses).toEqual([a])
    expect(Dnsaddr.needsResolution(a)).toBe(false)
  })

  it("a loop ends with a loop warning; a name that resolves to nothing gives lookup-failed", () => {
    const loop = Dnsaddr.resolveWith(addr("/dnsaddr/a.example"), lookup({
      "_dnsaddr.a.example": ["dnsaddr=/dnsaddr/b.example"],
      "_dnsaddr.b.example": ["dnsaddr=/dnsaddr/a.example", "dnsaddr=/dnsaddr/gone.example"]
    }))
    expect(loop.addresses).toEqual([])
    expect(loop.warnings.map((w) => w.kind).sort()).toEqual(["lookup-failed", "loop"])
    expect(loop.warnings.find((w) => w.kind === "lookup-failed")!.name).toBe("_dnsaddr.gone.example")
  })

  it("a long chain stops at maxDepth with a too-deep warning", () => {
    const chain: Record<string, ReadonlyArray<string>> = {}
    for (let i = 0; i < 50; i++) chain[`_dnsaddr.n${i}.example`] = [`dnsaddr=/dnsaddr/n${i + 1}.example`]
    const r = Dnsaddr.resolveWith(addr("/dnsaddr/n0.example"), lookup(chain), { maxDepth: 3, maxLookups: 100 })
    expect(r.asked.size).toBe(4)
    expect(r.warnings.map((w) => w.kind)).toEqual(["too-deep"])
  })

  it("10,000 records: at most maxAddresses kept, the rest counted, bad records quoted by a short prefix", () => {
    const records = Array.from({ length: 10_000 }, (_, i) => `dnsaddr=/ip4/10.${(i >> 8) & 255}.${i & 255}.1/tcp/4001`)
    records.push(`dnsaddr=${"x".repeat(100_000)}`)
    const r = Dnsaddr.resolveWith(addr("/dnsaddr/big.example"), lookup({ "_dnsaddr.big.example": records }), { maxAddresses: 1000 })
    expect(r.addresses.length).toBe(1000)
    const kinds = r.warnings.map((w) => w.kind)
    expect(kinds).toContain("too-many-addresses")
    expect(kinds).toContain("bad-record")
    for (const w of r.warnings) expect(w.detail.length).toBeLessThan(200)
  })

  it("a fan-out past maxLookups stops with one too-many-lookups warning", () => {
    const fan: Record<string, ReadonlyArray<string>> = {
      "_dnsaddr.root.example": Array.from({ length: 100 }, (_, i) => `dnsaddr=/dnsaddr/c${i}.example`)
    }
    for (let i = 0; i < 100; i++) fan[`_dnsaddr.c${i}.example`] = [`dnsaddr=/ip4/1.2.3.${i}/tcp/1`]
    const r = Dnsaddr.resolveWith(addr("/dnsaddr/root.example"), lookup(fan), { maxLookups: 10 })
    expect(r.asked.size).toBe(10)
    expect(r.addresses.length).toBe(9)
    expect(r.warnings.filter((w) => w.kind === "too-many-lookups").length).toBe(1)
  })

  it("on any zone, never asks a name twice nor more than maxLookups names, and terminates", () => {
    const names = ["a", "b", "c", "d", "e", "f"]
    FastCheck.assert(
      FastCheck.property(
        FastCheck.dictionary(
          FastCheck.constantFrom(...names),
          FastCheck.array(FastCheck.oneof(
            FastCheck.constantFrom(...names).map((n) => `dnsaddr=/dnsaddr/${n}.example`),
            FastCheck.integer({ min: 1, max: 65535 }).map((p) => `dnsaddr=/ip4/8.8.8.8/tcp/${p}`),
            FastCheck.string()
          ), { maxLength: 8 })
        ),
        FastCheck.integer({ min: 1, max: 8 }),
        (z, maxLookups) => {
          const asked: Array<string> = []
          const r = Dnsaddr.resolveWith(addr("/dnsaddr/a.example"), (name) => {
            asked.push(name)
            return z[name.slice("_dnsaddr.".length, -".example".length)] ?? "ENOTFOUND"
          }, { maxLookups })
          expect(new Set(asked).size).toBe(asked.length)
          expect(asked.length).toBeLessThanOrEqual(maxLookups)
          expect(new Set(r.addresses.map((a) => a.key)).size).toBe(r.addresses.length)
        }
      ),
      { seed: 8008, numRuns: 300 }
    )
  })
})
