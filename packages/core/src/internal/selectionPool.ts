/**
 * The pool of {@link Selection.select} and {@link Selection.reconnectOrder}: the eligible peers of a
 * table at one `now`, under one dial policy, one dialer's transports and one score configuration, as
 * dense parallel arrays, remembered per table (a table is immutable) and derived from the last table
 * scored when the two differ by a few recorded outcomes ({@link derive}; at a later `now`, scored on
 * demand: see `selectionLazy`).
 *
 * @internal
 */
import * as HashMap from "effect/HashMap"
import * as Core from "./peerTableCore.js"
import { derive } from "./selectionDerive.js"
import { GroupIds } from "./selectionGroups.js"
import * as SelectionHeap from "./selectionHeap.js"
import * as SelectionIndex from "./selectionIndex.js"
import type * as SelectionLazy from "./selectionLazy.js"
import { bestDialable, qualityOf } from "./selectionScore.js"
import type * as PeerAddress from "../PeerAddress.js"
import * as PeerRecord from "../PeerRecord.js"
import type * as PeerTable from "../PeerTable.js"
import * as Score from "../Score.js"

/** What a pool depends on besides the table (the `Selection.EligibilityOptions` it reads). */
export interface PoolOptions {
  readonly now: number
  readonly dialPolicy?: PeerAddress.DialPolicy
  readonly supports?: (address: PeerAddress.PeerAddress) => boolean
  readonly score?: Score.Config
}

/**
 * The eligible peers of a table at one `now`, under one dial policy and one score configuration, as
 * dense parallel arrays (no object per peer). In the table's iteration order (`HashMap.reduce`'s);
 * `positions` (peer key → index) is built when a pool is derived from this one, or by `selectionPoolSteps`.
 */
export interface Pool {
  /** The table's peer map the pool was computed from. */
  readonly peersMap: HashMap.HashMap<string, PeerRecord.PeerRecord>
  readonly now: number
  readonly config: Score.Config
  readonly loopback: boolean
  readonly priv: boolean
  /** The dialer's address filter, or undefined when every dialable address counts. */
  readonly supports: ((address: PeerAddress.PeerAddress) => boolean) | undefined
  readonly n: number
  readonly keys: Array<string>
  readonly peers: Array<PeerRecord.PeerRecord>
  readonly addresses: Array<PeerAddress.PeerAddress>
  readonly quality: Float64Array
  readonly group: Int32Array
  readonly relay: Uint8Array
  /** Netgroup → the id `group` holds. */
  readonly groupIds: GroupIds
  readonly groupSize: Int32Array
  /** Source group index per peer ({@link PeerRecord.sourceGroupOf}). */
  readonly source: Int32Array
  readonly sourceIds: Map<string, number>
  readonly sourceSize: Int32Array
  /** Distinct netgroups of each source group's peers: its weight in the source-group rule. */
  readonly sourceWeight: Int32Array
  positions: Map<string, number> | undefined
  /** The peers of each netgroup and of each source group ({@link SelectionIndex.membersOf}), built on first need. */
  byGroup: SelectionIndex.Members | undefined
  bySource: SelectionIndex.Members | undefined
  /** The best peers ({@link SelectionIndex.headOf}), built when the pool serves a second selection. */
  head: SelectionIndex.Head | undefined
  /** Selections run on this pool so far. */
  runs: number
  /** Peers whose dialable addresses span more than one netgroup (their netgroup can change with `now`), ascending. */
  readonly mixed: Int32Array
  /**
   * Set while only some peers' `addresses` and `quality` are computed for `now` (a pool derived for a
   * later time: see {@link SelectionLazy}); read them through `SelectionLazy.ensureScored` or
   * `SelectionLazy.materialize` then.
   */
  lazy: SelectionLazy.Lazy | undefined
  /**
   * Set when a pool derived from this one took over its arrays (a derivation patches them in place
   * rather than copying 30k entries): the pool is no longer valid, and its table is scored afresh.
   */
  retired: boolean
  /**
   * What the bootstrap counts of the pool's peers (`bootstrapCandidates`' usage), kept with the pool
   * and carried to the pools derived from it, which hold the same peers at the same indices.
   */
  usage: unknown
}

