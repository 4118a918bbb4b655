/**
 * The quality score of an address and of a peer: how likely a dial is to reach a live, useful peer,
 * as a number in [0, 1]. Pure: the time arrives as `now` (epoch ms).
 *
 * ```
 * quality = clamp(successRate × (1 − ageDecay) − rttPenalty + relayBonus + coordinatorBonus − symmetricNatPenalty, 0, 1)
 *
 * successRate = (successes + α) / (successes + failures + α + β) × streakFactor^min(consecutiveFailures, maxStreak)
 * ageDecay    = maxAgeDecay × (1 − 2^(−age / halfLifeMs))
 * age         = now − lastSuccess   (an address never reached: now − lastSeen, when it was last heard of)
 * rttPenalty  = rttWeight × min(1, rttMs / rttCeilingMs)   (0 when no RTT was measured)
 * ```
 *
 * - The prior (α = β = 1, Laplace's rule of succession: `(s + 1) / (s + f + 2)`) makes a never-dialled
 *   address 0.5: neither trusted nor condemned, so it ranks below a peer that answered and above one
 *   that did not.
 * - The failure-streak factor is Bitcoin Core addrman's `GetChance` (`0.66^min(nAttempts, 8)`, where
 *   `nAttempts` counts the failed dials since the last success): a peer that answered a hundred times
 *   and has now failed three times in a row is not dialled first. It is an addition to the
 *   cache design's bare prior; `streakFactor: 1` (or `maxStreak: 0`) turns it off.
 * - The age decay has a half-life: the weight of the evidence, `1 − ageDecay =
 *   (1 − maxAgeDecay) + maxAgeDecay × 2^(−age / halfLifeMs)`, loses half of its decaying part every
 *   `halfLifeMs`. It is capped at `maxAgeDecay` (default 0.5) so that a peer that worked a month ago
 *   still ranks above one that never answered: old evidence weakens but does not turn into bad
 *   evidence. `maxAgeDecay: 1` gives the plain half-life (weight `2^(−age / halfLifeMs)`), `0` no decay.
 * - The RTT term is optional: it applies only to addresses with a measured RTT, and `rttWeight: 0`
 *   turns it off.
 *
 * With `streakFactor: 1`, `rttWeight: 0` and the three capability constants at 0, the score is the
 * cache design's formula term for term: the prior-smoothed success rate, age-decayed.
 *
 * Every constant is in {@link Config}; {@link defaults} documents the defaults and their units.
 *
 * @since 0.1.0
 */
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as PeerRecord from "./PeerRecord.js"

/**
 * Every constant of the quality score.
 *
 * - `priorSuccesses`, `priorFailures` (≥ 0): the pseudo-counts α and β added to the success rate.
 * - `streakFactor` ([0,1]), `maxStreak` (integer ≥ 0): the success rate is multiplied by
 *   `streakFactor^min(consecutiveFailures, maxStreak)` (addrman `GetChance`: 0.66 and 8).
 * - `halfLifeMs` (ms, > 0): the half-life of the age decay: after this long since the last success,
 *   half of `maxAgeDecay` applies, after twice as long three quarters, and so on.
 * - `maxAgeDecay` ([0,1]): the age decay's ceiling; 1 lets very old evidence fall to 0, 0 turns the
 *   decay off.
 * - `rttWeight` ([0,1]), `rttCeilingMs` (ms, > 0): a smoothed RTT of `rttCeilingMs` or more costs
 *   `rttWeight`; lower RTTs cost proportionally less.
 * - `relayBonus`, `coordinatorBonus`, `symmetricNatPenalty` ([0,1]): added for a relay-capable peer
 *   (flag or hop protocol), added for a coordinator, subtracted for a peer behind a symmetric NAT.
 *
 * A `Schema.Struct`, so a configuration can be decoded from a file.
 *
 * @since 0.1.0
 */
export const Config = Schema.Struct({
  priorSuccesses: Schema.NonNegative,
  priorFailures: Schema.NonNegative,
  streakFactor: Schema.Number.pipe(Schema.between(0, 1)),
  maxStreak: Schema.NonNegativeInt,
  halfLifeMs: Schema.Number.pipe(Schema.positive(), Schema.finite()),
  maxAgeDecay: Schema.Number.pipe(Schema.between(0, 1)),
  rttWeight: Schema.Number.pipe(Schema.between(0, 1)),
  rttCeilingMs: Schema.Number.pipe(Schema.positive(), Schema.finite()),
  relayBonus: Schema.Number.pipe(Schema.between(0, 1)),
  coordinatorBonus: Schema.Number.pipe(Schema.between(0, 1)),
  symmetricNatPenalty: Schema.Number.pipe(Schema.between(0, 1))
}).annotations({ identifier: "@bootstrap-cache/core/Score/Config" })

