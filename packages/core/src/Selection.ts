/**
 * Which peers to dial: epsilon-greedy selection with netgroup and source-group diversity, and the
 * reconnect order.
 *
 * **Epsilon-greedy** (the multi-armed bandit rule; ADR default ε = 0.1): each of the `count` picks
 * explores with probability ε — a source group drawn uniformly among those with admissible peers,
 * then a peer drawn uniformly from that group's admissible peers (those the two rules below admit)
 * — and otherwise exploits — the admissible peer of highest {@link Score} quality. With ε = 0,
 * `maxPerNetgroup: Infinity` and `maxSourceGroupShare: 1`, the picks are the top `count` by quality.
 * Exploration keeps the cache
 * learning (new peers get a chance, peers that came back are found again); exploitation keeps wasted
 * dials low.
 *
 * **Netgroup diversity** (Bitcoin Core: one outbound connection per netgroup): at most
 * `maxPerNetgroup` picks (default 1) share a netgroup (IPv4 /16, IPv6 /32, DNS name — see
 * {@link PeerAddress.PeerAddress}) while peers of other netgroups remain; only when every remaining
 * peer is in a full netgroup is the limit raised by another `maxPerNetgroup`. A flood of addresses
 * from one /16 therefore gets at most one slot in a short candidate list, however well it answers.
 *
 * **Source-group diversity** (Bitcoin Core addrman files a new address in a bucket chosen by its
 * (source group, address group), and draws uniformly over buckets, so a source weighs as much as the
 * address groups it lists, not as many addresses as it lists). Every peer belongs to the group of
 * the first source it was heard from ({@link PeerRecord.sourceGroupOf}: an endpoint's host, an import
 * file, the telling peer's netgroup). A source group's weight `w` is its share of all (source group,
 * netgroup) pairs among the eligible peers. The k-th pick — counting the connections already held
 * (`sourceGroupsInUse`) — may come from a group only while `count + 1 ≤ w·k`; when no group with
 * peers left qualifies, from the groups of the highest `w / (count + 1)` (D'Hondt's next seat).
 * Exploration draws a source group with probability `w` (among those with admissible peers), then a
 * peer of it uniformly. One endpoint listing 10 000 always-answering addresses over 100 /16s (a
 * botnet, which the netgroup rule does not bind) beside one listing honest peers over 2 000 /16s
 * therefore holds about 100/2 100 of the picks (one in 21), however well it answers;
 * with a single source group the rule never binds.
 *
 * **Eligibility**: a peer is eligible when it has a dialable address under the dial policy
 * ({@link PeerAddress.isDialable}: never relayed, never unspecified or reserved, loopback and private
 * only when allowed) and is not excluded; the address to dial is its best dialable address.
 *
 * **Randomness** arrives as `draws`, uniform numbers in [0,1), `count + 1` of them
 * ({@link drawsNeeded}). Pick `i` explores when `draws[i] < ε`, and then takes the
 * `⌊draws[i] / ε · m⌋`-th of the `m` admissible peers (given that it explores, `draws[i] / ε` is itself
 * uniform in [0,1), so one draw decides both). The last draw, `draws[count]`, breaks ties in quality:
 * peers of equal quality are taken in the table's order rotated by a random offset. Ties are common
 * (every never-dialled peer heard of at the same time has the same quality), and a fixed tie-break
 * such as the smallest peer key would hand them to whoever grinds peer ids or picks addresses that
 * sort first. A missing draw means exploit, or no rotation. The same table, `now` and draws give the
 * same picks; in the shell, feed `Random.next`
 * (`Effect.replicateEffect(Random.next, Selection.drawsNeeded(count))`), in tests a seeded generator.
 *
 * **Cost** for n peers and k picks. Scoring: one pass over the table, which {@link select} and
 * {@link reconnectOrder} remember for that table (a table is immutable) together with `now`, the dial
 * policy and the score configuration, so a second call on the same table at the same `now` — the
 * bootstrap's refills, one per batch — skips it; the memory is weak and goes with the table. A table
 * that differs from the last one scored only in the records of a few peers (recorded outcomes) does
 * not walk its map: the changed peers are found by comparing the two persistent maps, which share
 * everything else, and the pool is patched (same `now`) or rescored from its arrays (later `now`).
 * Then, per call: one O(n) scan keeping the best 4k + 16 peers in a bounded heap (nearly every peer
 * is rejected at its first comparison), picks walked from that prefix (a prefix four times longer is
 * taken when a rule uses it up), one O(source groups) step per pick for the source-group rule, and
 * for each explore pick (about ε·k of them) two scans of the pool. The exclusion set is resolved
 * through an index of the pool (O(|exclude|)).
 *
 * @since 0.1.0
 */
