/**
 * The candidate side of the bootstrap machine: which cached peers count as usable, which ones a warm
 * start avoids, and how a batch of selection picks becomes dialable candidates.
 */
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as PeerAddress from "../PeerAddress.js"
import * as PeerRecord from "../PeerRecord.js"
import * as PeerTable from "../PeerTable.js"
import * as Prune from "../Prune.js"
import * as Score from "../Score.js"
import * as Selection from "../Selection.js"
import * as Core from "./peerTableCore.js"
import * as SelectionPool from "./selectionPool.js"

/** Consecutive failures from which an address is not usable (Bitcoin Core addrman `ADDRMAN_RETRIES`). */
export const TERRIBLE_STREAK: number = Prune.defaults.maxConsecutiveFailures

/** What the candidate rules need to know of the dialer and the dial policy. */
export interface Eligibility {
  readonly dialPolicy: PeerAddress.DialPolicy
  readonly supports: (address: PeerAddress.PeerAddress) => boolean
}

/** A dialable, supported address that has failed fewer than {@link TERRIBLE_STREAK} times in a row. */
export const usableAddress = (r: PeerRecord.AddressRecord, e: Eligibility): boolean =>
  PeerAddress.isDialable(r.address, e.dialPolicy) && e.supports(r.address) && r.consecutiveFailures < TERRIBLE_STREAK

/**
 * What the candidate rules need of one table under one eligibility, from one pass over it: how many
 * peers have a usable address, how many are known-good (a usable address whose last dial succeeded),
 * and the peers all of whose usable addresses are failing, each with the oldest last failure (epoch
 * ms) among them — every one of its usable addresses failed at or after that time.
 */
interface Usage {
  readonly allowLoopback: boolean
  readonly allowPrivate: boolean
  readonly supports: (address: PeerAddress.PeerAddress) => boolean
  readonly usable: number
  readonly good: number
  readonly failingKeys: ReadonlyArray<string>
  readonly failingSince: ReadonlyArray<number>
}

/**
 * The usage of `table`, from the selection's pool of it (its peers with a dialable, supported address,
 * as an array): the pass over the table is the one the first selection makes anyway, and a table
 * whose peers the dialer mostly cannot dial costs the few it can. `now` only scores the pool (a
 * selection at another time rescores it from its arrays); the usage does not depend on it. Kept with
 * the table (`memoOf`: a table is immutable, so its usage under one eligibility never changes, and a
 * start that counts the usable peers then looks for recently failed ones asks once).
 */
const usageOf = (table: PeerTable.PeerTable, e: Eligibility, now: number): Usage => {
  const allowLoopback = e.dialPolicy.allowLoopback === true
  const allowPrivate = e.dialPolicy.allowPrivate === true
  // The empty table (a module constant) keeps nothing.
  const memo: Core.Memo = HashMap.size(table.peers) === 0 ? { pool: undefined, usage: undefined } : Core.memoOf(table)
  const cached = memo.usage as Usage | undefined
  if (cached !== undefined && cached.allowLoopback === allowLoopback && cached.allowPrivate === allowPrivate && cached.supports === e.supports) {
    return cached
  }
  let usable = 0
  let good = 0
  const failingKeys: Array<string> = []
  const failingSince: Array<number> = []
  const pool = SelectionPool.poolOf(table, { now, dialPolicy: e.dialPolicy, supports: e.supports })
  for (let i = 0; i < pool.n; i++) {
    const peer = pool.peers[i]!
    const addresses = peer.addresses
    let any = false
    let isGood = false
    let failing = true
    let since = Number.POSITIVE_INFINITY
    for (let j = 0; j < addresses.length; j++) {
      const r = addresses[j]!
      if (r.consecutiveFailures >= TERRIBLE_STREAK || !PeerAddress.isDialableWith(r.address, allowLoopback, allowPrivate) || !e.supports(r.address)) {
        continue
      }
      any = true
      if (r.successes > 0 && r.consecutiveFailures === 0) isGood = true
      if (r.consecutiveFailures > 0 && r.lastFailure._tag === "Some") since = Math.min(since, r.lastFailure.value)
      else failing = false
    }
    if (!any) continue
    usable++
    if (isGood) good++
    else if (failing) {
      const key = keyOf(peer)
      if (key !== undefined) {
        failingKeys.push(key)
        failingSince.push(since)
      }
    }
  }
  const usage: Usage = { allowLoopback, allowPrivate, supports: e.supports, usable, good, failingKeys, failingSince }
  memo.usage = usage
  return usage
}

