/**
 * The compact codec of one peer record (cache file version 2): a JSON array with the fields in a
 * fixed order instead of an object with named fields, defaults left out at the end, the peer id not
 * repeated in its addresses, and sources written once per file (the header's `sources` table) and
 * referred to by index. About 40% of the named form, and faster to parse.
 *
 * ```
 * peer    [peerId | null, firstSeen, lastSeen, [address, …], capabilities, [protocol, …], [source index, …], extra?]
 * address [multiaddr, successes, failures, consecutiveFailures, lastSuccess, lastFailure, lastSeen, rttMs, bytesTransferred, extra?]
 * ```
 *
 * - `capabilities`: bit flags, relay 1, coordinator 2, bootstrap 4, symmetricNat 8.
 * - An absent option is `null`; an address's trailing elements equal to their default (`null`, `0`)
 *   are left out.
 * - A multiaddr ending in `/p2p` ends in `/p2p/<the record's peer id>`.
 * - `extra`: the fields of the `PeerRecord` Schema's encoding this codec does not place (a newer
 *   Schema's), kept as named fields, so they survive a round trip; such a record decodes through the
 *   Schema.
 *
 * The codec is defined as a bijection with the Schema's encoding ({@link expand} gives it back):
 * writing goes through the named form (`recordJson.encodePeerDirect`), and anything the hand-written
 * decoder does not accept exactly is expanded and handed to the Schema, which stays the arbiter and
 * names the offending field. Property tests check both directions.
 */
import * as Option from "effect/Option"
import type * as PeerRecord from "../PeerRecord.js"
import { some } from "./optionSome.js"
import { CAPABILITY_SETS, checkedAddress, type DecodeMemo, encodePeerDirect, encodeSource, fastPeerId, isCount, isObject } from "./recordJson.js"

/** The fields of the named encodings this codec places; anything else goes to `extra`. */
const PEER_FIELDS: ReadonlySet<string> = new Set(["peerId", "addresses", "protocols", "capabilities", "sources", "firstSeen", "lastSeen"])
const ADDRESS_FIELDS = [
  "multiaddr",
  "successes",
  "failures",
  "consecutiveFailures",
  "lastSuccess",
  "lastFailure",
  "lastSeen",
  "rttMs",
  "bytesTransferred"
] as const
const ADDRESS_FIELD_SET: ReadonlySet<string> = new Set<string>(ADDRESS_FIELDS)
/** Default of each address position (`undefined`: required). */
const ADDRESS_DEFAULTS: ReadonlyArray<unknown> = [undefined, 0, 0, 0, null, null, null, null, 0]
const CAPABILITY_NAMES = ["relay", "coordinator", "bootstrap", "symmetricNat"] as const

/**
 * A record's compact line, split where the file's source table comes in: `head` is the JSON up to
 * and including the protocols, `sources` the JSON of each source (keys of the file's table), `tail`
 * the JSON after the source indices (`,{extra}` or nothing). Memoised per record by the caller.
 */
export interface Parts {
  readonly head: string
  readonly sources: ReadonlyArray<string>
  readonly tail: string
}

const extraOf = (encoded: Record<string, unknown>, known: ReadonlySet<string>): Record<string, unknown> | undefined => {
  let extra: Record<string, unknown> | undefined
  for (const key of Object.keys(encoded)) {
    if (known.has(key)) continue
    extra ??= {}
    extra[key] = encoded[key]
  }
  return extra
}

const compactAddress = (a: Record<string, unknown>, peerId: string | undefined): Array<unknown> => {
  const out: Array<unknown> = new Array(ADDRESS_FIELDS.length)
  for (let i = 0; i < ADDRESS_FIELDS.length; i++) out[i] = a[ADDRESS_FIELDS[i]!] ?? null
  const multiaddr = a.multiaddr as string
  const suffix = peerId === undefined ? undefined : `/p2p/${peerId}`
  if (suffix !== undefined && multiaddr.endsWith(suffix)) out[0] = multiaddr.slice(0, multiaddr.length - peerId!.length - 1)
  const extra = extraOf(a, ADDRESS_FIELD_SET)
  if (extra !== undefined) {
    out.push(extra)
    return out
  }
  while (out.length > 1 && out[out.length - 1] === ADDRESS_DEFAULTS[out.length - 1]) out.pop()
  return out
}

/** How many own enumerable keys an object has (without allocating an array of them). */
const keyCount = (u: object): number => {
  let n = 0
  for (const _ in u) n++
  return n
}

