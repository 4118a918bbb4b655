/**
 * fast-check arbitraries for the policies (score, selection, pruning): address records with
 * consistent dial histories, peers, tables spread over a few netgroups (so that netgroup caps bind),
 * and pruning configurations. Times are epoch ms before {@link NOW}.
 *
 * Kept free of Node imports so the core package's tests can use it.
 *
 * @since 0.1.0
 */
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import { PeerAddress, PeerRecord, PeerTable, Prune } from "@bootstrap-cache/core"
import { PEER_IDS } from "./Arbitraries.js"

/**
 * The reference time of generated histories (epoch ms): every timestamp is at or before it.
 *
 * @since 0.1.0
 */
export const NOW = 1_750_000_000_000

const DAY = 86_400_000

/** First octets of public IPv4 ranges (no private, loopback, CGNAT, link-local or reserved /8 slice). */
const OCTETS = [23, 45, 51, 62, 77, 81, 88, 91, 93, 95, 104, 130, 141, 145, 151, 161, 176, 185, 193, 212]

/**
 * The netgroup (`ip4:a.b`) of group number `g` as used by {@link addressRecord}.
 *
 * @since 0.1.0
 */
export const netgroupOf = (g: number): string => `ip4:${OCTETS[g % OCTETS.length]}.${Math.floor(g / OCTETS.length)}`

/**
 * Options of {@link addressRecord} and {@link table}.
 *
 * @since 0.1.0
 */
export interface Universe {
  /** Number of netgroups (/16s) addresses are drawn from. */
  readonly groups: number
  /** Hosts per netgroup (fewer means more dedupe collisions). Default 64. */
  readonly hosts?: number
  /** Share of addresses that are not dialable (loopback or relayed), in [0,1]. Default 0. */
  readonly undialable?: number
}

/**
 * One address record with a consistent dial history: `consecutiveFailures ≤ failures`, the last
 * outcome's timestamp matching the streak (a failure if the streak is positive), `lastSeen` at or
 * after the last success, everything at or before {@link NOW}; ages up to 20 days.
 *
 * @since 0.1.0
 */
export const addressRecord = (universe: Universe): FastCheck.Arbitrary<PeerRecord.AddressRecord> =>
  FastCheck.record({
    // Unbiased, so that tables spread over the whole universe (fast-check favours small integers).
    g: FastCheck.integer({ min: 0, max: Math.max(0, universe.groups - 1) }).noBias(),
    host: FastCheck.integer({ min: 0, max: Math.max(0, (universe.hosts ?? 64) - 1) }).noBias(),
    port: FastCheck.integer({ min: 4001, max: 4002 }).noBias(),
    // fast-check's doubles are uniform over representations (mostly tiny): draw permilles instead.
    undialable: FastCheck.integer({ min: 0, max: 999 }).noBias().map((n) => n / 1000),
    successes: FastCheck.integer({ min: 0, max: 12 }),
    failures: FastCheck.integer({ min: 0, max: 12 }),
    streakShare: FastCheck.integer({ min: 0, max: 1000 }).map((n) => n / 1000),
    lastAgo: FastCheck.integer({ min: 0, max: 20 * DAY }),
    gap: FastCheck.integer({ min: 1, max: DAY }),
    seenAgo: FastCheck.integer({ min: 0, max: 20 * DAY }),
    rtt: FastCheck.option(FastCheck.integer({ min: 1, max: 3_000 }), { nil: undefined })
  }).map((s) => {
    const g = s.g
    const ip = `${OCTETS[g % OCTETS.length]}.${Math.floor(g / OCTETS.length)}.${s.host >> 8}.${(s.host & 255) || 1}`
    const text = s.undialable < (universe.undialable ?? 0)
      ? (s.host % 2 === 0 ? `/ip4/127.0.${s.host >> 8}.${(s.host & 255) || 1}/tcp/${s.port}` : `/ip4/${ip}/tcp/${s.port}/p2p/${PEER_IDS[0]}/p2p-circuit/p2p/${PEER_IDS[1]}`)
      : `/ip4/${ip}/tcp/${s.port}`
    const address = PeerAddress.unsafeParse(text)
    const streak = s.successes === 0 ? s.failures : Math.floor(s.streakShare * s.failures)
    const last = NOW - s.lastAgo
    const lastSuccess = s.successes === 0 ? undefined : streak > 0 ? last - s.gap : last
    const lastFailure = s.failures === 0 ? undefined : streak > 0 ? last : last - s.gap
    const seen = Math.max(NOW - s.seenAgo, lastSuccess ?? 0)
    return {
      address,
      successes: s.successes,
      failures: s.failures,
      consecutiveFailures: streak,
      lastSuccess: Option.fromNullable(lastSuccess),
      lastFailure: Option.fromNullable(lastFailure),
      lastSeen: Option.some(seen),
      rttMs: s.successes > 0 && s.rtt !== undefined ? Option.some(s.rtt) : Option.none(),
      bytesTransferred: 0
    }
  })

