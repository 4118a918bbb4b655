/**
 * The peer table: every known peer keyed by peer id, with an index from each address's dedupe key to
 * its peer. Both are persistent `HashMap`s, so an update costs O(log n) and never copies the table.
 *
 * Invariants kept by every operation (and proven by the property tests):
 * - one entry per dedupe key (host + port + transport), and an address belongs to one peer only;
 * - every peer has at least one address;
 * - an address's successes + failures equals the outcomes recorded for it; a success resets its
 *   consecutive failures.
 *
 * @since 0.1.0
 */
import * as Arr from "effect/Array"
import { dual } from "effect/Function"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Schema from "effect/Schema"
import * as PeerAddress from "./PeerAddress.js"
import * as PeerRecord from "./PeerRecord.js"
import { failureRecord, mergeAddressRecords, successRecord } from "./internal/addressRecord.js"

const TypeId: unique symbol = Symbol.for("@bootstrap-cache/core/PeerTable")

/**
 * A persistent table of peers.
 *
 * - `peers`: peer key (peer id, or `addr:<dedupe key>` for a peer without one) → record.
 * - `index`: dedupe key → peer key.
 *
 * @since 0.1.0
 */
export interface PeerTable extends Pipeable {
  readonly [TypeId]: typeof TypeId
  readonly peers: HashMap.HashMap<string, PeerRecord.PeerRecord>
  readonly index: HashMap.HashMap<string, string>
}

const Proto = {
  [TypeId]: TypeId,
  pipe() {
    return pipeArguments(this, arguments)
  },
  toJSON(this: PeerTable) {
    return { _id: "PeerTable", peers: HashMap.size(this.peers), addresses: HashMap.size(this.index) }
  }
}

const make = (
  peers: HashMap.HashMap<string, PeerRecord.PeerRecord>,
  index: HashMap.HashMap<string, string>
): PeerTable => {
  const table = Object.create(Proto)
  table.peers = peers
  table.index = index
  return table
}

/**
 * The empty table.
 *
 * @since 0.1.0
 */
export const empty: PeerTable = make(HashMap.empty(), HashMap.empty())

/**
 * Whether a value is a {@link PeerTable}.
 *
 * @since 0.1.0
 */
export const isPeerTable = (u: unknown): u is PeerTable => typeof u === "object" && u !== null && TypeId in u

/**
 * Number of peers.
 *
 * @since 0.1.0
 */
export const size = (self: PeerTable): number => HashMap.size(self.peers)

/**
 * Number of addresses, over all peers.
 *
 * @since 0.1.0
 */
export const addressCount = (self: PeerTable): number => HashMap.size(self.index)

/**
 * All peers, in no particular order.
 *
 * @since 0.1.0
 */
export const peers = (self: PeerTable): IterableIterator<PeerRecord.PeerRecord> => HashMap.values(self.peers)

/**
 * The peer an address belongs to and the address's record, looked up by dedupe key (so
 * `/ip4/1.2.3.4/tcp/1` finds `/ip4/1.2.3.4/tcp/1/p2p/Qm…`).
 *
 * @since 0.1.0
 */
export const lookupAddress: {
  (address: PeerAddress.PeerAddress): (
    self: PeerTable
  ) => Option.Option<{ readonly peer: PeerRecord.PeerRecord; readonly record: PeerRecord.AddressRecord }>
  (
    self: PeerTable,
    address: PeerAddress.PeerAddress
  ): Option.Option<{ readonly peer: PeerRecord.PeerRecord; readonly record: PeerRecord.AddressRecord }>
} = dual(2, (self: PeerTable, address: PeerAddress.PeerAddress) => {
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
})

/**
 * The peer with this peer id.
 *
 * @since 0.1.0
 */
export const lookupPeer: {
  (peerId: string): (self: PeerTable) => Option.Option<PeerRecord.PeerRecord>
  (self: PeerTable, peerId: string): Option.Option<PeerRecord.PeerRecord>
} = dual(2, (self: PeerTable, peerId: string) => HashMap.get(self.peers, peerId))

