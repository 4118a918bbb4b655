/**
 * The peer table's representation (two persistent maps behind a pipeable prototype, the second built
 * at its first read for a table decoded from a file) and the lookups
 * and removals every other part of `PeerTable` builds on: which peer holds an address, finding an
 * address's record, detaching an address, dropping or replacing a whole peer.
 */
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import { pipeArguments } from "effect/Pipeable"
import type * as PeerAddress from "../PeerAddress.js"
import type * as PeerRecord from "../PeerRecord.js"
import type { PeerTable } from "../PeerTable.js"

/** Brands a value as a `PeerTable` (`PeerTable.isPeerTable` checks for it). */
export const TypeId: unique symbol = Symbol.for("@bootstrap-cache/core/PeerTable")

/**
 * Where a table keeps its index: the map itself, or, for a table whose index is not built yet, an
 * {@link IndexCell}. A table decoded from a file is made with its peers only ({@link makeLazy}); its
 * index is a function of them (every address key of every peer, to that peer's key) and is built at
 * its first read ({@link indexSteps} builds it a slice at a time), then kept. Either way `table.index`
 * gives the same map: only when the work is done differs.
 */
const IndexSlot: unique symbol = Symbol("@bootstrap-cache/core/PeerTable/index")

/**
 * The index of the tables that share it, once built, and their number of addresses. Tables derived by
 * {@link withPeers} hold the same addresses under the same peer keys, so they share one cell: the index
 * built for any of them is the index of each.
 */
class IndexCell {
  built: HashMap.HashMap<string, string> | undefined = undefined
  constructor(readonly addresses: number) {}
}

const LineSlot: unique symbol = Symbol("@bootstrap-cache/core/PeerTable/line")
const MemoSlot: unique symbol = Symbol("@bootstrap-cache/core/PeerTable/memo")

/**
 * What the selection keeps with one table: views that are functions of the table alone (its pool at
 * a time, dial policy and score configuration, which carries the bootstrap's usage counts), so that asking again
 * costs nothing. Filled at first use and invisible to the table's readers: every answer is the same
 * with or without it.
 */
export interface Memo {
  pool: unknown
}

/**
 * What tables made from one another share: the newest selection pool of the line, from which the
 * next table's pool is derived (a table a few outcomes away shares all but a few peers with it).
 * Every operation making a table from another passes its line on; a table built from records (or from
 * an empty table) starts its own. State of a line of values, not of the module: two stores in one
 * process never share one.
 */
export interface Line {
  recent: unknown
}

interface Slots {
  peers: HashMap.HashMap<string, PeerRecord.PeerRecord>
  [IndexSlot]: HashMap.HashMap<string, string> | IndexCell
  readonly [LineSlot]: Line
  [MemoSlot]: Memo | undefined
}

/** The memo kept with `self` (made at the first call). */
export const memoOf = (self: PeerTable): Memo => {
  const slots = self as unknown as Slots
  const memo = slots[MemoSlot]
  if (memo !== undefined) return memo
  const made: Memo = { pool: undefined }
  // Not enumerable, as the line: a table's own enumerable keys are its data, whatever was memoised.
  Object.defineProperty(self, MemoSlot, { value: made })
  return made
}

/** The line `self` belongs to. */
export const lineOf = (self: PeerTable): Line => (self as unknown as Slots)[LineSlot]

const Proto = {
  [TypeId]: TypeId,
  get index(): HashMap.HashMap<string, string> {
    const self = this as unknown as Slots
    const slot = self[IndexSlot]
    if (!(slot instanceof IndexCell)) return slot
    slot.built ??= indexOf(self.peers)
    return slot.built
  },
  pipe() {
    return pipeArguments(this, arguments)
  },
  toJSON(this: PeerTable) {
    return { _id: "PeerTable", peers: HashMap.size(this.peers), addresses: addressCountOf(this) }
  }
}

/** The index of a table's peers (sealed, or transient: read only): each address's dedupe key to the key of the peer holding it. */
export const indexOf = (peers: HashMap.HashMap<string, PeerRecord.PeerRecord>): HashMap.HashMap<string, string> => {
  let index = HashMap.beginMutation(HashMap.empty<string, string>())
  HashMap.forEach(peers, (peer, key) => {
    const addresses = peer.addresses
    for (let i = 0; i < addresses.length; i++) index = HashMap.set(index, addresses[i]!.address.key, key)
  })
  return HashMap.endMutation(index)
}

