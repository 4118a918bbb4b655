/**
 * One run of {@link Prune.prune}: the passes over the table, then the peer-level steps in order
 * (bad peers, tried netgroup cap, new bucket cap, capacity), then one transient batch for every change.
 *
 * @internal
 */
import * as HashMap from "effect/HashMap"
import type { Config, Reason, Removal, Result } from "../Prune.js"
import type * as PeerRecord from "../PeerRecord.js"
import * as PeerTable from "../PeerTable.js"
import type * as Score from "../Score.js"
import { describe, isWorking } from "./pruneAddress.js"
import { type Entry, evictionOrder, firstIn, LazyRemoval, scoreEntry } from "./pruneEntry.js"
import { capGroups, fairShare, protect, trimPeer } from "./pruneSteps.js"

/** What the peer-level steps share: the entries, the protected keys, and the evictions so far. */
interface Run {
  readonly now: number
  readonly config: Config
  readonly entries: ReadonlyArray<Entry>
  readonly protectedKeys: ReadonlySet<string>
  readonly gone: Set<string>
  readonly removed: Array<Removal>
}

const evict = (run: Run, e: Entry, reason: Reason, explain: () => string): void => {
  run.gone.add(e.key)
  run.removed.push(new LazyRemoval(e.key, e.peer.addresses, true, reason, explain))
}

const alive = (run: Run, e: Entry): boolean => !run.gone.has(e.key)

/** Bad peers: failing and unreliable ones all; stale ones only down to the floor of candidates. */
const evictBadPeers = (run: Run): void => {
  const { config, entries, now, protectedKeys } = run
  const hardBad: Array<Entry> = []
  const stale: Array<Entry> = []
  for (const e of entries) {
    if (e.bad === undefined || protectedKeys.has(e.key)) continue
    ;(e.bad === "stale" ? stale : hardBad).push(e)
  }
  const candidates = entries.length - hardBad.length
  const staleToEvict = Math.min(stale.length, Math.max(0, candidates - config.minCandidates))
  const badPeers = hardBad.concat(firstIn(stale, staleToEvict, evictionOrder)).sort(evictionOrder)
  for (const e of badPeers) evict(run, e, e.bad!, () => describe(e.bad!, e.peer.addresses, e.peer, now, config))
}

/** The tried netgroup cap and the new bucket cap. */
const capNetgroupsAndBuckets = (run: Run): void => {
  const { config, entries, protectedKeys } = run
  // Tried peers per netgroup (addrman's tried buckets are chosen by the address's group).
  capGroups(
    entries.filter((e) => e.tried && alive(run, e)),
    (e) => e.netgroup,
    config.maxPeersPerNetgroup,
    protectedKeys,
    (e, n, g) =>
      evict(run, e, "netgroup-cap", () =>
        `netgroup ${g} holds ${n} peers that answered (limit ${config.maxPeersPerNetgroup}); quality ${e.quality.toFixed(3)}`)
  )
  // New peers per (source group, netgroup) (addrman's new buckets are chosen by both).
  capGroups(
    entries.filter((e) => !e.tried && alive(run, e)),
    (e) => `${e.source} ${e.netgroup}`,
    config.maxNewPerBucket,
    protectedKeys,
    (e, n) =>
      evict(run, e, "bucket-cap", () =>
        `source ${e.source} lists ${n} never-answered peers in netgroup ${e.netgroup} (limit ${config.maxNewPerBucket}); quality ${e.quality.toFixed(3)}`)
  )
}

/** Capacity: new peers first, fullest buckets first; tried peers only when no new one is left. */
const evictForCapacity = (run: Run): void => {
  const { config, entries, protectedKeys } = run
  const size = entries.length - run.gone.size
  if (size <= config.capacity) return
  const explain = (e: Entry) => () =>
    `table holds ${size} peers (capacity ${config.capacity}); ${e.tried ? "answered" : "never answered"}, quality ${e.quality.toFixed(3)}`
  let excess = size - config.capacity
  const fresh = entries.filter((e) => !e.tried && alive(run, e) && !protectedKeys.has(e.key))
  const fromFresh = fresh.length <= excess ? fresh.sort(evictionOrder) : fairShare(fresh, excess)
  for (const e of fromFresh) evict(run, e, "capacity", explain(e))
  excess -= fromFresh.length
  if (excess > 0) {
    const tried = entries.filter((e) => e.tried && alive(run, e) && !protectedKeys.has(e.key))
    for (const e of firstIn(tried, excess, evictionOrder)) evict(run, e, "capacity", explain(e))
  }
}

/** `Prune.prune` with every argument given. */
export const runPrune = (self: PeerTable.PeerTable, now: number, config: Config, score: Score.Config): Result => {
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

  const state: Run = { now, config, entries, protectedKeys: protect(entries, config), gone: new Set(), removed }
  evictBadPeers(state)
  capNetgroupsAndBuckets(state)
  evictForCapacity(state)

  // One transient batch for every change (no path copy per removed peer).
  const { gone } = state
  const table = replaced.size === 0 && gone.size === 0 ? self : PeerTable.mutate(self, (t) => {
    for (const [key, peer] of replaced) if (!gone.has(key)) t = PeerTable.replacePeer(t, key, peer)
    for (const key of gone) t = PeerTable.removePeer(t, key)
    return t
  })
  return { table, removed }
}