/**
 * The key of the peer an address belongs to, if known.
 *
 * @since 0.1.0
 */
export const peerKeyOf = (self: PeerTable, address: PeerAddress.PeerAddress): Option.Option<string> =>
  HashMap.get(self.index, address.key)

/** Removes one address (by dedupe key) from the table; drops its peer when it was the last one. */
const detach = (self: PeerTable, key: string): PeerTable => {
  const pk = HashMap.get(self.index, key)
  if (Option.isNone(pk)) return self
  const index = HashMap.remove(self.index, key)
  const peer = HashMap.get(self.peers, pk.value)
  if (Option.isNone(peer)) return make(self.peers, index)
  const addresses = peer.value.addresses.filter((r) => r.address.key !== key)
  return make(
    addresses.length === 0
      ? HashMap.remove(self.peers, pk.value)
      : HashMap.set(self.peers, pk.value, { ...peer.value, addresses }),
    index
  )
}

/**
 * Inserts a whole peer record, merging it into what the table holds. Used to decode a table, to
 * import foreign caches and to apply another process's view.
 *
 * - Addresses are keyed by dedupe key: one already held by this peer has its counters **added** and
 *   its timestamps set to the latest; one held by another peer moves to this peer with its counters
 *   (an endpoint that now answers with another identity); a peer left without addresses is dropped.
 * - A peer without a peer id is stored per address: an address naming its peer (`/p2p/…`) goes to
 *   that peer; any other becomes a peer of its own, unless it is already held by a peer with an id,
 *   which keeps it.
 * - Protocols and sources are united, capabilities or-ed, first seen takes the earliest and last
 *   seen the latest.
 *
 * A record without addresses changes nothing.
 *
 * @since 0.1.0
 */
export const upsert: {
  (record: PeerRecord.PeerRecord): (self: PeerTable) => PeerTable
  (self: PeerTable, record: PeerRecord.PeerRecord): PeerTable
} = dual(2, (self: PeerTable, record: PeerRecord.PeerRecord): PeerTable => upsertImpl(self, record))

const upsertImpl = (self: PeerTable, record: PeerRecord.PeerRecord): PeerTable => {
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
const sourcesNormal = (sources: ReadonlyArray<PeerRecord.Source>): boolean => {
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
  return make(HashMap.set(self.peers, pk, merged), index)
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
      const found = lookupAddress(table, incoming.address)
      if (Option.isSome(found)) carried = mergeAddressRecords(found.value.record, incoming)
      table = detach(table, key)
    }
    addresses.push(carried)
    table = make(table.peers, HashMap.set(table.index, key, pk))
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
  return make(HashMap.set(table.peers, pk, merged), table.index)
}

/**
 * Options of {@link add}: where the address was heard of, and optionally the peer's capabilities.
 *
 * @since 0.1.0
 */
export interface AddOptions {
  /** Epoch ms the address was heard of (an integer, as `Clock.currentTimeMillis` gives: the Schema stores whole ms). */
  readonly now: number
  /** Where it was heard of. */
  readonly source: PeerRecord.Source
  /** Capability flags to set (or-ed with what is known). */
  readonly capabilities?: Partial<PeerRecord.Capabilities>
}

/**
 * Adds an address heard of at `now`, with no dial outcome. An address already known (same dedupe
 * key) is not duplicated: its last seen and its peer's sources are refreshed, and if it now carries
 * a peer id it moves to that peer.
 *
 * @since 0.1.0
 */
export const add: {
  (address: PeerAddress.PeerAddress, options: AddOptions): (self: PeerTable) => PeerTable
  (self: PeerTable, address: PeerAddress.PeerAddress, options: AddOptions): PeerTable
} = dual(3, (self: PeerTable, address: PeerAddress.PeerAddress, options: AddOptions): PeerTable =>
  upsert(self, {
    peerId: address.peerId,
    addresses: [PeerRecord.makeAddressRecord(address, options.now)],
    protocols: [],
    capabilities: { ...PeerRecord.noCapabilities, ...options.capabilities },
    sources: [options.source],
    firstSeen: options.now,
    lastSeen: options.now
  }))

