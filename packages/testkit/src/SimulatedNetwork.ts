/**
 * A reproducible simulation of bootstrapping against a large network, to measure selection
 * strategies by what a bootstrap cache exists for: reaching live peers with few wasted dials, and not
 * being eclipsed.
 *
 * The model (every number is an option of {@link runSimulation}; defaults in {@link defaults}):
 *
 * - **Network.** `peers` honest peers, each one `/ip4/…/tcp/4001` address, spread over `peers / 5`
 *   random public /16s. Each peer has a class: `dead` (never answers), `flaky` (answers a dial with
 *   probability `flakyUptime`) or `reliable` (`reliableUptime`), drawn with the shares of `mix`, and
 *   a round-trip time uniform in 30–300 ms.
 * - **Cache.** The node starts from a cache that lists every honest peer (heard of from one contacts
 *   endpoint, never dialled). Every `pruneEvery` rounds the cache is pruned with the default
 *   {@link Prune} rules, as the store does on flush.
 * - **Rounds.** `rounds` bootstraps, `roundIntervalMs` apart. A bootstrap asks its strategy for
 *   `candidatesPerTarget × target` candidates, dials them in order (one dial per simulated second)
 *   until `target` peers answered, and asks again (excluding what it dialled) if the list runs out.
 *   Every outcome is recorded with `PeerTable.recordSuccess` (with the RTT) or
 *   `PeerTable.recordFailure`, exactly as the real bootstrap does.
 * - **Scenarios.** `static`: classes never change. `churn`: each round, `churnRate` of the peers
 *   draw their class anew from `mix` (so about 62 % of those, 1 − Σ share², actually change). `flood`: a second endpoint lists `floodSize` addresses of one /16
 *   (185.199.0.0/16) whose hosts always answer, in 10 ms — an eclipse attempt — next to the honest
 *   ones from the start, and lists them again right after every prune: the table holds the whole
 *   flood whenever the node dials (as when a bootstrap merged the flooding endpoint's list and the
 *   store has not flushed yet), so the defence measured is the selection's, not only the prune's
 *   netgroup cap. The flooding hosts answer faster than any honest peer, so they also win on RTT.
 *   `botnet`: the same attack spread over `botnetNetgroups` /16s (`botnetSize` addresses, 100 per
 *   /16 by default), still from one endpoint, so the one-per-/16 rule never binds: what holds it
 *   back is the source-group rule of {@link Selection.select}.
 * - **Strategies.** `epsilon-greedy`: {@link Selection.select} with its defaults (ε = 0.1, one pick
 *   per netgroup, source-group diversity). `greedy`: the same with ε = 0 and neither rule. `random`: uniform among the
 *   known peers. `addrman`: Bitcoin Core's `Select` — tried or new table with even odds, then an
 *   entry accepted with probability `GetChance` (× 0.01 if tried in the last 10 minutes,
 *   × 0.66^min(failures since last success, 8)) raised by 1.2 at each rejection, one connection per
 *   netgroup. `ucb1`: Auer et al.'s UCB1 per peer (`mean + √(2 ln N / n)`, untried peers first).
 *
 * Three seeded generators (mulberry32) keep runs comparable: one for the network and the churn (the
 * same for every strategy of a scenario), one for the dial outcomes, one for the strategy's draws.
 *
 * @since 0.1.0
 */
import { PeerAddress, PeerRecord, PeerTable, Prune, Selection } from "@bootstrap-cache/core"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import { STRATEGIES } from "./internal/simulatedStrategies.js"

/**
 * @since 0.1.0
 */
export type Scenario = "static" | "churn" | "flood" | "botnet"

/**
 * @since 0.1.0
 */
export type Strategy = "random" | "greedy" | "epsilon-greedy" | "addrman" | "ucb1"

/**
 * Every scenario, in report order.
 *
 * @since 0.1.0
 */
export const scenarios: ReadonlyArray<Scenario> = ["static", "churn", "flood", "botnet"]

/**
 * Every strategy, in report order.
 *
 * @since 0.1.0
 */
export const strategies: ReadonlyArray<Strategy> = ["random", "greedy", "epsilon-greedy", "addrman", "ucb1"]

/**
 * Options of {@link runSimulation}. Shares and uptimes are ratios in [0,1]; durations are ms.
 *
 * @since 0.1.0
 */
