import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Equal from "effect/Equal"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Journal, PeerAddress, PeerTable } from "@bootstrap-cache/core"
import { Arbitraries } from "@bootstrap-cache/testkit"

const T0 = 1_700_000_000_000
const json = (t: PeerTable.PeerTable) => JSON.stringify(Schema.encodeSync(PeerTable.PeerTableFromRecords)(t))

const toOp = (op: Arbitraries.TableOp): Journal.Op => Arbitraries.journalOp(op, T0)

const outcomes = (t: PeerTable.PeerTable) => {
  const s = PeerTable.stats(t)
  return s.totalSuccesses + s.totalFailures
}

describe("Journal", () => {
  it.prop(
    "replaying a journal equals applying the same PeerTable functions directly",
    [Arbitraries.tableOps],
    ([ops]) => {
      let direct = PeerTable.empty
      for (const op of ops) {
        direct = op._tag === "add"
          ? PeerTable.add(direct, op.address, { now: T0 + op.at, source: op.source })
          : op._tag === "success"
          ? PeerTable.recordSuccess(direct, op.address, T0 + op.at, { rttMs: op.rttMs })
          : op._tag === "failure"
          ? PeerTable.recordFailure(direct, op.address, T0 + op.at)
          : PeerTable.remove(direct, op.address)
      }
      const journal = ops.map(toOp).reduce(Journal.append, Journal.empty)
      expect(json(Journal.replay(PeerTable.empty, journal))).toBe(json(direct))
    },
    { fastCheck: { seed: 3, numRuns: 80 } }
  )

  it.prop(
    "outcomes recorded by several processes all reach the shared table, whatever the flush order",
    [FastCheck.array(FastCheck.array(Arbitraries.peerAddress, { maxLength: 12 }), { minLength: 1, maxLength: 5 })],
    ([processes]) => {
      // Each process records a success for every address it draws, then flushes onto the shared table.
      let shared = PeerTable.empty
      processes.forEach((addresses, p) => {
        const journal = addresses.reduce(
          (j, address, i) => Journal.append(j, Journal.Op.Success({ address, at: T0 + p * 1000 + i })),
          Journal.empty
        )
        shared = Journal.replay(shared, journal)
      })
      expect(outcomes(shared)).toBe(processes.reduce((n, a) => n + a.length, 0))
    },
    { fastCheck: { seed: 7, numRuns: 80 } }
  )

  it("drops a flushed prefix and keeps what came after", () => {
    const a = PeerAddress.unsafeParse("/ip4/1.2.3.4/tcp/4001")
    const j = [1, 2, 3].map((i) => Journal.Op.Failure({ address: a, at: T0 + i })).reduce(Journal.append, Journal.empty)
    const rest = Journal.drop(j, 2)
    expect(Journal.size(rest)).toBe(1)
    const t = Journal.replay(PeerTable.empty, rest)
    expect(Option.map(PeerTable.lookupAddress(t, a), (x) => x.record.lastFailure)).toEqual(Option.some(Option.some(T0 + 3)))
  })

  it("imports many records as one operation, merging counters by maximum (an import applied twice counts once)", () => {
    const a = PeerAddress.unsafeParse("/ip4/1.2.3.4/tcp/4001")
    const t0 = PeerTable.recordSuccess(PeerTable.empty, a, T0)
    const t1 = Journal.apply(t0, Journal.Op.Import({ records: PeerTable.toRecords(t0) }))
    expect(Option.map(PeerTable.lookupAddress(t1, a), (x) => x.record.successes)).toEqual(Option.some(1))
  })

  it("replays a peer's advertised protocols onto a table written meanwhile: the hop protocol makes it relay-capable", () => {
    const id = "12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx"
    const a = PeerAddress.unsafeParse(`/ip4/1.2.3.4/tcp/4001/p2p/${id}`)
    const op = Journal.Op.Protocols({ peerId: id, protocols: ["/ipfs/id/1.0.0", "/libp2p/circuit/relay/0.2.0/hop"], at: T0 })
    // Another process's table: the peer with outcomes this one never saw.
    const disk = PeerTable.recordFailure(PeerTable.recordSuccess(PeerTable.empty, a, T0), a, T0 + 1)
    const peer = Option.getOrThrow(PeerTable.lookupAddress(Journal.apply(disk, op), a)).peer
    expect(peer.protocols).toEqual(["/ipfs/id/1.0.0", "/libp2p/circuit/relay/0.2.0/hop"])
    expect(peer.capabilities.relay).toBe(true)
    expect(peer.addresses[0]!.successes + peer.addresses[0]!.failures).toBe(2)
    // A peer the table does not hold is left alone.
    expect(Journal.apply(PeerTable.empty, op)).toBe(PeerTable.empty)
  })

  it("the fast constructors build values equal to the Op constructors'", () => {
    const a = PeerAddress.unsafeParse("/ip4/1.2.3.4/tcp/4001")
    expect(Equal.equals(Journal.success(a, 5), Journal.Op.Success({ address: a, at: 5 }))).toBe(true)
    expect(Equal.equals(Journal.success(a, 5, 40), Journal.Op.Success({ address: a, at: 5, rttMs: 40 }))).toBe(true)
    expect(Equal.equals(Journal.success(a, 5, undefined, 9), Journal.Op.Success({ address: a, at: 5, bytes: 9 }))).toBe(true)
    expect(Equal.equals(Journal.success(a, 5, 40), Journal.Op.Success({ address: a, at: 5, rttMs: 41 }))).toBe(false)
    expect(Equal.equals(Journal.failure(a, 5), Journal.Op.Failure({ address: a, at: 5 }))).toBe(true)
    expect(Object.keys(Journal.success(a, 5))).toStrictEqual(Object.keys(Journal.Op.Success({ address: a, at: 5 })))
    expect({ ...Journal.failure(a, 5) }).toStrictEqual({ ...Journal.Op.Failure({ address: a, at: 5 }) })
  })

  it("replays a batch exactly as the persistent calls one by one, and leaves the start table untouched", () => {
    const a = PeerAddress.unsafeParse("/ip4/1.2.3.4/tcp/4001")
    const b = PeerAddress.unsafeParse("/ip4/1.2.3.5/tcp/4001")
    const start = PeerTable.add(PeerTable.empty, a, { now: 1, source: { _tag: "user" } })
    const before = Schema.encodeSync(PeerTable.PeerTableFromRecords)(start)
    const ops = [Journal.success(a, 2, 30), Journal.failure(b, 3), Journal.success(b, 4, undefined, 100), Journal.failure(a, 5)]
    let oneByOne = start
    for (const op of ops) oneByOne = Journal.apply(oneByOne, op)
    const batch = Journal.replay(start, Chunk.fromIterable(ops))
    const enc = Schema.encodeSync(PeerTable.PeerTableFromRecords)
    expect(enc(batch)).toStrictEqual(enc(oneByOne))
    expect(enc(start)).toStrictEqual(before)
    // The batch result is persistent again: updating it leaves it as it was.
    const after = enc(batch)
    PeerTable.recordFailure(batch, a, 9)
    expect(enc(batch)).toStrictEqual(after)
  })
})
