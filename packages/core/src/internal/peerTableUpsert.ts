/**
 * How a peer record merges into the table (`PeerTable.upsert`, `PeerTable.add`): the fast insert of
 * a peer the table does not know yet, and the merge of addresses, sources and capabilities otherwise.
 */
import * as Arr from "effect/Array"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as PeerAddress from "../PeerAddress.js"
import * as PeerRecord from "../PeerRecord.js"
import type { AddOptions, PeerTable } from "../PeerTable.js"
import { mergeAddressRecords } from "./addressRecord.js"
import { detach, findAddress, make } from "./peerTableCore.js"

export const upsertImpl = (self: PeerTable, record: PeerRecord.PeerRecord): PeerTable => {
  if (record.addresses.length === 0) return self
  if (Option.isSome(record.peerId)) {
    const id = record.peerId.value
    const fresh = insertFresh(self, id, record)
    if (fresh !== undefined) return fresh
    // A record read from a file may name its peer in another form (a CIDv1), or by a string that is
    // no peer id at all: the canonical form keys the peer; an invalid one is dropped, the addresses kept.
    const canonical = PeerAddress.normalizePeerId(id)
    if (Option.isNone(canonical)) return upsertImpl(self, withPeerIdOf(record, Option.none()))
    return upsertKeyed(self, canonical.value, canonical.value === id ? record : withPeerIdOf(record, canonical))
  }
  if (record.addresses.length === 1) {
    const only = record.addresses[0]!.address
    if (Option.isNone(only.peerId)) {
      const fresh = insertFresh(self, `addr:${only.key}`, record)
      if (fresh !== undefined) return fresh
    }
  }
  let table = self
  for (const r of record.addresses) {
    if (Option.isSome(r.address.peerId)) {
      // The address names its peer: it belongs there.
      table = upsertKeyed(table, r.address.peerId.value, { ...record, peerId: r.address.peerId, addresses: [r] })
      continue
    }
    const owner = HashMap.get(table.index, r.address.key)
    if (Option.isSome(owner) && !owner.value.startsWith("addr:")) {
      // Known under a peer id: count the outcomes there, keep the peer id.
      const peer = HashMap.unsafeGet(table.peers, owner.value)
      table = upsertImpl(table, { ...record, peerId: peer.peerId, addresses: [{ ...r, address: PeerAddress.withPeerId(r.address, owner.value) }] })
    } else {
      table = upsertKeyed(table, `addr:${r.address.key}`, { ...record, addresses: [r] })
    }
  }
  return table
}

/** The record with another peer id (not a hot path: records read well-formed take {@link insertFresh}). */
const withPeerIdOf = (record: PeerRecord.PeerRecord, peerId: Option.Option<string>): PeerRecord.PeerRecord => ({
  ...record,
  peerId
})

/** Whether `PeerRecord.addSource` of each source in turn onto `[]` gives the list back: distinct, and few enough. */
export const sourcesNormal = (sources: ReadonlyArray<PeerRecord.Source>): boolean => {
  if (sources.length > PeerRecord.MAX_SOURCES) return false
  for (let i = 1; i < sources.length; i++) {
    const s = sources[i]!
    for (let j = 0; j < i; j++) {
      const t = sources[j]!
      if (
        s._tag === t._tag &&
        (s._tag !== "endpoint" || (t._tag === "endpoint" && s.url === t.url)) &&
        (s._tag !== "import" || (t._tag === "import" && s.from === t.from))
      ) return false
    }
  }
  return true
}

/**
 * The common case of a bulk load, without the merge machinery: a peer not in the table whose
 * addresses are all new, distinct, and carry its peer id (a relayed one as its target), whose sources are distinct
 * and at most `MAX_SOURCES`.
 * Inserts exactly what {@link upsertKeyed} would; undefined when the case does not apply.
 */
