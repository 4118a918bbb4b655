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
import * as HashMapDiff from "./hashMapDiff.js"
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

/** What {@link Usage.kind} says of a pooled peer. */
const NOT_USABLE = 0
const USABLE = 1
const GOOD = 2
const FAILING = 3

/**
 * What the candidate rules need of one table under one eligibility, per peer of the selection's pool
 * of it (its peers with a dialable, supported address, at the pool's indices): whether the peer has a
 * usable address (`kind`), and if so whether it is known-good (a usable address whose last dial
 * succeeded) or failing (every usable address failing; `since` then holds the oldest last failure,
 * epoch ms, among them: every one of its usable addresses failed at or after that time); with the
 * counts of usable and known-good peers. `peersMap` is the table's peer map it was counted on.
 */
interface Usage {
  readonly peersMap: HashMap.HashMap<string, PeerRecord.PeerRecord>
  readonly usable: number
  readonly good: number
  readonly kind: Uint8Array
  readonly since: Float64Array
}

/** The usage counts of a pool's peer `peer`: its kind, and into `since[i]` its oldest failure when failing. */
const classify = (pool: SelectionPool.Pool, peer: PeerRecord.PeerRecord, since: Float64Array, i: number): number => {
  const addresses = peer.addresses
  const supports = pool.supports
  let any = false
  let isGood = false
  let failing = true
  let oldest = Number.POSITIVE_INFINITY
  for (let j = 0; j < addresses.length; j++) {
    const r = addresses[j]!
    if (r.consecutiveFailures >= TERRIBLE_STREAK || !PeerAddress.isDialableWith(r.address, pool.loopback, pool.priv)) continue
    if (supports !== undefined && !supports(r.address)) continue
    any = true
    if (r.successes > 0 && r.consecutiveFailures === 0) isGood = true
    if (r.consecutiveFailures > 0 && r.lastFailure._tag === "Some") oldest = Math.min(oldest, r.lastFailure.value)
    else failing = false
  }
  if (!any) return NOT_USABLE
  if (isGood) return GOOD
  if (!failing) return USABLE
  since[i] = oldest
  return FAILING
}

/** Counts pool indices [from, to) into `kind` and `since`; returns the usable and the good peers among them. */
const countRange = (pool: SelectionPool.Pool, kind: Uint8Array, since: Float64Array, from: number, to: number): readonly [number, number] => {
  let usable = 0
  let good = 0
  for (let i = from; i < to; i++) {
    const k = classify(pool, pool.peers[i]!, since, i)
    kind[i] = k
    if (k !== NOT_USABLE) usable++
    if (k === GOOD) good++
  }
  return [usable, good]
}

/** The most changed peers a usage is brought up to date for; more, and it is counted again. */
const MAX_USAGE_CHANGES = 256

/**
 * `usage` (counted on an earlier version of the pool's table) brought up to the pool's peer map: only
 * the peers whose records changed are counted again, found by comparing the two persistent maps.
 * Undefined when they differ in more (a derived pool holds the same peers at the same indices, so
 * only records can have changed).
 */
const refreshed = (pool: SelectionPool.Pool, usage: Usage): Usage | undefined => {
  const changed = HashMapDiff.changedKeys(usage.peersMap, pool.peersMap, MAX_USAGE_CHANGES)
  if (changed === undefined) return undefined
  const kind = usage.kind.slice()
  const since = usage.since.slice()
  let usable = usage.usable
  let good = usage.good
  const positions = SelectionPool.positionsOf(pool)
  for (const key of changed) {
    const i = positions.get(key)
    if (i === undefined) continue
    const before = kind[i]!
    const after = classify(pool, HashMap.unsafeGet(pool.peersMap, key), since, i)
    kind[i] = after
    usable += (after !== NOT_USABLE ? 1 : 0) - (before !== NOT_USABLE ? 1 : 0)
    good += (after === GOOD ? 1 : 0) - (before === GOOD ? 1 : 0)
  }
  return { peersMap: pool.peersMap, usable, good, kind, since }
}

/** The pool the rules read for `table` under `e`: the selection's, at `now`. */
const poolFor = (table: PeerTable.PeerTable, e: Eligibility, now: number): SelectionPool.Pool =>
  SelectionPool.poolOf(table, { now, dialPolicy: e.dialPolicy, supports: e.supports })

/**
 * The usage of `table`, from the selection's pool of it: the pass over the table is the one the first
 * selection makes anyway, and a table whose peers the dialer mostly cannot dial costs the few it
 * can. `now` only scores the pool (a selection at another time rescores it from its arrays); the usage
 * does not depend on it. Kept with the pool, whose eligibility it shares: a table asked again costs
 * nothing, and a table a few outcomes away from one counted before (the pool derived from that
 * table's) costs its changed peers.
 */
const usageOf = (table: PeerTable.PeerTable, e: Eligibility, now: number): Usage => {
  const pool = poolFor(table, e, now)
  const kept = pool.usage as Usage | undefined
  if (kept !== undefined && kept.peersMap === pool.peersMap) return kept
  const usage = (kept === undefined ? undefined : refreshed(pool, kept)) ?? countWhole(pool)
  pool.usage = usage
  return usage
}

/** The usage of `pool`, counted whole. */
const countWhole = (pool: SelectionPool.Pool): Usage => {
  const kind = new Uint8Array(pool.n)
  const since = new Float64Array(pool.n)
  const [usable, good] = countRange(pool, kind, since, 0, pool.n)
  return { peersMap: pool.peersMap, usable, good, kind, since }
}

/**
 * Counts the usage of `pool` a slice of `perStep` peers at a time and keeps it with the pool (what
 * {@link countWhole} gives); does nothing when the pool keeps its usage already.
 */
const usageSteps = function*(pool: SelectionPool.Pool, perStep: number): Generator<number, void, void> {
  const kept = pool.usage as Usage | undefined
  if (kept !== undefined && kept.peersMap === pool.peersMap) return
  const kind = new Uint8Array(pool.n)
  const since = new Float64Array(pool.n)
  let usable = 0
  let good = 0
  for (let from = 0; from < pool.n; from += perStep) {
    if (from > 0) yield from
    const [u, g] = countRange(pool, kind, since, from, Math.min(pool.n, from + perStep))
    usable += u
    good += g
  }
  pool.usage = { peersMap: pool.peersMap, usable, good, kind, since } satisfies Usage
}

/**
 * Does now, a slice at a time, what {@link countUsable} and {@link recentlyFailed} on `table` at
 * `now` would do at their first call: the selection's pass over the table (`Selection.poolSteps`),
 * then the usage counts of its pool. Pauses (yields) after every `peersPerStep` peers.
 */
export const usageStepsOf = function*(table: PeerTable.PeerTable, e: Eligibility, now: number, peersPerStep: number): Generator<number, void, void> {
  if (HashMap.size(table.peers) === 0) return
  yield* Selection.poolSteps(table, { now, dialPolicy: e.dialPolicy, supports: e.supports }, peersPerStep)
  yield* usageSteps(poolFor(table, e, now), peersPerStep)
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
  const keys = poolFor(table, e, now).keys
  const { kind, since } = usage
  for (let i = 0; i < kind.length; i++) {
    if (kind[i] === FAILING && now - since[i]! < recentMs) failed.add(keys[i]!)
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
