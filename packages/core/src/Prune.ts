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
 *   `unreliable` — at least `unreliableMinAttempts` dials and more failures than successes (the cache
 *   design's rule; addrman has no counterpart);
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
import * as Schema from "effect/Schema"
import type * as PeerAddress from "./PeerAddress.js"
import type * as PeerRecord from "./PeerRecord.js"
import * as PeerTable from "./PeerTable.js"
import * as Score from "./Score.js"
import * as address from "./internal/pruneAddress.js"
import * as incremental from "./internal/pruneIncremental.js"
import { runPrune } from "./internal/prunePass.js"

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
 * | `maxConsecutiveFailures` | 3 | dials | the cache design; addrman `IsTerrible`'s `ADDRMAN_RETRIES` for never-successful addresses |
 * | `minWorkingPeers` | 2 | peers | the cache design's minimum-working-peer rule |
 * | `unreliableMinAttempts` | 3 | dials | the cache design |
 * | `staleAfterMs` | 604 800 000 (7 days) | ms | the cache design (addrman's horizon is 30 days) |
 * | `capacity` | 30 000 | peers | the cache design |
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
export const isWorkingAddress: (record: PeerRecord.AddressRecord) => boolean = address.isWorkingAddress

/**
 * Whether a peer is working: it has a working address.
 *
 * @since 0.1.0
 */
export const isWorking: (peer: PeerRecord.PeerRecord) => boolean = address.isWorking

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
  (self: PeerTable.PeerTable, now: number, config: Config = defaults, score: Score.Config = Score.defaults): Result =>
    runPrune(self, now, config, score)
)

/**
 * What {@link pruneIncremental} remembers of the table it last pruned, for the next prune to start
 * from. Opaque; immutable (a memo can be used again, or by two callers).
 *
 * @since 0.2.0
 */
export interface Memo {
  readonly [MemoTypeId]: typeof MemoTypeId
}

declare const MemoTypeId: unique symbol

/**
 * {@link prune} for a caller that prunes one table again and again after a few changes (the store,
 * on every flush): the same result, and the memo to pass next time. When the memo's table is the
 * same table or an older version of it (same keys, at most a few thousand peers changed), and the
 * rules are the same, it proves from the peers changed since that the full prune would remove
 * nothing — O(changes) instead of a pass that scores 30 000 peers — and otherwise runs
 * {@link prune}. What it checks (every cap, the bad-address rules under the minimum-working-peer
 * guard, staleness at `now`) and why that suffices: `internal/pruneIncremental`. A differential test
 * checks it against {@link prune} on generated tables, changes and times. Never fails.
 *
 * @example
 * let memo: Prune.Memo | undefined
 * const { result, memo: next } = Prune.pruneIncremental(memo, table, now)
 * memo = next
 *
 * @since 0.2.0
 */
export const pruneIncremental = (
  memo: Memo | undefined,
  table: PeerTable.PeerTable,
  now: number,
  config: Config = defaults,
  score: Score.Config = Score.defaults
): { readonly result: Result; readonly memo: Memo | undefined } => {
  const out = incremental.pruneIncremental(memo as incremental.Memo | undefined, table, now, config, score)
  return out as { readonly result: Result; readonly memo: Memo | undefined }
}

/**
 * The memo {@link pruneIncremental} keeps after a pass over `table` under `config` (the sums over
 * every peer that decide whether a prune has anything to do), built a slice of `peersPerStep` peers
 * (default 1,024) at a time, for a caller that must not hold its thread for a whole pass (30 000
 * peers: tens of ms): a generator that pauses (yields the peers summed so far) after every slice and
 * returns the memo. Passing it to {@link pruneIncremental} with `table` or a later version of it
 * gives {@link prune}'s result, as any memo does (a differential test checks it); it does not depend
 * on a time. Never fails.
 *
 * @example
 * const steps = Prune.memoSteps(table)
 * let next = steps.next()
 * while (next.done !== true) next = steps.next() // a turn of the event loop between slices
 * const { result } = Prune.pruneIncremental(next.value, changedTable, now)
 *
 * @since 0.2.0
 */
export const memoSteps = (
  table: PeerTable.PeerTable,
  config: Config = defaults,
  peersPerStep = 1_024
): Generator<number, Memo, void> =>
  incremental.memoSteps(table, config, Math.max(1, Math.floor(peersPerStep))) as unknown as Generator<number, Memo, void>
