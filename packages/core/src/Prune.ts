/**
 * Pruning and capacity: which peers and addresses a cache forgets, and why. A pure function
 * `(table, now, config) => { table, removed }`, so the store applies it on flush and the CLI's
 * `prune --dry-run` prints `removed` without applying it.
 *
 * Definitions (all checked against `now`, epoch ms):
 *
 * - A **working address** is one whose last outcome was a success: it has a `lastSuccess` and no
 *   failure since (`consecutiveFailures = 0`). A **working peer** has at least one working address.
 * - A **bad address** is, in this order of precedence:
 *   `failing` — `consecutiveFailures ≥ maxConsecutiveFailures` (addrman `IsTerrible`: "tried N times
 *   and never a success", N = 3, and "N successive failures"; here one streak rule for both);
 *   `unreliable` — at least `unreliableMinAttempts` dials and more failures than successes (issue 3's
 *   rule; addrman has no counterpart);
 *   `stale` — not seen for `staleAfterMs` or more: `now − lastSeen ≥ staleAfterMs`, where `lastSeen`
 *   is the address's (else its peer's) last time heard of from a source or reached (a failed dial does
 *   not count as seen). A `lastSeen` after `now` (a clock set back) is never stale. Addrman's
 *   `IsTerrible` "not seen in recent history" is the same test against the current time
 *   (`ADDRMAN_HORIZON`, 30 days there; 7 by default here).
 *
 * Staleness is measured from `now`, as the rule reads — not from the newest entry of the table. A
 * table-relative reference looks like protection for a node that slept for a month, but is none: a
 * bootstrap prunes after dialing, and the first peer it reaches is seen at `now`, which moves the
 * newest entry to `now`; it would only make `prune --dry-run` on an idle cache disagree with the
 * next flush. The consequence, stated plainly: a node offline for longer than `staleAfterMs` keeps,
 * after its first prune, the peers it reached or heard of again (its endpoints relist the live ones)
 * and the working peers the minimum-working-peer rule protects; raise `staleAfterMs` where a node is
 * expected to sleep longer than that while its endpoints may be down.
 *
 * A peer is **tried** when one of its addresses ever answered ({@link PeerRecord.isTried}), else
 * **new** — Bitcoin Core addrman's tried/new split, derived from the counters. New peers are grouped
 * by **source group** ({@link PeerRecord.sourceGroupOf}: an endpoint's host, an import file, the
 * peer that told us). The rules below keep one source from filling the table (addrman buckets new
 * addresses by (source group, address group)) and keep addresses that never answered from crowding
 * out ones that did (addrman's tried table is apart from its new table).
 *
 * The steps, in order:
 *
 * 1. **The minimum-working-peer guard.** Bad-address rules apply only when the table holds at least
 *    `minWorkingPeers` working peers. With fewer, the node itself is probably offline and its
 *    failures say nothing about the peers, so nothing is removed for being bad.
 * 2. **Bad addresses first.** A peer with a bad address and a good one loses the bad one and is kept,
 *    as long as it keeps a working address if it had one. A peer whose addresses are all bad is a
 *    removal candidate, under its most severe reason.
 * 3. **Address cap.** A peer keeps at most `maxAddressesPerPeer` addresses: the most recently
 *    successful first, except that working addresses come before all others — an address that
 *    succeeded last week and failed since is kept after one whose last dial, a month ago, succeeded,
 *    since dropping a peer's only working address would make a working peer non-working behind the
 *    minimum-working-peer rule's back. Then the most recently seen, then the address key.
 * 4. **Protection.** The best `minWorkingPeers` working peers (by quality, at most
 *    `maxPeersPerNetgroup` per netgroup, at most `capacity`) are never removed by any later step, so
 *    pruning never leaves fewer working peers than the minimum when that many existed (and the caps
 *    leave room for them).
 * 5. **Bad peers.** Unprotected `failing` and `unreliable` candidates of step 2 are removed. `stale`
 *    ones are removed only down to a **floor**: staleness alone never leaves fewer than
 *    `minCandidates` peers (counting every peer not removed as failing or unreliable); when it would,
 *    the stale peers kept are the best ones in eviction order's reverse (the most recently heard of).
 *    An imported list that is never relisted therefore shrinks to the floor, not to nothing.
 * 6. **Tried netgroup cap**: at most `maxPeersPerNetgroup` tried peers per netgroup; a peer counts
 *    in the netgroup of its best address.
 * 7. **New bucket cap**: at most `maxNewPerBucket` new peers per (source group, netgroup), so a
 *    single source flooding one /16 holds at most that many, while a real crawl's hosting /16s (999
 *    peers in one /16 of an IPFS crawl) fit.
 * 8. **Capacity**: at most `capacity` peers. New peers go first, fairly across the buckets of
 *    step 7: the fullest (source group, netgroup) buckets give up peers first, down to a common
 *    level (addrman evicts within the bucket a new address lands in). Tried peers are evicted only
 *    when no new peer is left. A source that floods a full table from a few /16s therefore loses its
 *    own addresses first, a crawl spread over many /16s keeps its peers, and no peer that answered
 *    makes room for one that never did.
 *
 * Evictions in steps 5 to 8 take, within a group, the lowest {@link Score.peer} quality first, then
 * the least recently seen, then the greater peer key (so the result is deterministic). Cost: one
 * pass over the table, scoring every peer; only what a step must order is sorted; every change is
 * applied in one transient batch (`PeerTable.mutate`), and a removal's `detail` sentence is written
 * only when read, so evicting ten thousand peers costs about one more pass, not ten thousand
 * persistent updates and messages.
 *
 * @since 0.1.0
 */