/**
 * @since 0.1.0
 */
export interface Config extends Schema.Schema.Type<typeof Config> {}

/**
 * The default constants.
 *
 * | constant | default | unit | source |
 * |---|---|---|---|
 * | `priorSuccesses`, `priorFailures` | 1, 1 | dials | Laplace's rule of succession |
 * | `streakFactor`, `maxStreak` | 0.66, 8 | ratio, dials | Bitcoin Core addrman `GetChance` |
 * | `halfLifeMs` | 604 800 000 (7 days) | ms | the stale age of {@link Prune} |
 * | `maxAgeDecay` | 0.5 | ratio | old success never ranks below no evidence |
 * | `rttWeight`, `rttCeilingMs` | 0.1, 1 000 | ratio, ms | an RTT ≥ 1 s costs 0.1 |
 * | `relayBonus` | 0.1 | ratio | relays help a node behind NAT join |
 * | `coordinatorBonus` | 0.05 | ratio | |
 * | `symmetricNatPenalty` | 0.1 | ratio | hole punching to it usually fails |
 *
 * @since 0.1.0
 */
export const defaults: Config = {
  priorSuccesses: 1,
  priorFailures: 1,
  streakFactor: 0.66,
  maxStreak: 8,
  halfLifeMs: 7 * 24 * 3_600_000,
  maxAgeDecay: 0.5,
  rttWeight: 0.1,
  rttCeilingMs: 1_000,
  relayBonus: 0.1,
  coordinatorBonus: 0.05,
  symmetricNatPenalty: 0.1
}

/**
 * The defaults with some constants replaced.
 *
 * @since 0.1.0
 */
export const makeConfig = (overrides: Partial<Config> = {}): Config => ({ ...defaults, ...overrides })

/**
 * Clamps to [0,1]; NaN becomes 0.
 *
 * @since 0.1.0
 */
export const clamp01 = (x: number): number => (x <= 0 || Number.isNaN(x) ? 0 : x >= 1 ? 1 : x)

/**
 * The success rate of an address with the prior and the failure-streak factor, in [0,1]
 * (see the module docs): `(s + α) / (s + f + α + β) × streakFactor^min(consecutiveFailures, maxStreak)`.
 * A never-dialled address is `α / (α + β)`, 0.5 by default (and 0.5 when α = β = 0).
 *
 * @since 0.1.0
 */
export const successRate = (record: PeerRecord.AddressRecord, config: Config = defaults): number => {
  const denominator = record.successes + record.failures + config.priorSuccesses + config.priorFailures
  const rate = denominator === 0 ? 0.5 : (record.successes + config.priorSuccesses) / denominator
  const streak = Math.min(record.consecutiveFailures, config.maxStreak)
  return streak === 0 ? rate : rate * Math.pow(config.streakFactor, streak)
}

/**
 * The age decay of an address at `now` (epoch ms), in [0, `maxAgeDecay`]:
 * `maxAgeDecay × (1 − 2^(−age / halfLifeMs))`, growing from 0 with the age (ms) since its last
 * success — or, for an address never reached, since it was last heard of (its `lastSeen`) — and
 * reaching half of `maxAgeDecay` after `halfLifeMs`. An address with neither timestamp does not decay.
 * A timestamp in the future counts as now (age 0).
 *
 * @since 0.1.0
 */
export const ageDecay = (record: PeerRecord.AddressRecord, now: number, config: Config = defaults): number => {
  const lastSuccess = record.lastSuccess
  const lastSeen = record.lastSeen
  const since = lastSuccess._tag === "Some" ? lastSuccess.value : lastSeen._tag === "Some" ? lastSeen.value : now
  const age = now - since
  if (!(age > 0)) return 0
  // 2^(−age/halfLife) as e^(−age·ln2/halfLife): the same value to within rounding, and Math.exp is
  // several times cheaper than Math.pow with a fractional exponent (this runs for every address on a
  // selection's pass over the table).
  return config.maxAgeDecay * (1 - Math.exp((-age * Math.LN2) / config.halfLifeMs))
}

