import { describe, expect, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Either from "effect/Either"
import * as Equal from "effect/Equal"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { createHash } from "node:crypto"
import { CacheFile, CacheImport, Journal, PeerAddress, PeerRecord, PeerTable, Score } from "@bootstrap-cache/core"
import { Arbitraries } from "@bootstrap-cache/testkit"
import { sourceListKey } from "../src/internal/recordCompact.js"

const hash: CacheFile.Hash = (text) => createHash("sha256").update(text).digest("hex")
const T0 = 1_700_000_000_000
const ED = "12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx"
const ZEROS = "0".repeat(64)
const encodeTable = Schema.encodeSync(PeerTable.PeerTableFromRecords)
const json = (table: PeerTable.PeerTable) => JSON.stringify(encodeTable(table))

const tableOf = (ops: ReadonlyArray<Arbitraries.TableOp>): PeerTable.PeerTable =>
  Journal.replay(PeerTable.empty, ops.reduce((j, op) => Journal.append(j, Arbitraries.journalOp(op, T0)), Journal.empty))

/** `n` peers on distinct hosts, each with a history, half with peer ids, from two sources. */
const sizable = (n: number): PeerTable.PeerTable => {
  let table = PeerTable.empty
  for (let i = 0; i < n; i++) {
    const text = `/ip4/10.${(i >> 8) & 255}.${i & 255}.7/tcp/${4001 + (i % 7)}${i % 2 === 0 ? `/p2p/${ED}` : ""}`
    const address = PeerAddress.unsafeParse(i % 2 === 0 ? `/ip4/10.${(i >> 8) & 255}.${i & 255}.7/tcp/4001` : text)
    const source: PeerRecord.Source = i % 3 === 0 ? { _tag: "user" } : { _tag: "endpoint", url: "https://contacts.example/peers" }
    table = PeerTable.add(table, address, { now: T0, source })
    for (let k = 0; k < i % 5; k++) {
      table = k % 2 === 0
        ? PeerTable.recordSuccess(table, address, T0 + 1000 * k, { rttMs: 10 + k / 3 })
        : PeerTable.recordFailure(table, address, T0 + 1000 * k)
    }
  }
  return table
}

/** A version 2 text with its checksum recomputed, as a writer would have. */
const rechecksum = (text: string): string => {
  const zeroed = text.replace(/"checksum":"[0-9a-f]{64}"/, `"checksum":"${ZEROS}"`)
  return zeroed.replace(`"checksum":"${ZEROS}"`, `"checksum":"${hash(zeroed)}"`)
}

/** Replaces peer line `i` (0-based) of a version 2 text and recomputes the checksum. */
const withPeerLine = (text: string, i: number, line: string): string => {
  const lines = text.split("\n")
  const comma = lines[i + 1]!.endsWith(",") ? "," : ""
  lines[i + 1] = line + comma
  return rechecksum(lines.join("\n"))
}

describe("CacheFile version 2 (compact)", () => {
  it.prop(
    "decode ∘ encodeCompact is the identity on tables built by any operation sequence",
    [Arbitraries.tableOps],
    ([ops]) => {
      const table = tableOf(ops)
      const text = CacheFile.encodeCompact(table, { lastUpdated: T0, hash })
      const decoded = Either.getOrThrow(CacheFile.decode(text, { hash }))
      expect(json(decoded.table)).toBe(json(table))
      expect(decoded.version).toBe(2)
      expect(decoded.rejected).toEqual([])
      expect(decoded.newer).toBe(false)
      // Deterministic, and what it decodes to encodes to the same text.
      expect(CacheFile.encodeCompact(decoded.table, { lastUpdated: T0, hash })).toBe(text)
    },
    { fastCheck: { seed: 21, numRuns: 60 } }
  )

  it.prop(
    "a version 1 file migrates losslessly: v1 → table → v2 → table gives the same table",
    [Arbitraries.tableOps],
    ([ops]) => {
      const table = tableOf(ops)
      const v1 = Either.getOrThrow(CacheFile.decode(CacheFile.encode(table, { lastUpdated: T0, hash }), { hash }))
      expect(v1.version).toBe(1)
      const v2 = Either.getOrThrow(CacheFile.decode(CacheFile.encodeCompact(v1.table, { lastUpdated: T0, hash }), { hash }))
      expect(json(v2.table)).toBe(json(table))
    },
    { fastCheck: { seed: 22, numRuns: 40 } }
  )

  it.prop(
    "the compact codec carries every PeerRecord the Schema can make",
    [FastCheck.array(Arbitrary.make(PeerRecord.PeerRecord), { maxLength: 6 })],
    ([records]) => {
      const table = PeerTable.fromRecords(records)
      const decoded = Either.getOrThrow(CacheFile.decode(CacheFile.encodeCompact(table, { lastUpdated: T0, hash }), { hash }))
      expect(decoded.rejected).toEqual([])
      expect(json(decoded.table)).toBe(json(table))
    },
    { fastCheck: { seed: 23, numRuns: 200 } }
  )

  it("takes under 60% of the bytes of version 1, and leads with the best peers by score", () => {
    const table = sizable(300)
    const v1 = CacheFile.encode(table, { lastUpdated: T0, hash })
    const v2 = CacheFile.encodeCompact(table, { lastUpdated: T0, hash, head: 8 })
    expect(v2.length / v1.length).toBeLessThan(0.6)
    const doc = JSON.parse(v2)
    expect(doc.head).toBe(8)
    const scores = PeerTable.toRecords(table).map((r) => Score.peer(r, T0)).sort((a, b) => b - a)
    const head = Option.getOrThrow(CacheFile.decodeHead(v2, { hash }))
    expect(head.records).toHaveLength(8)
    expect(head.records.map((r) => Score.peer(r, T0))).toEqual(scores.slice(0, 8))
  })

  it("reads the head from a prefix of the file, and refuses a prefix too short, a damaged head or a version 1 file", () => {
    const table = sizable(200)
    const text = CacheFile.encodeCompact(table, { lastUpdated: T0, hash, head: 5 })
    const lines = text.split("\n")
    const prefixLength = lines.slice(0, 6).join("\n").length + 1
    const head = Option.getOrThrow(CacheFile.decodeHead(text.slice(0, prefixLength), { hash }))
    expect(head.lastUpdated).toBe(T0)
    const full = Either.getOrThrow(CacheFile.decode(text, { hash })).table
    for (const record of head.records) {
      const key = PeerRecord.peerKey(record.peerId, record.addresses[0]!.address)
      expect(JSON.stringify(Schema.encodeSync(PeerRecord.PeerRecord)(record))).toBe(
        JSON.stringify(Schema.encodeSync(PeerRecord.PeerRecord)(Option.getOrThrow(
          Option.isSome(record.peerId) ? PeerTable.lookupPeer(full, key) : Option.map(PeerTable.lookupAddress(full, record.addresses[0]!.address), (x) => x.peer)
        )))
      )
    }
    expect(Option.isNone(CacheFile.decodeHead(text.slice(0, prefixLength - 2), { hash }))).toBe(true)
    const damaged = [...lines]
    damaged[2] = damaged[2]!.replace(String(T0), String(T0 + 1))
    expect(damaged[2]).not.toBe(lines[2])
    expect(Option.isNone(CacheFile.decodeHead(damaged.join("\n"), { hash }))).toBe(true)
    expect(Option.isNone(CacheFile.decodeHead(CacheFile.encode(table, { lastUpdated: T0, hash }), { hash }))).toBe(true)
  })

  it.prop(
    "the header is covered by the checksum: any changed character of the header line is never read as valid (nor as newer)",
    [FastCheck.nat(), FastCheck.constantFrom("0", "1", "3", "9", "a", "\"", ",", " ")],
    ([position, replacement]) => {
      const text = CacheFile.encodeCompact(sizable(5), { lastUpdated: T0, hash })
      const headerLength = text.indexOf("\n")
      const at = position % headerLength
      if (text[at] === replacement) return
      const damaged = text.slice(0, at) + replacement + text.slice(at + 1)
      expect(Either.isLeft(CacheFile.decode(damaged, { hash }))).toBe(true)
    },
    { fastCheck: { seed: 24, numRuns: 300 } }
  )

  it("a version 2 file decodes from its parsed document alone (import), and re-laid out it still verifies", () => {
    const table = sizable(20)
    const text = CacheFile.encodeCompact(table, { lastUpdated: T0, hash })
    const fromDocument = Either.getOrThrow(CacheFile.decodeDocument(JSON.parse(text), { hash }))
    expect(json(fromDocument.table)).toBe(json(table))
    const pretty = JSON.stringify(JSON.parse(text), null, 2)
    expect(json(Either.getOrThrow(CacheFile.decode(pretty, { hash })).table)).toBe(json(table))
    const imported = Either.getOrThrow(CacheImport.parse(text, { now: T0, from: "peers.json", hash }))
    expect(imported.format).toBe("bootstrap-cache")
    expect(imported.records).toHaveLength(PeerTable.size(table))
  })

  it("a damaged version digit in a version 1 file makes it corrupt, never a newer file the store must not touch", () => {
    const text = CacheFile.encode(sizable(3), { lastUpdated: T0, hash })
    for (const digit of ["2", "3", "7", "9"]) {
      const result = CacheFile.decode(text.replace("\"version\": 1,", `"version": ${digit},`), { hash })
      expect(Either.isLeft(result), `version ${digit}`).toBe(true)
    }
  })

  it("rejects bad records with a typed reason naming the field and the line, and keeps the others", () => {
    const text = CacheFile.encodeCompact(sizable(6), { lastUpdated: T0, hash, head: 0 })
    const cases: ReadonlyArray<readonly [string, string, RegExp]> = [
      [`[null,${T0},${T0},[["/ip4/1.2.3.4/tcp/1",1e400]],0,[],[]]`, ".addresses[0].successes", /not a finite number/],
      [`[null,${T0},${T0},[["/ip4/1.2.3.4/tcp/1",0,0,0,1e300]],0,[],[]]`, ".addresses[0].lastSuccess", /safe integer/],
      [`[null,${T0},${T0},[["/ip4/1.2.3.4/tcp/1",0,0,0,null,null,null,1e400]],0,[],[]]`, ".addresses[0].rttMs", /not a finite number/],
      [`[null,${T0},${T0},[["/ip4/1.2.3.4/tcp/1"]],0,[],[],{"__proto__":{"polluted":true}}]`, ".__proto__", /__proto__/],
      [`[null,${T0},${T0},[["/ip4/1.2.3.4/tcp/1"]],0,${"[".repeat(5000)}${"]".repeat(5000)},[]]`, ".protocols", /nested deeper/],
      [`[null,${T0},${T0},[["/ip4/1.2.3.4/tcp/99999"]],0,[],[]]`, ".addresses[0].multiaddr", /99999/],
      [`[null,${T0},${T0},[["/ip4/1.2.3.4/tcp/1"]],0,[],[7]]`, ".sources[0]", /source table/],
      [`"not a peer"`, "", /must be an array/]
    ]
    for (const [line, path, reason] of cases) {
      const decoded = Either.getOrThrow(CacheFile.decode(withPeerLine(text, 2, line), { hash }))
      expect(decoded.rejected).toHaveLength(1)
      const [rejected] = decoded.rejected
      expect(rejected!.path.startsWith(`peers[2]${path}`), `${rejected!.path} for ${line.slice(0, 60)}`).toBe(true)
      expect(rejected!.reason).toMatch(reason)
      expect(rejected!.reason.length).toBeLessThanOrEqual(201)
      expect(rejected!.line).toBe(4)
      expect(PeerTable.size(decoded.table)).toBe(5)
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    }
  })

  it.prop(
    "never throws on mutated files: bit flips, truncations, deep nesting, extreme numbers and __proto__ keys",
    [
      FastCheck.nat(),
      FastCheck.constantFrom("flip", "truncate", "nest", "huge", "proto", "infinite"),
      FastCheck.boolean()
    ],
    ([n, kind, fixChecksum]) => {
      const text = CacheFile.encodeCompact(sizable(8), { lastUpdated: T0, hash })
      const at = n % text.length
      const mutated = kind === "flip"
        ? text.slice(0, at) + String.fromCharCode(text.charCodeAt(at) ^ (1 << (n % 7))) + text.slice(at + 1)
        : kind === "truncate"
        ? text.slice(0, at)
        : kind === "nest"
        ? text.replace("[[\"", `[${"[".repeat(20_000)}${"]".repeat(20_000)},["`)
        : kind === "huge"
        ? text.replace(/,(\d+),/, ",1e308,")
        : kind === "proto"
        ? text.replace("{\"version\"", "{\"__proto__\":{\"x\":1},\"version\"")
        : text.replace(/,(\d+)\]/, ",1e999]")
      const candidate = fixChecksum && mutated.includes("\"checksum\":\"") ? rechecksum(mutated) : mutated
      const result = CacheFile.decode(candidate, { hash })
      expect(Either.isLeft(result) || Either.isRight(result)).toBe(true)
      const head = CacheFile.decodeHead(candidate, { hash })
      expect(Option.isOption(head)).toBe(true)
    },
    { fastCheck: { seed: 25, numRuns: 400 } }
  )

  const schemaRecord = (r: PeerRecord.PeerRecord) => Schema.decodeUnknownSync(PeerRecord.PeerRecord)(Schema.encodeSync(PeerRecord.PeerRecord)(r))
  const sameAddressRecord = (a: PeerRecord.AddressRecord, b: PeerRecord.AddressRecord): boolean =>
    Equal.equals(a.address, b.address) && a.successes === b.successes && a.failures === b.failures &&
    a.consecutiveFailures === b.consecutiveFailures && Equal.equals(a.lastSuccess, b.lastSuccess) &&
    Equal.equals(a.lastFailure, b.lastFailure) && Equal.equals(a.lastSeen, b.lastSeen) && Equal.equals(a.rttMs, b.rttMs) &&
    a.bytesTransferred === b.bytesTransferred
  /**
   * Records as a file carries them (an RTT is a finite JSON number: an infinite one is written `null`),
   * with their addresses naming the record's peer id (as a libp2p cache's do) when `named`.
   */
  const carried = (records: ReadonlyArray<PeerRecord.PeerRecord>, named: boolean) =>
    records.map((r) => ({
      ...r,
      addresses: r.addresses.map((a) => ({
        ...a,
        address: named && Option.isSome(r.peerId) ? PeerAddress.withPeerId(a.address, r.peerId.value) : a.address,
        rttMs: Option.filter(a.rttMs, Number.isFinite)
      }))
    }))

  it.prop(
    "a decoded record is the Schema's record of its line (Equal.equals, field by field), re-encoded byte for byte, and its peer id option is an address's when one names it",
    [FastCheck.array(Arbitrary.make(PeerRecord.PeerRecord), { maxLength: 6 }), FastCheck.boolean()],
    ([records, named]) => {
      const table = PeerTable.fromRecords(carried(records, named))
      const text = CacheFile.encodeCompact(table, { lastUpdated: T0, hash })
      const decoded = Either.getOrThrow(CacheFile.decode(text, { hash }))
      expect(CacheFile.encodeCompact(decoded.table, { lastUpdated: T0, hash })).toBe(text)
      const fast = PeerTable.toRecords(decoded.table)
      const plain = PeerTable.toRecords(table).map(schemaRecord)
      expect(fast.length).toBe(plain.length)
      fast.forEach((r, i) => {
        const p = plain[i]!
        expect(Equal.equals(r.peerId, p.peerId)).toBe(true)
        expect(r.addresses.length).toBe(p.addresses.length)
        r.addresses.forEach((a, j) => expect(sameAddressRecord(a, p.addresses[j]!)).toBe(true))
        expect({ ...r, peerId: null, addresses: null }).toStrictEqual({ ...p, peerId: null, addresses: null })
        const id = r.peerId
        if (Option.isSome(id) && r.addresses.some((a) => Option.contains(a.address.peerId, id.value))) {
          // The record keeps no second option (nor string) of its id: it shares the address's.
          expect(r.addresses.some((a) => a.address.peerId === id)).toBe(true)
        }
      })
    },
    { fastCheck: { seed: 31, numRuns: 200 } }
  )
})

describe("recordCompact.sourceListKey", () => {
  const indices = FastCheck.array(FastCheck.oneof(FastCheck.nat(3), FastCheck.constantFrom(1 << 20, (1 << 20) - 1, 2 ** 31)), { maxLength: 3 })
  it.prop("gives two lists of source indices one key exactly when their joined text is one", [indices, indices], ([a, b]) => {
    expect(sourceListKey(a) === sourceListKey(b)).toBe(a.join(",") === b.join(","))
  }, { fastCheck: { seed: 20, numRuns: 3000 } })
})