import { dual } from "effect/Function"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as PeerAddress from "./PeerAddress.js"
import * as PeerRecord from "./PeerRecord.js"
import * as PeerTable from "./PeerTable.js"
import * as Score from "./Score.js"

/**
 * The pruning rules' constants (see the module docs).
 *
 * - `maxConsecutiveFailures` (dials, ≥ 1): an address failing this many times in a row is `failing`.
 * - `minWorkingPeers` (peers, ≥ 0): the minimum-working-peer rule's M.
 * - `unreliableMinAttempts` (dials, ≥ 1): dials before an address can be `unreliable`.
 * - `staleAfterMs` (ms, > 0): an address (or peer) not seen for this long, `now − lastSeen`, is `stale`.
 * - `capacity` (peers, ≥ 0): the table's maximum size.
 * - `maxPeersPerNetgroup` (peers, ≥ 1): stored tried peers (peers that ever answered) per netgroup
 *   (IPv4 /16, IPv6 /32, DNS name).
 * - `maxAddressesPerPeer` (addresses, ≥ 1).
 * - `maxNewPerBucket` (peers, ≥ 1): stored new peers (never answered) per (source group, netgroup).
 * - `minCandidates` (peers, ≥ 0): the staleness floor: stale peers are removed only down to this
 *   many peers left after the failing and unreliable ones.
 *
 * `maxNewPerBucket` and `minCandidates` may be left out of a decoded configuration (defaults apply).
 *
 * @since 0.1.0
 */
export const Config = Schema.Struct({
  maxConsecutiveFailures: Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)),
  minWorkingPeers: Schema.NonNegativeInt,
  unreliableMinAttempts: Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)),
  staleAfterMs: Schema.Number.pipe(Schema.positive()),
  capacity: Schema.NonNegativeInt,
  maxPeersPerNetgroup: Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)),
  maxAddressesPerPeer: Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)),
  maxNewPerBucket: Schema.optionalWith(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)), {
    default: () => 1_024,
    exact: true
  }),
  minCandidates: Schema.optionalWith(Schema.NonNegativeInt, { default: () => 100, exact: true })
}).annotations({ identifier: "@bootstrap-cache/core/Prune/Config" })

