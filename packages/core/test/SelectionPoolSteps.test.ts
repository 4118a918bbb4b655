import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as HashMap from "effect/HashMap"
import { PeerAddress, PeerTable, Selection } from "@bootstrap-cache/core"
import { PolicyArbitraries } from "@bootstrap-cache/testkit"
import * as Core from "../src/internal/peerTableCore.js"
import * as SelectionPool from "../src/internal/selectionPool.js"
import { apply, outcomes } from "./tableOutcomes.js"

const HOUR = 3_600_000
const NOW = PolicyArbitraries.NOW + 3 * HOUR

/** The same maps in a table of its own (its own memo and line): what a plain pass on `table` gives. */
const plainCopy = (table: PeerTable.PeerTable) => Core.make(table.peers, table.index)

const view = (picks: ReadonlyArray<Selection.Pick>) => picks.map((p) => [p.peerKey, p.address.key, p.quality, p.kind])

/** The parts of a pool its picks are made from. */
const poolView = (p: SelectionPool.Pool) => ({
  keys: p.keys,
  addresses: p.addresses.map((a) => a.key),
  quality: Array.from(p.quality.subarray(0, p.n)),
  group: Array.from(p.group.subarray(0, p.n)),
  relay: Array.from(p.relay.subarray(0, p.n)),
  source: Array.from(p.source.subarray(0, p.n)),
  groupSize: Array.from(p.groupSize),
  sourceSize: Array.from(p.sourceSize),
  sourceWeight: Array.from(p.sourceWeight),
  mixed: Array.from(p.mixed)
})

describe("Selection.poolSteps", () => {
  it.prop(
    "the pool made in slices is the full pass's, its positions are right, and picks after the steps, during them, on a table derived meanwhile and later are the plain pass's",
    [
      PolicyArbitraries.table({ groups: 8, hosts: 8, undialable: 0.2 }, 60, 1),
      FastCheck.integer({ min: 1, max: 16 }),
      FastCheck.nat({ max: 12 }),
      FastCheck.constantFrom("none", "select", "derive"),
      outcomes,
      FastCheck.integer({ min: 0, max: 2 }),
      FastCheck.boolean(),
      FastCheck.nat()
    ],
    ([table, perStep, pauseAfter, middle, ops, later, loopback, seed]) => {
      const eligibility = { dialPolicy: { allowLoopback: loopback }, supports: (a: PeerAddress.PeerAddress) => a.port._tag === "None" || Number(a.port.value) % 4 !== 0 }
      const options = (at: number, exclude: ReadonlySet<string> = new Set()) => ({
        ...eligibility,
        now: at,
        count: 8,
        exclude,
        draws: Array.from({ length: 9 }, (_, i) => ((seed + i * 7919) % 1000) / 1000)
      })
      const steps = Selection.poolSteps(table, { ...eligibility, now: NOW }, perStep)
      let paused = 0
      while (paused < pauseAfter && steps.next().done !== true) paused++
      const derived = apply(table, ops, PolicyArbitraries.NOW)
      if (middle === "select") expect(view(Selection.select(table, options(NOW)))).toEqual(view(Selection.select(plainCopy(table), options(NOW))))
      if (middle === "derive") {
        expect(view(Selection.select(derived, options(NOW + later * HOUR)))).toEqual(view(Selection.select(plainCopy(derived), options(NOW + later * HOUR))))
      }
      while (steps.next().done !== true) paused++
      if (middle === "none" && PeerTable.size(table) > 0) {
        const pool = Core.memoOf(table).pool as SelectionPool.Pool
        const full = poolView(SelectionPool.fullPool(table, { ...eligibility, now: NOW }))
        const stepped = poolView(pool)
        for (const k of Object.keys(full) as Array<keyof typeof full>) expect(stepped[k], k).toEqual(full[k])
        expect([...pool.positions!]).toEqual(pool.keys.map((k, i) => [k, i]))
      }
      const exclude = new Set([...HashMap.keys(table.peers)].filter((_, i) => (seed + i) % 5 === 0))
      expect(view(Selection.select(table, options(NOW, exclude)))).toEqual(view(Selection.select(plainCopy(table), options(NOW, exclude))))
      const at = NOW + later * HOUR
      expect(view(Selection.select(derived, options(at, exclude)))).toEqual(view(Selection.select(plainCopy(derived), options(at, exclude))))
      const reconnect = { ...eligibility, now: at, exclude, limit: 5 }
      expect(Selection.reconnectOrder(derived, reconnect).map((c) => c.peerKey)).toEqual(Selection.reconnectOrder(plainCopy(derived), reconnect).map((c) => c.peerKey))
    },
    { fastCheck: { seed: 61, numRuns: 300 }, timeout: 60_000 }
  )

  it("pauses after every `peersPerStep` peers, then over the positions", () => {
    const records = Array.from({ length: 10 }, (_, i) => PeerAddress.unsafeParse(`/ip4/45.${i}.0.1/tcp/4001`))
    const table = records.reduce((t, a) => PeerTable.add(t, a, { now: 0, source: { _tag: "user" } }), PeerTable.empty)
    const paused = [...Selection.poolSteps(table, { now: NOW }, 4)]
    expect(paused).toEqual([4, 8, 4, 8])
    // Run again: the table keeps its pool and its positions, so nothing is left to do.
    expect([...Selection.poolSteps(table, { now: NOW }, 4)]).toEqual([])
  })
})