/** The keys of a `PeerRecord` and of an `AddressRecord` that {@link encodeParts} writes from the fields. */
const PEER_KEYS = 7
const ADDRESS_KEYS = 9

/** A source's JSON in the file's table (`recordJson.encodeSource`, stringified). */
export const sourceJson = (source: PeerRecord.Source): string => JSON.stringify(encodeSource(source))

/** An address's compact array straight from its fields: what `compactAddress` gives for its direct encoding. */
const addressFromFields = (a: PeerRecord.AddressRecord, peerId: string | undefined): Array<unknown> => {
  const multiaddr = a.address.multiaddr
  const stripped = peerId !== undefined && multiaddr.endsWith(`/p2p/${peerId}`) ? multiaddr.slice(0, multiaddr.length - peerId.length - 1) : multiaddr
  const out: Array<unknown> = [
    stripped,
    a.successes,
    a.failures,
    a.consecutiveFailures,
    Option.isSome(a.lastSuccess) ? a.lastSuccess.value : null,
    Option.isSome(a.lastFailure) ? a.lastFailure.value : null,
    Option.isSome(a.lastSeen) ? a.lastSeen.value : null,
    Option.isSome(a.rttMs) ? a.rttMs.value : null,
    a.bytesTransferred
  ]
  while (out.length > 1 && out[out.length - 1] === ADDRESS_DEFAULTS[out.length - 1]) out.pop()
  return out
}

/**
 * The compact parts of a record (see {@link Parts}): {@link encodePartsPlain}'s result, built straight
 * from the record's fields for a record with exactly the fields this codec places (no intermediate
 * named object, no per-field lookups by name; ~4x faster), else by {@link encodePartsPlain} itself.
 * `sourceJsonOf` gives a source's JSON (default {@link sourceJson}; an encoder passes one memoised
 * per source object, as decoded records share their file's). A property test checks both agree.
 */
export const encodeParts = (record: PeerRecord.PeerRecord, sourceJsonOf: (source: PeerRecord.Source) => string = sourceJson): Parts => {
  const addresses = record.addresses
  if (keyCount(record) !== PEER_KEYS) return encodePartsPlain(record)
  for (let i = 0; i < addresses.length; i++) if (keyCount(addresses[i]!) !== ADDRESS_KEYS) return encodePartsPlain(record)
  const peerId = Option.isSome(record.peerId) ? record.peerId.value : undefined
  const compact: Array<unknown> = new Array(addresses.length)
  for (let i = 0; i < addresses.length; i++) compact[i] = addressFromFields(addresses[i]!, peerId)
  const c = record.capabilities
  const flags = (c.relay === true ? 1 : 0) | (c.coordinator === true ? 2 : 0) | (c.bootstrap === true ? 4 : 0) | (c.symmetricNat === true ? 8 : 0)
  const head = JSON.stringify([peerId ?? null, record.firstSeen, record.lastSeen, compact, flags, record.protocols])
  const sources: Array<string> = new Array(record.sources.length)
  for (let i = 0; i < record.sources.length; i++) sources[i] = sourceJsonOf(record.sources[i]!)
  return { head: head.slice(0, -1), sources, tail: "" }
}

/** The compact parts of a record by the definition: its named encoding (`encodePeerDirect`), compacted. */
export const encodePartsPlain = (record: PeerRecord.PeerRecord): Parts => {
  const encoded = encodePeerDirect(record) as unknown as Record<string, unknown>
  const peerId = typeof encoded.peerId === "string" ? encoded.peerId : undefined
  const addresses = (encoded.addresses as ReadonlyArray<Record<string, unknown>>).map((a) => compactAddress(a, peerId))
  const capabilities = (encoded.capabilities ?? {}) as Record<string, unknown>
  let flags = 0
  for (let i = 0; i < CAPABILITY_NAMES.length; i++) if (capabilities[CAPABILITY_NAMES[i]!] === true) flags |= 1 << i
  const head = JSON.stringify([peerId ?? null, encoded.firstSeen, encoded.lastSeen, addresses, flags, encoded.protocols ?? []])
  const extra = extraOf(encoded, PEER_FIELDS)
  return {
    head: head.slice(0, -1),
    sources: record.sources.map((s) => JSON.stringify(encodeSource(s))),
    tail: extra === undefined ? "" : `,${JSON.stringify(extra)}`
  }
}