import { dual } from "effect/Function"
import * as HashMap from "effect/HashMap"
import * as HashMapDiff from "./internal/hashMapDiff.js"
import * as SelectionHeap from "./internal/selectionHeap.js"
import * as PeerAddress from "./PeerAddress.js"
import * as PeerRecord from "./PeerRecord.js"
import * as PeerTable from "./PeerTable.js"
import * as Score from "./Score.js"

/**
 * A peer chosen for a dial.
 *
 * - `peerKey`: the peer's key in the table (peer id, or `addr:<dedupe key>`).
 * - `peer`: its record.
 * - `address`: the address to dial — its best dialable address.
 * - `quality`: the quality of that address in [0,1] ({@link Score.address}).
 *
 * @since 0.1.0
 */
export interface Candidate {
  readonly peerKey: string
  readonly peer: PeerRecord.PeerRecord
  readonly address: PeerAddress.PeerAddress
  readonly quality: number
}

/**
 * A pick of {@link select}: a {@link Candidate} and whether it was an `explore` pick (uniform draw)
 * or an `exploit` pick (highest quality).
 *
 * @since 0.1.0
 */
export interface Pick extends Candidate {
  readonly kind: "explore" | "exploit"
}

/**
 * What every selection needs to know besides the table.
 *
 * @since 0.1.0
 */
export interface EligibilityOptions {
  /** Epoch ms at which qualities are computed. */
  readonly now: number
  /** Which addresses may be dialled. Default: public only (no loopback, no private). */
  readonly dialPolicy?: PeerAddress.DialPolicy
  /** Score constants. Default {@link Score.defaults}. */
  readonly score?: Score.Config
  /** Peer keys never to pick (peers already connected, or already dialled in this bootstrap). */
  readonly exclude?: ReadonlySet<string>
}

/**
 * Options of {@link select}.
 *
 * @since 0.1.0
 */
export interface SelectOptions extends EligibilityOptions {
  /** How many peers to pick, at most (k). The bootstrap asks for about 3 × its target. */
  readonly count: number
  /** Uniform draws in [0,1): one per pick and one for ties, {@link drawsNeeded}`(count)` (see the module docs). */
  readonly draws: ReadonlyArray<number>
  /** Exploration probability ε in [0,1]. Default 0.1. */
  readonly epsilon?: number
  /** Picks allowed per netgroup while other netgroups have peers (≥ 1). Default 1; `Infinity` turns diversity off. */
  readonly maxPerNetgroup?: number
  /**
   * Netgroups of the connections the node already holds, one entry per connection: each counts
   * against its netgroup's limit, so a second call in one bootstrap (after a first list ran out)
   * does not give an already-connected /16 another slot. Default none.
   */
  readonly netgroupsInUse?: Iterable<string>
  /**
   * Whether the source-group rule of the module docs applies: each source group
   * ({@link PeerRecord.sourceGroupOf}) takes picks in proportion to the distinct netgroups it lists.
   * Default true; it never binds while all peers come from one source group.
   */
  readonly sourceGroupDiversity?: boolean
  /**
   * Source groups of the connections the node already holds, one entry per connection; each counts
   * against its group's share, as `netgroupsInUse` does for netgroups. Default none.
   */
  readonly sourceGroupsInUse?: Iterable<string>
}

/**
 * Selection defaults: ε = 0.1 (ADR epsilon-greedy), one pick per netgroup (Bitcoin Core outbound
 * rule), source-group diversity on (addrman's (source group, address group) buckets).
 *
 * @since 0.1.0
 */
export const defaults = {
  epsilon: 0.1,
  maxPerNetgroup: 1,
  sourceGroupDiversity: true
} as const

/**
 * How many draws {@link select} uses for `count` picks: one per pick, plus one to break ties.
 *
 * @since 0.1.0
 */
export const drawsNeeded = (count: number): number => Math.max(0, Math.floor(count)) + 1

/**
 * The eligible peers of a table at one `now`, under one dial policy and one score configuration, as
 * dense parallel arrays (no object per peer). In the table's iteration order; `positions` (peer key →
 * index) is built on first need.
 */