/**
 * @since 0.1.0
 */
export interface Config extends Schema.Schema.Type<typeof Config> {}

/**
 * The defaults.
 *
 * | constant | default | unit | source |
 * |---|---|---|---|
 * | `maxConsecutiveFailures` | 3 | dials | issue 3; addrman `IsTerrible`'s `ADDRMAN_RETRIES` for never-successful addresses |
 * | `minWorkingPeers` | 2 | peers | issue 3, the minimum-working-peer rule |
 * | `unreliableMinAttempts` | 3 | dials | issue 3 |
 * | `staleAfterMs` | 604 800 000 (7 days) | ms | issue 3 (addrman's horizon is 30 days) |
 * | `capacity` | 30 000 | peers | issue 3 |
 * | `maxPeersPerNetgroup` | 256 | peers (tried) | addrman's tried table: 8 buckets × 64 per address group; above the 179 peers of the largest /16 in a real Filecoin crawl (nebula, 2021) |
 * | `maxAddressesPerPeer` | 10 | addresses | the most any peer advertises in that crawl |
 * | `maxNewPerBucket` | 1 024 | peers (new) | above the 999 peers of the largest hosting /16 of a real IPFS crawl; a flooding /16 gets 1 024 of 30 000 |
 * | `minCandidates` | 100 | peers | enough for tens of bootstraps of 5 to 8 dials |
 *
 * @since 0.1.0
 */
export const defaults: Config = {
  maxConsecutiveFailures: 3,
  minWorkingPeers: 2,
  unreliableMinAttempts: 3,
  staleAfterMs: 7 * 24 * 3_600_000,
  capacity: 30_000,
  maxPeersPerNetgroup: 256,
  maxAddressesPerPeer: 10,
  maxNewPerBucket: 1_024,
  minCandidates: 100
}

/**
 * The defaults with some constants replaced.
 *
 * @since 0.1.0
 */
export const makeConfig = (overrides: Partial<Config> = {}): Config => ({ ...defaults, ...overrides })

/**
 * Why something was removed (see the module docs): a bad-address rule (`failing`, `unreliable`,
 * `stale`), the per-peer address cap, the per-netgroup cap, or the capacity.
 *
 * @since 0.1.0
 */
export type Reason = "failing" | "unreliable" | "stale" | "address-cap" | "netgroup-cap" | "bucket-cap" | "capacity"

/**
 * One removal: the peer's key, the addresses removed, whether the whole peer went, the reason, and a
 * sentence with the facts (counts, limits) for `prune --dry-run`.
 *
 * @since 0.1.0
 */
export interface Removal {
  readonly peerKey: string
  readonly addresses: ReadonlyArray<PeerAddress.PeerAddress>
  readonly wholePeer: boolean
  readonly reason: Reason
  readonly detail: string
}

/**
 * The pruned table and what was removed, in the order of the steps.
 *
 * @since 0.1.0
 */
export interface Result {
  readonly table: PeerTable.PeerTable
  readonly removed: ReadonlyArray<Removal>
}

/**
 * Whether an address is working: its last outcome was a success (`lastSuccess` set,
 * `consecutiveFailures = 0`).
 *
 * @since 0.1.0
 */
export const isWorkingAddress = (record: PeerRecord.AddressRecord): boolean =>
  Option.isSome(record.lastSuccess) && record.consecutiveFailures === 0

/**
 * Whether a peer is working: it has a working address.
 *
 * @since 0.1.0
 */
export const isWorking = (peer: PeerRecord.PeerRecord): boolean => peer.addresses.some(isWorkingAddress)

/**
 * Number of working peers in a table. O(n).
 *
 * @since 0.1.0
 */
export const workingPeers = (table: PeerTable.PeerTable): number => {
  let n = 0
  HashMap.forEach(table.peers, (peer) => {
    if (isWorking(peer)) n++
  })
  return n
}

