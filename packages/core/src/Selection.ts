/**
 * Which peers to dial: epsilon-greedy selection with netgroup diversity, and the reconnect order.
 *
 * **Epsilon-greedy** (the multi-armed bandit rule; ADR default ε = 0.1): each of the `count` picks
 * explores with probability ε — a peer drawn uniformly from the eligible peers not yet picked — and
 * otherwise exploits — the eligible peer of highest {@link Score} quality. Exploration keeps the cache
 * learning (new peers get a chance, peers that came back are found again); exploitation keeps wasted
 * dials low.
 *
 * **Netgroup diversity** (Bitcoin Core: one outbound connection per netgroup): at most
 * `maxPerNetgroup` picks (default 1) share a netgroup (IPv4 /16, IPv6 /32, DNS name — see
 * {@link PeerAddress.PeerAddress}) while peers of other netgroups remain; only when every remaining
 * peer is in a full netgroup is the limit raised by another `maxPerNetgroup`. A flood of addresses
 * from one /16 therefore gets at most one slot in a short candidate list, however well it answers.
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
 * **Cost** for n peers and k picks: one pass over the table to score every peer (no sort), a binary
 * heap built in O(n) and popped about k times (O(k log n)), plus one O(n) scan per explore pick
 * (about ε·k of them).
 *
 * @since 0.1.0
 */
import { dual } from "effect/Function"
import * as HashMap from "effect/HashMap"
import type * as PeerAddress from "./PeerAddress.js"
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
}

/**
 * Selection defaults: ε = 0.1 (ADR epsilon-greedy), one pick per netgroup (Bitcoin Core outbound rule).
 *
 * @since 0.1.0
 */
export const defaults = {
  epsilon: 0.1,
  maxPerNetgroup: 1
} as const

/**
 * How many draws {@link select} uses for `count` picks: one per pick, plus one to break ties.
 *
 * @since 0.1.0
 */
export const drawsNeeded = (count: number): number => Math.max(0, Math.floor(count)) + 1

/** The eligible peers of a table, as parallel arrays (no object per peer). */
interface Pool {
  readonly n: number
  readonly keys: Array<string>
  readonly peers: Array<PeerRecord.PeerRecord>
  readonly addresses: Array<PeerAddress.PeerAddress>
  readonly quality: Array<number>
  readonly group: Array<number>
  readonly relay: Array<boolean>
  readonly groupIds: ReadonlyMap<string, number>
}

const dialable = (a: PeerAddress.PeerAddress, loopback: boolean, priv: boolean): boolean => {
  if (a.relayed) return false
  switch (a.scope) {
    case "public":
      return true
    case "loopback":
      return loopback
    case "private":
    case "link-local":
      return priv
    default:
      return false
  }
}

const collect = (table: PeerTable.PeerTable, options: EligibilityOptions): Pool => {
  const now = options.now
  const config = options.score ?? Score.defaults
  const loopback = options.dialPolicy?.allowLoopback === true
  const priv = options.dialPolicy?.allowPrivate === true
  const exclude = options.exclude
  const keys: Array<string> = []
  const peers: Array<PeerRecord.PeerRecord> = []
  const addresses: Array<PeerAddress.PeerAddress> = []
  const quality: Array<number> = []
  const group: Array<number> = []
  const relay: Array<boolean> = []
  const groupIds = new Map<string, number>()
  HashMap.forEach(table.peers, (peer, key) => {
    if (exclude !== undefined && exclude.has(key)) return
    let bestTerm = Number.NEGATIVE_INFINITY
    let bestAddress: PeerAddress.PeerAddress | undefined
    for (const r of peer.addresses) {
      if (!dialable(r.address, loopback, priv)) continue
      const term = Score.addressTerm(r, now, config)
      if (term > bestTerm) {
        bestTerm = term
        bestAddress = r.address
      }
    }
    if (bestAddress === undefined) return
    let g = groupIds.get(bestAddress.netgroup)
    if (g === undefined) {
      g = groupIds.size
      groupIds.set(bestAddress.netgroup, g)
    }
    keys.push(key)
    peers.push(peer)
    addresses.push(bestAddress)
    quality.push(Score.clamp01(bestTerm + Score.capabilityAdjustment(peer, config)))
    group.push(g)
    relay.push(PeerRecord.isRelay(peer))
  })
  return { n: keys.length, keys, peers, addresses, quality, group, relay, groupIds }
}

/**
 * A binary max-heap of pool indices ordered by quality, then by position in the pool rotated by
 * `offset` (the random tie-break).
 */
