/**
 * `Prune.pruneIncremental`: a prune that, after a few changes to a table it has seen, proves in
 * O(changes) that the full prune would remove nothing, and only otherwise runs it.
 *
 * The full prune ({@link runPrune}) returns its input unchanged, with no removal, when all of these
 * hold (each step of `Prune`'s module docs then has nothing to do):
 *
 * - no peer holds more than `maxAddressesPerPeer` addresses (step 3);
 * - when the bad-address rules are active (`working ≥ minWorkingPeers`), no address is `failing` or
 *   `unreliable` (counters only: time does not change them) and none is `stale`: every address's
 *   `lastSeen` (else its peer's) is after `now − staleAfterMs` (steps 2 and 5);
 * - no netgroup holds more than `maxPeersPerNetgroup` tried peers and no (source group, netgroup)
 *   bucket more than `maxNewPerBucket` new ones (steps 6 and 7). A peer counts in the netgroup of its
 *   best address, which depends on `now`; the summary counts it in every netgroup it has an address
 *   in, an upper bound that holds whichever address is best;
 * - the table holds at most `capacity` peers (step 8).
 *
 * Protection (step 4) only spares peers from removals, so it changes nothing when there are none.
 * Working, tried, source group and the counters are facts of a record alone, so the summary of a
 * table is a sum over its peers: the summary of a changed table is the remembered one, minus the old
 * records of the changed peers, plus their new records. Only the earliest `lastSeen` is not a sum:
 * the remembered minimum (over the old records too) bounds the unchanged peers' from below, which can
 * only send a prune to the full path, never skip one. Anything the shortcut cannot prove — a removal
 * due, other rules, a key added or removed, too many changes — takes the full prune, and the memo is
 * rebuilt from its result when it kept the table.
 *
 * @internal
 */
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import type { Config, Result } from "../Prune.js"
import * as PeerRecord from "../PeerRecord.js"
import * as PeerTable from "../PeerTable.js"
import type * as Score from "../Score.js"
import { changedKeys } from "./hashMapDiff.js"
import { isWorkingAddress } from "./pruneAddress.js"
import { runPrune } from "./prunePass.js"

/** Beyond this many peers changed since the memo's table, the summary is taken again. */
const MAX_CHANGED = 4_096

/** The sums over a table's peers that decide whether a prune has anything to do (see the module docs). */
interface Summary {
  readonly working: number
  /** Peers with a `failing` or `unreliable` address. */
  readonly counterBad: number
  /** Peers over `maxAddressesPerPeer`. */
  readonly overCap: number
  /** The earliest `lastSeen` (of an address, else of its peer) of any address. */
  readonly minSeen: number
  /** Per group (`t <netgroup>` for tried peers, `n <source group> <netgroup>` for new ones): an upper bound of its peers. */
  readonly groups: ReadonlyMap<string, number>
  /** Groups whose bound is over their cap. */
  readonly overfull: number
}

/** What a prune remembers: the table it last saw, under which rules, and its summary. */
export interface Memo {
  readonly table: PeerTable.PeerTable
  readonly config: Config
  readonly summary: Summary
}

/** One peer's part of a {@link Summary}. */
interface Facts {
  readonly working: boolean
  readonly counterBad: boolean
  readonly overCap: boolean
  readonly minSeen: number
  readonly groups: ReadonlyArray<string>
}

const factsOf = (peer: PeerRecord.PeerRecord, config: Config): Facts => {
  let working = false
  let counterBad = false
  let tried = false
  let minSeen = Number.POSITIVE_INFINITY
  const netgroups: Array<string> = []
  for (const r of peer.addresses) {
    if (!working && isWorkingAddress(r)) working = true
    if (r.successes > 0) tried = true
    if (
      r.consecutiveFailures >= config.maxConsecutiveFailures ||
      (r.successes + r.failures >= config.unreliableMinAttempts && r.failures > r.successes)
    ) counterBad = true
    const seen = Option.getOrElse(r.lastSeen, () => peer.lastSeen)
    if (seen < minSeen) minSeen = seen
    if (!netgroups.includes(r.address.netgroup)) netgroups.push(r.address.netgroup)
  }
  if (netgroups.length === 0) netgroups.push("")
  const prefix = tried ? "t " : `n ${PeerRecord.sourceGroupOf(peer)} `
  return {
    working,
    counterBad,
    overCap: peer.addresses.length > config.maxAddressesPerPeer,
    minSeen,
    groups: netgroups.map((g) => prefix + g)
  }
}

const capOf = (group: string, config: Config): number => (group.charCodeAt(0) === 116 /* t */ ? config.maxPeersPerNetgroup : config.maxNewPerBucket)

/** The summary of a whole table: one pass. */
const summarize = (table: PeerTable.PeerTable, config: Config): Summary => {
  const steps = summarySteps(table, config, Number.POSITIVE_INFINITY)
  for (;;) {
    const next = steps.next()
    if (next.done === true) return next.value
  }
}

