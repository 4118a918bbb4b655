/**
 * Which peers to dial: epsilon-greedy selection with netgroup and source-group diversity, and the
 * reconnect order.
 *
 * **Epsilon-greedy** (the multi-armed bandit rule; ADR default ε = 0.1): each of the `count` picks
 * explores with probability ε — a source group drawn among those with admissible peers with
 * probability proportional to its weight `w` (below), then a peer drawn uniformly from that group's
 * admissible peers (those the two rules below admit)
 * — and otherwise exploits — the admissible peer of highest {@link Score} quality. With ε = 0,
 * `maxPerNetgroup: Infinity` and `sourceGroupDiversity: false`, the picks are the top `count` by quality.
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
 * only when allowed), the dialer supports it (`supports`, default every address), and the peer is
 * not excluded; the address to dial is its best such address. A dialer that supports few of the
 * table's addresses (a browser node with a TCP-heavy cache) therefore gets picks from the peers it
 * can dial, in one call whose cost after the pass over the table follows what it picks.
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
 * policy, `supports` and the score configuration, so a second call on the same table at the same `now` — the
 * bootstrap's refills, one per batch — skips it; the memory is weak and goes with the table. A table
 * that differs from the last one scored only in the records of a few peers (recorded outcomes) does
 * not walk its map: the changed peers are found by comparing the two persistent maps, which share
 * everything else, and the pool is patched in place (same `now`). At a later `now` nothing is
 * rescored up front but the changed peers: a quality only falls as time passes (the age decay is
 * the score's one term that depends on `now`, and it grows with the age), so the qualities of the
 * earlier pass bound the new ones from above, and a selection scores peers in the order of their
 * bounds until the next bound is below the best it needs — about the prefix it takes, for a minute
 * later. An earlier `now` rescores every peer from the pool's arrays.
 * Then, per call: the first call on a pool makes one O(n) scan keeping the best 4k + 16 peers in a
 * bounded heap (nearly every peer is rejected at its first comparison); later calls on the same pool
 * take that prefix from the pool's head (its 256 best peers, kept with it) while the head holds
 * enough peers that are not excluded. Picks are walked from the prefix (a prefix four times longer is
 * taken when a rule uses it up), one O(source groups) step per pick for the source-group rule, and
 * an explore pick (about ε·k of them) costs the peers held back — excluded, picked, or in a full
 * netgroup — through the pool's member lists per netgroup and per source group, or two scans of the
 * pool when more than an eighth of it is held back. The exclusion set is resolved through an index
 * of the pool (O(|exclude|)) once the pool has one (a pool derived from another, or made by
 * {@link poolSteps}), else by one pass over the pool's keys. A dialer that supports few addresses (`supports`) makes the pool, and
 * everything after the pass over the table, as small as the peers it can dial.
 *
 * @since 0.1.0
 */
import { dual } from "effect/Function"
import { EXCLUDED, markExcluded, type Pool, poolOf } from "./internal/selectionPool.js"
import { poolSteps as poolStepsImpl } from "./internal/selectionPoolSteps.js"
import { ensureScored, materialize } from "./internal/selectionLazy.js"
import { runPicks } from "./internal/selectionRun.js"
import type * as PeerAddress from "./PeerAddress.js"
import type * as PeerRecord from "./PeerRecord.js"
import type * as PeerTable from "./PeerTable.js"
import type * as Score from "./Score.js"

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
  /**
   * Which addresses the dialer can dial (its transports), on top of the dial policy: a peer none of
   * whose dialable addresses it supports is not eligible, and a pick's address is its best supported
   * one. Default: every address. Pass the same function on every call (the dialer's own), so that
   * what is remembered per table is found again.
   */
  readonly supports?: (address: PeerAddress.PeerAddress) => boolean
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
  const chosen = runPicks(pool, {
    count,
    epsilon,
    step,
    diversity: options.sourceGroupDiversity ?? defaults.sourceGroupDiversity,
    exclude: options.exclude,
    netgroupsInUse: options.netgroupsInUse,
    sourceGroupsInUse: options.sourceGroupsInUse,
    draws: options.draws
  })
  for (let p = 0; p < chosen.length; p++) {
    const i = chosen[p]!
    const at = i >= 0 ? i : -i - 1
    ensureScored(pool, at)
    picks.push({
      peerKey: pool.keys[at]!,
      peer: pool.peers[at]!,
      address: pool.addresses[at]!,
      quality: pool.quality[at]!,
      kind: i >= 0 ? "exploit" : "explore"
    })
  }
  return picks
})

/**
 * Does now, a slice at a time, the pass over the table that the first {@link select} or
 * {@link reconnectOrder} on `self` with these options would make (at `options.now`, under the same
 * dial policy, `supports` and score configuration; `exclude` is not read): a generator that pauses
 * (yields the peers done) after every `peersPerStep` peers (at least 1), for a caller that must not
 * hold its thread for the whole pass (30k peers take tens of ms). Once it has run to its end, a
 * selection on `self` at that `now` finds the pass done, and so does one on a table made from `self`
 * by a few changes (recorded outcomes), or at a later `now` (see the module docs, "Cost"). A
 * selection between two slices works as always and gives the same picks; the steps then stop early.
 * The picks are the same whether or not the steps ran.
 *
 * @since 0.2.0
 */
export const poolSteps = (self: PeerTable.PeerTable, options: EligibilityOptions, peersPerStep: number): Generator<number, void, void> =>
  poolStepsImpl(self, options, Math.max(1, Math.floor(peersPerStep)))

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
  materialize(pool)
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