/**
 * Peers of `table` with at least one usable address. Shares its pass over the table with
 * {@link recentlyFailed} and the selections; `now` (epoch ms, default 0) is when they will select.
 */
export const countUsable = (table: PeerTable.PeerTable, e: Eligibility, now = 0): number => usageOf(table, e, now).usable

/** The peer key a table stores `peer` under. */
export const keyOf = (peer: PeerRecord.PeerRecord): string | undefined => {
  const first = peer.addresses[0]
  return first === undefined ? undefined : PeerRecord.peerKey(peer.peerId, first.address)
}

/**
 * The peers a warm start leaves out of its selections: those whose every usable address last failed
 * less than `recentMs` before `now`, provided the table holds at least `target` known-good peers (a
 * usable address whose last dial succeeded). Without enough known-good peers nothing is avoided: the
 * recently failed peers are then still worth a dial. Costs the failing peers, not the table, once
 * {@link countUsable} has seen it.
 */
export const recentlyFailed = (
  table: PeerTable.PeerTable,
  e: Eligibility,
  target: number,
  now: number,
  recentMs: number
): ReadonlySet<string> => {
  const usage = usageOf(table, e, now)
  const failed = new Set<string>()
  if (usage.good < target) return failed
  for (let j = 0; j < usage.failingKeys.length; j++) {
    if (now - usage.failingSince[j]! < recentMs) failed.add(usage.failingKeys[j]!)
  }
  return failed
}

/** A peer chosen for a dial: its key, the address to dial and that address's measured set-up time (ms). */
export interface Candidate {
  readonly peerKey: string
  readonly address: PeerAddress.PeerAddress
  readonly expectedMs: number | undefined
}

/**
 * The address of a pick the dialer can dial (selection knows the dial policy, not the transports),
 * with its smoothed set-up time, or none.
 */
export const toCandidate = (pick: Selection.Candidate, e: Eligibility, now: number): Candidate | undefined => {
  const address = e.supports(pick.address)
    ? pick.address
    : Option.getOrUndefined(Option.map(
      Score.best(pick.peer, now, Score.defaults, (r) => PeerAddress.isDialable(r.address, e.dialPolicy) && e.supports(r.address)),
      (b) => b.record.address
    ))
  if (address === undefined) return undefined
  const record = pick.peer.addresses.find((r) => r.address.key === address.key)
  const expectedMs = record === undefined ? undefined : Option.getOrUndefined(record.rttMs)
  return { peerKey: pick.peerKey, address, expectedMs }
}

/**
 * The peers of `table` that are new relative to `known` (address keys), as a table of their own, and
 * how many of them have a usable address and are not in `attempted`.
 */
export const newPeers = (
  answered: ReadonlyArray<{ readonly address: PeerAddress.PeerAddress; readonly url: string }>,
  known: ReadonlySet<string>,
  attempted: ReadonlySet<string>,
  e: Eligibility,
  now: number
): { readonly table: PeerTable.PeerTable; readonly usable: number } => {
  let table = PeerTable.empty
  for (const { address, url } of answered) {
    if (!known.has(address.key)) table = PeerTable.add(table, address, { now, source: { _tag: "endpoint", url } })
  }
  let usable = 0
  for (const peer of PeerTable.peers(table)) {
    const key = keyOf(peer)
    if (key === undefined || attempted.has(key)) continue
    if (peer.addresses.some((r) => usableAddress(r, e))) usable++
  }
  return { table, usable }
}
