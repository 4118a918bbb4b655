/**
 * How dial outcomes land in the table (`PeerTable.recordSuccess`, `recordFailure`, `recordOutcomes`):
 * the outcome applied to a copy of the peer's record, one at a time or batched per peer.
 */
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import type * as PeerAddress from "../PeerAddress.js"
import type * as PeerRecord from "../PeerRecord.js"
import type { Outcome, PeerTable } from "../PeerTable.js"
import { failureRecord, successRecord } from "./addressRecord.js"
import { holderOf, withPeers } from "./peerTableCore.js"
import { addAddress } from "./peerTableUpsert.js"

const CONNECTION: PeerRecord.Source = { _tag: "connection" }

/** A peer record this module has just copied and may still change in place (never one a table holds). */
type Draft = { -readonly [K in keyof PeerRecord.PeerRecord]: PeerRecord.PeerRecord[K] } & {
  addresses: Array<PeerRecord.AddressRecord>
}

const draftOf = (peer: PeerRecord.PeerRecord): Draft => ({
  peerId: peer.peerId,
  addresses: peer.addresses.slice(),
  protocols: peer.protocols,
  capabilities: peer.capabilities,
  sources: peer.sources,
  firstSeen: peer.firstSeen,
  lastSeen: peer.lastSeen
})

/**
 * One dial outcome of the address `key` applied to a draft: that address's record replaced (a
 * success when `success`, with `rtt` and `bytes`; a failure otherwise), the peer's last seen moved
 * forward on a success.
 */
const applyOutcome = (
  draft: Draft,
  key: string,
  now: number,
  success: boolean,
  rtt: number | undefined,
  bytes: number | undefined
): Draft => {
  const addresses = draft.addresses
  for (let i = 0; i < addresses.length; i++) {
    const r = addresses[i]!
    if (r.address.key === key) addresses[i] = success ? successRecord(r, now, rtt, bytes) : failureRecord(r, now)
  }
  if (success) draft.lastSeen = Math.max(draft.lastSeen, now)
  return draft
}

/**
 * One dial outcome applied to the table ({@link applyOutcome}). An address not held by the peer it
 * names is added first, with a `connection` source, so an outcome is never lost. Arguments are
 * passed straight through (no options object): this is the hot path of recording. Two traversals
 * of the table: the index lookup and one `HashMap.modify` of the peer.
 */
export const recordOutcome = (
  self: PeerTable,
  address: PeerAddress.PeerAddress,
  now: number,
  success: boolean,
  rtt: number | undefined,
  bytes: number | undefined
): PeerTable => {
  let table = self
  let pk = holderOf(self, address)
  if (pk === undefined) {
    table = addAddress(self, address, { now, source: CONNECTION })
    pk = HashMap.unsafeGet(table.index, address.key)
  }
  const key = address.key
  return withPeers(table, HashMap.modify(table.peers, pk, (peer) => applyOutcome(draftOf(peer), key, now, success, rtt, bytes)))
}

/** `PeerTable.recordOutcomes`: outcomes of one peer batched in a draft until the index changes. */
export const recordOutcomesImpl = (self: PeerTable, outcomes: Iterable<Outcome>): PeerTable => {
  let table = self
  // Peer key → its record after the outcomes so far; dedupe key → holder, valid while the index is unchanged.
  const touched = new Map<string, Draft>()
  const holders = new Map<string, string>()
  for (const o of outcomes) {
    const address = o.address
    const key = address.key
    let pk = holders.get(key)
    if (pk === undefined) {
      pk = holderOf(table, address)
      if (pk !== undefined) holders.set(key, pk)
    } else if (Option.isSome(address.peerId) && address.peerId.value !== pk) {
      pk = undefined
    }
    if (pk === undefined) {
      table = writeTouched(table, touched)
      holders.clear()
      table = recordOutcome(table, address, o.at, o._tag === "Success", o.rttMs, o.bytes)
      continue
    }
    let draft = touched.get(pk)
    if (draft === undefined) {
      draft = draftOf(HashMap.unsafeGet(table.peers, pk))
      touched.set(pk, draft)
    }
    applyOutcome(draft, key, o.at, o._tag === "Success", o.rttMs, o.bytes)
  }
  return writeTouched(table, touched)
}

/** The table with the `touched` records written in (as one transient batch), and `touched` emptied. */
const writeTouched = (table: PeerTable, touched: Map<string, Draft>): PeerTable => {
  if (touched.size === 0) return table
  let peers = HashMap.beginMutation(table.peers)
  for (const [pk, peer] of touched) peers = HashMap.set(peers, pk, peer)
  touched.clear()
  return withPeers(table, HashMap.endMutation(peers))
}