interface Pool {
  /** The table's peer map the pool was computed from. */
  readonly peersMap: HashMap.HashMap<string, PeerRecord.PeerRecord>
  readonly now: number
  readonly config: Score.Config
  readonly loopback: boolean
  readonly priv: boolean
  readonly n: number
  readonly keys: Array<string>
  readonly peers: Array<PeerRecord.PeerRecord>
  readonly addresses: Array<PeerAddress.PeerAddress>
  readonly quality: Float64Array
  readonly group: Int32Array
  readonly relay: Uint8Array
  readonly groupIds: Map<string, number>
  readonly groupSize: Int32Array
  /** Source group index per peer ({@link PeerRecord.sourceGroupOf}). */
  readonly source: Int32Array
  readonly sourceIds: Map<string, number>
  readonly sourceSize: Int32Array
  /** Distinct netgroups of each source group's peers: its weight in the source-group rule. */
  readonly sourceWeight: Int32Array
  positions: Map<string, number> | undefined
}

const dialable = PeerAddress.isDialableWith

/** The mutable state of one pass over the table (a class, so the per-peer step is a top-level function). */
class Builder {
  n = 0
  readonly keys: Array<string>
  readonly peers: Array<PeerRecord.PeerRecord>
  readonly addresses: Array<PeerAddress.PeerAddress>
  readonly groupIds = new Map<string, number>()
  readonly groupSizes: Array<number> = []
  readonly sourceIds = new Map<string, number>()
  readonly sourceSizes: Array<number> = []
  /** Source group index by source kind, then URL, file or telling peer (computed once per distinct source). */
  readonly sourceOf: Record<PeerRecord.Source["_tag"] | "unknown", Map<string, number>> = {
    endpoint: new Map(),
    import: new Map(),
    user: new Map(),
    connection: new Map(),
    unknown: new Map()
  }
  lastSource: PeerRecord.Source | undefined = undefined
  lastSourceIndex = -1
  term = 0
  readonly quality: Float64Array
  readonly group: Int32Array
  readonly relay: Uint8Array
  readonly source: Int32Array
  constructor(
    capacity: number,
    readonly now: number,
    readonly config: Score.Config,
    readonly loopback: boolean,
    readonly priv: boolean
  ) {
    // Sized once (the table's size bounds the pool), so the pass never copies a growing array.
    this.keys = new Array(capacity)
    this.peers = new Array(capacity)
    this.addresses = new Array(capacity)
    this.quality = new Float64Array(capacity)
    this.group = new Int32Array(capacity)
    this.relay = new Uint8Array(capacity)
    this.source = new Int32Array(capacity)
  }
}

/** Adds one peer to the pool when it has a dialable address (the `HashMap.reduce` step). */
const addPeer = (b: Builder, peer: PeerRecord.PeerRecord, key: string): Builder => {
  const bestAddress = bestDialable(peer, b.now, b.config, b.loopback, b.priv, b)
  if (bestAddress === undefined) return b
  const bestTerm = b.term
  let g = b.groupIds.get(bestAddress.netgroup)
  if (g === undefined) {
    g = b.groupSizes.length
    b.groupIds.set(bestAddress.netgroup, g)
    b.groupSizes.push(0)
  }
  b.groupSizes[g]!++
  const i = b.n++
  b.keys[i] = key
  b.peers[i] = peer
  b.addresses[i] = bestAddress
  const relay = PeerRecord.isRelay(peer)
  b.quality[i] = qualityOf(peer, relay, bestTerm, b.config)
  b.group[i] = g
  b.relay[i] = relay ? 1 : 0
  const s = sourceIndex(b, peer.sources[0])
  b.sourceSizes[s]!++
  b.source[i] = s
  return b
}

/** Where {@link bestDialable} leaves the best address's term (one reused object, not one per peer). */
interface TermOut {
  term: number
}

/** A peer's best dialable address at `now`, or undefined; its address term is left in `out.term`. */
const bestDialable = (
  peer: PeerRecord.PeerRecord,
  now: number,
  config: Score.Config,
  loopback: boolean,
  priv: boolean,
  out: TermOut
): PeerAddress.PeerAddress | undefined => {
  const records = peer.addresses
  let bestTerm = Number.NEGATIVE_INFINITY
  let bestAddress: PeerAddress.PeerAddress | undefined
  for (let j = 0; j < records.length; j++) {
    const r = records[j]!
    if (!dialable(r.address, loopback, priv)) continue
    const term = Score.addressTerm(r, now, config)
    if (term > bestTerm) {
      bestTerm = term
      bestAddress = r.address
    }
  }
  out.term = bestTerm
  return bestAddress
}

/** `Score.address` of the best address from its term: the capability adjustment (relay tested once), clamped. */
const qualityOf = (peer: PeerRecord.PeerRecord, relay: boolean, term: number, config: Score.Config): number => {
  const capabilities = peer.capabilities
  const adjustment = (relay ? config.relayBonus : 0) + (capabilities.coordinator ? config.coordinatorBonus : 0) -
    (capabilities.symmetricNat ? config.symmetricNatPenalty : 0)
  return Score.clamp01(term + adjustment)
}