const SEVERITY: Record<"failing" | "unreliable" | "stale", number> = { failing: 3, unreliable: 2, stale: 1 }

const HOUR = 3_600_000

const badReason = (
  record: PeerRecord.AddressRecord,
  peer: PeerRecord.PeerRecord,
  cutoff: number,
  config: Config
): "failing" | "unreliable" | "stale" | undefined => {
  if (record.consecutiveFailures >= config.maxConsecutiveFailures) return "failing"
  const attempts = record.successes + record.failures
  if (attempts >= config.unreliableMinAttempts && record.failures > record.successes) return "unreliable"
  const seen = Option.getOrElse(record.lastSeen, () => peer.lastSeen)
  if (seen <= cutoff) return "stale"
  return undefined
}

const describe = (
  reason: "failing" | "unreliable" | "stale",
  records: ReadonlyArray<PeerRecord.AddressRecord>,
  peer: PeerRecord.PeerRecord,
  now: number,
  config: Config
): string => {
  switch (reason) {
    case "failing": {
      const worst = Math.max(...records.map((r) => r.consecutiveFailures))
      return `${worst} consecutive failed dials (limit ${config.maxConsecutiveFailures})`
    }
    case "unreliable": {
      const f = records.reduce((n, r) => n + r.failures, 0)
      const s = records.reduce((n, r) => n + r.successes, 0)
      return `${f} failed and ${s} successful dials (more failures than successes after ${config.unreliableMinAttempts} or more dials)`
    }
    case "stale": {
      const seen = Math.max(...records.map((r) => Option.getOrElse(r.lastSeen, () => peer.lastSeen)))
      return `not seen for ${Math.round((now - seen) / HOUR)} h (limit ${Math.round(config.staleAfterMs / HOUR)} h)`
    }
  }
}

/** Address order of the address cap: working first, then latest success, then latest seen, then key. */
const addressOrder = (a: PeerRecord.AddressRecord, b: PeerRecord.AddressRecord): number => {
  const wa = isWorkingAddress(a)
  const wb = isWorkingAddress(b)
  if (wa !== wb) return wa ? -1 : 1
  const sa = Option.getOrElse(a.lastSuccess, () => -1)
  const sb = Option.getOrElse(b.lastSuccess, () => -1)
  if (sa !== sb) return sb - sa
  const la = Option.getOrElse(a.lastSeen, () => -1)
  const lb = Option.getOrElse(b.lastSeen, () => -1)
  if (la !== lb) return lb - la
  return a.address.key < b.address.key ? -1 : a.address.key > b.address.key ? 1 : 0
}

interface Entry {
  readonly key: string
  readonly peer: PeerRecord.PeerRecord
  readonly quality: number
  readonly netgroup: string
  readonly working: boolean
  /** Ever answered ({@link PeerRecord.isTried}). */
  readonly tried: boolean
  /** {@link PeerRecord.sourceGroupOf}. */
  readonly source: string
  readonly bad: "failing" | "unreliable" | "stale" | undefined
}

/** Eviction order: lowest quality, then least recently seen, then greater key — first. */
const evictionOrder = (a: Entry, b: Entry): number =>
  a.quality !== b.quality
    ? a.quality - b.quality
    : a.peer.lastSeen !== b.peer.lastSeen
    ? a.peer.lastSeen - b.peer.lastSeen
    : a.key < b.key
    ? 1
    : a.key > b.key
    ? -1
    : 0

/** The reverse of {@link evictionOrder}: the peers kept longest first. */
const keepOrder = (a: Entry, b: Entry): number => evictionOrder(b, a)