export interface SimulationOptions {
  readonly peers?: number
  readonly rounds?: number
  /** Live peers a bootstrap must reach. */
  readonly target?: number
  readonly seed?: number
  readonly scenarios?: ReadonlyArray<Scenario>
  readonly strategies?: ReadonlyArray<Strategy>
  /** Share of peers whose class is drawn anew each round in `churn`. */
  readonly churnRate?: number
  /** Addresses the flooding endpoint lists in `flood`. */
  readonly floodSize?: number
  /** Addresses the botnet's endpoint lists in `botnet`. */
  readonly botnetSize?: number
  /** The /16s the botnet's addresses are spread over, evenly. */
  readonly botnetNetgroups?: number
  /** Shares of dead, flaky and reliable peers (sum 1). */
  readonly mix?: { readonly dead: number; readonly flaky: number; readonly reliable: number }
  readonly flakyUptime?: number
  readonly reliableUptime?: number
  readonly roundIntervalMs?: number
  /** Rounds between prunes (the store's flush); 0 never prunes. */
  readonly pruneEvery?: number
  /** Candidates asked per bootstrap, as a multiple of `target`. */
  readonly candidatesPerTarget?: number
  /** Called after each (scenario, strategy) run, for progress output. */
  readonly onResult?: (result: SimulationResult) => void
}

/**
 * The defaults: 10 000 peers, 200 rounds, target 5, seed 1, 2 % churn per round, a 10 000-address
 * flood, a 10 000-address botnet over 100 /16s, 50 % dead / 20 % flaky (uptime 0.5) / 30 % reliable (uptime 0.95), rounds 30 min apart,
 * a prune every 25 rounds, 3 candidates per target.
 *
 * @since 0.1.0
 */
export const defaults = {
  peers: 10_000,
  rounds: 200,
  target: 5,
  seed: 1,
  churnRate: 0.02,
  floodSize: 10_000,
  botnetSize: 10_000,
  botnetNetgroups: 100,
  mix: { dead: 0.5, flaky: 0.2, reliable: 0.3 },
  flakyUptime: 0.5,
  reliableUptime: 0.95,
  roundIntervalMs: 30 * 60_000,
  pruneEvery: 25,
  candidatesPerTarget: 3
} as const

/**
 * One (scenario, strategy) run: the measured result `{ scenario, strategy, failedDialsPerBootstrap,
 * attackerShare }`, then three diagnostics.
 *
 * - `failedDialsPerBootstrap`: failed dials per round, averaged over the rounds.
 * - `attackerShare`: share of all connections made that went to attacker addresses (the flooding
 *   /16, the botnet), in [0,1] (0 in `static` and `churn`).
 * - `maxAttackerPerBootstrap`: the most attacker connections any one bootstrap held.
 * - `dialsPerBootstrap`: all dials per round, averaged.
 * - `incompleteBootstraps`: rounds that ran out of candidates before reaching the target.
 *
 * @since 0.1.0
 */
export interface SimulationResult {
  readonly scenario: Scenario
  readonly strategy: Strategy
  readonly failedDialsPerBootstrap: number
  readonly attackerShare: number
  readonly maxAttackerPerBootstrap: number
  readonly dialsPerBootstrap: number
  readonly incompleteBootstraps: number
}

/**
 * A small seeded generator (mulberry32): `next()` is uniform in [0,1). Deterministic per seed.
 *
 * @since 0.1.0
 */
export interface Rng {
  readonly next: () => number
  /** Uniform integer in [0, n). */
  readonly int: (n: number) => number
}

/**
 * A mulberry32 generator from a 32-bit seed.
 *
 * @since 0.1.0
 */
export const makeRng = (seed: number): Rng => {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return { next, int: (n) => Math.floor(next() * n) }
}

type PeerClass = 0 | 1 | 2 // dead, flaky, reliable

interface Network {
  /** Dedupe key → node index. Honest nodes are 0 … peers−1, attackers after. */
  readonly byKey: Map<string, number>
  readonly addresses: Array<PeerAddress.PeerAddress>
  readonly rttMs: Float64Array
  readonly klass: Uint8Array
  readonly attacker: Uint8Array
  readonly honest: number
}

const T0 = 1_750_000_000_000
const HONEST_SOURCE: PeerRecord.Source = { _tag: "endpoint", url: "https://contacts.example/peers" }
const ATTACKER_SOURCE: PeerRecord.Source = { _tag: "endpoint", url: "https://flood.example/peers" }
const ATTACKER_GROUP = "185.199"

type Config = Required<Omit<SimulationOptions, "onResult" | "scenarios" | "strategies">>

