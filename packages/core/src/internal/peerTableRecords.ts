/**
 * A table from and to an array of peer records (`PeerTable.fromRecords`, `toRecords`): the bulk load
 * of a well-formed file without the merge machinery (in slices, for a decode that yields between
 * them), and the sorted order the cache file's checksum is computed over.
 */
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import type * as PeerRecord from "../PeerRecord.js"
import type { PeerTable } from "../PeerTable.js"
import { some } from "./optionSome.js"
import { indexOf, make, makeLazy } from "./peerTableCore.js"
import { StringSet } from "./stringSet.js"
import { sourcesNormal, upsertImpl } from "./peerTableUpsert.js"

/** `PeerTable.fromRecords`: {@link advance} over every record, then {@link finish}. */
export const fromRecords = (records: Iterable<PeerRecord.PeerRecord>): PeerTable => {
  const rs: ReadonlyArray<PeerRecord.PeerRecord> = Array.isArray(records) ? records : Array.from(records)
  const build = start(rs.length)
  advance(build, rs, rs.length)
  return finish(build)
}

/**
 * A table being built from an array of records, in order, a slice at a time (a decode that yields
 * between slices): owned by one build, edited in place, never seen outside it.
 *
 * While the records are plain (see {@link plainPrefix}) they go straight into a transient peer map,
 * with their address keys in a set sized for them (`StringSet`) to tell a repeated address, and the table's index is left
 * to be built at its first read. From the first record that is not, the rest is upserted onto a
 * transient table with its index.
 */
export interface Build {
  peers: HashMap.HashMap<string, PeerRecord.PeerRecord>
  seen: StringSet
  /** Records consumed so far. */
  end: number
  /** Once past the plain prefix: the transient table the remaining records are upserted onto. */
  table: PeerTable | undefined
}

/** A build of (about) `expected` records, or of an unknown number. */
export const start = (expected = 0): Build => ({
  peers: HashMap.beginMutation(HashMap.empty()),
  seen: new StringSet(expected),
  end: 0,
  table: undefined
})

/** Consumes `rs[build.end, to)`; `rs[0, build.end)` must be the records given before. */
export const advance = (build: Build, rs: ReadonlyArray<PeerRecord.PeerRecord>, to: number): void => {
  if (build.table === undefined) {
    const stop = plainPrefix(build, rs, to)
    if (stop === to) return
    // Past the plain prefix: the rest is upserted onto the prefix, with its index.
    build.table = make(build.peers, HashMap.beginMutation(indexOf(build.peers)))
    build.seen = new StringSet(0)
    build.end = stop
  }
  let table = build.table
  for (let i = build.end; i < to; i++) table = upsertImpl(table, rs[i]!)
  build.table = table
  build.end = to
}

/** The table of every record consumed, sealed. */
export const finish = (build: Build): PeerTable =>
  build.table === undefined
    ? makeLazy(HashMap.endMutation(build.peers), build.seen.size)
    : make(HashMap.endMutation(build.table.peers), HashMap.endMutation(build.table.index))

/**
 * Inserts `rs[build.end, to)` while they are plain, records {@link upsertImpl} would store as they are
 * (a file this project wrote holds each peer and each address once), and gives where it stopped. A
 * record is plain when {@link plainKey} gives its key and neither its key nor any of its addresses is
 * in the build yet. A repeated address is told by the set before anything of the record is written;
 * a repeated peer key by a map that did not grow, after the write, so the prefix before it is built
 * again (once) without it. Upserting the rest onto the prefix gives what upserting every record does.
 */
const plainPrefix = (build: Build, rs: ReadonlyArray<PeerRecord.PeerRecord>, to: number): number => {
  let peers = build.peers
  const seen = build.seen
  // `HashMap.set` with the entry's option made small (`optionSome`): the map holds one per peer. One
  // function for the slice, reading the record being inserted.
  let r: PeerRecord.PeerRecord
  const entry = () => some(r)
  for (let i = build.end; i < to; i++) {
    r = rs[i]!
    const pk = plainKey(r)
    if (pk === undefined || !addKeys(seen, r.addresses)) return stopAt(build, peers, i)
    const peerCount = HashMap.size(peers)
    peers = HashMap.modifyAt(peers, pk, entry)
    if (HashMap.size(peers) === peerCount) return rebuildTo(build, rs, i)
  }
  build.peers = peers
  build.end = to
  return to
}

const stopAt = (build: Build, peers: HashMap.HashMap<string, PeerRecord.PeerRecord>, at: number): number => {
  build.peers = peers
  build.end = at
  return at
}

/** The plain prefix `rs[0, at)` built again from nothing (its record `at` repeated a peer key in it). */
const rebuildTo = (build: Build, rs: ReadonlyArray<PeerRecord.PeerRecord>, at: number): number => {
  const fresh = start(at)
  plainPrefix(fresh, rs, at)
  build.peers = fresh.peers
  build.seen = fresh.seen
  build.end = at
  return at
}

/** How many addresses a record may have to be checked as plain (each against the others). */
const MAX_PLAIN_ADDRESSES = 16

/**
 * Adds the address keys of a record to `seen`; false (and `seen` as it was) when one is already in
 * it or the record names one twice (or has more than {@link MAX_PLAIN_ADDRESSES}: the upsert then decides).
 */
const addKeys = (seen: StringSet, addresses: ReadonlyArray<PeerRecord.AddressRecord>): boolean => {
  if (addresses.length === 1) return seen.add(addresses[0]!.address.key)
  if (addresses.length > MAX_PLAIN_ADDRESSES) return false
  for (let j = 0; j < addresses.length; j++) {
    const key = addresses[j]!.address.key
    if (seen.has(key)) return false
    for (let k = 0; k < j; k++) if (addresses[k]!.address.key === key) return false
  }
  for (let j = 0; j < addresses.length; j++) seen.add(addresses[j]!.address.key)
  return true
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
  // Joined into one flat string: hashing a concatenation would flatten it into a second copy.
  return ["addr", addresses[0]!.address.key].join(":")
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