/**
 * `PeerTable.indexSteps`: builds the index of a table whose index is not built yet, pausing (yielding
 * the peers done) after every `peersPerStep` peers; stops early when it gets built meanwhile.
 */
export const indexSteps = function*(self: PeerTable, peersPerStep: number): Generator<number, void, void> {
  const cell = (self as unknown as Slots)[IndexSlot]
  if (!(cell instanceof IndexCell) || cell.built !== undefined) return
  let index = HashMap.beginMutation(HashMap.empty<string, string>())
  let done = 0
  for (const [key, peer] of self.peers) {
    const addresses = peer.addresses
    for (let i = 0; i < addresses.length; i++) index = HashMap.set(index, addresses[i]!.address.key, key)
    if (++done % peersPerStep === 0) {
      yield done
      if (cell.built !== undefined) return
    }
  }
  cell.built ??= HashMap.endMutation(index)
}

/** A table over the two maps, as they are (transient maps stay transient). */
export const make = (
  peers: HashMap.HashMap<string, PeerRecord.PeerRecord>,
  index: HashMap.HashMap<string, string>,
  from?: PeerTable
): PeerTable => slotted(peers, index, from)

const withCell = (peers: HashMap.HashMap<string, PeerRecord.PeerRecord>, cell: IndexCell, from?: PeerTable): PeerTable =>
  slotted(peers, cell, from)

/** A table over its slots; `from` is the table it is made from, whose line it joins. */
const slotted = (
  peers: HashMap.HashMap<string, PeerRecord.PeerRecord>,
  index: HashMap.HashMap<string, string> | IndexCell,
  from: PeerTable | undefined
): PeerTable => {
  const table = Object.create(Proto)
  table.peers = peers
  table[IndexSlot] = index
  // Not enumerable: a table's own enumerable keys are its data (`peers`, the index), whatever was memoised.
  // A table made from another joins its line; one made from nothing (or from an empty table, such as
  // the module's `empty`) starts its own, so two stores never share one.
  const line: Line = from === undefined || HashMap.size(from.peers) === 0
    ? { recent: undefined }
    : (from as unknown as Slots)[LineSlot]
  Object.defineProperty(table, LineSlot, { value: line })
  return table
}

/**
 * A table over sealed `peers` whose index is built at its first read. `addresses` is their number of
 * addresses, all with distinct dedupe keys (the caller has checked it: the index must hold each once).
 */
export const makeLazy = (peers: HashMap.HashMap<string, PeerRecord.PeerRecord>, addresses: number): PeerTable =>
  withCell(peers, new IndexCell(addresses))

/** `PeerTable.addressCount`, without building an index not built yet. */
export const addressCountOf = (self: PeerTable): number => {
  const slot = (self as unknown as Slots)[IndexSlot]
  return slot instanceof IndexCell ? slot.addresses : HashMap.size(slot)
}

/**
 * `self` with another peer map holding the same addresses under the same peer keys (only the peers'
 * other fields changed): its index, or a share of the one it will have.
 */
export const withPeers = (self: PeerTable, peers: HashMap.HashMap<string, PeerRecord.PeerRecord>): PeerTable => {
  const slot = (self as unknown as Slots)[IndexSlot]
  return slot instanceof IndexCell ? (slot.built === undefined ? withCell(peers, slot, self) : make(peers, slot.built, self)) : make(peers, slot, self)
}

/**
 * `PeerTable.mutate`: `f` on a table whose maps are transient, sealed after. A table whose index is
 * not built yet keeps it so while `f` changes no address (an outcome, protocols): every change of an
 * address reads the index first, which builds it as it is at that point, the index of `self`.
 */
export const mutateImpl = (self: PeerTable, f: (table: PeerTable) => PeerTable): PeerTable => {
  const slot = (self as unknown as Slots)[IndexSlot]
  const out = f(
    slot instanceof IndexCell && slot.built === undefined
      ? withCell(HashMap.beginMutation(self.peers), slot, self)
      : make(HashMap.beginMutation(self.peers), HashMap.beginMutation(self.index), self)
  )
  const outSlot = (out as unknown as Slots)[IndexSlot]
  return outSlot instanceof IndexCell
    ? withCell(HashMap.endMutation(out.peers), outSlot, out)
    : make(HashMap.endMutation(out.peers), HashMap.endMutation(outSlot), out)
}