const makeHeap = (pool: Pool, offset: number) => {
  const items = new Int32Array(pool.n)
  const n = pool.n
  let size = 0
  const better = (i: number, j: number): boolean => {
    const qi = pool.quality[i]!
    const qj = pool.quality[j]!
    if (qi !== qj) return qi > qj
    const ri = i >= offset ? i - offset : i - offset + n
    const rj = j >= offset ? j - offset : j - offset + n
    return ri < rj
  }
  const down = (at: number) => {
    let i = at
    for (;;) {
      const l = 2 * i + 1
      if (l >= size) return
      const r = l + 1
      const c = r < size && better(items[r]!, items[l]!) ? r : l
      if (!better(items[c]!, items[i]!)) return
      const t = items[i]!
      items[i] = items[c]!
      items[c] = t
      i = c
    }
  }
  const up = (at: number) => {
    let i = at
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!better(items[i]!, items[p]!)) return
      const t = items[i]!
      items[i] = items[p]!
      items[p] = t
      i = p
    }
  }
  for (let i = 0; i < pool.n; i++) items[i] = i
  size = pool.n
  for (let i = (size >> 1) - 1; i >= 0; i--) down(i)
  return {
    get size() {
      return size
    },
    pop: (): number => {
      const top = items[0]!
      size--
      items[0] = items[size]!
      down(0)
      return top
    },
    push: (x: number) => {
      items[size] = x
      up(size)
      size++
    }
  }
}

const toCandidate = (pool: Pool, i: number): Candidate => ({
  peerKey: pool.keys[i]!,
  peer: pool.peers[i]!,
  address: pool.addresses[i]!,
  quality: pool.quality[i]!
})

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
  const pool = collect(self, options)
  if (pool.n === 0) return picks
  const picked = new Uint8Array(pool.n)
  const perGroup = new Int32Array(pool.groupIds.size)
  if (options.netgroupsInUse !== undefined) {
    for (const netgroup of options.netgroupsInUse) {
      const g = pool.groupIds.get(netgroup)
      if (g !== undefined) perGroup[g]!++
    }
  }
  const tie = options.draws[count]
  const offset = tie === undefined || !(tie > 0) ? 0 : Math.min(pool.n - 1, Math.floor(tie * pool.n))
  const heap = makeHeap(pool, offset)
  let deferred: Array<number> = []
  let limit = step
  const raiseLimit = () => {
    limit += step
    for (const i of deferred) heap.push(i)
    deferred = []
  }
  const admissible = (i: number) => picked[i] === 0 && perGroup[pool.group[i]!]! < limit

  const exploit = (): number => {
    for (;;) {
      if (heap.size === 0) {
        if (deferred.length === 0) return -1
        raiseLimit()
        continue
      }
      const i = heap.pop()
      if (picked[i] === 1) continue
      if (perGroup[pool.group[i]!]! >= limit) {
        deferred.push(i)
        continue
      }
      return i
    }
  }

  const explore = (u: number): number => {
    let m = 0
    for (;;) {
      for (let i = 0; i < pool.n; i++) if (admissible(i)) m++
      if (m > 0) break
      raiseLimit()
    }
    let target = Math.min(m - 1, Math.floor((u / epsilon) * m))
    for (let i = 0; i < pool.n; i++) {
      if (!admissible(i)) continue
      if (target === 0) return i
      target--
    }
    return -1
  }

  const want = Math.min(count, pool.n)
  for (let p = 0; p < want; p++) {
    const raw = options.draws[p]
    const u = raw === undefined || Number.isNaN(raw) ? 1 : Math.max(0, raw)
    const exploring = u < epsilon
    const i = exploring ? explore(u) : exploit()
    if (i < 0) break
    picked[i] = 1
    perGroup[pool.group[i]!]!++
    picks.push({ ...toCandidate(pool, i), kind: exploring ? "explore" : "exploit" })
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

/**
 * The order in which to redial known peers: relay-capable peers first (flag or circuit relay v2 hop
 * protocol — a node behind NAT needs one to be reachable), then by quality (highest first), then by
 * peer key. Only eligible peers (see the module docs), each with its best dialable address.
 * Deterministic; no randomness and no netgroup rule (apply {@link select} for those). O(n log n).
 *
 * @since 0.1.0
 */
export const reconnectOrder: {
  (options: ReconnectOptions): (self: PeerTable.PeerTable) => Array<Candidate & { readonly relay: boolean }>
  (self: PeerTable.PeerTable, options: ReconnectOptions): Array<Candidate & { readonly relay: boolean }>
} = dual(2, (self: PeerTable.PeerTable, options: ReconnectOptions) => {
  const pool = collect(self, options)
  const order = Array.from({ length: pool.n }, (_, i) => i)
  order.sort((a, b) => {
    const ra = pool.relay[a]!
    const rb = pool.relay[b]!
    if (ra !== rb) return ra ? -1 : 1
    const qa = pool.quality[a]!
    const qb = pool.quality[b]!
    if (qa !== qb) return qb - qa
    const ka = pool.keys[a]!
    const kb = pool.keys[b]!
    return ka < kb ? -1 : ka > kb ? 1 : 0
  })
  const limit = options.limit === undefined ? order.length : Math.max(0, Math.floor(options.limit))
  return order.slice(0, limit).map((i) => ({ ...toCandidate(pool, i), relay: pool.relay[i]! }))
})
