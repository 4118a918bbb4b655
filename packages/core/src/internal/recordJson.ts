/**
 * The JSON codec of one peer record as the `PeerRecord` Schema encodes it (an object with named
 * fields, the form of a version 1 cache file and of `export --format json`), written out by hand.
 *
 * `Schema` decoding costs ~20 µs a record, 0.6 s for 30k peers, ten times `JSON.parse` of the whole
 * file. Well-formed records are checked and built by hand here; anything the fast path does not
 * accept exactly is handed to the Schema, which stays the arbiter (and gives the error message).
 * Property tests check that both agree, in both directions.
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as PeerAddress from "../PeerAddress.js"
import * as PeerRecord from "../PeerRecord.js"
import { some } from "./optionSome.js"

const schemaDecodePeer = Schema.decodeUnknownEither(PeerRecord.PeerRecord, { errors: "first" })
const schemaDecodeSource = Schema.decodeUnknownEither(PeerRecord.Source)
const schemaEncodeSource = Schema.encodeSync(PeerRecord.Source)
const schemaEncodePeer = Schema.encodeSync(PeerRecord.PeerRecord)

export const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
export const isCount = (u: unknown): u is number => typeof u === "number" && Number.isSafeInteger(u) && u >= 0
const optionalCount = (u: unknown): Option.Option<number> | null =>
  u === undefined ? Option.none() : isCount(u) ? some(u) : null

const USER: PeerRecord.Source = { _tag: "user" }
const CONNECTION: PeerRecord.Source = { _tag: "connection" }

/**
 * What one decode remembers across its records, created by that decode and dropped with it (so
 * bounded by the file it reads): the sources it built (`source`, keyed by tag and field — a file
 * repeats the endpoint or import its peers came from, and the records share one immutable value),
 * the source lists of the records (`sourceLists`, keyed by the file's source indices: most peers of a
 * file were heard of from the same one or two sources, and records share one immutable array), and
 * the base58 peer ids already checked (`peerIds`, id → valid: the addresses of one peer name the
 * same id, and a check costs ~10 µs).
 */
export interface DecodeMemo {
  readonly sources: Map<string, PeerRecord.Source>
  readonly sourceLists: Map<number | string, ReadonlyArray<PeerRecord.Source>>
  readonly peerIds: Map<string, boolean>
}

/** A fresh {@link DecodeMemo}, for one decode. */
export const decodeMemo = (): DecodeMemo => ({ sources: new Map(), sourceLists: new Map(), peerIds: new Map() })

const sharedSource = (memo: DecodeMemo | undefined, key: string, make: () => PeerRecord.Source) => {
  if (memo === undefined) return make()
  let source = memo.sources.get(key)
  if (source === undefined) {
    source = make()
    memo.sources.set(key, source)
  }
  return source
}

/** Number of own enumerable keys, without allocating the key array. */
const keyCount = (u: object): number => {
  let n = 0
  for (const _ in u) n++
  return n
}

/**
 * A source as the Schema decodes it. The four plain shapes are built by hand (and shared through
 * `memo` when one is given); a source with any other field (one a newer `Source` Schema knows) goes
 * through the Schema, so it is kept.
 */
export const decodeSource = (u: unknown, memo?: DecodeMemo): PeerRecord.Source | null => {
  if (!isObject(u)) return null
  const n = keyCount(u)
  switch (u._tag) {
    case "user":
      if (n === 1) return USER
      break
    case "connection":
      if (n === 1) return CONNECTION
      break
    case "endpoint":
      if (n === 2 && typeof u.url === "string") {
        const url = u.url
        return sharedSource(memo, `endpoint:${url}`, () => ({ _tag: "endpoint", url }))
      }
      break
    case "import":
      if (n === 2 && typeof u.from === "string") {
        const from = u.from
        return sharedSource(memo, `import:${from}`, () => ({ _tag: "import", from }))
      }
      break
  }
  const decoded = schemaDecodeSource(u)
  return Either.isRight(decoded) ? decoded.right : null
}

/**
 * A source as the Schema encodes it: the four plain shapes written out (fields in the Schema's
 * order), any other (a field a newer `Source` Schema knows) through the Schema.
 */
export const encodeSource = (source: PeerRecord.Source): unknown => {
  const n = keyCount(source)
  switch (source._tag) {
    case "user":
      if (n === 1) return { _tag: "user" }
      break
    case "connection":
      if (n === 1) return { _tag: "connection" }
      break
    case "endpoint":
      if (n === 2 && typeof source.url === "string") return { _tag: "endpoint", url: source.url }
      break
    case "import":
      if (n === 2 && typeof source.from === "string") return { _tag: "import", from: source.from }
      break
  }
  return schemaEncodeSource(source)
}

