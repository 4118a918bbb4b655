/**
 * A table from and to an array of peer records (`PeerTable.fromRecords`, `toRecords`): the bulk load
 * of a well-formed file without the merge machinery, and the sorted order the cache file's checksum
 * is computed over.
 */
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import type * as PeerRecord from "../PeerRecord.js"
import type { PeerTable } from "../PeerTable.js"
import { make } from "./peerTableCore.js"
import { sourcesNormal, upsertImpl } from "./peerTableUpsert.js"

/** `PeerTable.fromRecords`: the plain prefix inserted straight, the rest upserted. */
export const fromRecords = (records: Iterable<PeerRecord.PeerRecord>): PeerTable => {
  const rs: ReadonlyArray<PeerRecord.PeerRecord> = Array.isArray(records) ? records : Array.from(records)
  const plain = plainPrefix(rs, rs.length)
  let table = plain.table
  for (let i = plain.end; i < rs.length; i++) table = upsertImpl(table, rs[i]!)
  return make(HashMap.endMutation(table.peers), HashMap.endMutation(table.index))
}

/**
 * The longest prefix of `rs[0, end)` whose records {@link upsertImpl} would store as they are (a file this
 * project wrote holds each peer and each address once), inserted straight into transient maps, and
 * where it ends. A record is plain when {@link plainKey} gives its key and neither its key nor any of
 * its addresses is in the maps yet: a duplicate is told by a map that did not grow, after the write,
 * so the prefix before it is built again (once) without it. Upserting the rest onto the prefix gives
 * what upserting every record does.
 */
const plainPrefix = (
  rs: ReadonlyArray<PeerRecord.PeerRecord>,
  end: number
): { readonly table: PeerTable; readonly end: number } => {
  let peers = HashMap.beginMutation(HashMap.empty<string, PeerRecord.PeerRecord>())
  let index = HashMap.beginMutation(HashMap.empty<string, string>())
  for (let i = 0; i < end; i++) {
    const r = rs[i]!
    const pk = plainKey(r)
    if (pk === undefined) return { table: make(peers, index), end: i }
    const peerCount = HashMap.size(peers)
    const addressCount = HashMap.size(index)
    peers = HashMap.set(peers, pk, r)
    const addresses = r.addresses
    for (let j = 0; j < addresses.length; j++) index = HashMap.set(index, addresses[j]!.address.key, pk)
    if (HashMap.size(peers) === peerCount || HashMap.size(index) !== addressCount + addresses.length) return plainPrefix(rs, i)
  }
  return { table: make(peers, index), end }
}

/**
 * The key of a record that {@link upsertImpl} would store as it is into a table holding none of its keys:
 * exactly `insertFresh`'s case (peerTableUpsert) but for the keys already held (which {@link plainPrefix} checks).
 * Undefined otherwise.
 */
const plainKey = (r: PeerRecord.PeerRecord): string | undefined => {
  const addresses = r.addresses
  if (addresses.length === 0 || !sourcesNormal(r.sources)) return undefined
  if (Option.isSome(r.peerId)) {
    const pk = r.peerId.value
    for (let i = 0; i < addresses.length; i++) {
      const id = addresses[i]!.address.peerId
      if (Option.isNone(id) || id.value !== pk) return undefined
    }
    return pk
  }
  if (addresses.length !== 1 || Option.isSome(addresses[0]!.address.peerId)) return undefined
  return `addr:${addresses[0]!.address.key}`
}

/** `PeerTable.toRecords`: the records in peer-key order. */
export const toRecords = (self: PeerTable): Array<PeerRecord.PeerRecord> => {
  // Keys sorted by the built-in comparison (UTF-16 code units, as `<` compares strings), then looked
  // up in a plain Map: several times faster than sorting entries with a comparator function.
  const keys: Array<string> = []
  const byKey = new Map<string, PeerRecord.PeerRecord>()
  // `HashMap.forEach` walks the trie without an entry tuple per peer, as iterating the map would make.
  HashMap.forEach(self.peers, (peer, key) => {
    keys.push(key)
    byKey.set(key, peer)
  })
  keys.sort()
  const out: Array<PeerRecord.PeerRecord> = new Array(keys.length)
  for (let i = 0; i < keys.length; i++) out[i] = byKey.get(keys[i]!)!
  return out
}