/** Sifts down in a heap of entries whose root comes last in `order`. */
const siftLast = (heap: Array<Entry>, size: number, at: number, order: (a: Entry, b: Entry) => number): void => {
  let i = at
  for (;;) {
    const l = 2 * i + 1
    if (l >= size) return
    const r = l + 1
    const c = r < size && order(heap[r]!, heap[l]!) > 0 ? r : l
    if (order(heap[c]!, heap[i]!) <= 0) return
    const t = heap[i]!
    heap[i] = heap[c]!
    heap[c] = t
    i = c
  }
}

/**
 * The first `count` entries in `order`, in that order: a bounded heap when `count` is small next to
 * the candidates (a flush over capacity by a few peers does not sort 30 000), else a sort.
 */
const firstIn = (candidates: Array<Entry>, count: number, order: (a: Entry, b: Entry) => number): Array<Entry> => {
  if (count <= 0) return []
  if (count * 8 >= candidates.length) return candidates.sort(order).slice(0, count)
  const heap: Array<Entry> = candidates.slice(0, count)
  for (let k = (count >> 1) - 1; k >= 0; k--) siftLast(heap, count, k, order)
  for (let i = count; i < candidates.length; i++) {
    const e = candidates[i]!
    if (order(e, heap[0]!) >= 0) continue
    heap[0] = e
    siftLast(heap, count, 0, order)
  }
  return heap.sort(order)
}

/** Whether any of a peer's addresses is bad under the rules (the common answer, no, allocates nothing). */
const hasBadAddress = (peer: PeerRecord.PeerRecord, cutoff: number, config: Config): boolean => {
  const records = peer.addresses
  for (let j = 0; j < records.length; j++) if (badReason(records[j]!, peer, cutoff, config) !== undefined) return true
  return false
}

/** The peer-level quality and netgroup of a peer: those of its best address (as {@link Score.best}). */
const scoreEntry = (
  key: string,
  peer: PeerRecord.PeerRecord,
  bad: Entry["bad"],
  now: number,
  score: Score.Config
): Entry => {
  const records = peer.addresses
  let bestRaw = Number.NEGATIVE_INFINITY
  let best: PeerRecord.AddressRecord | undefined
  let working = false
  let tried = false
  for (let j = 0; j < records.length; j++) {
    const r = records[j]!
    if (!working && isWorkingAddress(r)) working = true
    if (r.successes > 0) tried = true
    const raw = Score.addressTerm(r, now, score)
    if (raw > bestRaw) {
      bestRaw = raw
      best = r
    }
  }
  return {
    key,
    peer,
    quality: best === undefined ? 0 : Score.clamp01(bestRaw + Score.capabilityAdjustment(peer, score)),
    netgroup: best === undefined ? "" : best.address.netgroup,
    working,
    tried,
    source: PeerRecord.sourceGroupOf(peer),
    bad
  }
}