const insertFresh = (self: PeerTable, pk: string, record: PeerRecord.PeerRecord): PeerTable | undefined => {
  if (!sourcesNormal(record.sources) || HashMap.has(self.peers, pk)) return undefined
  const addresses = record.addresses
  for (let i = 0; i < addresses.length; i++) {
    const address = addresses[i]!.address
    if (HashMap.has(self.index, address.key)) return undefined
    for (let j = 0; j < i; j++) if (addresses[j]!.address.key === address.key) return undefined
    if (Option.isSome(record.peerId)) {
      if (Option.isNone(address.peerId) || address.peerId.value !== record.peerId.value) return undefined
    }
  }
  let index = self.index
  for (let i = 0; i < addresses.length; i++) index = HashMap.set(index, addresses[i]!.address.key, pk)
  const merged: PeerRecord.PeerRecord = {
    peerId: record.peerId,
    addresses,
    protocols: record.protocols,
    capabilities: record.capabilities,
    sources: record.sources,
    firstSeen: record.firstSeen,
    lastSeen: record.lastSeen
  }
  return make(HashMap.set(self.peers, pk, merged), index, self)
}

const upsertKeyed = (self: PeerTable, pk: string, record: PeerRecord.PeerRecord): PeerTable => {
  const fresh = insertFresh(self, pk, record)
  if (fresh !== undefined) return fresh
  let table = self
  const existing = HashMap.get(table.peers, pk)
  const addresses: Array<PeerRecord.AddressRecord> = Option.isSome(existing) ? [...existing.value.addresses] : []
  for (const original of record.addresses) {
    // The record names the peer: each of its addresses is this peer's (a relayed one has it as its
    // target). The dedupe key is taken after, as it names the peer for /dnsaddr and relayed addresses.
    const incoming = Option.isSome(record.peerId) && !Option.contains(original.address.peerId, record.peerId.value)
      ? { ...original, address: PeerAddress.withPeerId(original.address, record.peerId.value) }
      : original
    const key = incoming.address.key
    const owner = HashMap.get(table.index, key)
    if (Option.isSome(owner) && owner.value === pk) {
      const at = addresses.findIndex((r) => r.address.key === key)
      addresses[at] = mergeAddressRecords(addresses[at]!, incoming)
      continue
    }
    let carried = incoming
    if (Option.isSome(owner)) {
      // The address moves here from another peer, with what it has learnt.
      const found = findAddress(table, incoming.address)
      if (Option.isSome(found)) carried = mergeAddressRecords(found.value.record, incoming)
      table = detach(table, key)
    }
    addresses.push(carried)
    table = make(table.peers, HashMap.set(table.index, key, pk), table)
  }
  const base = Option.getOrUndefined(existing)
  let sources = base?.sources ?? []
  for (const s of record.sources) sources = PeerRecord.addSource(sources, s)
  const merged: PeerRecord.PeerRecord = {
    peerId: record.peerId,
    addresses,
    protocols: base === undefined ? record.protocols : Arr.union(base.protocols, record.protocols),
    capabilities: base === undefined ? record.capabilities : {
      relay: base.capabilities.relay || record.capabilities.relay,
      coordinator: base.capabilities.coordinator || record.capabilities.coordinator,
      bootstrap: base.capabilities.bootstrap || record.capabilities.bootstrap,
      symmetricNat: base.capabilities.symmetricNat || record.capabilities.symmetricNat
    },
    sources,
    firstSeen: base === undefined ? record.firstSeen : Math.min(base.firstSeen, record.firstSeen),
    lastSeen: base === undefined ? record.lastSeen : Math.max(base.lastSeen, record.lastSeen)
  }
  return make(HashMap.set(table.peers, pk, merged), table.index, table)
}

/** `PeerTable.add`: the address as a record of its own, heard of at `options.now`, upserted. */
export const addAddress = (self: PeerTable, address: PeerAddress.PeerAddress, options: AddOptions): PeerTable =>
  upsertImpl(self, {
    peerId: address.peerId,
    addresses: [PeerRecord.makeAddressRecord(address, options.now)],
    protocols: [],
    capabilities: { ...PeerRecord.noCapabilities, ...options.capabilities },
    sources: [options.source],
    firstSeen: options.now,
    lastSeen: options.now
  })