/**
 * The RTT penalty of an address, in [0, `rttWeight`]: proportional to its smoothed RTT (ms) up to
 * `rttCeilingMs`; 0 when no RTT was measured.
 *
 * @since 0.1.0
 */
export const rttPenalty = (record: PeerRecord.AddressRecord, config: Config = defaults): number => {
  const rtt = record.rttMs
  return rtt._tag === "None" ? 0 : config.rttWeight * Math.min(1, rtt.value / config.rttCeilingMs)
}

/**
 * The peer-level part of the score: `relayBonus` if relay-capable (flag or hop protocol, see
 * {@link PeerRecord.isRelay}) + `coordinatorBonus` if a coordinator − `symmetricNatPenalty` if behind
 * a symmetric NAT. May be negative.
 *
 * @since 0.1.0
 */
export const capabilityAdjustment = (peer: PeerRecord.PeerRecord, config: Config = defaults): number =>
  (PeerRecord.isRelay(peer) ? config.relayBonus : 0) +
  (peer.capabilities.coordinator ? config.coordinatorBonus : 0) -
  (peer.capabilities.symmetricNat ? config.symmetricNatPenalty : 0)

/**
 * The address part of the score, before the capability terms and the clamp:
 * `successRate × (1 − ageDecay) − rttPenalty`, in [−`rttWeight`, 1]. For callers that score many
 * addresses of one peer and add {@link capabilityAdjustment} once (as selection does).
 *
 * @since 0.1.0
 */
export const addressTerm = (record: PeerRecord.AddressRecord, now: number, config: Config = defaults): number =>
  successRate(record, config) * (1 - ageDecay(record, now, config)) - rttPenalty(record, config)

/**
 * The quality of one address of a peer at `now` (epoch ms), in [0,1] (the formula of the module
 * docs). The peer gives the capability terms; pass the peer the address belongs to.
 *
 * @example
 * Score.address(peer, peer.addresses[0], now)            // data first
 * pipe(peer, Score.address(peer.addresses[0], now))     // data last
 *
 * @since 0.1.0
 */
export const address: {
  (record: PeerRecord.AddressRecord, now: number, config?: Config): (peer: PeerRecord.PeerRecord) => number
  (peer: PeerRecord.PeerRecord, record: PeerRecord.AddressRecord, now: number, config?: Config): number
} = dual(
  (args) => typeof args[2] === "number",
  (peer: PeerRecord.PeerRecord, record: PeerRecord.AddressRecord, now: number, config: Config = defaults): number =>
    clamp01(addressTerm(record, now, config) + capabilityAdjustment(peer, config))
)

/**
 * The best address of a peer among those `eligible` accepts (all by default) and its quality at
 * `now` (epoch ms); none when no address is eligible. Ties go to the address listed first.
 *
 * @since 0.1.0
 */
export const best = (
  peer: PeerRecord.PeerRecord,
  now: number,
  config: Config = defaults,
  eligible?: (record: PeerRecord.AddressRecord) => boolean
): Option.Option<{ readonly record: PeerRecord.AddressRecord; readonly quality: number }> => {
  let bestRecord: PeerRecord.AddressRecord | undefined
  let bestRaw = Number.NEGATIVE_INFINITY
  for (const r of peer.addresses) {
    if (eligible !== undefined && !eligible(r)) continue
    const raw = addressTerm(r, now, config)
    if (raw > bestRaw) {
      bestRaw = raw
      bestRecord = r
    }
  }
  return bestRecord === undefined
    ? Option.none()
    : Option.some({ record: bestRecord, quality: clamp01(bestRaw + capabilityAdjustment(peer, config)) })
}

/**
 * The quality of a peer at `now` (epoch ms): the quality of its best address, in [0,1]
 * (0 for a peer without addresses, which a table never holds).
 *
 * @since 0.1.0
 */
export const peer: {
  (now: number, config?: Config): (peer: PeerRecord.PeerRecord) => number
  (peer: PeerRecord.PeerRecord, now: number, config?: Config): number
} = dual(
  (args) => typeof args[0] === "object",
  (self: PeerRecord.PeerRecord, now: number, config: Config = defaults): number =>
    Option.match(best(self, now, config), { onNone: () => 0, onSome: (b) => b.quality })
)
