/**
 * Deterministic peer tables for the benchmarks: `n` peers with one TCP address each (a third with a
 * second QUIC address), public IPv4 hosts spread over many /16s, peer ids absent (each address its
 * own peer) so no peer id has to be minted, and a history of outcomes.
 */
import { PeerAddress, PeerTable } from "@bootstrap-cache/core"
import { seeded } from "./harness.js"

export const T0 = 1_790_000_000_000

export const addressesFor = (n: number, seed = 1): Array<PeerAddress.PeerAddress> => {
  const rand = seeded(seed)
  const out: Array<PeerAddress.PeerAddress> = []
  const seen = new Set<string>()
  while (out.length < n) {
    const a = 11 + Math.floor(rand() * 180)
    const host = `${a}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${1 + Math.floor(rand() * 254)}`
    const port = 1024 + Math.floor(rand() * 60000)
    const text = out.length % 3 === 0 ? `/ip4/${host}/udp/${port}/quic-v1` : `/ip4/${host}/tcp/${port}`
    if (seen.has(text)) continue
    seen.add(text)
    out.push(PeerAddress.unsafeParse(text))
  }
  return out
}

/** A table of `n` addresses with 0–20 outcomes each, recorded over the last week. */
export const tableOf = (n: number, seed = 1): { table: PeerTable.PeerTable; addresses: Array<PeerAddress.PeerAddress> } => {
  const rand = seeded(seed + 1)
  const addresses = addressesFor(n, seed)
  let table = PeerTable.empty
  for (const address of addresses) {
    table = PeerTable.add(table, address, { now: T0 - 7 * 86_400_000, source: { _tag: "endpoint", url: "http://127.0.0.1/contacts" } })
    const outcomes = Math.floor(rand() * 20)
    const reliability = rand()
    for (let i = 0; i < outcomes; i++) {
      const at = T0 - Math.floor(rand() * 7 * 86_400_000)
      table = rand() < reliability
        ? PeerTable.recordSuccess(table, address, at, { rttMs: 5 + rand() * 300 })
        : PeerTable.recordFailure(table, address, at)
    }
  }
  return { table, addresses }
}

/**
 * A table of `n` addresses that the store's default pruning keeps whole: every address has 1–20
 * outcomes, more successes than failures, and ends on a success within the six days before `end`
 * (so none is failing, unreliable or stale). For the cache-file benchmarks, whose files must hold
 * `n` peers after the store's own flush. `end` (epoch ms, default `T0`) is the end of that week:
 * pass the real time when a store (which reads the real clock) will prune the table, since staleness
 * is measured from the newest `lastSeen`.
 */
export const healthyTableOf = (n: number, seed = 1, end = T0): { table: PeerTable.PeerTable; addresses: Array<PeerAddress.PeerAddress> } => {
  const rand = seeded(seed + 2)
  const addresses = addressesFor(n, seed)
  // One transient batch: the same table as persistent updates give, without a path copy per update.
  const table = PeerTable.mutate(PeerTable.empty, (table) => {
    for (const address of addresses) {
      table = PeerTable.add(table, address, { now: end - 7 * 86_400_000, source: { _tag: "endpoint", url: "http://127.0.0.1/contacts" } })
      const outcomes = Math.floor(rand() * 20)
      let at = end - 7 * 86_400_000 + Math.floor(rand() * 3_600_000)
      for (let i = 0; i < outcomes; i++) {
        at += Math.floor(rand() * 20_000_000)
        table = i % 3 === 2
          ? PeerTable.recordFailure(table, address, at)
          : PeerTable.recordSuccess(table, address, at, { rttMs: 5 + rand() * 300 })
      }
      table = PeerTable.recordSuccess(table, address, end - Math.floor(rand() * 6 * 86_400_000), { rttMs: 5 + rand() * 300 })
    }
    return table
  })
  return { table, addresses }
}
