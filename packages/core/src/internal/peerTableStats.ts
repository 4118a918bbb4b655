/**
 * The figures of `PeerTable.stats`, counted in one pass over the table.
 */
import * as HashMap from "effect/HashMap"
import * as PeerRecord from "../PeerRecord.js"
import type { PeerTable, Stats } from "../PeerTable.js"

/** `PeerTable.stats`: one pass over every peer and address. */
export const stats = (self: PeerTable): Stats => {
  let relayCapable = 0
  let bootstrap = 0
  let totalSuccesses = 0
  let totalFailures = 0
  let totalBytesTransferred = 0
  let neverDialled = 0
  let reliabilitySum = 0
  let dialled = 0
  let oldest = Number.POSITIVE_INFINITY
  let newest = Number.NEGATIVE_INFINITY
  for (const peer of HashMap.values(self.peers)) {
    if (PeerRecord.isRelay(peer)) relayCapable++
    if (peer.capabilities.bootstrap) bootstrap++
    oldest = Math.min(oldest, peer.lastSeen)
    newest = Math.max(newest, peer.lastSeen)
    for (const r of peer.addresses) {
      totalSuccesses += r.successes
      totalFailures += r.failures
      totalBytesTransferred += r.bytesTransferred
      if (r.successes + r.failures === 0) {
        neverDialled++
      } else {
        dialled++
        reliabilitySum += PeerRecord.reliability(r.successes, r.failures)
      }
    }
  }
  return {
    peers: HashMap.size(self.peers),
    addresses: HashMap.size(self.index),
    relayCapable,
    bootstrap,
    averageReliability: dialled === 0 ? 0 : reliabilitySum / dialled,
    totalSuccesses,
    totalFailures,
    totalBytesTransferred,
    neverDialled,
    ...(Number.isFinite(oldest) ? { oldestSeen: oldest, newestSeen: newest } : {})
  }
}
