// A warm start whose head is used up before the whole table is in: the run waits for the table, which
// it is handed once its passes were made a slice at a time (`BootstrapMachine.tableLoadedSteps`), and
// dials from it what a plain pass would pick. Real temp file, real loopback network.
import { describe, expect, it } from "@effect/vitest"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { BootstrapMachine, CacheFile, PeerAddress, PeerTable } from "@bootstrap-cache/core"
import { LoopbackNetwork } from "@bootstrap-cache/testkit"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as NodeFs from "node:fs"
import * as NodePathModule from "node:path"
import * as Bootstrap from "../src/Bootstrap.js"
import * as CacheStore from "../src/CacheStore.js"
import * as Dialer from "../src/Dialer.js"
import { open } from "./storeHelpers.js"

const Real = Layer.merge(NodeFileSystem.layer, NodePath.layer)
const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "bc-loaded-" }))

/** Peer i: a public TCP address, which the loopback-only dialer below never dials. */
const peer = (i: number) => PeerAddress.unsafeParse(`/ip4/${20 + (i % 100)}.${(i >> 8) & 255}.${i & 255}.1/tcp/4001`)

const PUBLIC = 3_000
const HEAD = CacheFile.DEFAULT_HEAD
const LIVE = 6
const TARGET = 3

/** `PUBLIC` never-answered peers, then `ranked` in falling quality: 30 successes each, set-up times 1, 2, 3 … ms. */
const tableOf = (ranked: ReadonlyArray<PeerAddress.PeerAddress>, now: number) =>
  PeerTable.mutate(PeerTable.empty, (t) => {
    let table = t
    for (let i = 0; i < PUBLIC; i++) table = PeerTable.add(table, peer(i), { now: now - 60_000, source: { _tag: "user" } })
    ranked.forEach((a, rank) => {
      table = PeerTable.add(table, a, { now: now - 60_000, source: { _tag: "user" } })
      for (let k = 0; k < 30; k++) table = PeerTable.recordSuccess(table, a, now - 1_000 + k, { rttMs: 1 + rank * 10 })
    })
    return table
  })

/** A dialer of real TCP connects that dials loopback only: no packet leaves the machine. */
const loopbackOnly = Layer.effect(
  Dialer.Dialer,
  Effect.map(Dialer.Dialer, (d) => ({ dial: d.dial, supports: (a: PeerAddress.PeerAddress) => a.scope === "loopback" && d.supports(a) }))
).pipe(Layer.provide(Dialer.layer))

describe("Bootstrap handed the whole table after its passes were made in slices", () => {
  it.scopedLive("a head of refusing peers used up: the run waits for the table and dials from it what a plain TableLoaded step dials", () =>
    Effect.gen(function*() {
      // The head (the file's best 32) refuses; the next `LIVE` accept, in falling quality.
      const behaviours = [
        ...Array.from({ length: HEAD }, () => LoopbackNetwork.Behaviour.Refuse()),
        ...Array.from({ length: LIVE }, () => LoopbackNetwork.Behaviour.Accept())
      ]
      const net = yield* LoopbackNetwork.make(behaviours)
      const ranked = net.listeners.map((l) => PeerAddress.unsafeParse(l.multiaddr))
      const file = NodePathModule.join(yield* tempDir, "peers.json")
      const now = Date.now()
      const table = tableOf(ranked, now)
      NodeFs.writeFileSync(file, CacheFile.encodeCompact(table, { lastUpdated: now, hash: CacheStore.sha256 }))
      const { store } = yield* open({ path: file })
      const tags: Array<string> = []
      const result = yield* Bootstrap.run(store, {
        target: TARGET,
        epsilon: 0,
        timeout: 5_000,
        dialPolicy: { allowLoopback: true },
        onEvent: (e) => Effect.sync(() => tags.push(e._tag))
      }).pipe(Effect.provide(loopbackOnly))

      // What the plain machine dials when the table lands after the head was used up: every head
      // peer attempted, no pass made before the step.
      const config = BootstrapMachine.makeConfig({
        target: TARGET,
        epsilon: 0,
        dialPolicy: { allowLoopback: true },
        supports: (a) => a.scope === "loopback"
      })
      const headTable = PeerTable.fromRecords(PeerTable.toRecords(table).filter((r) => ranked.slice(0, HEAD).some((a) => a.key === r.addresses[0]!.address.key)))
      let state = BootstrapMachine.start({ ...config, minCachedPeers: 1 }, { table: headTable, stale: false, loading: true }, now).state
      while (state.inFlight.size > 0) {
        const id = Array.from(state.inFlight.keys())[0]!
        state = BootstrapMachine.step(state, BootstrapMachine.Event.DialEnded({ id, outcome: BootstrapMachine.DialOutcome.Failed({ reason: "refused" }) }), now).state
      }
      const plain = BootstrapMachine.step(state, BootstrapMachine.Event.TableLoaded({ table: PeerTable.fromRecords(PeerTable.toRecords(table)) }), now)
      const expected = plain.commands.flatMap((c) => (c._tag === "StartDial" ? [c.address.key] : []))

      expect(expected).toEqual(ranked.slice(HEAD, HEAD + TARGET).map((a) => a.key))
      expect(tags.indexOf("TableLoaded")).toBeGreaterThan(tags.indexOf("DialStarted"))
      expect(tags.indexOf("TargetReached")).toBeGreaterThan(tags.indexOf("TableLoaded"))
      expect(result.connected.map((c) => c.address.key).sort()).toEqual([...expected].sort())
      expect(result.failures).toBe(HEAD)
      expect(result.dials).toBe(HEAD + TARGET)
      expect(result.cachedPeers).toBe(PeerTable.size(table))
    }).pipe(Effect.provide(Real)), 30_000)
})
