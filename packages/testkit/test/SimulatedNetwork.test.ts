import { describe, expect, it } from "@effect/vitest"
import { SimulatedNetwork } from "@bootstrap-cache/testkit"

// A small network run long enough to learn (500 peers over 100 /16s, a 500-address flood, a 500-address
// botnet over 5 /16s — the full run's 100 addresses per /16 — 100 rounds), with three seeds, since one
// small run is noisy; the full run is `npm run simulate`.
const SEEDS = [1, 2, 3]
const runs = SEEDS.map((seed) =>
  SimulatedNetwork.runSimulation({ peers: 500, floodSize: 500, botnetSize: 500, botnetNetgroups: 5, rounds: 100, seed })
)
const results = runs[0]!
const pick = (
  run: ReadonlyArray<SimulatedNetwork.SimulationResult>,
  scenario: SimulatedNetwork.Scenario,
  strategy: SimulatedNetwork.Strategy
) => run.find((r) => r.scenario === scenario && r.strategy === strategy)!
const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length

describe("SimulatedNetwork", () => {
  it("runs every scenario with every strategy, in report order", () => {
    expect(results.map((r) => `${r.scenario}/${r.strategy}`)).toEqual(
      SimulatedNetwork.scenarios.flatMap((s) => SimulatedNetwork.strategies.map((t) => `${s}/${t}`))
    )
    for (const r of results) {
      expect(r.incompleteBootstraps).toBe(0)
      // Every bootstrap reached its 5 peers: dials = failures + 5.
      expect(r.dialsPerBootstrap - r.failedDialsPerBootstrap).toBeCloseTo(5, 9)
    }
  })

  it("epsilon-greedy needs at most half the failed dials of random in the static network", () => {
    for (const run of runs) {
      expect(pick(run, "static", "epsilon-greedy").failedDialsPerBootstrap).toBeLessThanOrEqual(
        pick(run, "static", "random").failedDialsPerBootstrap / 2
      )
    }
  })

  it("epsilon-greedy stays within 0.5 failed dials per bootstrap of the best strategy that is not eclipsed, on average over seeds", () => {
    for (const scenario of SimulatedNetwork.scenarios) {
      const gaps = runs.map((run) => {
        const honest = run.filter((r) => r.scenario === scenario && r.maxAttackerPerBootstrap <= 1)
        const best = Math.min(...honest.map((r) => r.failedDialsPerBootstrap))
        return pick(run, scenario, "epsilon-greedy").failedDialsPerBootstrap - best
      })
      expect(mean(gaps), scenario).toBeLessThanOrEqual(0.5)
    }
  })

  it("under a flood from one /16, epsilon-greedy never holds more than one of five connections there, while greedy is eclipsed", () => {
    for (const run of runs) {
      const eg = pick(run, "flood", "epsilon-greedy")
      expect(eg.maxAttackerPerBootstrap).toBeLessThanOrEqual(1)
      expect(eg.attackerShare).toBeLessThanOrEqual(0.2)
      const greedy = pick(run, "flood", "greedy")
      expect(greedy.maxAttackerPerBootstrap).toBeGreaterThanOrEqual(4)
      expect(greedy.attackerShare).toBeGreaterThan(0.5)
      expect(pick(run, "static", "epsilon-greedy").attackerShare).toBe(0)
    }
  })

  it("under a botnet of one source over many /16s, epsilon-greedy holds at most a fifth of the connections there, while greedy is eclipsed", () => {
    for (const run of runs) {
      const eg = pick(run, "botnet", "epsilon-greedy")
      expect(eg.attackerShare).toBeLessThanOrEqual(0.2)
      expect(eg.maxAttackerPerBootstrap).toBeLessThanOrEqual(1)
      // Greedy, with neither diversity rule, hands the always-answering botnet far more.
      const greedy = pick(run, "botnet", "greedy")
      expect(greedy.attackerShare).toBeGreaterThan(0.25)
      expect(eg.attackerShare).toBeLessThan(greedy.attackerShare / 2)
    }
  })

  it("is reproducible: the same options give the same results", () => {
    const options = { peers: 200, floodSize: 200, rounds: 5, seed: 3, strategies: ["epsilon-greedy", "addrman"] as const }
    expect(SimulatedNetwork.runSimulation(options)).toEqual(SimulatedNetwork.runSimulation(options))
  }, 60_000)

  it("formats a table with one row per result", () => {
    const table = SimulatedNetwork.formatTable(results)
    expect(table.split("\n")).toHaveLength(2 + results.length)
    expect(table).toMatch(/\| flood +\| epsilon-greedy +\|/)
  })
})