/**
 * The key of the peer holding `address` when that is the peer the address names (or any peer, when
 * it names none); undefined when the address must be added (or moved) first.
 */
const holderOf = (self: PeerTable, address: PeerAddress.PeerAddress): string | undefined => {
  const pk = HashMap.get(self.index, address.key)
  return Option.isSome(pk) && (Option.isNone(address.peerId) || pk.value === address.peerId.value) ? pk.value : undefined
}

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
const recordOutcome = (
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
    table = add(self, address, { now, source: CONNECTION })
    pk = HashMap.unsafeGet(table.index, address.key)
  }
  const key = address.key
  return make(HashMap.modify(table.peers, pk, (peer) => applyOutcome(draftOf(peer), key, now, success, rtt, bytes)), table.index)
}

/**
 * A dial outcome as {@link recordOutcomes} reads it, the shape of `Journal`'s `Success` and
 * `Failure` operations: `at` in epoch ms, `rttMs` in ms, `bytes` exchanged.
 *
 * @since 0.2.0
 */
export interface Outcome {
  readonly _tag: "Success" | "Failure"
  readonly address: PeerAddress.PeerAddress
  readonly at: number
  readonly rttMs?: number
  readonly bytes?: number
}

/**
 * Records dial outcomes in order: the same table as {@link recordSuccessWith} and
 * {@link recordFailure} applied one by one, for replaying a journal. Outcomes of addresses already
 * held by the right peer leave the index unchanged, so their peers' records are updated in a native
 * `Map` (one copy per peer touched, changed in place by its later outcomes) and written into the table
 * once each (one `HashMap` write per peer touched instead of one per outcome); an outcome that adds an address takes the one-by-one path after the pending writes.
 * O(outcomes + peers touched × log n).
 *
 * @since 0.2.0
 */
export const recordOutcomes = (self: PeerTable, outcomes: Iterable<Outcome>): PeerTable => {
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
  return make(HashMap.endMutation(peers), table.index)
}

/**
 * {@link recordSuccess}, data-first with the options as arguments (`rttMs` in ms, `bytes`): the
 * allocation-lean form for loops that replay many outcomes.
 *
 * @since 0.1.0
 */
export const recordSuccessWith = (
  self: PeerTable,
  address: PeerAddress.PeerAddress,
  now: number,
  rttMs?: number,
  bytes?: number
): PeerTable => recordOutcome(self, address, now, true, rttMs, bytes)

const recordFailureImpl = (self: PeerTable, address: PeerAddress.PeerAddress, now: number): PeerTable =>
  recordOutcome(self, address, now, false, undefined, undefined)

/**
 * Options of {@link recordSuccess}.
 *
 * @since 0.1.0
 */
export interface SuccessOptions {
  /** Round-trip time of the dial in ms, folded into the smoothed RTT (RFC 6298, α = 1/8). */
  readonly rttMs?: number
  /** Bytes exchanged, added to the address's total. */
  readonly bytes?: number
}

/**
 * Records a successful dial of an address at `now` (epoch ms, an integer): successes + 1, consecutive
 * failures reset to 0, last success set to `now`, last seen (address and peer) moved forward to `now`,
 * RTT smoothed (RFC 6298 SRTT, α = 1/8; a negative or non-finite `rttMs` is ignored), `bytes` added.
 * An unknown address (or one held by another peer than the one it names) is added first, with a
 * `connection` source, so no outcome is lost. O(log n) plus the peer's address count.
 *
 * @since 0.1.0
 */
export const recordSuccess: {
  (address: PeerAddress.PeerAddress, now: number, options?: SuccessOptions): (self: PeerTable) => PeerTable
  (self: PeerTable, address: PeerAddress.PeerAddress, now: number, options?: SuccessOptions): PeerTable
} = dual(
  (args) => isPeerTable(args[0]),
  (self: PeerTable, address: PeerAddress.PeerAddress, now: number, options?: SuccessOptions): PeerTable =>
    recordSuccessWith(self, address, now, options?.rttMs, options?.bytes)
)