/** The pool's index of a peer's first source's group; the last source seen is remembered, as neighbours share it. */
const sourceIndex = (b: Builder, first: PeerRecord.Source | undefined): number => {
  if (first === b.lastSource && b.lastSourceIndex >= 0) return b.lastSourceIndex
  const raw = first === undefined
    ? ""
    : first._tag === "endpoint"
    ? first.url
    : first._tag === "import"
    ? first.from
    : first._tag === "connection"
    ? `${first.viaNetgroup ?? ""} ${first.via ?? ""}`
    : ""
  const byRaw = b.sourceOf[first === undefined ? "unknown" : first._tag]
  let s = byRaw.get(raw)
  if (s === undefined) {
    const name = first === undefined ? "unknown" : PeerRecord.sourceGroup(first)
    s = b.sourceIds.get(name)
    if (s === undefined) {
      s = b.sourceSizes.length
      b.sourceIds.set(name, s)
      b.sourceSizes.push(0)
    }
    byRaw.set(raw, s)
  }
  b.lastSource = first
  b.lastSourceIndex = s
  return s
}

/** Distinct netgroups per source group (all 1 when there is a single source group: the rule is idle). */
const sourceWeights = (b: Builder): Int32Array => {
  const sources = b.sourceSizes.length
  const weights = new Int32Array(sources)
  if (sources <= 1) return weights.fill(1)
  const groups = b.groupSizes.length
  const pairs = new Set<number>()
  for (let i = 0; i < b.n; i++) {
    const pair = b.source[i]! * groups + b.group[i]!
    if (pairs.has(pair)) continue
    pairs.add(pair)
    weights[b.source[i]!]!++
  }
  return weights
}

const sameScoreConfig = (a: Score.Config, b: Score.Config): boolean =>
  a === b ||
  (a.priorSuccesses === b.priorSuccesses && a.priorFailures === b.priorFailures &&
    a.streakFactor === b.streakFactor && a.maxStreak === b.maxStreak && a.halfLifeMs === b.halfLifeMs &&
    a.maxAgeDecay === b.maxAgeDecay && a.rttWeight === b.rttWeight && a.rttCeilingMs === b.rttCeilingMs &&
    a.relayBonus === b.relayBonus && a.coordinatorBonus === b.coordinatorBonus &&
    a.symmetricNatPenalty === b.symmetricNatPenalty)

/**
 * The last pool computed for each table. A table is immutable, so its pool at a given `now`, dial
 * policy and score configuration never changes: repeated selections on one table (the bootstrap's
 * refills, one per batch) skip the pass over the table. Weak, so a pool lives only as long as its table.
 */
const pools = new WeakMap<PeerTable.PeerTable, Pool>()

/**
 * The most recent pool, to derive the next table's pool from: a table that differs from the last
 * one scored by a few outcomes shares all but a few peers with it. A memo like {@link pools} (weak:
 * it never keeps a table alive), not state any result depends on — a derived pool equals the one a
 * full pass gives (a differential test checks it).
 */
const recent: { pool: WeakRef<Pool> | undefined } = { pool: undefined }

/** A derivation changes at most this many peers; more, and a full pass is as cheap. */
const MAX_CHANGES = 64

const poolOf = (table: PeerTable.PeerTable, options: EligibilityOptions): Pool => {
  const now = options.now
  const config = options.score ?? Score.defaults
  const loopback = options.dialPolicy?.allowLoopback === true
  const priv = options.dialPolicy?.allowPrivate === true
  const cached = pools.get(table)
  const same = (p: Pool) => p.loopback === loopback && p.priv === priv && sameScoreConfig(p.config, config)
  if (cached !== undefined && cached.now === now && same(cached)) return cached
  const base = cached !== undefined && same(cached) ? cached : recent.pool?.deref()
  const pool = (base !== undefined && same(base) ? derive(base, table.peers, now) : undefined) ??
    build(table.peers, HashMap.reduce(table.peers, new Builder(HashMap.size(table.peers), now, config, loopback, priv), addPeer))
  pools.set(table, pool)
  recent.pool = new WeakRef(pool)
  return pool
}

/** The pool of a finished pass. */
const build = (peersMap: HashMap.HashMap<string, PeerRecord.PeerRecord>, b: Builder, positions?: Map<string, number>): Pool => {
  b.keys.length = b.n
  b.peers.length = b.n
  b.addresses.length = b.n
  return {
    peersMap,
    now: b.now,
    config: b.config,
    loopback: b.loopback,
    priv: b.priv,
    n: b.n,
    keys: b.keys,
    peers: b.peers,
    addresses: b.addresses,
    quality: b.quality,
    group: b.group,
    relay: b.relay,
    groupIds: b.groupIds,
    groupSize: Int32Array.from(b.groupSizes),
    source: b.source,
    sourceIds: b.sourceIds,
    sourceSize: Int32Array.from(b.sourceSizes),
    sourceWeight: sourceWeights(b),
    positions
  }
}

