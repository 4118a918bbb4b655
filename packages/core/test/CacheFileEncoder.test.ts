import { describe, expect, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as FastCheck from "effect/FastCheck"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import { createHash } from "node:crypto"
import { CacheFile, CacheFileEncoder, Journal, PeerAddress, PeerRecord, PeerTable } from "@bootstrap-cache/core"
import { Arbitraries } from "@bootstrap-cache/testkit"
import { headIndices } from "../src/internal/fileV2.js"
import { Encoder } from "../src/internal/fileV2Encoder.js"
import { HeadRanker } from "../src/internal/fileV2Head.js"
import * as recordCompact from "../src/internal/recordCompact.js"
import { sortSteps } from "../src/internal/sortSteps.js"

const hash: CacheFile.Hash = (text) => createHash("sha256").update(text).digest("hex")
const hashBytes: CacheFileEncoder.BytesHash = (bytes) => createHash("sha256").update(bytes).digest("hex")
const T0 = 1_700_000_000_000
const utf8 = new TextDecoder()

/** A change to a table, on one of a few addresses, so successive tables share most peers. */
type Change =
  | { readonly _tag: "add"; readonly i: number; readonly source: PeerRecord.Source; readonly at: number }
  | { readonly _tag: "success"; readonly i: number; readonly at: number; readonly rttMs: number }
  | { readonly _tag: "failure"; readonly i: number; readonly at: number }
  | { readonly _tag: "remove"; readonly i: number }
  | { readonly _tag: "protocols"; readonly i: number; readonly protocols: ReadonlyArray<string> }

const at = FastCheck.integer({ min: 0, max: 10 * 86_400_000 })
const i = FastCheck.nat(15)
const change: FastCheck.Arbitrary<Change> = FastCheck.oneof(
  { weight: 3, arbitrary: FastCheck.record({ _tag: FastCheck.constant("add" as const), i, source: Arbitraries.source, at }) },
  { weight: 4, arbitrary: FastCheck.record({ _tag: FastCheck.constant("success" as const), i, at, rttMs: FastCheck.integer({ min: 1, max: 900 }) }) },
  { weight: 3, arbitrary: FastCheck.record({ _tag: FastCheck.constant("failure" as const), i, at }) },
  { weight: 1, arbitrary: FastCheck.record({ _tag: FastCheck.constant("remove" as const), i }) },
  {
    weight: 1,
    // Non-ASCII text, so lines carry multi-byte UTF-8.
    arbitrary: FastCheck.record({ _tag: FastCheck.constant("protocols" as const), i, protocols: FastCheck.array(FastCheck.fullUnicodeString({ maxLength: 12 }), { maxLength: 3 }) })
  }
)

const apply = (table: PeerTable.PeerTable, pool: ReadonlyArray<PeerAddress.PeerAddress>, c: Change): PeerTable.PeerTable => {
  const address = pool[c.i % pool.length]!
  switch (c._tag) {
    case "add":
      return PeerTable.add(table, address, { now: T0 + c.at, source: c.source })
    case "success":
      return PeerTable.recordSuccess(table, address, T0 + c.at, { rttMs: c.rttMs })
    case "failure":
      return PeerTable.recordFailure(table, address, T0 + c.at)
    case "remove":
      return PeerTable.remove(table, address)
    case "protocols":
      return Option.match(address.peerId, { onNone: () => table, onSome: (id) => PeerTable.setProtocols(table, id, c.protocols) })
  }
}

/** Distinct hosts; every fifth names one of a few peer ids, so some peers hold several addresses. */
const addressAt = (k: number): PeerAddress.PeerAddress =>
  PeerAddress.unsafeParse(`/ip4/10.${(k >> 8) & 255}.${k & 255}.7/tcp/4001${k % 5 === 0 ? `/p2p/${Arbitraries.PEER_IDS[k % 3]}` : ""}`)

/** A starting table of `n` peers from two sources, so most saves change a few peers of many. */
const baseTable = (n: number): { readonly table: PeerTable.PeerTable; readonly pool: ReadonlyArray<PeerAddress.PeerAddress> } => {
  const pool = Array.from({ length: n }, (_, k) => addressAt(k))
  let table = PeerTable.empty
  pool.forEach((address, k) => {
    table = PeerTable.add(table, address, { now: T0, source: k % 3 === 0 ? { _tag: "user" } : { _tag: "endpoint", url: "https://contacts.example/peers" } })
    if (k % 2 === 0) table = PeerTable.recordSuccess(table, address, T0 + k, { rttMs: 10 + k })
  })
  return { table, pool }
}

const expectSame = (encoder: CacheFileEncoder.CacheFileEncoder, table: PeerTable.PeerTable, lastUpdated: number, head: number) =>
  expect(utf8.decode(encoder.encode(table, { lastUpdated, hash: hashBytes, head }))).toBe(
    CacheFile.encodeCompact(table, { lastUpdated, hash, head })
  )

describe("CacheFileEncoder", () => {
  it.prop(
    "one encoder over a run of saves gives, save after save, the bytes of encodeCompact's text",
    [FastCheck.nat(40), FastCheck.array(FastCheck.tuple(FastCheck.array(change, { maxLength: 6 }), FastCheck.nat(40), at), { maxLength: 12 })],
    ([size, saves]) => {
      const { table: base, pool } = baseTable(size + 1)
      const encoder = CacheFileEncoder.make()
      let table = base
      expectSame(encoder, table, T0, 4)
      for (const [changes, head, when] of saves) {
        for (const c of changes) table = apply(table, pool, c)
        expectSame(encoder, table, T0 + when, head)
      }
    },
    { fastCheck: { seed: 41, numRuns: 150 } }
  )

  it.prop(
    "tables from any operation sequence encode as encodeCompact's text, by a fresh encoder and by one that saw another table",
    [Arbitraries.tableOps, Arbitraries.tableOps, FastCheck.nat(6)],
    ([first, second, head]) => {
      const build = (ops: ReadonlyArray<Arbitraries.TableOp>) =>
        Journal.replayOps(PeerTable.empty, ops.map((op) => Arbitraries.journalOp(op, T0)))
      const encoder = CacheFileEncoder.make()
      expectSame(encoder, build(first), T0, head)
      expectSame(encoder, build(second), T0 + 1, head)
      expectSame(CacheFileEncoder.make(), build(second), T0 + 1, head)
    },
    { fastCheck: { seed: 42, numRuns: 150 } }
  )

  it.prop(
    "a record's compact parts built from its fields equal the parts of its named encoding (any record, any source memo)",
    [FastCheck.array(Arbitrary.make(PeerRecord.PeerRecord), { maxLength: 8 }), Arbitraries.tableOps],
    ([records, ops]) => {
      const table = Journal.replayOps(PeerTable.empty, ops.map((op) => Arbitraries.journalOp(op, T0)))
      const memo = new Map<PeerRecord.Source, string>()
      const memoised = (s: PeerRecord.Source) => memo.get(s) ?? memo.set(s, recordCompact.sourceJson(s)).get(s)!
      for (const record of [...records, ...PeerTable.toRecords(table)]) {
        const plain = recordCompact.encodePartsPlain(record)
        expect(recordCompact.encodeParts(record)).toEqual(plain)
        expect(recordCompact.encodeParts(record, memoised)).toEqual(plain)
      }
      // A record with a field this codec does not place keeps it (through the named encoding).
      for (const record of records) {
        const wider = { ...record, addresses: record.addresses.map((a) => ({ ...a, note: "x" })) } as PeerRecord.PeerRecord
        expect(recordCompact.encodeParts(wider)).toEqual(recordCompact.encodePartsPlain(wider))
      }
    },
    { fastCheck: { seed: 43, numRuns: 200 } }
  )

  it("lines spanning the encoder's buffers, and a line longer than one, are written whole", () => {
    const { table: base, pool } = baseTable(700)
    const id = pool.find((a) => Option.isSome(a.peerId))!
    const encoder = CacheFileEncoder.make()
    expectSame(encoder, base, T0, 32)
    const long = PeerTable.setProtocols(base, Option.getOrThrow(id.peerId), ["é".repeat(40_000), "🚀".repeat(20_000)])
    expectSame(encoder, long, T0 + 1, 32)
    expectSame(encoder, PeerTable.recordFailure(long, pool[3]!, T0 + 2), T0 + 2, 700)
  })

  it("a save with the same keys and sources reuses the last bytes: patched in place, or moved by runs", () => {
    const { table: base, pool } = baseTable(60)
    const encoder = new Encoder()
    const save = (table: PeerTable.PeerTable, lastUpdated: number, head = 8) => {
      expect(utf8.decode(encoder.encode(table, { lastUpdated, hash: hashBytes, head }))).toBe(
        CacheFile.encodeCompact(table, { lastUpdated, hash, head })
      )
      return encoder.lastPath
    }
    // A peer out of the head with ten failures: one more keeps its line's length (two digits).
    let table = base
    for (let n = 0; n < 10; n++) table = PeerTable.recordFailure(table, pool[7]!, T0 + 1_000 + n)
    expect(save(table, T0 + 2_000)).toBe("assembled")
    expect(save(table, T0 + 3_000)).toBe("patched")
    const paths: Array<string> = []
    for (let n = 0; n < 9; n++) {
      table = PeerTable.recordFailure(table, pool[7]!, T0 + 4_000 + n)
      paths.push(save(table, T0 + 5_000 + n))
    }
    expect(paths).toEqual(Array(9).fill("patched"))
    // A line of another length, the last line, a peer entering the head: runs are moved.
    table = PeerTable.setProtocols(table, Option.getOrThrow(pool[0]!.peerId), ["/longer/protocol/1.0.0"])
    expect(save(table, T0 + 6_000)).toBe("moved")
    const keys = [...HashMap.keys(table.peers)].sort()
    table = PeerTable.recordFailure(table, HashMap.unsafeGet(table.peers, keys[keys.length - 1]!).addresses[0]!.address, T0 + 6_001)
    expect(save(table, T0 + 6_002)).toBe("moved")
    table = PeerTable.recordSuccess(table, pool[31]!, T0 + 7_000, { rttMs: 1 })
    expect(save(table, T0 + 7_000)).toBe("moved")
    expect(save(table, T0 + 7_001, 9)).toBe("moved")
    expect(save(table, T0 + 7_002, 0)).toBe("moved")
    expect(save(table, T0 + 7_003, 0)).toBe("patched")
    // A new source, a key removed, a clock with another number of digits: assembled whole.
    table = PeerTable.add(table, pool[9]!, { now: T0, source: { _tag: "endpoint", url: "https://other.example/peers" } })
    expect(save(table, T0 + 8_000)).toBe("assembled")
    expect(save(PeerTable.remove(table, pool[9]!), T0 + 8_001)).toBe("assembled")
    expect(save(table, 10 * T0)).toBe("assembled")
  })

  it.prop(
    "one encoder over saves that keep the keys gives encodeCompact's bytes, whichever way it builds them",
    [
      FastCheck.integer({ min: 1, max: 50 }),
      FastCheck.array(
        FastCheck.tuple(FastCheck.array(change.filter((c) => c._tag !== "add" && c._tag !== "remove"), { maxLength: 5 }), FastCheck.nat(12), at),
        { maxLength: 15 }
      )
    ],
    ([size, saves]) => {
      const { table: base, pool } = baseTable(size)
      const encoder = new Encoder()
      let table = base
      for (const [changes, head, when] of [[[], 4, 0] as const, ...saves]) {
        for (const c of changes) table = apply(table, pool, c)
        expect(utf8.decode(encoder.encode(table, { lastUpdated: T0 + when, hash: hashBytes, head }))).toBe(
          CacheFile.encodeCompact(table, { lastUpdated: T0 + when, hash, head })
        )
      }
    },
    { fastCheck: { seed: 44, numRuns: 300 } }
  )

  it.prop(
    "an encoder prepared fully, partly or not at all, with changes made meanwhile, gives encodeCompact's bytes save after save",
    [
      FastCheck.nat(60),
      FastCheck.integer({ min: 1, max: 40 }),
      FastCheck.oneof(FastCheck.nat(30), FastCheck.constant(Number.POSITIVE_INFINITY)),
      FastCheck.array(change, { maxLength: 6 }),
      FastCheck.integer({ min: -86_400_000, max: 10 * 86_400_000 }),
      FastCheck.nat(8),
      FastCheck.array(FastCheck.tuple(FastCheck.array(change, { maxLength: 4 }), FastCheck.nat(40), at), { maxLength: 4 })
    ],
    ([size, perStep, steps, meanwhile, when, firstHead, saves]) => {
      const { table: base, pool } = baseTable(size + 1)
      const encoder = CacheFileEncoder.make()
      const preparing = encoder.prepare(base, { now: T0, head: 5, peersPerStep: perStep })
      let taken = 0
      while (taken < steps && preparing.next().done !== true) taken++
      let table = base
      for (const c of meanwhile) table = apply(table, pool, c)
      // Any time, earlier than the preparation's too (a clock that went back).
      expectSame(encoder, table, T0 + when, firstHead)
      // The preparation was finished by the save: there is nothing left, and no second one starts.
      expect(preparing.next().done).toBe(true)
      expect(encoder.prepare(table, { now: T0 }).next().done).toBe(true)
      for (const [changes, head, later] of saves) {
        for (const c of changes) table = apply(table, pool, c)
        expectSame(encoder, table, T0 + later, head)
      }
    },
    { fastCheck: { seed: 44, numRuns: 200 } }
  )

  it("a preparation pauses after every slice of peers, and a prepared first save is built from the prepared bytes", () => {
    const { table } = baseTable(500)
    const encoder = new Encoder()
    const steps = encoder.prepare(table, T0, 32, 64)
    let pauses = 0
    while (steps.next().done !== true) pauses++
    // At least once a slice in each stage: keys collected, runs sorted, records placed, parts
    // counted, lines, scores and their runs sorted (merges pause every 8 slices).
    expect(pauses).toBeGreaterThanOrEqual(7 * Math.floor(PeerTable.size(table) / 64))
    const bytes = encoder.encode(table, { lastUpdated: T0, hash: hashBytes, head: 32 })
    expect(utf8.decode(bytes)).toBe(CacheFile.encodeCompact(table, { lastUpdated: T0, hash, head: 32 }))
    expect(encoder.lastPath).toBe("patched")
  })

  it.prop(
    "sortSteps gives Array.prototype.sort's order (stable), whatever the slice size",
    [FastCheck.array(FastCheck.tuple(FastCheck.string({ maxLength: 3 }), FastCheck.nat(5)), { maxLength: 300 }), FastCheck.integer({ min: 1, max: 70 })],
    ([items, perStep]) => {
      const compare = (a: readonly [string, number], b: readonly [string, number]) => a[1] - b[1]
      const strings = items.map(([text]) => text)
      expect(CacheFile.finishSteps(sortSteps(items, compare, perStep))).toEqual([...items].sort(compare))
      expect(CacheFile.finishSteps(sortSteps(strings, (a, b) => (a < b ? -1 : a > b ? 1 : 0), perStep))).toEqual([...strings].sort())
    },
    { fastCheck: { seed: 45, numRuns: 300 } }
  )

  it("an empty table, and a table emptied after a save", () => {
    const encoder = CacheFileEncoder.make()
    expectSame(encoder, PeerTable.empty, T0, 32)
    const { table, pool } = baseTable(3)
    expectSame(encoder, table, T0, 32)
    expectSame(encoder, pool.reduce((t, a) => PeerTable.remove(t, a), table), T0, 32)
  })

  it.prop(
    "the head ranker picks headIndices' peers in its order, over changes and a clock that moves either way",
    [
      FastCheck.integer({ min: 1, max: 300 }),
      FastCheck.array(
        FastCheck.tuple(FastCheck.array(change, { maxLength: 8 }), FastCheck.integer({ min: -86_400_000, max: 30 * 86_400_000 }), FastCheck.nat(40)),
        { maxLength: 10 }
      )
    ],
    ([size, saves]) => {
      const { table: base, pool } = baseTable(size)
      // Records in a fixed key order, as the encoder keeps them: a change replaces a record in place.
      let table = base
      const keys = [...HashMap.keys(base.peers)].sort()
      let records = keys.map((key) => HashMap.unsafeGet(base.peers, key))
      const ranker = new HeadRanker()
      let now = T0
      for (const [changes, step, k] of saves) {
        for (const c of changes) table = apply(table, pool, c)
        now += step
        const next = keys.map((key, i) => Option.getOrElse(HashMap.get(table.peers, key), () => records[i]!))
        next.forEach((r, i) => {
          if (records[i] !== r) ranker.changed(i)
        })
        records = next
        expect(ranker.rank(records, k, now)).toEqual(headIndices(records, k, now))
      }
    },
    { fastCheck: { seed: 43, numRuns: 150 } }
  )
})
