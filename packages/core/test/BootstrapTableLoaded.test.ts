import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as HashMap from "effect/HashMap"
import { BootstrapMachine, PeerTable, Selection } from "@bootstrap-cache/core"
import { PolicyArbitraries } from "@bootstrap-cache/testkit"
import { CachedKeys } from "../src/internal/bootstrapCached.js"
import * as Core from "../src/internal/peerTableCore.js"
import { apply, outcomes } from "./tableOutcomes.js"

const HOUR = 3_600_000
const NOW = PolicyArbitraries.NOW + 3 * HOUR

const universe = { groups: 8, hosts: 8, undialable: 0.2 }

/** The same maps in a table of its own (its own memo and line): what the step sees without any pass made before. */
const plainCopy = (table: PeerTable.PeerTable) => Core.make(table.peers, table.index)

const addressKeys = (table: PeerTable.PeerTable) => [...PeerTable.peers(table)].flatMap((p) => p.addresses.map((r) => r.address.key))

/** What a transition says, in plain data. */
const summary = (t: BootstrapMachine.Transition) => ({
  commands: t.commands,
  usedDraws: t.usedDraws,
  phase: t.state.phase,
  usable: t.state.usable,
  cachedPeers: t.state.cachedPeers,
  avoid: [...t.state.avoid].sort(),
  attempted: [...t.state.attempted].sort(),
  pending: t.state.pending.map((c) => c.peerKey),
  cached: [...t.state.cachedKeys].sort()
})

describe("BootstrapMachine's TableLoaded step after tableLoadedSteps", () => {
  it.prop(
    "gives the commands and state of the plain step (passes made in slices, a selection between slices, the table handed over changed since, any later event)",
    [
      PolicyArbitraries.table(universe, 60, 1),
      FastCheck.integer({ min: 0, max: 8 }),
      FastCheck.record({
        target: FastCheck.integer({ min: 1, max: 4 }),
        epsilon: FastCheck.constantFrom(0, 0.1, 0.5),
        canAskEndpoints: FastCheck.boolean(),
        avoidFailedWithinMs: FastCheck.constantFrom(0, 24 * HOUR),
        reconnect: FastCheck.boolean(),
        allowLoopback: FastCheck.boolean()
      }),
      FastCheck.integer({ min: 0, max: 3 }),
      FastCheck.integer({ min: 1, max: 16 }),
      FastCheck.nat({ max: 10 }),
      FastCheck.boolean(),
      outcomes,
      FastCheck.integer({ min: 0, max: 90_000 }),
      FastCheck.array(FastCheck.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { maxLength: 20 })
    ],
    ([table, headSize, c, failHead, perStep, pauseAfter, selectBetween, ops, laterMs, draws]) => {
      const config = BootstrapMachine.makeConfig({
        target: c.target,
        epsilon: c.epsilon,
        canAskEndpoints: c.canAskEndpoints,
        avoidFailedWithinMs: c.avoidFailedWithinMs,
        reconnect: c.reconnect,
        dialPolicy: { allowLoopback: c.allowLoopback },
        minCachedPeers: 1
      })
      const head = PeerTable.fromRecords(PeerTable.toRecords(table).slice(0, headSize))
      let state = BootstrapMachine.start(config, { table: head, stale: false, loading: true }, NOW, draws).state
      for (let k = 0; k < failHead && state.inFlight.size > 0; k++) {
        const id = Array.from(state.inFlight.keys())[0]!
        const failed = BootstrapMachine.DialOutcome.Failed({ reason: "refused" })
        state = BootstrapMachine.step(state, BootstrapMachine.Event.DialEnded({ id, outcome: failed }), NOW + k, draws).state
      }
      // The passes on the table as loaded, in slices; the table handed over is it with the outcomes
      // recorded since.
      const steps = BootstrapMachine.tableLoadedSteps(config, table, state.selectAt, perStep)
      for (let k = 0; k < pauseAfter && steps.next().done !== true; k++);
      if (selectBetween) Selection.select(table, { now: state.selectAt, count: 5, draws, dialPolicy: config.dialPolicy, supports: config.supports })
      while (steps.next().done !== true);
      const handed = apply(table, ops, NOW - 2 * HOUR)
      const at = NOW + laterMs
      const plain = BootstrapMachine.step(state, BootstrapMachine.Event.TableLoaded({ table: plainCopy(handed) }), at, draws)
      const prepared = BootstrapMachine.step(state, BootstrapMachine.Event.TableLoaded({ table: handed }), at, draws)
      expect(summary(prepared)).toEqual(summary(plain))
      // And the next event goes on alike.
      const next = (t: BootstrapMachine.Transition) => {
        const id = Array.from(t.state.inFlight.keys())[0]
        const event = id === undefined
          ? BootstrapMachine.Event.Tick()
          : BootstrapMachine.Event.DialEnded({ id, outcome: BootstrapMachine.DialOutcome.Failed({ reason: "timeout" }) })
        return summary(BootstrapMachine.step(t.state, event, at + 10, draws))
      }
      expect(next(prepared)).toEqual(next(plain))
    },
    { fastCheck: { seed: 81, numRuns: 300 }, timeout: 120_000 }
  )

  it.prop(
    "the cached keys' view answers what the set it replaces answers: (keys before ∪ the table's keys) \\ the endpoints' answers",
    [
      PolicyArbitraries.table(universe, 40, 0),
      PolicyArbitraries.table(universe, 6, 0),
      PolicyArbitraries.table(universe, 6, 0),
      FastCheck.array(FastCheck.nat(), { maxLength: 6 }),
      FastCheck.array(FastCheck.string({ maxLength: 12 }), { maxLength: 4 })
    ],
    ([table, head, others, answeredAt, strangers]) => {
      const tableKeys = addressKeys(table)
      const headKeys = addressKeys(head)
      const before = new CachedKeys(head)
      // The endpoints' answers are never keys cached before: some of the table's keys, some unknown ones.
      const answered = new Set([...answeredAt.map((i) => tableKeys[i % Math.max(1, tableKeys.length)]), ...strangers].filter(
        (k): k is string => k !== undefined && !headKeys.includes(k)
      ))
      const view = new CachedKeys(table, before, answered)
      const plain = new Set([...headKeys, ...tableKeys])
      for (const key of answered) plain.delete(key)
      for (const key of [...tableKeys, ...headKeys, ...answered, ...strangers]) expect(view.has(key)).toBe(plain.has(key))
      for (const peer of PeerTable.peers(table)) {
        for (const r of peer.addresses) {
          const key = Core.holderOf(table, r.address) ?? ""
          expect(view.holds(r.address, key)).toBe(plain.has(r.address.key))
          expect(view.holds(r.address, "not a peer key")).toBe(plain.has(r.address.key))
        }
      }
      // Addresses of another table, named as picks of this table's peers.
      const peerKeys = [...HashMap.keys(table.peers)]
      for (const peer of PeerTable.peers(others)) {
        for (const [j, r] of peer.addresses.entries()) {
          expect(view.holds(r.address, peerKeys[j % Math.max(1, peerKeys.length)] ?? "")).toBe(plain.has(r.address.key))
        }
      }
      expect([...view].sort()).toEqual([...plain].sort())
      expect(view.size).toBe(plain.size)
    },
    { fastCheck: { seed: 82, numRuns: 300 } }
  )
})