/**
 * The address record of fields already read from either layout (`rtt` undefined: none), or null when
 * one is not what the `AddressRecord` Schema accepts (the Schema then decides, and names the field).
 */
export const checkedAddress = (
  multiaddr: string,
  successes: unknown,
  failures: unknown,
  consecutiveFailures: unknown,
  lastSuccess: Option.Option<number> | null,
  lastFailure: Option.Option<number> | null,
  lastSeen: Option.Option<number> | null,
  rtt: unknown,
  bytes: unknown,
  memo?: DecodeMemo
): PeerRecord.AddressRecord | null => {
  if (!isCount(successes) || !isCount(failures) || !isCount(consecutiveFailures)) return null
  if (lastSuccess === null || lastFailure === null || lastSeen === null) return null
  if (rtt !== undefined && !(typeof rtt === "number" && Number.isFinite(rtt) && rtt >= 0)) return null
  if (!isCount(bytes)) return null
  const address = memo === undefined ? PeerAddress.parse(multiaddr) : PeerAddress.parseMemo(multiaddr, memo.peerIds)
  if (Either.isLeft(address)) return null
  return {
    address: address.right,
    successes,
    failures,
    consecutiveFailures,
    lastSuccess,
    lastFailure,
    lastSeen,
    rttMs: rtt === undefined ? NONE : some(rtt),
    bytesTransferred: bytes
  }
}
const NONE: Option.Option<number> = Option.none()

const fastAddress = (u: unknown, memo: DecodeMemo | undefined): PeerRecord.AddressRecord | null => {
  if (!isObject(u) || typeof u.multiaddr !== "string") return null
  return checkedAddress(
    u.multiaddr,
    u.successes,
    u.failures,
    u.consecutiveFailures,
    optionalCount(u.lastSuccess),
    optionalCount(u.lastFailure),
    optionalCount(u.lastSeen),
    u.rttMs,
    u.bytesTransferred === undefined ? 0 : u.bytesTransferred,
    memo
  )
}

const CAPABILITIES = ["relay", "coordinator", "bootstrap", "symmetricNat"] as const

/** The 16 capability sets, shared by every decoded record (records are immutable values). */
export const CAPABILITY_SETS: ReadonlyArray<PeerRecord.Capabilities> = Array.from({ length: 16 }, (_, flags) => ({
  relay: (flags & 1) !== 0,
  coordinator: (flags & 2) !== 0,
  bootstrap: (flags & 4) !== 0,
  symmetricNat: (flags & 8) !== 0
}))

/**
 * The record's peer id as its option, or null when it is none (the Schema then reports it, at
 * `peerId`, with the reason). A record this module wrote names the peer its addresses name, and
 * `PeerAddress.parse` has already checked and canonicalised those: equal to one of them, the id costs
 * a string comparison, and the record shares that address's option (options are immutable values, so
 * a reader sees the same `Some` of an equal string; the record keeps no second copy of the id). Any
 * other id (a CIDv1, an id no address names) is checked as the Schema checks it
 * (`PeerAddress.normalizePeerId` is the rule of `PeerAddress.PeerId`); a file names each peer once,
 * so there is nothing to memoise.
 */
export const fastPeerId = (id: string, addresses: ReadonlyArray<PeerRecord.AddressRecord>): Option.Option<string> | null => {
  for (let i = 0; i < addresses.length; i++) {
    const named = addresses[i]!.address.peerId
    if (Option.isSome(named) && named.value === id) return named
  }
  const checked = PeerAddress.normalizePeerId(id)
  return Option.isSome(checked) ? some(checked.value) : null
}

/**
 * The record of one object in the `PeerRecord` Schema's encoding, built by hand; null when it is not
 * exactly one the fast path accepts (then the Schema decides). `memo`: the decode's, when it has one.
 */
