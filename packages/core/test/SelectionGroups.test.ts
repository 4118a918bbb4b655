import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { GroupIds, ip4Slot } from "../src/internal/selectionGroups.js"

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
    "ids are the ones a Map gives netgroups in the order they are first seen, for any sequence",
    [FastCheck.array(netgroup, { maxLength: 200 }), FastCheck.array(netgroup, { maxLength: 20 })],
    ([seen, probes]) => {
      const ids = new GroupIds()
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
})