/** The mutable state of one pass over the table (a class, so the per-peer step is a top-level function). */
export class Builder {
  n = 0
  readonly keys: Array<string>
  readonly peers: Array<PeerRecord.PeerRecord>
  readonly addresses: Array<PeerAddress.PeerAddress>
  readonly groupIds: GroupIds
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
  mixed = false
  readonly mixedPeers: Array<number> = []
  readonly quality: Float64Array
  readonly group: Int32Array
  readonly relay: Uint8Array
  readonly source: Int32Array
  constructor(
    capacity: number,
    readonly now: number,
    readonly config: Score.Config,
    readonly loopback: boolean,
    readonly priv: boolean,
    readonly supports: ((address: PeerAddress.PeerAddress) => boolean) | undefined,
    /** Whether the arrays of references are allocated whole at once (a pass in slices grows them instead). */
    presized = true
  ) {
    // Sized once (the table's size bounds the pool), so the pass never copies a growing array. A pass
    // made in slices grows its arrays of references instead: allocating three 30k arrays of holes at
    // once costs more than one slice of peers.
    this.groupIds = new GroupIds(capacity)
    this.keys = presized ? new Array(capacity) : []
    this.peers = presized ? new Array(capacity) : []
    this.addresses = presized ? new Array(capacity) : []
    this.quality = new Float64Array(capacity)
    this.group = new Int32Array(capacity)
    this.relay = new Uint8Array(capacity)
    this.source = new Int32Array(capacity)
  }
}

