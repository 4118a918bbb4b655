/**
 * `/dnsaddr` resolution as libp2p does it, as data: which TXT names to look up, what their records
 * mean, and when to stop. The lookups themselves are made by the caller (the node package's
 * `DnsResolver`), which feeds each answer back.
 *
 * The rule (libp2p `dnsaddr` spec, `@multiformats/multiaddr` resolver): `/dnsaddr/<host>` stands for
 * the multiaddrs in the TXT records of `_dnsaddr.<host>` that read `dnsaddr=<multiaddr>`. A record
 * that is itself a `/dnsaddr` address is resolved in turn, up to a depth bound. When the address names
 * a peer (`/p2p/<id>`), only records naming that same peer are kept.
 *
 * Bounds keep a hostile or broken zone harmless: a name already looked up in this resolution is never
 * looked up again (loops end), recursion stops at `maxDepth`, at most `maxLookups` names are asked and
 * at most `maxAddresses` addresses kept. Every stop is a {@link Warning}.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as PeerAddress from "./PeerAddress.js"

/**
 * Bounds of one resolution.
 *
 * - `maxDepth` (default 32, libp2p's `MAX_RECURSIVE_DEPTH`): nested `/dnsaddr` levels followed below
 *   the first name.
 * - `maxLookups` (default 32): TXT names asked in total.
 * - `maxAddresses` (default 1 000): resolved addresses kept; the rest are counted and dropped.
 *
 * @since 0.1.0
 */
export interface Limits {
  readonly maxDepth?: number
  readonly maxLookups?: number
  readonly maxAddresses?: number
}

/**
 * The default {@link Limits}.
 *
 * @since 0.1.0
 */
export const defaults = { maxDepth: 32, maxLookups: 32, maxAddresses: 1_000 } as const

/**
 * Something a resolution skipped or cut short, with the `name` (a TXT name, `_dnsaddr.<host>`) it
 * concerns:
 *
 * - `lookup-failed`: the name did not resolve (`detail` says why: no such name, timeout, …);
 * - `empty`: the name answered but held no `dnsaddr=` record;
 * - `bad-record`: a `dnsaddr=` value that is not a multiaddr (`detail` quotes its first characters);
 * - `loop`: a `/dnsaddr` record naming a host already resolved in this resolution;
 * - `too-deep`: a record beyond `maxDepth` levels;
 * - `too-many-lookups`: names left unasked at `maxLookups` (`detail` gives the count);
 * - `too-many-addresses`: addresses dropped at `maxAddresses` (`detail` gives the count).
 *
 * @since 0.1.0
 */
export interface Warning {
  readonly kind: "lookup-failed" | "empty" | "bad-record" | "loop" | "too-deep" | "too-many-lookups" | "too-many-addresses"
  readonly name: string
  readonly detail: string
}

/**
 * A name to look up: the TXT `name` (`_dnsaddr.<host>`), its `depth` (0 for the address resolved),
 * and the peer id records must name, if any.
 *
 * @since 0.1.0
 */
export interface Lookup {
  readonly name: string
  readonly depth: number
  readonly peerId: Option.Option<string>
}

/**
 * A resolution in progress: the lookups still to make, the names already asked, the addresses found
 * (distinct by `PeerAddress.key`), records filtered out by peer id, and the warnings so far.
 *
 * @since 0.1.0
 */
export interface State {
  readonly limits: Required<Limits>
  readonly pending: ReadonlyArray<Lookup>
  readonly asked: ReadonlySet<string>
  readonly addresses: ReadonlyArray<PeerAddress.PeerAddress>
  readonly keys: ReadonlySet<string>
  readonly filtered: number
  readonly dropped: number
  readonly warnings: ReadonlyArray<Warning>
}

/**
 * The TXT name that holds the records of `/dnsaddr/<host>`: `_dnsaddr.<host>` (a trailing dot removed).
 *
 * @since 0.1.0
 */
export const txtName = (host: string): string => `_dnsaddr.${host.replace(/\.$/, "")}`

/**
 * The multiaddr text of one TXT record, or none when the record is not a `dnsaddr=` record. A record
 * arrives as its character-strings (at most 255 bytes each), joined here; surrounding quotes and
 * whitespace are removed.
 *
 * @since 0.1.0
 */