/**
 * Records a failed dial of an address at `now` (epoch ms, an integer): failures + 1, consecutive
 * failures + 1, last failure set to `now`. Last seen is unchanged (a failure is no sign of life). An
 * unknown address is added first, as for {@link recordSuccess}. O(log n) plus the peer's address count.
 *
 * @since 0.1.0
 */
export const recordFailure: {
  (address: PeerAddress.PeerAddress, now: number): (self: PeerTable) => PeerTable
  (self: PeerTable, address: PeerAddress.PeerAddress, now: number): PeerTable
} = dual(3, recordFailureImpl)

/**
 * Removes an address (by dedupe key). A peer left without addresses is removed too. Removing an
 * unknown address changes nothing.
 *
 * @since 0.1.0
 */
export const remove: {
  (address: PeerAddress.PeerAddress): (self: PeerTable) => PeerTable
  (self: PeerTable, address: PeerAddress.PeerAddress): PeerTable
} = dual(2, (self: PeerTable, address: PeerAddress.PeerAddress): PeerTable => detach(self, address.key))

/**
 * Removes a peer (by its key: peer id, or `addr:<dedupe key>`) with all its addresses.
 *
 * @since 0.1.0
 */
export const removePeer: {
  (peerKey: string): (self: PeerTable) => PeerTable
  (self: PeerTable, peerKey: string): PeerTable
} = dual(2, (self: PeerTable, peerKey: string): PeerTable => {
  const peer = HashMap.get(self.peers, peerKey)
  if (Option.isNone(peer)) return self
  let index = self.index
  for (const r of peer.value.addresses) index = HashMap.remove(index, r.address.key)
  return make(HashMap.remove(self.peers, peerKey), index)
})

/**
 * Replaces a peer's record as a whole (its addresses must be the ones it holds, or a subset: dropped
 * addresses leave the index). Used by pruning to cap a peer's addresses. An unknown key changes nothing.
 *
 * @since 0.1.0
 */
export const replacePeer: {
  (peerKey: string, record: PeerRecord.PeerRecord): (self: PeerTable) => PeerTable
  (self: PeerTable, peerKey: string, record: PeerRecord.PeerRecord): PeerTable
} = dual(3, (self: PeerTable, peerKey: string, record: PeerRecord.PeerRecord): PeerTable => {
  const old = HashMap.get(self.peers, peerKey)
  if (Option.isNone(old)) return self
  if (record.addresses.length === 0) return removePeer(self, peerKey)
  const keep = new Set(record.addresses.map((r) => r.address.key))
  let index = self.index
  for (const r of old.value.addresses) if (!keep.has(r.address.key)) index = HashMap.remove(index, r.address.key)
  const addresses = record.addresses.filter((r) => Option.contains(HashMap.get(self.index, r.address.key), peerKey))
  return make(HashMap.set(self.peers, peerKey, { ...record, addresses }), index)
})

/**
 * Sets the protocols a peer advertises (as learnt from identify). A peer advertising
 * {@link PeerRecord.RELAY_HOP_PROTOCOL} counts as relay-capable. Unknown peers are left alone.
 *
 * @since 0.1.0
 */
export const setProtocols: {
  (peerId: string, protocols: ReadonlyArray<string>): (self: PeerTable) => PeerTable
  (self: PeerTable, peerId: string, protocols: ReadonlyArray<string>): PeerTable
} = dual(3, (self: PeerTable, peerId: string, protocols: ReadonlyArray<string>): PeerTable =>
  Option.match(HashMap.get(self.peers, peerId), {
    onNone: () => self,
    onSome: (peer) =>
      make(
        HashMap.set(self.peers, peerId, {
          ...peer,
          protocols: Arr.dedupe(protocols),
          capabilities: {
            ...peer.capabilities,
            relay: peer.capabilities.relay || protocols.includes(PeerRecord.RELAY_HOP_PROTOCOL)
          }
        }),
        self.index
      )
  }))

