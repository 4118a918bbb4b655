import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { PeerAddress, PeerTable } from "@bootstrap-cache/core"
import { FLAT_FROM, GroupIds, ip4Slot } from "../src/internal/selectionGroups.js"
import * as SelectionPool from "../src/internal/selectionPool.js"

/** The plain definition: `ip4:a.b`, each octet decimal in [0, 255] without a leading zero. */
const CANONICAL_IP4 = /^ip4:(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$/

const plainSlot = (netgroup: string): number => {
  const m = CANONICAL_IP4.exec(netgroup)
  if (m === null) return -1
  const a = Number(m[1])
  const b = Number(m[2])
  return a > 255 || b > 255 ? -1 : a * 256 + b
}

const octet = FastCheck.oneof(FastCheck.integer({ min: 0, max: 3 }), FastCheck.integer({ min: 0, max: 255 }))

/** Netgroups as the parsers write them, few enough to repeat, and near misses of the IPv4 form. */
const netgroup = FastCheck.oneof(
  { weight: 6, arbitrary: FastCheck.tuple(octet, octet).map(([a, b]) => `ip4:${a}.${b}`) },
  { weight: 1, arbitrary: FastCheck.tuple(octet, octet).map(([a, b]) => `ip4:0${a}.${b}`) },
  { weight: 1, arbitrary: FastCheck.tuple(octet, octet).map(([a, b]) => `ip4:${a}.${b}.1`) },
  { weight: 1, arbitrary: FastCheck.tuple(FastCheck.integer({ min: 256, max: 1200 }), octet).map(([a, b]) => `ip4:${a}.${b}`) },
  { weight: 2, arbitrary: FastCheck.stringOf(FastCheck.constantFrom("0", "1", "2", "5", "9", "."), { maxLength: 9 }).map((s) => `ip4:${s}`) },
  { weight: 1, arbitrary: FastCheck.tuple(octet, octet).map(([a, b]) => `ip6:${a.toString(16)}:${b.toString(16)}`) },
  { weight: 1, arbitrary: FastCheck.constantFrom("dns:a.example", "dns:b.example", "ip4:", "ip4:1.", "ip4:.1", "IP4:1.2", "") }
)

/** The pool's netgroup ids are those a Map gives its peers' best addresses' netgroups in pool order. */
const expectPlainIds = (pool: SelectionPool.Pool) => {
  const plain = new Map<string, number>()
  const sizes: Array<number> = []
  for (let i = 0; i < pool.n; i++) {
    const netgroup = pool.addresses[i]!.netgroup
    if (!plain.has(netgroup)) {
      plain.set(netgroup, plain.size)
      sizes.push(0)
    }
    sizes[plain.get(netgroup)!]!++
    expect(pool.group[i]).toBe(plain.get(netgroup))
    expect(pool.groupIds.get(netgroup)).toBe(plain.get(netgroup))
  }
  expect(Array.from(pool.groupSize)).toEqual(sizes)
}

describe("Selection's netgroup ids", () => {
  it.prop(
    "a netgroup has an IPv4 slot exactly when it is written ip4:a.b with canonical octets, and the slot is a·256 + b",
    [netgroup],
    ([g]) => {
      expect(ip4Slot(g)).toBe(plainSlot(g))
    },
    { fastCheck: { seed: 1601, numRuns: 2000 } }
  )

  it.prop(
    "ids are the ones a Map gives netgroups in the order they are first seen, for any sequence, with the flat array or without",
    [FastCheck.array(netgroup, { maxLength: 200 }), FastCheck.array(netgroup, { maxLength: 20 }), FastCheck.boolean()],
    ([seen, probes, flat]) => {
      const ids = new GroupIds(flat ? FLAT_FROM : FLAT_FROM - 1)
      const plain = new Map<string, number>()
      for (const g of seen) {
        if (!plain.has(g)) plain.set(g, plain.size)
        expect(ids.intern(g)).toBe(plain.get(g))
      }
      expect(ids.size).toBe(plain.size)
      for (const g of [...seen, ...probes]) expect(ids.get(g)).toBe(plain.get(g))
    },
    { fastCheck: { seed: 1602, numRuns: 400 } }
  )

  it.prop(
    "a pool's netgroup of each peer is the id a Map gives its best address's netgroup, first seen first, over IPv4, IPv6 and DNS peers",
    [
      FastCheck.array(
        FastCheck.oneof(
          FastCheck.tuple(FastCheck.integer({ min: 11, max: 14 }), FastCheck.nat(3), FastCheck.integer({ min: 1, max: 250 }))
            .map(([a, b, h]) => `/ip4/${a}.${b}.7.${h}/tcp/4001`),
          FastCheck.tuple(FastCheck.nat(3), FastCheck.nat(3), FastCheck.integer({ min: 1, max: 250 }))
            .map(([x, y, h]) => `/ip6/2a0${x}:${y}::${h.toString(16)}/tcp/4001`),
          FastCheck.tuple(FastCheck.nat(5), FastCheck.integer({ min: 1, max: 9 })).map(([k, port]) => `/dns4/n${k}.example.com/tcp/400${port}`)
        ),
        { maxLength: 120 }
      )
    ],
    ([texts]) => {
      const now = 1_790_000_000_000
      let table = PeerTable.empty
      for (const text of texts) table = PeerTable.add(table, PeerAddress.unsafeParse(text), { now, source: { _tag: "user" } })
      expectPlainIds(SelectionPool.fullPool(table, { now }))
    },
    { fastCheck: { seed: 1603, numRuns: 200 } }
  )

  it("a pool large enough for the flat array gives the same ids (3,000 peers over IPv4, IPv6 and DNS)", () => {
    const now = 1_790_000_000_000
    const texts = Array.from({ length: 3_000 }, (_, i) =>
      i % 7 === 0
        ? `/ip6/2a0${i % 5}:${i % 11}::${(i + 1).toString(16)}/tcp/4001`
        : i % 13 === 0
        ? `/dns4/n${i % 17}.example.com/tcp/${4000 + i}`
        : `/ip4/${11 + (i % 50)}.${(i * 7) % 256}.${i % 256}.${1 + (i % 250)}/tcp/${4000 + i}`)
    const table = PeerTable.mutate(PeerTable.empty, (t) =>
      texts.reduce((out, text) => PeerTable.add(out, PeerAddress.unsafeParse(text), { now, source: { _tag: "user" } }), t))
    expect(PeerTable.size(table)).toBeGreaterThanOrEqual(FLAT_FROM)
    expectPlainIds(SelectionPool.fullPool(table, { now }))
  })
})
