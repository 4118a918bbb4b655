/**
 * The netgroup ids of a selection pool: dense ids `0, 1, 2, …` in the order netgroups are first seen,
 * as a `Map` from netgroup to id gives them, but an IPv4 /16 (`ip4:a.b`, nearly every netgroup of a
 * large table) is found by its two octets in a flat array rather than by hashing its string into a
 * growing hash table: a freshly decoded 30k table spans ~24k distinct /16s, and a hash table's growth
 * and probing over them cost about a quarter of a pass over it.
 *
 * @internal
 */

/** How many slots the flat array holds: one per IPv4 /16. */
const IP4_SLOTS = 65_536

/**
 * The slot `a × 256 + b` of a netgroup written exactly as `ip4:a.b` (each octet in [0, 255], decimal,
 * no leading zero), else −1. The written form is one-to-one with the slot, so two netgroups share a
 * slot exactly when they are equal strings; any other spelling goes through the `Map`.
 */
export const ip4Slot = (netgroup: string): number => {
  const length = netgroup.length
  if (length < 7 || length > 11 || netgroup.charCodeAt(0) !== 105 || netgroup.charCodeAt(1) !== 112 ||
    netgroup.charCodeAt(2) !== 52 || netgroup.charCodeAt(3) !== 58) return -1
  const dot = octetEnd(netgroup, 4)
  if (dot < 0 || dot >= length || netgroup.charCodeAt(dot) !== 46) return -1
  const end = octetEnd(netgroup, dot + 1)
  if (end !== length) return -1
  return octetValue(netgroup, 4, dot) * 256 + octetValue(netgroup, dot + 1, end)
}

/** Where the canonical decimal octet starting at `from` ends, or −1 when there is none there. */
const octetEnd = (s: string, from: number): number => {
  let at = from
  while (at < s.length && at - from < 4) {
    const c = s.charCodeAt(at)
    if (c < 48 || c > 57) break
    at++
  }
  const digits = at - from
  if (digits === 0 || digits > 3 || (digits > 1 && s.charCodeAt(from) === 48)) return -1
  return octetValue(s, from, at) > 255 ? -1 : at
}

const octetValue = (s: string, from: number, to: number): number => {
  let value = 0
  for (let at = from; at < to; at++) value = value * 10 + s.charCodeAt(at) - 48
  return value
}

/** Pools of fewer peers than this intern every netgroup through the `Map` (the flat array is 256 KB). */
export const FLAT_FROM = 1_024

/** Netgroup → dense id, first seen first. */
export class GroupIds {
  /** Id + 1 of each IPv4 /16 seen, by {@link ip4Slot}; 0 for one not seen. Empty: every netgroup goes through `other`. */
  private readonly ip4: Int32Array
  private readonly other = new Map<string, number>()
  /** Ids given so far. */
  size = 0

  /** `peers`: how many peers the pool may hold (the flat array pays from {@link FLAT_FROM} on). */
  constructor(peers: number) {
    this.ip4 = new Int32Array(peers >= FLAT_FROM ? IP4_SLOTS : 0)
  }

  /** The id of a netgroup seen before, else undefined. */
  get(netgroup: string): number | undefined {
    const slot = this.ip4.length === 0 ? -1 : ip4Slot(netgroup)
    if (slot < 0) return this.other.get(netgroup)
    const id = this.ip4[slot]!
    return id === 0 ? undefined : id - 1
  }

  /** The id of a netgroup: the one it has, or the next one. */
  intern(netgroup: string): number {
    const slot = this.ip4.length === 0 ? -1 : ip4Slot(netgroup)
    if (slot < 0) {
      let id = this.other.get(netgroup)
      if (id === undefined) this.other.set(netgroup, id = this.size++)
      return id
    }
    const id = this.ip4[slot]!
    if (id !== 0) return id - 1
    this.ip4[slot] = ++this.size
    return this.size - 1
  }
}