/** Removes one address (by dedupe key) from the table; drops its peer when it was the last one. */
export const detach = (self: PeerTable, key: string): PeerTable => {
  const pk = HashMap.get(self.index, key)
  if (Option.isNone(pk)) return self
  const index = HashMap.remove(self.index, key)
  const peer = HashMap.get(self.peers, pk.value)
  if (Option.isNone(peer)) return make(self.peers, index, self)
  const addresses = peer.value.addresses.filter((r) => r.address.key !== key)
  return make(
    addresses.length === 0
      ? HashMap.remove(self.peers, pk.value)
      : HashMap.set(self.peers, pk.value, { ...peer.value, addresses }),
    index,
    self
  )
}

/**
 * The key of the peer holding `address` when that is the peer the address names (or any peer, when
 * it names none); undefined when the address must be added (or moved) first. A table whose index is
 * not built yet is first asked directly: the peer the address names, or the peer of its own
 * (`addr:<dedupe key>`), holding it is its holder (an address is held by one peer only), which is how
 * outcomes of known addresses replay onto a freshly decoded table without building its index.
 */
export const holderOf = (self: PeerTable, address: PeerAddress.PeerAddress): string | undefined => {
  const slot = (self as unknown as Slots)[IndexSlot]
  if (slot instanceof IndexCell && slot.built === undefined) {
    const probed = probeHolder(self.peers, address)
    if (probed !== undefined) return probed
  }
  const pk = HashMap.get(self.index, address.key)
  return Option.isSome(pk) && (Option.isNone(address.peerId) || pk.value === address.peerId.value) ? pk.value : undefined
}

/** The peer `address` names, or for an address naming none the peer of its own, when it holds the address. */
const probeHolder = (peers: HashMap.HashMap<string, PeerRecord.PeerRecord>, address: PeerAddress.PeerAddress): string | undefined => {
  const key = address.key
  const pk = Option.isSome(address.peerId) ? address.peerId.value : ["addr", key].join(":")
  const peer = HashMap.get(peers, pk)
  if (Option.isNone(peer)) return undefined
  const addresses = peer.value.addresses
  for (let i = 0; i < addresses.length; i++) if (addresses[i]!.address.key === key) return pk
  return undefined
}

/** The peer holding an address (by dedupe key) and that address's record: `PeerTable.lookupAddress`. */
export const findAddress = (
  self: PeerTable,
  address: PeerAddress.PeerAddress
): Option.Option<{ readonly peer: PeerRecord.PeerRecord; readonly record: PeerRecord.AddressRecord }> => {
  const key = address.key
  const pk = HashMap.get(self.index, key)
  if (Option.isNone(pk)) return Option.none()
  const peer = HashMap.get(self.peers, pk.value)
  if (Option.isNone(peer)) return Option.none()
  const addresses = peer.value.addresses
  for (let i = 0; i < addresses.length; i++) {
    const record = addresses[i]!
    if (record.address.key === key) return Option.some({ peer: peer.value, record })
  }
  return Option.none()
}

/** `PeerTable.removePeer`: the peer and every address of it out of the index. */
export const dropPeer = (self: PeerTable, peerKey: string): PeerTable => {
  const peer = HashMap.get(self.peers, peerKey)
  if (Option.isNone(peer)) return self
  let index = self.index
  for (const r of peer.value.addresses) index = HashMap.remove(index, r.address.key)
  return make(HashMap.remove(self.peers, peerKey), index, self)
}

/** `PeerTable.replacePeer`: the record swapped in, the addresses it no longer holds out of the index. */
export const replacePeerRecord = (self: PeerTable, peerKey: string, record: PeerRecord.PeerRecord): PeerTable => {
  const old = HashMap.get(self.peers, peerKey)
  if (Option.isNone(old)) return self
  if (record.addresses.length === 0) return dropPeer(self, peerKey)
  const keep = new Set(record.addresses.map((r) => r.address.key))
  let index = self.index
  for (const r of old.value.addresses) if (!keep.has(r.address.key)) index = HashMap.remove(index, r.address.key)
  const addresses = record.addresses.filter((r) => Option.contains(HashMap.get(self.index, r.address.key), peerKey))
  return make(HashMap.set(self.peers, peerKey, { ...record, addresses }), index, self)
}
