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
import type { Pipeable } from "effect/Pipeable"
import * as Schema from "effect/Schema"
import { addressCountOf, detach, dropPeer, findAddress, indexSteps as indexStepsImpl, make, mutateImpl, replacePeerRecord, TypeId, withPeers } from "./internal/peerTableCore.js"
import { recordOutcome, recordOutcomesImpl } from "./internal/peerTableOutcome.js"
import { fromRecords as fromRecordsImpl, toRecords as toRecordsImpl } from "./internal/peerTableRecords.js"
import { stats as statsImpl } from "./internal/peerTableStats.js"
import { addAddress, upsertImpl } from "./internal/peerTableUpsert.js"
import type * as PeerAddress from "./PeerAddress.js"
import * as PeerRecord from "./PeerRecord.js"

/**
 * A persistent table of peers.
 *
 * - `peers`: peer key (peer id, or `addr:<dedupe key>` for a peer without one) → record.
 * - `index`: dedupe key → peer key. A table decoded from a file (`fromRecords` of records that hold
 *   each peer and address once) builds it at its first read (O(addresses)) and keeps it; `size` and
 *   `addressCount` never need it.
 *
 * @since 0.1.0
 */
export interface PeerTable extends Pipeable {
  readonly [TypeId]: typeof TypeId
  readonly peers: HashMap.HashMap<string, PeerRecord.PeerRecord>
  readonly index: HashMap.HashMap<string, string>
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
export const addressCount = (self: PeerTable): number => addressCountOf(self)

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
} = dual(2, findAddress)

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
} = dual(3, addAddress)

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
export const recordOutcomes = (self: PeerTable, outcomes: Iterable<Outcome>): PeerTable =>
  recordOutcomesImpl(self, outcomes)

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
} = dual(2, dropPeer)

/**
 * Replaces a peer's record as a whole (its addresses must be the ones it holds, or a subset: dropped
 * addresses leave the index). Used by pruning to cap a peer's addresses. An unknown key changes nothing.
 *
 * @since 0.1.0
 */
export const replacePeer: {
  (peerKey: string, record: PeerRecord.PeerRecord): (self: PeerTable) => PeerTable
  (self: PeerTable, peerKey: string, record: PeerRecord.PeerRecord): PeerTable
} = dual(3, replacePeerRecord)

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
      withPeers(
        self,
        HashMap.set(self.peers, peerId, {
          ...peer,
          protocols: Arr.dedupe(protocols),
          capabilities: {
            ...peer.capabilities,
            relay: peer.capabilities.relay || protocols.includes(PeerRecord.RELAY_HOP_PROTOCOL)
          }
        })
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
export const stats = (self: PeerTable): Stats => statsImpl(self)

/**
 * Builds a table from peer records, merging duplicates as {@link upsert} does.
 *
 * @since 0.1.0
 */
export const fromRecords = (records: Iterable<PeerRecord.PeerRecord>): PeerTable => fromRecordsImpl(records)

/**
 * Builds a table's address index (`table.index`) now, a slice at a time, for a caller that must not
 * hold its thread for it (30k addresses take tens of ms): a generator that pauses (yields the number
 * of peers done) after every `peersPerStep` peers (at least 1). A table decoded from a file builds its
 * index at its first read; once this generator has run to its end, that read finds it built, and so
 * do the reads of the tables made from this one by changes that keep its addresses (outcomes,
 * protocols). Does nothing for a table whose index is built. The index is the same either way.
 *
 * @since 0.2.0
 */
export const indexSteps = (self: PeerTable, peersPerStep: number): Generator<number, void, void> =>
  indexStepsImpl(self, Math.max(1, Math.floor(peersPerStep)))

/**
 * Applies many updates as one transient batch: `f` receives a table whose maps are edited in place
 * by every function of this module (`HashMap.beginMutation`), and what it returns is sealed again.
 * The result equals what the same calls on persistent tables give, at a fraction of the cost (no
 * path copied per update); `self` is left untouched. The tables `f` sees are only valid inside `f`:
 * intermediate ones must not escape it.
 *
 * @since 0.1.0
 */
export const mutate = (self: PeerTable, f: (table: PeerTable) => PeerTable): PeerTable => mutateImpl(self, f)

/**
 * The peer records of a table sorted by peer key, so equal tables encode to equal JSON (the cache
 * file's checksum is computed over this order).
 *
 * @since 0.1.0
 */
export const toRecords = (self: PeerTable): Array<PeerRecord.PeerRecord> => toRecordsImpl(self)

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
