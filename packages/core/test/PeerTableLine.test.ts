import { describe, expect, it } from "@effect/vitest"
import * as PeerAddress from "../src/PeerAddress.js"
import * as PeerTable from "../src/PeerTable.js"
import * as Selection from "../src/Selection.js"
import * as Core from "../src/internal/peerTableCore.js"

const address = (i: number) =>
  PeerAddress.parse(`/ip4/${1 + (i % 200)}.${(i >> 8) % 250}.${i % 250}.1/tcp/4001`)

const tableOf = (n: number, from: PeerTable.PeerTable = PeerTable.empty) => {
  let table = from
  for (let i = 0; i < n; i++) {
    const parsed = address(i)
    if (parsed._tag === "Left") throw new Error(String(parsed.left))
    table = PeerTable.add(table, parsed.right, { now: 1_000, source: { _tag: "endpoint", url: "http://127.0.0.1/contacts" } })
  }
  return table
}

/**
 * A selection derives a table's pool from the newest pool of its line (the tables made from one
 * another): siblings made before any selection must share it (a node's refills derive each table from
 * the last), and unrelated tables — two stores in one process — must never share one.
 */
describe("PeerTable lines (internal/peerTableCore)", () => {
  it("tables made from one another share a line, made before or after a selection", () => {
    const base = tableOf(20)
    const a = PeerTable.removePeer(base, [...base.peers][0]![0])
    const b = PeerTable.setProtocols(base, [...base.peers][1]![0], ["/ipfs/id/1.0.0"])
    expect(Core.lineOf(a)).toBe(Core.lineOf(base))
    expect(Core.lineOf(b)).toBe(Core.lineOf(base))
    Selection.select(a, { now: 2_000, count: 3, draws: [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5] })
    expect(Core.lineOf(a).recent).toBeDefined()
    expect(Core.lineOf(b).recent).toBe(Core.lineOf(a).recent)
    const c = PeerTable.mutate(a, (t) => PeerTable.removePeer(t, [...t.peers][0]![0]))
    expect(Core.lineOf(c)).toBe(Core.lineOf(base))
  })

  it("tables built apart never share a line, and the empty table keeps none", () => {
    const one = tableOf(10)
    const two = tableOf(10)
    const decoded = PeerTable.fromRecords(PeerTable.toRecords(one))
    expect(Core.lineOf(one)).not.toBe(Core.lineOf(two))
    expect(Core.lineOf(decoded)).not.toBe(Core.lineOf(one))
    Selection.select(PeerTable.empty, { now: 2_000, count: 3, draws: [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5] })
    expect(Core.lineOf(PeerTable.empty).recent).toBeUndefined()
  })

  it("what a table keeps is not part of its data", () => {
    const table = tableOf(10)
    const copy = PeerTable.fromRecords(PeerTable.toRecords(table))
    Selection.select(table, { now: 2_000, count: 3, draws: [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5] })
    expect(Object.keys(table)).toEqual(Object.keys(copy))
    expect(Object.getOwnPropertySymbols(table).filter((s) => Object.getOwnPropertyDescriptor(table, s)?.enumerable))
      .toEqual(Object.getOwnPropertySymbols(copy).filter((s) => Object.getOwnPropertyDescriptor(copy, s)?.enumerable))
  })
})