/**
 * {@link summarize} a slice at a time: pauses (yields the peers summed so far) after every `perStep`
 * peers; returns the same summary.
 */
export function* summarySteps(table: PeerTable.PeerTable, config: Config, perStep: number): Generator<number, Summary, void> {
  let working = 0
  let counterBad = 0
  let overCap = 0
  let minSeen = Number.POSITIVE_INFINITY
  let seen = 0
  const groups = new Map<string, number>()
  for (const peer of HashMap.values(table.peers)) {
    const f = factsOf(peer, config)
    if (f.working) working++
    if (f.counterBad) counterBad++
    if (f.overCap) overCap++
    if (f.minSeen < minSeen) minSeen = f.minSeen
    for (const g of f.groups) groups.set(g, (groups.get(g) ?? 0) + 1)
    if (++seen % perStep === 0) yield seen
  }
  let overfull = 0
  for (const [g, n] of groups) if (n > capOf(g, config)) overfull++
  return { working, counterBad, overCap, minSeen, groups, overfull }
}

/** The memo {@link pruneIncremental} would keep after pruning `table` under `config`, a slice at a time. */
export function* memoSteps(table: PeerTable.PeerTable, config: Config, perStep: number): Generator<number, Memo, void> {
  const summary = yield* summarySteps(table, config, perStep)
  return { table, config, summary }
}

/**
 * The summary of `table`, the memo's table with the peers `changed` replaced, given the memo's
 * summary: its sums patched, and `overfull` counted anew for the groups the changes touch. (Its
 * `groups` stay the memo's: the next prune patches the memo again, never this summary.)
 */
const patched = (memo: Memo, table: PeerTable.PeerTable, changed: ReadonlyArray<string>): Summary => {
  const s = memo.summary
  const config = memo.config
  let { counterBad, minSeen, overCap, overfull, working } = s
  const delta = new Map<string, number>()
  const count = (f: Facts, by: 1 | -1) => {
    if (f.working) working += by
    if (f.counterBad) counterBad += by
    if (f.overCap) overCap += by
    for (const g of f.groups) delta.set(g, (delta.get(g) ?? 0) + by)
  }
  for (const key of changed) {
    count(factsOf(HashMap.unsafeGet(memo.table.peers, key), config), -1)
    const next = factsOf(HashMap.unsafeGet(table.peers, key), config)
    count(next, 1)
    if (next.minSeen < minSeen) minSeen = next.minSeen
  }
  for (const [g, d] of delta) {
    const before = s.groups.get(g) ?? 0
    const cap = capOf(g, config)
    overfull += (before + d > cap ? 1 : 0) - (before > cap ? 1 : 0)
  }
  return { working, counterBad, overCap, minSeen, groups: s.groups, overfull }
}

/** Whether the full prune of a table with this summary, at `now`, removes nothing (see the module docs). */
const nothingToDo = (s: Summary, size: number, now: number, config: Config): boolean => {
  if (s.overCap > 0 || s.overfull > 0 || size > config.capacity) return false
  if (s.working < config.minWorkingPeers) return true
  return s.counterBad === 0 && s.minSeen > now - config.staleAfterMs
}

const sameRules = (a: Config, b: Config): boolean =>
  a === b || (
    a.maxConsecutiveFailures === b.maxConsecutiveFailures && a.minWorkingPeers === b.minWorkingPeers &&
    a.unreliableMinAttempts === b.unreliableMinAttempts && a.staleAfterMs === b.staleAfterMs && a.capacity === b.capacity &&
    a.maxPeersPerNetgroup === b.maxPeersPerNetgroup && a.maxAddressesPerPeer === b.maxAddressesPerPeer &&
    a.maxNewPerBucket === b.maxNewPerBucket && a.minCandidates === b.minCandidates
  )

/** `Prune.pruneIncremental` with every argument given. */
export const pruneIncremental = (
  memo: Memo | undefined,
  table: PeerTable.PeerTable,
  now: number,
  config: Config,
  score: Score.Config): { readonly result: Result; readonly memo: Memo | undefined } => {
  const changed = memo === undefined || !sameRules(memo.config, config)
    ? undefined
    : memo.table === table ? [] : changedKeys(memo.table.peers, table.peers, MAX_CHANGED)
  const summary = changed === undefined ? summarize(table, config) : patched(memo!, table, changed)
  // The memo's table stays the reference while the changes since are few (the diff is against it).
  const next: Memo = changed === undefined ? { table, config, summary } : memo!
  if (nothingToDo(summary, PeerTable.size(table), now, config)) return { result: { table, removed: [] }, memo: next }
  const result = runPrune(table, now, config, score)
  return { result, memo: result.table === table ? next : undefined }
}