/** The line of a record given its parts and the index of each source JSON in the file's table. */
export const renderParts = (parts: Parts, indexOf: ReadonlyMap<string, number>): string => {
  let indices = ""
  for (let i = 0; i < parts.sources.length; i++) indices += (i === 0 ? "" : ",") + indexOf.get(parts.sources[i]!)!
  return `${parts.head},[${indices}]${parts.tail}]`
}

const NONE = Option.none()

const optionalCount = (u: unknown): Option.Option<number> | null =>
  u === null || u === undefined ? Option.none() : isCount(u) ? some(u) : null

const decodeAddress = (u: unknown, peerId: string | null, memo: DecodeMemo | undefined): PeerRecord.AddressRecord | null => {
  if (!Array.isArray(u) || u.length > ADDRESS_FIELDS.length) return null
  let multiaddr = u[0]
  if (typeof multiaddr !== "string") return null
  if (peerId !== null && multiaddr.endsWith("/p2p")) multiaddr = `${multiaddr}/${peerId}`
  // Options are immutable values: a last seen equal to the last success (the usual case) shares its Option.
  const lastSuccess = optionalCount(u[4])
  return checkedAddress(
    multiaddr,
    u[1] ?? 0,
    u[2] ?? 0,
    u[3] ?? 0,
    lastSuccess,
    optionalCount(u[5]),
    u[6] === u[4] ? lastSuccess : optionalCount(u[6]),
    u[7] === null ? undefined : u[7],
    u[8] ?? 0,
    memo
  )
}

const EMPTY: ReadonlyArray<never> = []

/** Source indices below this are keyed as numbers in pairs (see {@link sourceListKey}). */
const PAIR_BASE = 1 << 20

/**
 * The key of a list of source indices (non-negative integers, each an index of the file's table) in
 * `memo.sourceLists`: one index is itself, two small ones the negative number `-(1 + a·2²⁰ + b)` (a
 * file's peers mostly name one or two sources, and a number spares the joined string a line), any
 * other list its indices joined by `,`. Distinct lists have distinct keys.
 */
export const sourceListKey = (indices: ReadonlyArray<number>): number | string => {
  if (indices.length === 1) return indices[0]!
  if (indices.length === 2 && indices[0]! < PAIR_BASE && indices[1]! < PAIR_BASE) return -1 - (indices[0]! * PAIR_BASE + indices[1]!)
  return indices.join(",")
}

/**
 * The sources of a record from its indices into the file's decoded source table, or null when one is
 * not an index of a source that decoded. Records are immutable values: the records of one decode
 * with the same indices share one array (`memo.sourceLists`), and a record without sources the empty one.
 */
const sourcesOf = (
  indices: unknown,
  sources: ReadonlyArray<PeerRecord.Source | null>,
  memo: DecodeMemo | undefined
): ReadonlyArray<PeerRecord.Source> | null => {
  if (!Array.isArray(indices)) return null
  if (indices.length === 0) return EMPTY
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i]
    if (!Number.isInteger(index) || sources[index] === undefined || sources[index] === null) return null
  }
  const key = sourceListKey(indices)
  const known = memo?.sourceLists.get(key)
  if (known !== undefined) return known
  const list: Array<PeerRecord.Source> = new Array(indices.length)
  for (let i = 0; i < indices.length; i++) list[i] = sources[indices[i]]!
  memo?.sourceLists.set(key, list)
  return list
}

/**
 * The record of a compact line, built by hand; null when the line is not exactly one this codec
 * writes (then {@link expand} and the Schema decide, and name the field). `sources` is the file's
 * decoded source table; `memo` the decode's, when it has one.
 */
export const decodeFast = (
  u: unknown,
  sources: ReadonlyArray<PeerRecord.Source | null>,
  memo?: DecodeMemo
): PeerRecord.PeerRecord | null => {
  if (!Array.isArray(u) || u.length !== 7) return null
  const peerId = u[0]
  const firstSeen = u[1]
  const lastSeen = u[2]
  if (peerId !== null && typeof peerId !== "string") return null
  if (!isCount(firstSeen) || !isCount(lastSeen)) return null
  const encodedAddresses = u[3]
  if (!Array.isArray(encodedAddresses)) return null
  const addresses: Array<PeerRecord.AddressRecord> = new Array(encodedAddresses.length)
  for (let i = 0; i < encodedAddresses.length; i++) {
    const a = decodeAddress(encodedAddresses[i], peerId, memo)
    if (a === null) return null
    addresses[i] = a
  }
  const id = peerId === null ? undefined : fastPeerId(peerId, addresses)
  if (id === null) return null
  const flags = u[4]
  if (typeof flags !== "number" || !(flags >= 0 && flags < 16 && (flags | 0) === flags)) return null
  const protocols = u[5]
  if (!Array.isArray(protocols)) return null
  for (let i = 0; i < protocols.length; i++) if (typeof protocols[i] !== "string") return null
  const recordSources = sourcesOf(u[6], sources, memo)
  if (recordSources === null) return null
  return {
    peerId: id === undefined ? NONE as Option.Option<string> : id,
    addresses,
    protocols: protocols.length === 0 ? EMPTY : protocols,
    capabilities: CAPABILITY_SETS[flags]!,
    sources: recordSources,
    firstSeen,
    lastSeen
  }
}