const drawClass = (rng: Rng, mix: Config["mix"]): PeerClass => {
  const u = rng.next()
  return u < mix.dead ? 0 : u < mix.dead + mix.flaky ? 1 : 2
}

const buildNetwork = (config: Config, scenario: Scenario, rng: Rng): Network => {
  const byKey = new Map<string, number>()
  const addresses: Array<PeerAddress.PeerAddress> = []
  const flood = scenario === "flood" ? config.floodSize : scenario === "botnet" ? config.botnetSize : 0
  const total = config.peers + flood
  const rttMs = new Float64Array(total)
  const klass = new Uint8Array(total)
  const attacker = new Uint8Array(total)
  const groupCount = Math.max(1, Math.floor(config.peers / 5))
  const groups: Array<string> = []
  const botnetGroups = Array.from(
    { length: Math.max(1, config.botnetNetgroups) },
    (_, k) => `${150 + (k % 50)}.${10 + Math.floor(k / 50)}`
  )
  const usedGroups = new Set<string>([ATTACKER_GROUP, ...botnetGroups])
  while (groups.length < groupCount) {
    const g = `${11 + rng.int(89)}.${rng.int(256)}`
    if (usedGroups.has(g)) continue
    usedGroups.add(g)
    groups.push(g)
  }
  const hosts = new Set<string>()
  const push = (host: string, isAttacker: boolean) => {
    const address = PeerAddress.unsafeParse(`/ip4/${host}/tcp/4001`)
    const i = addresses.length
    addresses.push(address)
    byKey.set(address.key, i)
    attacker[i] = isAttacker ? 1 : 0
    klass[i] = isAttacker ? 2 : drawClass(rng, config.mix)
    rttMs[i] = isAttacker ? 10 : 30 + rng.next() * 270
  }
  while (addresses.length < config.peers) {
    const host = `${groups[rng.int(groups.length)]!}.${rng.int(256)}.${1 + rng.int(254)}`
    if (hosts.has(host)) continue
    hosts.add(host)
    push(host, false)
  }
  if (scenario === "flood") {
    for (let j = 0; j < flood; j++) push(`${ATTACKER_GROUP}.${(j >> 8) & 255}.${1 + (j % 254)}`, true)
  } else {
    for (let j = 0; j < flood; j++) {
      const k = Math.floor(j / botnetGroups.length)
      push(`${botnetGroups[j % botnetGroups.length]!}.${Math.floor(k / 254) & 255}.${1 + (k % 254)}`, true)
    }
  }
  return { byKey, addresses, rttMs, klass, attacker, honest: config.peers }
}

const addAll = (
  table: PeerTable.PeerTable,
  network: Network,
  from: number,
  to: number,
  now: number,
  source: PeerRecord.Source
): PeerTable.PeerTable => {
  let t = table
  for (let i = from; i < to; i++) t = PeerTable.add(t, network.addresses[i]!, { now, source })
  return t
}

const hashSeed = (...parts: ReadonlyArray<string | number>): number => {
  let h = 2166136261
  for (const c of parts.join("|")) {
    h ^= c.charCodeAt(0)
    h = Math.imul(h, 16777619)
  }
  return h >>> 0
}