/**
 * The pool of `peersMap` from the pool of an earlier version of it (same dial policy and score
 * configuration), without walking the map: undefined when they differ in more than the values of
 * at most {@link MAX_CHANGES} keys, or when a changed peer enters or leaves the pool, or changes
 * netgroup or source group. Eligibility does not depend on the time, so the pool holds the same
 * peers in the same order; at another `now`, they are scored again from the pool's arrays.
 */
const derive = (base: Pool, peersMap: HashMap.HashMap<string, PeerRecord.PeerRecord>, now: number): Pool | undefined => {
  const changed = base.peersMap === peersMap ? [] : HashMapDiff.changedKeys(base.peersMap, peersMap, MAX_CHANGES)
  if (changed === undefined) return undefined
  const positions = positionsOf(base)
  const peers = changed.length === 0 ? base.peers : base.peers.slice()
  const out: TermOut = { term: 0 }
  for (const key of changed) {
    const peer = HashMap.unsafeGet(peersMap, key)
    const i = positions.get(key)
    const address = bestDialable(peer, base.now, base.config, base.loopback, base.priv, out)
    if (i === undefined) {
      if (address === undefined) continue
      return undefined
    }
    if (address === undefined || address.netgroup !== base.addresses[i]!.netgroup) return undefined
    const old = base.peers[i]!.sources[0]
    const first = peer.sources[0]
    if (first !== old && (first === undefined || old === undefined || PeerRecord.sourceGroup(first) !== PeerRecord.sourceGroup(old))) {
      return undefined
    }
    peers[i] = peer
  }
  const addresses = base.addresses.slice()
  const quality = now === base.now ? Float64Array.from(base.quality) : new Float64Array(base.n)
  const relay = Uint8Array.from(base.relay)
  for (const key of changed) {
    const i = positions.get(key)
    if (i !== undefined) relay[i] = PeerRecord.isRelay(peers[i]!) ? 1 : 0
  }
  const rescore = (i: number): boolean => {
    const peer = peers[i]!
    // A pooled peer with a single address is pooled by that address: no dial-policy test needed.
    const address = peer.addresses.length === 1
      ? peer.addresses[0]!.address
      : bestDialable(peer, now, base.config, base.loopback, base.priv, out)
    if (address === undefined || address.netgroup !== base.addresses[i]!.netgroup) return false
    const term = peer.addresses.length === 1 ? Score.addressTerm(peer.addresses[0]!, now, base.config) : out.term
    addresses[i] = address
    quality[i] = qualityOf(peer, relay[i] === 1, term, base.config)
    return true
  }
  if (now === base.now) {
    for (const key of changed) {
      const i = positions.get(key)
      if (i !== undefined && !rescore(i)) return undefined
    }
  } else {
    for (let i = 0; i < base.n; i++) if (!rescore(i)) return undefined
  }
  return { ...base, peersMap, now, peers, addresses, quality, relay, positions }
}

const positionsOf = (pool: Pool): Map<string, number> => {
  if (pool.positions === undefined) {
    const positions = new Map<string, number>()
    for (let i = 0; i < pool.n; i++) positions.set(pool.keys[i]!, i)
    pool.positions = positions
  }
  return pool.positions
}

/** Per-peer state of one call: available, excluded by the caller, or picked. */
const AVAILABLE = 0
const EXCLUDED = SelectionHeap.EXCLUDED
const PICKED = 2

/**
 * Marks the excluded peers of a pool in `state` and returns their indices, ascending. A small set is
 * looked up through the pool's positions, a large one by a pass over the pool.
 */
const markExcluded = (pool: Pool, exclude: ReadonlySet<string> | undefined, state: Uint8Array): Int32Array => {
  if (exclude === undefined || exclude.size === 0) return new Int32Array(0)
  const found: Array<number> = []
  if (exclude.size * 4 < pool.n) {
    const positions = positionsOf(pool)
    for (const key of exclude) {
      const i = positions.get(key)
      if (i !== undefined) found.push(i)
    }
  } else {
    for (let i = 0; i < pool.n; i++) if (exclude.has(pool.keys[i]!)) found.push(i)
  }
  const indices = Int32Array.from(found).sort()
  for (let j = 0; j < indices.length; j++) state[indices[j]!] = EXCLUDED
  return indices
}

