/**
 * The dial strategies `SimulatedNetwork` compares: random, this library's selection (greedy and
 * epsilon-greedy), Bitcoin addrman's `GetChance`-weighted pick and UCB1. Each picks peers to dial
 * from the table it learned so far.
 */
import { PeerAddress, PeerRecord, PeerTable, Selection } from "@bootstrap-cache/core"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import type { Rng, Strategy } from "../SimulatedNetwork.js"

/** What a strategy returns: peers to dial, in order. */
export interface Dial {
  readonly peerKey: string
  readonly address: PeerAddress.PeerAddress
}

export type StrategyFn = (
  table: PeerTable.PeerTable,
  now: number,
  count: number,
  exclude: ReadonlySet<string>,
  netgroupsInUse: ReadonlyArray<string>,
  rng: Rng,
  sourceGroupsInUse: ReadonlyArray<string>
) => Array<Dial>

interface Known {
  readonly key: string
  readonly record: PeerRecord.AddressRecord
}

/** Eligible peers (public dialable address, not excluded) with their first dialable address. */
const known = (table: PeerTable.PeerTable, exclude: ReadonlySet<string>): Array<Known> => {
  const out: Array<Known> = []
  HashMap.forEach(table.peers, (peer, key) => {
    if (exclude.has(key)) return
    const record = peer.addresses.find((r) => PeerAddress.isDialable(r.address))
    if (record !== undefined) out.push({ key, record })
  })
  return out
}

const randomStrategy: StrategyFn = (table, _now, count, exclude, _inUse, rng) => {
  const all = known(table, exclude)
  const out: Array<Dial> = []
  for (let i = 0; i < count && i < all.length; i++) {
    const j = i + rng.int(all.length - i)
    const t = all[i]!
    all[i] = all[j]!
    all[j] = t
    out.push({ peerKey: all[i]!.key, address: all[i]!.record.address })
  }
  return out
}

const selectionStrategy = (epsilon: number, maxPerNetgroup: number, sourceGroupDiversity: boolean): StrategyFn =>
(table, now, count, exclude, netgroupsInUse, rng, sourceGroupsInUse) => {
  const draws = Array.from({ length: Selection.drawsNeeded(count) }, () => rng.next())
  return Selection.select(table, {
    now,
    count,
    draws,
    exclude,
    epsilon,
    maxPerNetgroup,
    sourceGroupDiversity,
    netgroupsInUse,
    sourceGroupsInUse
  })
}

const TEN_MINUTES = 10 * 60_000

/** Bitcoin Core `AddrInfo::GetChance`. */
const getChance = (r: PeerRecord.AddressRecord, now: number): number => {
  const lastTry = Math.max(Option.getOrElse(r.lastSuccess, () => -Infinity), Option.getOrElse(r.lastFailure, () => -Infinity))
  let chance = 1
  if (now - lastTry < TEN_MINUTES) chance *= 0.01
  return chance * Math.pow(0.66, Math.min(r.consecutiveFailures, 8))
}

const addrmanStrategy: StrategyFn = (table, now, count, exclude, netgroupsInUse, rng) => {
  const tried: Array<Known> = []
  const fresh: Array<Known> = []
  for (const k of known(table, exclude)) (k.record.successes > 0 ? tried : fresh).push(k)
  const inUse = new Map<string, number>()
  for (const g of netgroupsInUse) inUse.set(g, (inUse.get(g) ?? 0) + 1)
  const out: Array<Dial> = []
  const removeAt = (list: Array<Known>, j: number) => {
    list[j] = list[list.length - 1]!
    list.pop()
  }
  while (out.length < count && (tried.length > 0 || fresh.length > 0)) {
    const list = tried.length > 0 && (fresh.length === 0 || rng.next() < 0.5) ? tried : fresh
    let factor = 1
    for (;;) {
      if (list.length === 0) break
      const j = rng.int(list.length)
      const k = list[j]!
      // ThreadOpenConnections: skip a netgroup already connected (or picked).
      if (inUse.has(k.record.address.netgroup)) {
        removeAt(list, j)
        continue
      }
      if (rng.next() < getChance(k.record, now) * factor) {
        removeAt(list, j)
        inUse.set(k.record.address.netgroup, 1)
        out.push({ peerKey: k.key, address: k.record.address })
        break
      }
      factor *= 1.2
    }
  }
  return out
}

const ucb1Strategy: StrategyFn = (table, _now, count, exclude, _inUse, rng) => {
  const all = known(table, exclude)
  let total = 0
  for (const k of all) total += k.record.successes + k.record.failures
  const untried: Array<Known> = []
  const tried: Array<{ k: Known; ucb: number }> = []
  const logTotal = Math.log(Math.max(1, total))
  for (const k of all) {
    const n = k.record.successes + k.record.failures
    if (n === 0) untried.push(k)
    else tried.push({ k, ucb: k.record.successes / n + Math.sqrt((2 * logTotal) / n) })
  }
  const out: Array<Dial> = []
  for (let i = 0; i < count && i < untried.length; i++) {
    const j = i + rng.int(untried.length - i)
    const t = untried[i]!
    untried[i] = untried[j]!
    untried[j] = t
    out.push({ peerKey: untried[i]!.key, address: untried[i]!.record.address })
  }
  if (out.length < count) {
    tried.sort((a, b) => b.ucb - a.ucb)
    for (const t of tried) {
      if (out.length >= count) break
      out.push({ peerKey: t.k.key, address: t.k.record.address })
    }
  }
  return out
}

export const STRATEGIES: Record<Strategy, StrategyFn> = {
  random: randomStrategy,
  greedy: selectionStrategy(0, Number.POSITIVE_INFINITY, false),
  "epsilon-greedy": selectionStrategy(
    Selection.defaults.epsilon,
    Selection.defaults.maxPerNetgroup,
    Selection.defaults.sourceGroupDiversity
  ),
  addrman: addrmanStrategy,
  ucb1: ucb1Strategy
}