export const recordValue = (chunks: ReadonlyArray<string> | string): Option.Option<string> => {
  const text = (typeof chunks === "string" ? chunks : chunks.join("")).trim().replace(/^["']|["']$/g, "").trim()
  return text.startsWith("dnsaddr=") ? Option.some(text.slice("dnsaddr=".length).trim()) : Option.none()
}

/** The first characters of an input, for messages that must not echo a long input back. */
const prefix = (text: string, max = 60): string => (text.length > max ? `${text.slice(0, max)}…` : text)

const clamp = (n: number | undefined, fallback: number, min: number) =>
  n === undefined || !Number.isFinite(n) ? fallback : Math.max(min, Math.floor(n))

/**
 * Starts the resolution of a `/dnsaddr` address. A `/dnsaddr` address behind a relay, or any other
 * address, needs no lookup: it is the result as it is.
 *
 * @since 0.1.0
 */
export const start = (address: PeerAddress.PeerAddress, limits: Limits = {}): State => {
  const resolved: Required<Limits> = {
    maxDepth: clamp(limits.maxDepth, defaults.maxDepth, 0),
    maxLookups: clamp(limits.maxLookups, defaults.maxLookups, 1),
    maxAddresses: clamp(limits.maxAddresses, defaults.maxAddresses, 0)
  }
  const needsLookup = address.hostKind === "dnsaddr" && !address.relayed
  return {
    limits: resolved,
    pending: needsLookup ? [{ name: txtName(address.host), depth: 0, peerId: address.peerId }] : [],
    asked: new Set(),
    addresses: needsLookup ? [] : [address],
    keys: needsLookup ? new Set() : new Set([address.key]),
    filtered: 0,
    dropped: 0,
    warnings: []
  }
}

/**
 * The next name to look up and the state that has it asked, or none when the resolution is done.
 * Past `maxLookups` the remaining names are dropped with one `too-many-lookups` warning.
 *
 * @since 0.1.0
 */
export const next = (state: State): Option.Option<readonly [Lookup, State]> => {
  const [lookup, ...rest] = state.pending
  if (lookup === undefined) return Option.none()
  if (state.asked.size >= state.limits.maxLookups) {
    return Option.none()
  }
  const asked = new Set(state.asked)
  asked.add(lookup.name)
  return Option.some([lookup, { ...state, pending: rest, asked }] as const)
}

/**
 * The state once the resolution is over: a `too-many-lookups` warning for names left unasked and a
 * `too-many-addresses` warning for addresses dropped.
 *
 * @since 0.1.0
 */
export const finish = (state: State): State => {
  const warnings = [...state.warnings]
  if (state.pending.length > 0) {
    warnings.push({
      kind: "too-many-lookups",
      name: state.pending[0]!.name,
      detail: `${state.pending.length} more name(s) not looked up (maxLookups ${state.limits.maxLookups})`
    })
  }
  if (state.dropped > 0) {
    warnings.push({
      kind: "too-many-addresses",
      name: [...state.asked][0] ?? "",
      detail: `${state.dropped} address(es) dropped (maxAddresses ${state.limits.maxAddresses})`
    })
  }
  return { ...state, pending: [], warnings }
}

/**
 * Feeds the TXT records of a lookup (each record as its character-strings, as `node:dns`
 * `resolveTxt` gives them). Non-`dnsaddr=` records are ignored; a record naming another peer than
 * the lookup's is counted in `filtered` (libp2p keeps only records that name the wanted peer);
 * nested `/dnsaddr` records are queued one level deeper, unless already asked (`loop`) or too deep.
 *
 * @since 0.1.0
 */
export const answer = (state: State, lookup: Lookup, records: ReadonlyArray<ReadonlyArray<string> | string>): State => {
  const warnings = [...state.warnings]
  const pending = [...state.pending]
  const addresses = [...state.addresses]
  const keys = new Set(state.keys)
  let filtered = state.filtered
  let dropped = state.dropped
  let seen = 0
  for (const record of records) {
    const value = recordValue(record)
    if (Option.isNone(value)) continue
    seen++
    const parsed = PeerAddress.parse(value.value)
    if (Either.isLeft(parsed)) {
      if (warnings.length < 100) {
        warnings.push({ kind: "bad-record", name: lookup.name, detail: `${parsed.left.reason}: ${JSON.stringify(prefix(value.value))}` })
      }
      continue
    }
    const address = parsed.right
    if (Option.isSome(lookup.peerId) && !Option.contains(address.peerId, lookup.peerId.value)) {
      filtered++
      continue
    }
    if (address.hostKind === "dnsaddr" && !address.relayed) {
      const name = txtName(address.host)
      if (state.asked.has(name) || pending.some((p) => p.name === name)) {
        if (state.asked.has(name)) warnings.push({ kind: "loop", name, detail: `${lookup.name} points back to ${name}` })
      } else if (lookup.depth + 1 > state.limits.maxDepth) {
        warnings.push({ kind: "too-deep", name, detail: `beyond maxDepth ${state.limits.maxDepth}` })
      } else {
        pending.push({ name, depth: lookup.depth + 1, peerId: Option.orElse(address.peerId, () => lookup.peerId) })
      }
      continue
    }
    if (keys.has(address.key)) continue
    if (addresses.length >= state.limits.maxAddresses) {
      dropped++
      continue
    }
    keys.add(address.key)
    addresses.push(address)
  }
  if (seen === 0) warnings.push({ kind: "empty", name: lookup.name, detail: "no dnsaddr= record" })
  return { ...state, pending, addresses, keys, filtered, dropped, warnings }
}

/**
 * Records that a lookup failed (`detail`: why, e.g. `ENOTFOUND`, `ETIMEOUT`).
 *
 * @since 0.1.0
 */
export const failed = (state: State, lookup: Lookup, detail: string): State => ({
  ...state,
  warnings: [...state.warnings, { kind: "lookup-failed", name: lookup.name, detail }]
})

/**
 * Resolves an address with a synchronous lookup function (tests, and zones held in memory): runs
 * {@link start}, {@link next}, {@link answer} / {@link failed} and {@link finish}. `lookup` returns
 * the TXT records of a name, or a string saying why it failed.
 *
 * @since 0.1.0
 */
export const resolveWith = (
  address: PeerAddress.PeerAddress,
  lookup: (name: string) => ReadonlyArray<ReadonlyArray<string> | string> | string,
  limits: Limits = {}
): State => {
  let state = start(address, limits)
  for (let step = next(state); Option.isSome(step); step = next(state)) {
    const [l, asked] = step.value
    const records = lookup(l.name)
    state = typeof records === "string" ? failed(asked, l, records) : answer(asked, l, records)
  }
  return finish(state)
}

/**
 * Whether an address needs a `/dnsaddr` lookup before it can be dialled (a `/dnsaddr` host, not
 * behind a relay).
 *
 * @since 0.1.0
 */
export const needsResolution = (address: PeerAddress.PeerAddress): boolean =>
  address.hostKind === "dnsaddr" && !address.relayed