/** One selection in progress: the pool, the per-call state, the netgroup and source-group counters. */
class Run {
  readonly state: Uint8Array
  readonly perGroup: Int32Array
  readonly liveInGroup: Int32Array
  readonly touched: Array<number> = []
  readonly perSource: Int32Array
  readonly liveInSource: Int32Array
  readonly sourcesTouched: Array<number> = []
  readonly pivot: number
  /** Non-excluded peers. */
  readonly eligible: number
  /** Non-excluded peers not picked yet. */
  live: number
  limit: number
  /** Connections held and picks made: k − 1 for the k-th pick of the source-group rule. */
  taken = 0
  /** Whether each source group may take the current pick. */
  readonly allowed: Uint8Array
  readonly totalWeight: number
  prefix: Int32Array
  head = 0
  covered: boolean
  constructor(
    readonly pool: Pool,
    exclude: ReadonlySet<string> | undefined,
    netgroupsInUse: Iterable<string> | undefined,
    sourceGroupsInUse: Iterable<string> | undefined,
    tie: number | undefined,
    readonly step: number,
    readonly diversity: boolean,
    prefixSize: number
  ) {
    const n = pool.n
    this.state = new Uint8Array(n)
    const excluded = markExcluded(pool, exclude, this.state)
    this.eligible = n - excluded.length
    this.live = this.eligible
    this.liveInGroup = Int32Array.from(pool.groupSize)
    this.liveInSource = Int32Array.from(pool.sourceSize)
    for (let j = 0; j < excluded.length; j++) {
      this.liveInGroup[pool.group[excluded[j]!]!]!--
      this.liveInSource[pool.source[excluded[j]!]!]!--
    }
    this.perGroup = new Int32Array(pool.groupSize.length)
    this.perSource = new Int32Array(pool.sourceSize.length)
    this.allowed = new Uint8Array(pool.sourceSize.length).fill(1)
    let total = 0
    for (let s = 0; s < pool.sourceWeight.length; s++) total += pool.sourceWeight[s]!
    this.totalWeight = total
    if (netgroupsInUse !== undefined) {
      for (const netgroup of netgroupsInUse) {
        const g = pool.groupIds.get(netgroup)
        if (g !== undefined) this.count(g)
      }
    }
    if (sourceGroupsInUse !== undefined) {
      for (const group of sourceGroupsInUse) {
        this.taken++
        const s = pool.sourceIds.get(group)
        if (s !== undefined) this.countSource(s)
      }
    }
    this.limit = step
    // The tie-break rotation starts at the `offset`-th non-excluded peer.
    const offset = tie === undefined || !(tie > 0) ? 0 : Math.min(this.live - 1, Math.floor(tie * this.live))
    let pivot = offset
    for (let j = 0; j < excluded.length && excluded[j]! <= pivot; j++) pivot++
    this.pivot = pivot
    const m = Math.min(this.live, prefixSize)
    this.prefix = SelectionHeap.topPrefix(pool.quality, pool.n, this.state, pivot, m)
    this.covered = m === this.live
  }

  count(g: number): void {
    if (this.perGroup[g]!++ === 0) this.touched.push(g)
  }

  countSource(s: number): void {
    if (this.perSource[s]!++ === 0) this.sourcesTouched.push(s)
  }

  /**
   * Sets which source groups may take the next, k-th pick: those with live peers whose count stays
   * within their share, `count + 1 ≤ w·k`; when none does, those of the highest `w / (count + 1)`
   * (the D'Hondt apportionment's next seat). O(source groups).
   */
  beginPick(): void {
    const groups = this.allowed.length
    if (!this.diversity || groups <= 1) return
    const weight = this.pool.sourceWeight
    const k = this.taken + 1
    let best = Number.NEGATIVE_INFINITY
    let any = false
    for (let s = 0; s < groups; s++) {
      const live = this.liveInSource[s]! > 0
      const w = weight[s]! / this.totalWeight
      const ok = live && w * k - this.perSource[s]! >= 1 - 1e-9
      this.allowed[s] = ok ? 1 : 0
      if (ok) any = true
      if (live && w / (this.perSource[s]! + 1) > best) best = w / (this.perSource[s]! + 1)
    }
    if (any) return
    for (let s = 0; s < groups; s++) {
      const w = weight[s]! / this.totalWeight
      this.allowed[s] = this.liveInSource[s]! > 0 && w / (this.perSource[s]! + 1) >= best - 1e-12 ? 1 : 0
    }
  }

  pick(i: number): void {
    this.state[i] = PICKED
    this.live--
    this.taken++
    const g = this.pool.group[i]!
    this.liveInGroup[g]!--
    this.count(g)
    const s = this.pool.source[i]!
    this.liveInSource[s]!--
    this.countSource(s)
  }