/**
 * A peer record: mostly one address without a peer id (a peer of its own); one in six has a peer id
 * from {@link PEER_IDS} and one to three addresses. Random capabilities; last seen at its newest
 * address's.
 *
 * @since 0.1.0
 */
export const peerRecord = (universe: Universe): FastCheck.Arbitrary<PeerRecord.PeerRecord> =>
  FastCheck.record({
    addresses: FastCheck.array(addressRecord(universe), { minLength: 1, maxLength: 3 }),
    peerId: FastCheck.oneof(
      { weight: 5, arbitrary: FastCheck.constant(undefined) },
      { weight: 1, arbitrary: FastCheck.constantFrom(...PEER_IDS) }
    ),
    relay: FastCheck.boolean(),
    coordinator: FastCheck.boolean(),
    symmetricNat: FastCheck.boolean()
  }).map((s) => {
    const addresses = s.peerId === undefined ? s.addresses.slice(0, 1) : s.addresses
    const seen = Math.max(...addresses.map((r) => Option.getOrElse(r.lastSeen, () => 0)))
    return {
      peerId: Option.fromNullable(s.peerId),
      addresses,
      protocols: [],
      capabilities: { relay: s.relay, coordinator: s.coordinator, bootstrap: false, symmetricNat: s.symmetricNat },
      sources: [{ _tag: "connection" as const }],
      firstSeen: seen,
      lastSeen: seen
    }
  })

/**
 * A table built from `minRecords` to `maxRecords` peer records (default 0–60) over the universe,
 * with `PeerTable.fromRecords` (so collisions merge as in real use: the table may hold fewer peers).
 *
 * @since 0.1.0
 */
export const table = (universe: Universe, maxRecords = 60, minRecords = 0): FastCheck.Arbitrary<PeerTable.PeerTable> =>
  FastCheck.array(peerRecord(universe), { minLength: minRecords, maxLength: maxRecords }).map(PeerTable.fromRecords)

/**
 * Pruning configurations small enough for the caps to bind on tables of tens of peers:
 * capacity 0–50, 1–10 tried peers per netgroup, 1–10 new peers per bucket, a staleness floor of 0–20, 0–4 working peers kept, 1–3 addresses per peer,
 * 1–5 consecutive failures, 1–5 attempts before unreliable, 1–10 days before stale.
 *
 * @since 0.1.0
 */
export const pruneConfig: FastCheck.Arbitrary<Prune.Config> = FastCheck.record({
  maxConsecutiveFailures: FastCheck.integer({ min: 1, max: 5 }),
  minWorkingPeers: FastCheck.integer({ min: 0, max: 4 }),
  unreliableMinAttempts: FastCheck.integer({ min: 1, max: 5 }),
  staleAfterMs: FastCheck.integer({ min: 1, max: 10 }).map((d) => d * DAY),
  capacity: FastCheck.integer({ min: 0, max: 50 }),
  maxPeersPerNetgroup: FastCheck.integer({ min: 1, max: 10 }),
  maxAddressesPerPeer: FastCheck.integer({ min: 1, max: 3 }),
  maxNewPerBucket: FastCheck.integer({ min: 1, max: 10 }),
  minCandidates: FastCheck.integer({ min: 0, max: 20 })
})