const runOne = (
  config: Config,
  scenario: Scenario,
  strategy: Strategy,
  network: Network,
  initialClasses: Uint8Array,
  initialTable: PeerTable.PeerTable
): SimulationResult => {
  const churnRng = makeRng(hashSeed(config.seed, scenario, "churn"))
  const dialRng = makeRng(hashSeed(config.seed, scenario, strategy, "dial"))
  const strategyRng = makeRng(hashSeed(config.seed, scenario, strategy, "strategy"))
  const klass = Uint8Array.from(initialClasses)
  const choose = STRATEGIES[strategy]
  const uptime = [0, config.flakyUptime, config.reliableUptime]
  let table = initialTable
  let failed = 0
  let dials = 0
  let connections = 0
  let attackerConnections = 0
  let maxAttacker = 0
  let incomplete = 0
  const ask = config.candidatesPerTarget * config.target

  for (let round = 0; round < config.rounds; round++) {
    let now = T0 + round * config.roundIntervalMs
    if (scenario === "churn" && round > 0) {
      const flips = Math.round(config.churnRate * network.honest)
      for (let f = 0; f < flips; f++) klass[churnRng.int(network.honest)] = drawClass(churnRng, config.mix)
    }
    const dialled = new Set<string>()
    const connectedGroups: Array<string> = []
    const connectedSources: Array<string> = []
    let attackerHere = 0
    for (;;) {
      if (connectedGroups.length >= config.target) break
      const batch = choose(table, now, ask, dialled, connectedGroups, strategyRng, connectedSources)
      if (batch.length === 0) {
        incomplete++
        break
      }
      for (const d of batch) {
        if (connectedGroups.length >= config.target) break
        dialled.add(d.peerKey)
        dials++
        const node = network.byKey.get(d.address.key)
        const up = node !== undefined && dialRng.next() < uptime[klass[node]!]!
        if (up) {
          table = PeerTable.recordSuccess(table, d.address, now, { rttMs: network.rttMs[node!]! })
          connectedGroups.push(d.address.netgroup)
          const peer = HashMap.get(table.peers, d.peerKey)
          connectedSources.push(Option.isSome(peer) ? PeerRecord.sourceGroupOf(peer.value) : "unknown")
          connections++
          if (network.attacker[node!] === 1) attackerHere++
        } else {
          table = PeerTable.recordFailure(table, d.address, now)
          failed++
        }
        now += 1_000
      }
    }
    attackerConnections += attackerHere
    maxAttacker = Math.max(maxAttacker, attackerHere)
    if (config.pruneEvery > 0 && (round + 1) % config.pruneEvery === 0) {
      table = Prune.prune(table, now).table
      if (scenario === "flood" || scenario === "botnet") {
        table = addAll(table, network, network.honest, network.addresses.length, now, ATTACKER_SOURCE)
      }
    }
  }
  return {
    scenario,
    strategy,
    failedDialsPerBootstrap: failed / config.rounds,
    attackerShare: connections === 0 ? 0 : attackerConnections / connections,
    maxAttackerPerBootstrap: maxAttacker,
    dialsPerBootstrap: dials / config.rounds,
    incompleteBootstraps: incomplete
  }
}

/**
 * Runs every requested (scenario, strategy) pair and returns one {@link SimulationResult} each, in
 * scenario then strategy order. Deterministic for a given set of options. Synchronous and CPU-bound:
 * the defaults take tens of seconds; a test runs a small network.
 *
 * @since 0.1.0
 */
export const runSimulation = (options: SimulationOptions = {}): Array<SimulationResult> => {
  const config: Config = {
    peers: options.peers ?? defaults.peers,
    rounds: options.rounds ?? defaults.rounds,
    target: options.target ?? defaults.target,
    seed: options.seed ?? defaults.seed,
    churnRate: options.churnRate ?? defaults.churnRate,
    floodSize: options.floodSize ?? defaults.floodSize,
    botnetSize: options.botnetSize ?? defaults.botnetSize,
    botnetNetgroups: options.botnetNetgroups ?? defaults.botnetNetgroups,
    mix: options.mix ?? defaults.mix,
    flakyUptime: options.flakyUptime ?? defaults.flakyUptime,
    reliableUptime: options.reliableUptime ?? defaults.reliableUptime,
    roundIntervalMs: options.roundIntervalMs ?? defaults.roundIntervalMs,
    pruneEvery: options.pruneEvery ?? defaults.pruneEvery,
    candidatesPerTarget: options.candidatesPerTarget ?? defaults.candidatesPerTarget
  }
  const results: Array<SimulationResult> = []
  for (const scenario of options.scenarios ?? scenarios) {
    const network = buildNetwork(config, scenario, makeRng(hashSeed(config.seed, "network")))
    let table = addAll(PeerTable.empty, network, 0, network.honest, T0, HONEST_SOURCE)
    table = addAll(table, network, network.honest, network.addresses.length, T0, ATTACKER_SOURCE)
    for (const strategy of options.strategies ?? strategies) {
      const result = runOne(config, scenario, strategy, network, network.klass, table)
      options.onResult?.(result)
      results.push(result)
    }
  }
  return results
}

/**
 * The results as a fixed-width text table (one row per run).
 *
 * @since 0.1.0
 */
export const formatTable = (results: ReadonlyArray<SimulationResult>): string => {
  const header = ["scenario", "strategy", "failed dials / bootstrap", "dials / bootstrap", "attacker share", "max attacker / bootstrap"]
  const rows = results.map((r) => [
    r.scenario,
    r.strategy,
    r.failedDialsPerBootstrap.toFixed(2),
    r.dialsPerBootstrap.toFixed(2),
    r.attackerShare.toFixed(3),
    String(r.maxAttackerPerBootstrap)
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    "| " + cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ") + " |"
  return [line(header), "|" + widths.map((w, i) => (i < 2 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|") + "|", ...rows.map(line)].join("\n")
}