  admissible(i: number): boolean {
    return this.state[i] === AVAILABLE && this.perGroup[this.pool.group[i]!]! < this.limit &&
      this.allowed[this.pool.source[i]!] === 1
  }

  /** The first admissible peer in the exploit order, or −1 when none is left. */
  exploit(): number {
    for (;;) {
      const prefix = this.prefix
      while (this.head < prefix.length && this.state[prefix[this.head]!] === PICKED) this.head++
      for (let j = this.head; j < prefix.length; j++) {
        const i = prefix[j]!
        if (this.admissible(i)) return i
      }
      if (!this.covered) {
        // Every peer of the prefix is picked or held back by a limit: take a prefix four times longer.
        const m = Math.min(prefix.length * 4, this.eligible)
        this.prefix = SelectionHeap.topPrefix(this.pool.quality, this.pool.n, this.state, this.pivot, m)
        this.head = 0
        this.covered = m === this.eligible
        continue
      }
      if (this.live === 0) return -1
      this.limit += this.step
    }
  }

  /**
   * An explore pick for `v` = `u`/ε uniform in [0,1): a source group among those holding admissible
   * peers (in order of first appearance in the pool), drawn with probability proportional to its
   * weight, then the ⌊r·m⌋-th of its m admissible peers in the pool's order, where r is what is left
   * of `v` once the group is drawn (again uniform in [0,1)). Raises the netgroup limit while none is
   * admissible. Two passes over the pool.
   */
  explore(v: number): number {
    const n = this.pool.n
    const source = this.pool.source
    const weight = this.pool.sourceWeight
    const counts = new Int32Array(this.pool.sourceSize.length)
    for (;;) {
      if (this.live === 0) return -1
      const groups: Array<number> = []
      let total = 0
      for (let i = 0; i < n; i++) {
        if (!this.admissible(i)) continue
        const s = source[i]!
        if (counts[s]!++ === 0) {
          groups.push(s)
          total += weight[s]!
        }
      }
      if (groups.length === 0) {
        this.limit += this.step
        continue
      }
      let x = v * total
      let s = groups[groups.length - 1]!
      for (const g of groups) {
        if (x < weight[g]!) {
          s = g
          break
        }
        x -= weight[g]!
      }
      const r = Math.min(1, Math.max(0, x / weight[s]!))
      let target = Math.min(counts[s]! - 1, Math.floor(r * counts[s]!))
      for (let i = 0; i < n; i++) {
        if (source[i] !== s || !this.admissible(i)) continue
        if (target === 0) return i
        target--
      }
      return -1
    }
  }
}

/** The first prefix of the exploit order {@link select} takes: enough for k picks and some netgroup clashes. */
const prefixSize = (count: number): number => 4 * count + 16

/**
 * Picks up to `count` distinct eligible peers to dial, in dial order, by epsilon-greedy with
 * netgroup diversity (see the module docs for the rule, the draws and the cost). Returns fewer picks
 * only when fewer peers are eligible. Never fails.
 *
 * @example
 * const draws = yield* Effect.replicateEffect(Random.next, Selection.drawsNeeded(15))
 * const picks = Selection.select(table, { now, count: 15, draws })
 * // or: pipe(table, Selection.select({ now, count: 15, draws }))
 *
 * @since 0.1.0
 */
export const select: {
  (options: SelectOptions): (self: PeerTable.PeerTable) => Array<Pick>
  (self: PeerTable.PeerTable, options: SelectOptions): Array<Pick>
} = dual(2, (self: PeerTable.PeerTable, options: SelectOptions): Array<Pick> => {
  const count = Math.max(0, Math.floor(options.count))
  const epsilon = Math.min(1, Math.max(0, options.epsilon ?? defaults.epsilon))
  const step = options.maxPerNetgroup === undefined
    ? defaults.maxPerNetgroup
    : options.maxPerNetgroup >= 1
    ? Math.floor(options.maxPerNetgroup)
    : 1
  const picks: Array<Pick> = []
  if (count === 0) return picks
  const pool = poolOf(self, options)
  if (pool.n === 0) return picks
  const diversity = options.sourceGroupDiversity ?? defaults.sourceGroupDiversity
  const run = new Run(
    pool,
    options.exclude,
    options.netgroupsInUse,
    options.sourceGroupsInUse,
    options.draws[count],
    step,
    diversity,
    prefixSize(count)
  )
  const want = Math.min(count, run.eligible)
  for (let p = 0; p < want; p++) {
    const raw = options.draws[p]
    const u = raw === undefined || Number.isNaN(raw) ? 1 : Math.max(0, raw)
    const exploring = u < epsilon
    run.beginPick()
    const i = exploring ? run.explore(u / epsilon) : run.exploit()
    if (i < 0) break
    run.pick(i)
    picks.push({
      peerKey: pool.keys[i]!,
      peer: pool.peers[i]!,
      address: pool.addresses[i]!,
      quality: pool.quality[i]!,
      kind: exploring ? "explore" : "exploit"
    })
  }
  return picks
})