/** Adds one peer to the pool when it has a dialable address (the `HashMap.reduce` step). */
export const addPeer = (b: Builder, peer: PeerRecord.PeerRecord, key: string): Builder => {
  const bestAddress = bestDialable(peer, b.now, b.config, b.loopback, b.priv, b.supports, b)
  if (bestAddress === undefined) return b
  const bestTerm = b.term
  const g = b.groupIds.intern(bestAddress.netgroup)
  if (g === b.groupSizes.length) b.groupSizes.push(0)
  b.groupSizes[g]!++
  const i = b.n++
  if (b.mixed) b.mixedPeers.push(i)
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

/**
 * The pool's index of a peer's first source's group. The last source seen is remembered, as
 * neighbours share it: the same object in a table built by updates, an equal one in a decoded table.
 */
const sourceIndex = (b: Builder, first: PeerRecord.Source | undefined): number => {
  const last = b.lastSource
  if (b.lastSourceIndex >= 0 && (first === last || (first !== undefined && last !== undefined && PeerRecord.sameSource(first, last)))) {
    return b.lastSourceIndex
  }
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

/** What a pool is keyed by besides the table and `now`: dial policy, transports, score configuration. */
export interface PoolKey {
  readonly config: Score.Config
  readonly loopback: boolean
  readonly priv: boolean
  readonly supports: ((address: PeerAddress.PeerAddress) => boolean) | undefined
}

export const keyOf = (options: PoolOptions): PoolKey => ({
  config: options.score ?? Score.defaults,
  loopback: options.dialPolicy?.allowLoopback === true,
  priv: options.dialPolicy?.allowPrivate === true,
  supports: options.supports
})

/** Whether `p` is a live pool under `k` (any `now`). */
const sameKey = (p: Pool, k: PoolKey): boolean =>
  !p.retired && p.loopback === k.loopback && p.priv === k.priv && p.supports === k.supports && sameScoreConfig(p.config, k.config)

/** The pool `table` keeps for `now` under `k`, if it keeps one. */
export const remembered = (table: PeerTable.PeerTable, now: number, k: PoolKey): Pool | undefined => {
  const pool = Core.memoOf(table).pool as Pool | undefined
  return pool !== undefined && pool.now === now && sameKey(pool, k) ? pool : undefined
}

/** Keeps `pool` with `table` and as the newest pool of its line (see {@link poolOf}). */
export const install = (table: PeerTable.PeerTable, pool: Pool): Pool => {
  Core.memoOf(table).pool = pool
  Core.lineOf(table).recent = new WeakRef(pool)
  return pool
}

export const poolOf = (table: PeerTable.PeerTable, options: PoolOptions): Pool => {
  const now = options.now
  // A table's pool is kept with it (`memoOf`: a table is immutable, so its pool at a given `now`, dial
  // policy and score configuration never changes, and the bootstrap's refills select on one table
  // many times); the newest pool of the table's line (`lineOf`: the tables made from one another) is
  // the base the next table's pool is derived from — it shares all but a few peers with it. Both are
  // views, not state a result depends on: a derived pool equals the one a full pass gives (differential
  // tests). The pool derived from a base takes its arrays over and retires it. The empty table (a
  // module constant) keeps nothing.
  if (HashMap.size(table.peers) === 0) return fullPool(table, options)
  const k = keyOf(options)
  const kept = Core.memoOf(table).pool as Pool | undefined
  const cached = kept !== undefined && sameKey(kept, k) ? kept : undefined
  if (cached !== undefined && cached.now === now) return cached
  const recent = (Core.lineOf(table).recent as WeakRef<Pool> | undefined)?.deref()
  const base = cached ?? (recent !== undefined && sameKey(recent, k) ? recent : undefined)
  const pool = (base === undefined ? undefined : derive(base, () => positionsOf(base), table.peers, now)) ?? fullPool(table, options)
  return install(table, pool)
}

/** The pool of one pass over the table, remembered nowhere: what {@link poolOf} must always equal (the tests' reference). */
export const fullPool = (table: PeerTable.PeerTable, options: PoolOptions): Pool =>
  build(
    table.peers,
    HashMap.reduce(
      table.peers,
      new Builder(
        HashMap.size(table.peers),
        options.now,
        options.score ?? Score.defaults,
        options.dialPolicy?.allowLoopback === true,
        options.dialPolicy?.allowPrivate === true,
        options.supports
      ),
      addPeer
    )
  )

/** The pool of a finished pass. */
export const build = (peersMap: HashMap.HashMap<string, PeerRecord.PeerRecord>, b: Builder, positions?: Map<string, number>): Pool => {
  b.keys.length = b.n
  b.peers.length = b.n
  b.addresses.length = b.n
  return {
    peersMap,
    now: b.now,
    config: b.config,
    loopback: b.loopback,
    priv: b.priv,
    supports: b.supports,
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
    positions,
    byGroup: undefined,
    bySource: undefined,
    head: undefined,
    runs: 0,
    mixed: Int32Array.from(b.mixedPeers),
    lazy: undefined,
    retired: false,
    usage: undefined
  }
}

export const positionsOf = (pool: Pool): Map<string, number> => {
  if (pool.positions === undefined) {
    const positions = new Map<string, number>()
    for (let i = 0; i < pool.n; i++) positions.set(pool.keys[i]!, i)
    pool.positions = positions
  }
  return pool.positions
}

/** Per-peer state of one call: available, excluded by the caller, or picked. */
export const AVAILABLE = 0
export const EXCLUDED = SelectionHeap.EXCLUDED
export const PICKED = 2

/**
 * Marks the excluded peers of a pool in `state` and returns their indices, ascending. A small set is
 * looked up through the pool's positions when they are built (a derived pool, or one built by
 * `selectionPoolSteps`); otherwise one pass over the pool's keys finds them: building the positions of
 * 30k peers for a handful of keys costs ten times that pass.
 */
export const markExcluded = (pool: Pool, exclude: ReadonlySet<string> | undefined, state: Uint8Array): Int32Array => {
  if (exclude === undefined || exclude.size === 0) return new Int32Array(0)
  const found: Array<number> = []
  const positions = pool.positions
  if (positions !== undefined && exclude.size * 4 < pool.n) {
    for (const key of exclude) {
      const i = positions.get(key)
      if (i !== undefined) found.push(i)
    }
  } else {
    const keys = pool.keys
    for (let i = 0; i < pool.n; i++) if (exclude.has(keys[i]!)) found.push(i)
  }
  const indices = Int32Array.from(found).sort()
  for (let j = 0; j < indices.length; j++) state[indices[j]!] = EXCLUDED
  return indices
}

/** The peers of each netgroup of a pool. */
export const byGroupOf = (pool: Pool): SelectionIndex.Members =>
  pool.byGroup ??= SelectionIndex.membersOf(pool.group, pool.n, pool.groupSize.length)

/** The peers of each source group of a pool. */
export const bySourceOf = (pool: Pool): SelectionIndex.Members =>
  pool.bySource ??= SelectionIndex.membersOf(pool.source, pool.n, pool.sourceSize.length)

/** The best peers of a pool. */
export const headOf = (pool: Pool): SelectionIndex.Head => pool.head ??= SelectionIndex.headOf(pool.quality, pool.n)
