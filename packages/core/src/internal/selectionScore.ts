/**
 * How a selection pool scores one peer: its best dialable (and supported) address at `now` and that
 * address's quality ({@link Score.address}), computed from the address terms with the capability
 * adjustment added once per peer.
 *
 * @internal
 */
import * as PeerAddress from "../PeerAddress.js"
import type * as PeerRecord from "../PeerRecord.js"
import * as Score from "../Score.js"

/**
 * Where {@link bestDialable} leaves the best address's term and whether the peer's dialable addresses
 * span more than one netgroup (one reused object, not one per peer).
 */
export interface TermOut {
  term: number
  mixed: boolean
}

const dialable = PeerAddress.isDialableWith

/**
 * A peer's best dialable (and supported) address at `now` (epoch ms), or undefined when it has none;
 * its address term is left in `out.term`, and in `out.mixed` whether its dialable addresses lie in
 * more than one netgroup (then which netgroup its best address is in can change with `now`).
 */
export const bestDialable = (
  peer: PeerRecord.PeerRecord,
  now: number,
  config: Score.Config,
  loopback: boolean,
  priv: boolean,
  supports: ((address: PeerAddress.PeerAddress) => boolean) | undefined,
  out: TermOut
): PeerAddress.PeerAddress | undefined => {
  const records = peer.addresses
  let bestTerm = Number.NEGATIVE_INFINITY
  let bestAddress: PeerAddress.PeerAddress | undefined
  let netgroup: string | undefined
  let mixed = false
  for (let j = 0; j < records.length; j++) {
    const r = records[j]!
    if (!dialable(r.address, loopback, priv) || (supports !== undefined && !supports(r.address))) continue
    if (netgroup === undefined) netgroup = r.address.netgroup
    else if (r.address.netgroup !== netgroup) mixed = true
    const term = Score.addressTerm(r, now, config)
    if (term > bestTerm) {
      bestTerm = term
      bestAddress = r.address
    }
  }
  out.term = bestTerm
  out.mixed = mixed
  return bestAddress
}

/** `Score.address` of the best address from its term: the capability adjustment (relay tested once), clamped. */
export const qualityOf = (peer: PeerRecord.PeerRecord, relay: boolean, term: number, config: Score.Config): number => {
  const capabilities = peer.capabilities
  const adjustment = (relay ? config.relayBonus : 0) + (capabilities.coordinator ? config.coordinatorBonus : 0) -
    (capabilities.symmetricNat ? config.symmetricNatPenalty : 0)
  return Score.clamp01(term + adjustment)
}
