/**
 * The steps of {@link Prune.prune} over entries: trimming one peer's bad addresses and address cap,
 * protecting the best working peers, capping groups, and the fair share of capacity evictions.
 *
 * @internal
 */
import type { Config, Removal } from "../Prune.js"
import type * as PeerRecord from "../PeerRecord.js"
import { addressOrder, badReason, type BadReason, describe, hasBadAddress, isWorking, isWorkingAddress, SEVERITY } from "./pruneAddress.js"
import { type Entry, evictionOrder, firstIn, keepOrder, LazyRemoval } from "./pruneEntry.js"

/** Pass 2 for one peer: its bad addresses and the address cap. Returns the peer as kept and its bad reason. */
export const trimPeer = (
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
      const byReason = new Map<BadReason, Array<PeerRecord.AddressRecord>>()
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
export const protect = (entries: ReadonlyArray<Entry>, config: Config): Set<string> => {
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
export const capGroups = (
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
export const fairShare = (fresh: ReadonlyArray<Entry>, count: number): Array<Entry> => {
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