export const decodeFast = (u: unknown, memo?: DecodeMemo): PeerRecord.PeerRecord | null => {
  if (!isObject(u)) return null
  const { firstSeen, lastSeen, peerId } = u
  if (!isCount(firstSeen) || !isCount(lastSeen)) return null
  if (peerId !== undefined && typeof peerId !== "string") return null
  if (!Array.isArray(u.addresses)) return null
  const addresses: Array<PeerRecord.AddressRecord> = []
  for (const a of u.addresses) {
    const r = fastAddress(a, memo)
    if (r === null) return null
    addresses.push(r)
  }
  const id = peerId === undefined ? undefined : fastPeerId(peerId, addresses)
  if (id === null) return null
  let protocols: Array<string> = []
  if (u.protocols !== undefined) {
    if (!Array.isArray(u.protocols)) return null
    for (let i = 0; i < u.protocols.length; i++) if (typeof u.protocols[i] !== "string") return null
    protocols = u.protocols as Array<string>
  }
  let flags = 0
  if (u.capabilities !== undefined) {
    const c = u.capabilities
    if (!isObject(c)) return null
    for (let i = 0; i < CAPABILITIES.length; i++) {
      const v = c[CAPABILITIES[i]!]
      if (v === undefined) continue
      if (typeof v !== "boolean") return null
      if (v) flags |= 1 << i
    }
  }
  const capabilities = CAPABILITY_SETS[flags]!
  const sources: Array<PeerRecord.Source> = []
  if (u.sources !== undefined) {
    if (!Array.isArray(u.sources)) return null
    for (const s of u.sources) {
      const source = decodeSource(s, memo)
      if (source === null) return null
      sources.push(source)
    }
  }
  return {
    peerId: id === undefined ? Option.none() : id,
    addresses,
    protocols,
    capabilities,
    sources,
    firstSeen,
    lastSeen
  }
}

/**
 * Decodes one encoded peer record: the hand-written fast path for well-formed records, the
 * `PeerRecord` Schema for anything else (and for the error).
 */
export const decodePeer = (u: unknown): Either.Either<PeerRecord.PeerRecord, ParseResult.ParseError> => {
  const fast = decodeFast(u)
  return fast === null ? schemaDecodePeer(u) : Either.right(fast)
}

/** The compact JSON line of a record (its Schema encoding, without spaces). */
export const peerLine = (record: PeerRecord.PeerRecord): string => JSON.stringify(encodePeerDirect(record))

/** The keys of a `PeerRecord` and of an `AddressRecord` this codec writes out by hand. */
const PEER_KEYS = 7
const ADDRESS_KEYS = 9

/**
 * The `PeerRecord` Schema's encoding, written out (the Schema costs ~20 µs a record): same keys, same
 * order, same omissions. A property test checks it equals `Schema.encodeSync(PeerRecord)`. A record
 * carrying fields this codec does not know (a newer Schema's) is encoded by the Schema itself, and
 * sources always are ({@link encodeSource}), so no field is lost on the way to disk.
 */
export const encodePeerDirect = (record: PeerRecord.PeerRecord): Schema.Schema.Encoded<typeof PeerRecord.PeerRecord> => {
  if (keyCount(record) !== PEER_KEYS || record.addresses.some((a) => keyCount(a) !== ADDRESS_KEYS)) {
    return schemaEncodePeer(record)
  }
  const addresses: Array<Schema.Schema.Encoded<typeof PeerRecord.AddressRecord>> = new Array(record.addresses.length)
  for (let i = 0; i < record.addresses.length; i++) addresses[i] = encodeAddressDirect(record.addresses[i]!)
  const sources = new Array(record.sources.length)
  for (let i = 0; i < record.sources.length; i++) sources[i] = encodeSource(record.sources[i]!)
  const c = record.capabilities
  const rest = {
    addresses,
    protocols: [...record.protocols],
    capabilities: { relay: c.relay, coordinator: c.coordinator, bootstrap: c.bootstrap, symmetricNat: c.symmetricNat },
    sources,
    firstSeen: record.firstSeen,
    lastSeen: record.lastSeen
  }
  return Option.isSome(record.peerId) ? { peerId: record.peerId.value, ...rest } : rest
}

const encodeAddressDirect = (r: PeerRecord.AddressRecord): Schema.Schema.Encoded<typeof PeerRecord.AddressRecord> => {
  // Built key by key in the Schema's order (absent options omitted); a handful of keys keeps the
  // object in fast mode.
  const out: {
    multiaddr: string
    successes: number
    failures: number
    consecutiveFailures: number
    lastSuccess?: number
    lastFailure?: number
    lastSeen?: number
    rttMs?: number
    bytesTransferred?: number
  } = {
    multiaddr: r.address.multiaddr,
    successes: r.successes,
    failures: r.failures,
    consecutiveFailures: r.consecutiveFailures
  }
  if (Option.isSome(r.lastSuccess)) out.lastSuccess = r.lastSuccess.value
  if (Option.isSome(r.lastFailure)) out.lastFailure = r.lastFailure.value
  if (Option.isSome(r.lastSeen)) out.lastSeen = r.lastSeen.value
  if (Option.isSome(r.rttMs)) out.rttMs = r.rttMs.value
  out.bytesTransferred = r.bytesTransferred
  return out as Schema.Schema.Encoded<typeof PeerRecord.AddressRecord>
}
