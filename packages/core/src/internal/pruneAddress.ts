/**
 * The address-level rules of {@link Prune.prune}: whether an address is working, whether (and why) it
 * is bad, the sentence that explains a bad-address removal, and the address cap's order.
 *
 * @internal
 */
import * as Option from "effect/Option"
import type { Config } from "../Prune.js"
import type * as PeerRecord from "../PeerRecord.js"

/** Last outcome a success: `lastSuccess` set, `consecutiveFailures = 0` (`Prune.isWorkingAddress`). */
export const isWorkingAddress = (record: PeerRecord.AddressRecord): boolean =>
  Option.isSome(record.lastSuccess) && record.consecutiveFailures === 0

/** A peer with a working address (`Prune.isWorking`). */
export const isWorking = (peer: PeerRecord.PeerRecord): boolean => peer.addresses.some(isWorkingAddress)

export type BadReason = "failing" | "unreliable" | "stale"

export const SEVERITY: Readonly<Record<BadReason, number>> = { failing: 3, unreliable: 2, stale: 1 }

const HOUR = 3_600_000

export const badReason = (
  record: PeerRecord.AddressRecord,
  peer: PeerRecord.PeerRecord,
  cutoff: number,
  config: Config
): BadReason | undefined => {
  if (record.consecutiveFailures >= config.maxConsecutiveFailures) return "failing"
  const attempts = record.successes + record.failures
  if (attempts >= config.unreliableMinAttempts && record.failures > record.successes) return "unreliable"
  const seen = Option.getOrElse(record.lastSeen, () => peer.lastSeen)
  if (seen <= cutoff) return "stale"
  return undefined
}

export const describe = (
  reason: BadReason,
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
export const addressOrder = (a: PeerRecord.AddressRecord, b: PeerRecord.AddressRecord): number => {
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

/** Whether any of a peer's addresses is bad under the rules (the common answer, no, allocates nothing). */
export const hasBadAddress = (peer: PeerRecord.PeerRecord, cutoff: number, config: Config): boolean => {
  const records = peer.addresses
  for (let j = 0; j < records.length; j++) if (badReason(records[j]!, peer, cutoff, config) !== undefined) return true
  return false
}