/**
 * Figures for `stats`.
 *
 * - `peers`, `addresses`: counts.
 * - `relayCapable`, `bootstrap`: peers with those capabilities.
 * - `averageReliability`: mean over dialled addresses of successes / attempts, in [0,1] (0 if none).
 * - `totalSuccesses`, `totalFailures`: outcomes recorded over all addresses (`totalSuccesses` is
 *   the sum of Chiral's per-peer `connection_count`: an address's `successes` counts its successful
 *   connections).
 * - `totalBytesTransferred`: bytes exchanged over all addresses (Chiral `total_bytes_transferred`).
 * - `neverDialled`: addresses without any outcome.
 * - `oldestSeen`, `newestSeen`: epoch ms over peers' last seen, absent when the table is empty.
 *
 * @since 0.1.0
 */
export interface Stats {
  readonly peers: number
  readonly addresses: number
  readonly relayCapable: number
  readonly bootstrap: number
  readonly averageReliability: number
  readonly totalSuccesses: number
  readonly totalFailures: number
  readonly totalBytesTransferred: number
  readonly neverDialled: number
  readonly oldestSeen?: number
  readonly newestSeen?: number
}

/**
 * Computes {@link Stats} in one pass (O(n)).
 *
 * @since 0.1.0
 */
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
    peers: size(self),
    addresses: addressCount(self),
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

/**
 * Builds a table from peer records, merging duplicates as {@link upsert} does.
 *
 * @since 0.1.0
 */
export const fromRecords = (records: Iterable<PeerRecord.PeerRecord>): PeerTable => {
  const rs: ReadonlyArray<PeerRecord.PeerRecord> = Array.isArray(records) ? records : Array.from(records)
  const plain = plainPrefix(rs, rs.length)
  let table = plain.table
  for (let i = plain.end; i < rs.length; i++) table = upsertImpl(table, rs[i]!)
  return make(HashMap.endMutation(table.peers), HashMap.endMutation(table.index))
}

/**
 * The longest prefix of `rs[0, end)` whose records {@link upsert} would store as they are (a file this
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
 * The key of a record that {@link upsert} would store as it is into a table holding none of its keys:
 * exactly {@link insertFresh}'s case but for the keys already held (which {@link plainPrefix} checks).
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

/**
 * Applies many updates as one transient batch: `f` receives a table whose maps are edited in place
 * by every function of this module (`HashMap.beginMutation`), and what it returns is sealed again.
 * The result equals what the same calls on persistent tables give, at a fraction of the cost (no
 * path copied per update); `self` is left untouched. The tables `f` sees are only valid inside `f`:
 * intermediate ones must not escape it.
 *
 * @since 0.1.0
 */
export const mutate = (self: PeerTable, f: (table: PeerTable) => PeerTable): PeerTable => {
  const out = f(make(HashMap.beginMutation(self.peers), HashMap.beginMutation(self.index)))
  return make(HashMap.endMutation(out.peers), HashMap.endMutation(out.index))
}

/**
 * The peer records of a table sorted by peer key, so equal tables encode to equal JSON (the cache
 * file's checksum is computed over this order).
 *
 * @since 0.1.0
 */
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

/**
 * Schema of a table, encoded as an array of peer records in peer-key order. Decoding merges records
 * that share a peer id or an address, so any array decodes into a table that keeps the invariants.
 *
 * @since 0.1.0
 */
export const PeerTableFromRecords: Schema.Schema<PeerTable, ReadonlyArray<Schema.Schema.Encoded<typeof PeerRecord.PeerRecord>>> =
  Schema.transform(
    Schema.Array(PeerRecord.PeerRecord),
    Schema.declare(isPeerTable, { identifier: "PeerTable" }),
    {
      strict: true,
      decode: (records) => fromRecords(records),
      encode: (table) => toRecords(table)
    }
  ).annotations({ identifier: "PeerTableFromRecords" })