/** A removal whose `detail` sentence is written only when read (a flood evicts thousands). */
class LazyRemoval implements Removal {
  readonly #records: ReadonlyArray<PeerRecord.AddressRecord>
  readonly #explain: () => string
  #addresses: ReadonlyArray<PeerAddress.PeerAddress> | undefined
  #detail: string | undefined
  constructor(
    readonly peerKey: string,
    records: ReadonlyArray<PeerRecord.AddressRecord>,
    readonly wholePeer: boolean,
    readonly reason: Reason,
    explain: () => string
  ) {
    this.#records = records
    this.#explain = explain
  }
  get addresses(): ReadonlyArray<PeerAddress.PeerAddress> {
    return (this.#addresses ??= this.#records.map((r) => r.address))
  }
  get detail(): string {
    return (this.#detail ??= this.#explain())
  }
  toJSON() {
    return { peerKey: this.peerKey, addresses: this.addresses, wholePeer: this.wholePeer, reason: this.reason, detail: this.detail }
  }
}

/** Pass 2 for one peer: its bad addresses and the address cap. Returns the peer as kept and its bad reason. */
const trimPeer = (
  key: string,
  original: PeerRecord.PeerRecord,
  rulesActive: boolean,
  cutoff: number,
  now: number,
  config: Config,
  removed: Array<Removal>
): { readonly peer: PeerRecord.PeerRecord; readonly bad: Entry["bad"] } => {
  let peer = original
  let bad: Entry["bad"]
  if (rulesActive && hasBadAddress(peer, cutoff, config)) {
    const reasons = peer.addresses.map((r) => badReason(r, peer, cutoff, config))
    const good = peer.addresses.filter((_, i) => reasons[i] === undefined)
    if (good.length === 0) {
      for (const r of reasons) if (r !== undefined && (bad === undefined || SEVERITY[r] > SEVERITY[bad])) bad = r
    } else if (!isWorking(peer) || good.some(isWorkingAddress)) {
      const byReason = new Map<"failing" | "unreliable" | "stale", Array<PeerRecord.AddressRecord>>()
      peer.addresses.forEach((r, i) => {
        const reason = reasons[i]
        if (reason === undefined) return
        const list = byReason.get(reason) ?? []
        list.push(r)
        byReason.set(reason, list)
      })
      const before = peer
      for (const [reason, records] of byReason) {
        removed.push(new LazyRemoval(key, records, false, reason, () => describe(reason, records, before, now, config)))
      }
      peer = { ...peer, addresses: good }
    }
  }
  if (peer.addresses.length > config.maxAddressesPerPeer) {
    const sorted = [...peer.addresses].sort(addressOrder)
    const total = peer.addresses.length
    removed.push(
      new LazyRemoval(
        key,
        sorted.slice(config.maxAddressesPerPeer),
        false,
        "address-cap",
        () => `keeps the ${config.maxAddressesPerPeer} most recently successful of ${total} addresses`
      )
    )
    peer = { ...peer, addresses: sorted.slice(0, config.maxAddressesPerPeer) }
  }
  return { peer, bad }
}

/** The best `minWorkingPeers` working peers, at most `maxPeersPerNetgroup` per netgroup (step 4). */
const protect = (entries: ReadonlyArray<Entry>, config: Config): Set<string> => {
  const protectedKeys = new Set<string>()
  const toProtect = Math.min(config.minWorkingPeers, config.capacity)
  if (toProtect === 0) return protectedKeys
  const workingEntries = entries.filter((e) => e.working)
  // Only the best few working peers are ordered; all of them only when the netgroup cap skips many.
  let best = firstIn(workingEntries, 2 * toProtect + 8, keepOrder)
  for (;;) {
    const protectedPerGroup = new Map<string, number>()
    protectedKeys.clear()
    for (const e of best) {
      if (protectedKeys.size >= toProtect) break
      const inGroup = protectedPerGroup.get(e.netgroup) ?? 0
      if (inGroup >= config.maxPeersPerNetgroup) continue
      protectedPerGroup.set(e.netgroup, inGroup + 1)
      protectedKeys.add(e.key)
    }
    if (protectedKeys.size >= toProtect || best.length >= workingEntries.length) return protectedKeys
    best = workingEntries.sort(keepOrder)
  }
}

/**
 * Evicts, in eviction order, the unprotected surplus of every group of `candidates` over `cap`
 * (protected peers count in their group but stay).
 */
const capGroups = (
  candidates: ReadonlyArray<Entry>,
  groupOf: (e: Entry) => string,
  cap: number,
  protectedKeys: ReadonlySet<string>,
  evict: (e: Entry, held: number, group: string) => void
): void => {
  const perGroup = new Map<string, number>()
  let overfull = false
  for (const e of candidates) {
    const g = groupOf(e)
    const n = (perGroup.get(g) ?? 0) + 1
    perGroup.set(g, n)
    if (n > cap) overfull = true
  }
  if (!overfull) return
  const inOverfull = candidates
    .filter((e) => !protectedKeys.has(e.key) && perGroup.get(groupOf(e))! > cap)
    .sort(evictionOrder)
  for (const e of inOverfull) {
    const g = groupOf(e)
    const n = perGroup.get(g)!
    if (n <= cap) continue
    perGroup.set(g, n - 1)
    evict(e, n, g)
  }
}

/**
 * The `count` new peers to evict for capacity (fewer than there are), fairly across buckets (source
 * group, netgroup): the fullest buckets give up peers first, down to a common level (water-filling),
 * each bucket's lowest in eviction order first.
 */
const fairShare = (fresh: ReadonlyArray<Entry>, count: number): Array<Entry> => {
  const bySource = new Map<string, Array<Entry>>()
  for (const e of fresh) {
    const bucket = `${e.source} ${e.netgroup}`
    const list = bySource.get(bucket)
    if (list === undefined) bySource.set(bucket, [e])
    else list.push(e)
  }
  const groups = [...bySource.values()]
  const surplus = (level: number) => groups.reduce((n, g) => n + Math.max(0, g.length - level), 0)
  // The lowest level whose surplus fits in `count` (surplus(0) = fresh.length > count, so level ≥ 1).
  let lo = 0
  let hi = groups.reduce((m, g) => Math.max(m, g.length), 0)
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1
    if (surplus(mid) <= count) hi = mid
    else lo = mid
  }
  const level = hi
  const out: Array<Entry> = []
  const next: Array<Entry> = []
  for (const g of groups) {
    if (g.length < level) continue
    // The group's surplus over the level, and its next peer after them (only these are ordered).
    const first = firstIn(g, g.length - level + 1, evictionOrder)
    for (let i = 0; i < first.length - 1; i++) out.push(first[i]!)
    next.push(first[first.length - 1]!)
  }
  // Groups left at the level give up one more each, the lowest of those first, to reach `count`.
  for (const e of firstIn(next, count - out.length, evictionOrder)) out.push(e)
  return out
}

/**
 * Prunes a table at `now` (epoch ms) by the rules of the module docs, returning the new table and
 * every removal with its reason. Never fails; an empty table stays empty. Guarantees, for any input:
 * the result holds at most `capacity` peers, at most `maxPeersPerNetgroup` tried peers per netgroup
 * (beyond protected ones), at most `maxNewPerBucket` new peers per (source group, netgroup), each
 * peer at most `maxAddressesPerPeer` addresses; when the table held `minWorkingPeers` working peers
 * and the caps leave room for them, at least `minWorkingPeers` working peers; and staleness alone
 * never takes it below `minCandidates` peers. A removal's `detail` is written when first read.
 *
 * @example
 * const { table: pruned, removed } = Prune.prune(table, now)
 * pipe(table, Prune.prune(now, Prune.makeConfig({ capacity: 5_000 })))
 *
 * @since 0.1.0
 */
export const prune: {
  (now: number, config?: Config, score?: Score.Config): (self: PeerTable.PeerTable) => Result
  (self: PeerTable.PeerTable, now: number, config?: Config, score?: Score.Config): Result
} = dual(
  (args) => PeerTable.isPeerTable(args[0]),
  (self: PeerTable.PeerTable, now: number, config: Config = defaults, score: Score.Config = Score.defaults): Result => {
    const removed: Array<Removal> = []
    // Pass 1: working peers; the peers, in an array, so the second pass does not walk the HashMap again.
    let working = 0
    const keys: Array<string> = []
    const peers: Array<PeerRecord.PeerRecord> = []
    for (const [key, peer] of HashMap.entries(self.peers)) {
      keys.push(key)
      peers.push(peer)
      if (isWorking(peer)) working++
    }
    // Seen at or before the cutoff: not seen for staleAfterMs or more.
    const cutoff = now - config.staleAfterMs
    const rulesActive = working >= config.minWorkingPeers

    // Pass 2: bad addresses, the address cap, the entries of the peer-level steps.
    const replaced = new Map<string, PeerRecord.PeerRecord>()
    const entries: Array<Entry> = new Array(peers.length)
    for (let p = 0; p < peers.length; p++) {
      const key = keys[p]!
      const { bad, peer } = trimPeer(key, peers[p]!, rulesActive, cutoff, now, config, removed)
      if (peer !== peers[p]) replaced.set(key, peer)
      entries[p] = scoreEntry(key, peer, bad, now, score)
    }
    const protectedKeys = protect(entries, config)

    const gone = new Set<string>()
    const evict = (e: Entry, reason: Reason, explain: () => string) => {
      gone.add(e.key)
      removed.push(new LazyRemoval(e.key, e.peer.addresses, true, reason, explain))
    }
    const alive = (e: Entry) => !gone.has(e.key)

    // Bad peers: failing and unreliable ones all; stale ones only down to the floor of candidates.
    const hardBad: Array<Entry> = []
    const stale: Array<Entry> = []
    for (const e of entries) {
      if (e.bad === undefined || protectedKeys.has(e.key)) continue
      ;(e.bad === "stale" ? stale : hardBad).push(e)
    }
    const candidates = entries.length - hardBad.length
    const staleToEvict = Math.min(stale.length, Math.max(0, candidates - config.minCandidates))
    const badPeers = hardBad.concat(firstIn(stale, staleToEvict, evictionOrder)).sort(evictionOrder)
    for (const e of badPeers) evict(e, e.bad!, () => describe(e.bad!, e.peer.addresses, e.peer, now, config))

    // Tried peers per netgroup (addrman's tried buckets are chosen by the address's group).
    capGroups(entries.filter((e) => e.tried && alive(e)), (e) => e.netgroup, config.maxPeersPerNetgroup, protectedKeys, (e, n, g) =>
      evict(e, "netgroup-cap", () =>
        `netgroup ${g} holds ${n} peers that answered (limit ${config.maxPeersPerNetgroup}); quality ${e.quality.toFixed(3)}`))
    // New peers per (source group, netgroup) (addrman's new buckets are chosen by both).
    capGroups(
      entries.filter((e) => !e.tried && alive(e)),
      (e) => `${e.source} ${e.netgroup}`,
      config.maxNewPerBucket,
      protectedKeys,
      (e, n) =>
        evict(e, "bucket-cap", () =>
          `source ${e.source} lists ${n} never-answered peers in netgroup ${e.netgroup} (limit ${config.maxNewPerBucket}); quality ${e.quality.toFixed(3)}`)
    )

    // Capacity: new peers first, fullest buckets first; tried peers only when no new one is left.
    const size = entries.length - gone.size
    if (size > config.capacity) {
      const explain = (e: Entry) => () =>
        `table holds ${size} peers (capacity ${config.capacity}); ${e.tried ? "answered" : "never answered"}, quality ${e.quality.toFixed(3)}`
      let excess = size - config.capacity
      const fresh = entries.filter((e) => !e.tried && alive(e) && !protectedKeys.has(e.key))
      const fromFresh = fresh.length <= excess ? fresh.sort(evictionOrder) : fairShare(fresh, excess)
      for (const e of fromFresh) evict(e, "capacity", explain(e))
      excess -= fromFresh.length
      if (excess > 0) {
        const tried = entries.filter((e) => e.tried && alive(e) && !protectedKeys.has(e.key))
        for (const e of firstIn(tried, excess, evictionOrder)) evict(e, "capacity", explain(e))
      }
    }

    // One transient batch for every change (no path copy per removed peer).
    const table = replaced.size === 0 && gone.size === 0 ? self : PeerTable.mutate(self, (t) => {
      for (const [key, peer] of replaced) if (!gone.has(key)) t = PeerTable.replacePeer(t, key, peer)
      for (const key of gone) t = PeerTable.removePeer(t, key)
      return t
    })
    return { table, removed }
  }
)
