/**
 * How one address record changes: a dial outcome (success, failure) and the merge of two records of
 * one endpoint. Pure functions of records; `PeerTable` decides which record they apply to.
 */
import * as Option from "effect/Option"
import type * as PeerRecord from "../PeerRecord.js"

/** SRTT gain of RFC 6298 (α = 1/8). */
const RTT_ALPHA = 1 / 8

/** A sum of counters that stops at 2^53 − 1, so merged counters stay integers the loader accepts. */
const saturatingSum = (a: number, b: number): number => Math.min(Number.MAX_SAFE_INTEGER, a + b)

/**
 * The record after a successful dial at `now` (epoch ms): successes + 1, consecutive failures 0, last
 * success `now`, last seen moved forward to `now`, RTT smoothed (RFC 6298, α = 1/8; a negative or
 * non-finite `rtt` ignored), `bytes` added (saturating at 2^53 − 1).
 */
export const successRecord = (
  r: PeerRecord.AddressRecord,
  now: number,
  rtt: number | undefined,
  bytes: number | undefined
): PeerRecord.AddressRecord => {
  const seen = r.lastSeen
  // Options are immutable values: last success and last seen share one when both are `now`.
  const at = Option.some(now)
  const seenNow = Math.max(now, Option.isSome(seen) ? seen.value : 0)
  return {
    address: r.address,
    successes: r.successes + 1,
    failures: r.failures,
    consecutiveFailures: 0,
    lastSuccess: at,
    lastFailure: r.lastFailure,
    lastSeen: Option.isSome(seen) && seen.value >= now && now >= 0 ? seen : seenNow === now ? at : Option.some(seenNow),
    rttMs: rtt === undefined || !Number.isFinite(rtt) || rtt < 0
      ? r.rttMs
      : Option.some(Option.isNone(r.rttMs) ? rtt : (1 - RTT_ALPHA) * r.rttMs.value + RTT_ALPHA * rtt),
    bytesTransferred: bytes === undefined || !Number.isFinite(bytes)
      ? r.bytesTransferred
      : Math.min(Number.MAX_SAFE_INTEGER, r.bytesTransferred + Math.max(0, Math.floor(bytes)))
  }
}

/** The record after a failed dial at `now` (epoch ms): failures and consecutive failures + 1, last failure `now`. */
export const failureRecord = (r: PeerRecord.AddressRecord, now: number): PeerRecord.AddressRecord => ({
  address: r.address,
  successes: r.successes,
  failures: r.failures + 1,
  consecutiveFailures: r.consecutiveFailures + 1,
  lastSuccess: r.lastSuccess,
  lastFailure: Option.some(now),
  lastSeen: r.lastSeen,
  rttMs: r.rttMs,
  bytesTransferred: r.bytesTransferred
})

/** Sums two records of one endpoint (the same dedupe key): counters add, timestamps take the latest. */
export const mergeAddressRecords = (
  a: PeerRecord.AddressRecord,
  b: PeerRecord.AddressRecord
): PeerRecord.AddressRecord => {
  const latest = (x: Option.Option<number>, y: Option.Option<number>) =>
    Option.isNone(x) ? y : Option.isNone(y) ? x : x.value >= y.value ? x : y
  const lastSuccess = latest(a.lastSuccess, b.lastSuccess)
  const lastFailure = latest(a.lastFailure, b.lastFailure)
  // Consecutive failures belong to whichever side saw the latest outcome.
  const bIsLater = Option.getOrElse(latest(b.lastSuccess, b.lastFailure), () => -1) >
    Option.getOrElse(latest(a.lastSuccess, a.lastFailure), () => -1)
  return {
    address: Option.isSome(b.address.peerId) || Option.isNone(a.address.peerId) ? b.address : a.address,
    successes: saturatingSum(a.successes, b.successes),
    failures: saturatingSum(a.failures, b.failures),
    consecutiveFailures: bIsLater ? b.consecutiveFailures : a.consecutiveFailures,
    lastSuccess,
    lastFailure,
    lastSeen: latest(a.lastSeen, b.lastSeen),
    rttMs: Option.isSome(b.rttMs) && bIsLater ? b.rttMs : Option.orElse(a.rttMs, () => b.rttMs),
    bytesTransferred: saturatingSum(a.bytesTransferred, b.bytesTransferred)
  }
}