/**
 * Options of {@link reconnectOrder}.
 *
 * @since 0.1.0
 */
export interface ReconnectOptions extends EligibilityOptions {
  /** Return at most this many peers. Default: all eligible peers. */
  readonly limit?: number
}

/** Whether pool index `i` comes after `j` in the reconnect order: relays first, then quality, then peer key. */
const reconnectsAfter = (pool: Pool, i: number, j: number): boolean => {
  const ri = pool.relay[i]!
  const rj = pool.relay[j]!
  if (ri !== rj) return ri < rj
  const qi = pool.quality[i]!
  const qj = pool.quality[j]!
  if (qi !== qj) return qi < qj
  return pool.keys[i]! > pool.keys[j]!
}

const reconnectCompare = (pool: Pool, i: number, j: number): number =>
  reconnectsAfter(pool, i, j) ? 1 : reconnectsAfter(pool, j, i) ? -1 : 0

const siftReconnect = (heap: Int32Array, size: number, at: number, pool: Pool): void => {
  let i = at
  for (;;) {
    const l = 2 * i + 1
    if (l >= size) return
    const r = l + 1
    const c = r < size && reconnectsAfter(pool, heap[r]!, heap[l]!) ? r : l
    if (!reconnectsAfter(pool, heap[c]!, heap[i]!)) return
    const t = heap[i]!
    heap[i] = heap[c]!
    heap[c] = t
    i = c
  }
}

/**
 * The order in which to redial known peers: relay-capable peers first (flag or circuit relay v2 hop
 * protocol — a node behind NAT needs one to be reachable), then by quality (highest first), then by
 * peer key. Only eligible peers (see the module docs), each with its best dialable address.
 * Deterministic; no randomness and no netgroup rule (apply {@link select} for those). O(n log n) for
 * the whole order; O(n log `limit`) with a `limit`, and without the pass over the table when the same
 * table was already scored at the same `now` (see {@link select}).
 *
 * @since 0.1.0
 */
export const reconnectOrder: {
  (options: ReconnectOptions): (self: PeerTable.PeerTable) => Array<Candidate & { readonly relay: boolean }>
  (self: PeerTable.PeerTable, options: ReconnectOptions): Array<Candidate & { readonly relay: boolean }>
} = dual(2, (self: PeerTable.PeerTable, options: ReconnectOptions): Array<Candidate & { readonly relay: boolean }> => {
  const pool = poolOf(self, options)
  const state = new Uint8Array(pool.n)
  const eligible = pool.n - markExcluded(pool, options.exclude, state).length
  const limit = options.limit === undefined ? eligible : Math.min(eligible, Math.max(0, Math.floor(options.limit)))
  let order: Int32Array
  if (limit * 8 < eligible) {
    // A bounded heap whose root is the peer that comes last; then a heap sort.
    const heap = new Int32Array(limit)
    let size = 0
    for (let i = 0; i < pool.n && limit > 0; i++) {
      if (state[i] === EXCLUDED) continue
      if (size < limit) {
        heap[size++] = i
        if (size === limit) for (let k = (limit >> 1) - 1; k >= 0; k--) siftReconnect(heap, limit, k, pool)
        continue
      }
      if (!reconnectsAfter(pool, heap[0]!, i)) continue
      heap[0] = i
      siftReconnect(heap, limit, 0, pool)
    }
    for (let end = size - 1; end > 0; end--) {
      const t = heap[0]!
      heap[0] = heap[end]!
      heap[end] = t
      siftReconnect(heap, end, 0, pool)
    }
    order = heap
  } else {
    const all = new Int32Array(eligible)
    let size = 0
    for (let i = 0; i < pool.n; i++) if (state[i] !== EXCLUDED) all[size++] = i
    order = Int32Array.from(Array.from(all).sort((i, j) => reconnectCompare(pool, i, j)).slice(0, limit))
  }
  const out: Array<Candidate & { readonly relay: boolean }> = new Array(order.length)
  for (let j = 0; j < order.length; j++) {
    const i = order[j]!
    out[j] = { peerKey: pool.keys[i]!, peer: pool.peers[i]!, address: pool.addresses[i]!, quality: pool.quality[i]!, relay: pool.relay[i] === 1 }
  }
  return out
})