/** A compact line that cannot be expanded: where and why (path relative to the record). */
export class Malformed {
  constructor(readonly path: string, readonly reason: string) {}
}

const expandAddress = (u: unknown, peerId: unknown, path: string): Record<string, unknown> | Malformed => {
  if (!Array.isArray(u)) return new Malformed(path, "an address must be an array [multiaddr, successes, …]")
  if (u.length > ADDRESS_FIELDS.length + 1) return new Malformed(path, `an address has at most ${ADDRESS_FIELDS.length + 1} elements`)
  const out: Record<string, unknown> = {}
  for (let i = 0; i < ADDRESS_FIELDS.length; i++) {
    const value = i < u.length ? u[i] : ADDRESS_DEFAULTS[i]
    if (value !== null && value !== undefined) out[ADDRESS_FIELDS[i]!] = value
  }
  if (typeof out.multiaddr === "string" && typeof peerId === "string" && out.multiaddr.endsWith("/p2p")) {
    out.multiaddr = `${out.multiaddr}/${peerId}`
  }
  const extra = u[ADDRESS_FIELDS.length]
  if (extra !== undefined) {
    if (!isObject(extra)) return new Malformed(`${path}[${ADDRESS_FIELDS.length}]`, "extra fields must be an object")
    return { ...extra, ...out }
  }
  return out
}

/**
 * The named form (the `PeerRecord` Schema's encoding) of a compact line, without checking the values
 * (the Schema does that next). `sources` is the file's source table as written (encoded).
 */
export const expand = (u: unknown, sources: ReadonlyArray<unknown>): Record<string, unknown> | Malformed => {
  if (!Array.isArray(u)) return new Malformed("", "a peer must be an array [peerId, firstSeen, lastSeen, addresses, …]")
  if (u.length < 4 || u.length > 8) return new Malformed("", `a peer has 4 to 8 elements, not ${u.length}`)
  const [peerId, firstSeen, lastSeen, addresses, flags = 0, protocols = [], indices = [], extra] = u
  if (!Array.isArray(addresses)) return new Malformed(".addresses", "addresses must be an array")
  const named: Array<Record<string, unknown>> = []
  for (let i = 0; i < addresses.length; i++) {
    const a = expandAddress(addresses[i], peerId, `.addresses[${i}]`)
    if (a instanceof Malformed) return a
    named.push(a)
  }
  if (typeof flags !== "number" || !Number.isInteger(flags) || flags < 0 || flags > 15) {
    return new Malformed(".capabilities", `${typeof flags === "number" ? flags : typeof flags} is not a set of capability flags (an integer 0-15)`)
  }
  if (!Array.isArray(indices)) return new Malformed(".sources", "sources must be an array of indices")
  const named_sources: Array<unknown> = []
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i]
    if (!Number.isInteger(index) || index < 0 || index >= sources.length) {
      return new Malformed(`.sources[${i}]`, `${String(index).slice(0, 40)} is not an index of the file's source table`)
    }
    named_sources.push(sources[index])
  }
  if (extra !== undefined && !isObject(extra)) return new Malformed("[7]", "the extra fields (element 8) must be an object")
  const capabilities: Record<string, boolean> = {}
  for (let i = 0; i < CAPABILITY_NAMES.length; i++) capabilities[CAPABILITY_NAMES[i]!] = (flags & (1 << i)) !== 0
  return {
    ...(extra as Record<string, unknown> | undefined),
    ...(peerId === null ? {} : { peerId }),
    addresses: named,
    protocols,
    capabilities,
    sources: named_sources,
    firstSeen,
    lastSeen
  }
}
