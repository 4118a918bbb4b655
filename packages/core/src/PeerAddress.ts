/**
 * A peer's address: a parsed, normalised multiaddr that knows its peer id, host, port, transport,
 * whether it is relayed, the scope of its host and its netgroup.
 *
 * Parsing is done by `@multiformats/multiaddr` (the reference implementation), host classification by
 * `ipaddr.js`, and peer id validation by `multiformats` (base58btc / CIDv1 multihash decoding).
 *
 * @since 0.1.0
 */
import { multiaddr as parseMultiaddr } from "@multiformats/multiaddr"
import type { Component } from "@multiformats/multiaddr"
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { addressMaker, parseCommon } from "./internal/multiaddrFast.js"
import { readComponents } from "./internal/multiaddrFull.js"
import { canonicalPeerId } from "./internal/peerId.js"

/**
 * How the host is named: an IP literal or one of the DNS protocols.
 *
 * @since 0.1.0
 */
export type HostKind = "ip4" | "ip6" | "dns" | "dns4" | "dns6" | "dnsaddr"

/**
 * Where a host lives. `public` is the only scope a node should dial on the open internet; DNS names are
 * `public` unless they are `localhost` (loopback), since their addresses are unknown until resolved.
 *
 * - `loopback`: 127.0.0.0/8, ::1, `localhost`
 * - `private`: RFC 1918, carrier-grade NAT (100.64.0.0/10), IPv6 unique local (fc00::/7)
 * - `link-local`: 169.254.0.0/16, fe80::/10
 * - `unspecified`: 0.0.0.0/8, ::
 * - `reserved`: multicast, broadcast, documentation, benchmarking and other special-purpose ranges
 *
 * @since 0.1.0
 */
export type Scope = "loopback" | "private" | "link-local" | "unspecified" | "reserved" | "public"

/**
 * A parsed multiaddr.
 *
 * - `multiaddr`: the canonical string form (as printed by `@multiformats/multiaddr`: `/ipfs/` written
 *   `/p2p/`, no trailing slash, IPv6 in its short form), with every peer id in base58btc.
 * - `peerId`: the peer id of the peer this address reaches (the last `/p2p/…`; for a relayed address
 *   the target after `/p2p-circuit`), if any, in base58btc (a CIDv1 `bafz…` is rewritten, see
 *   {@link normalizePeerId}).
 * - `host`, `hostKind`: the host. IPv6 in its normalised short form, with `%<zone>` for
 *   `/ip6zone/<zone>/ip6/…`; DNS names lower-cased and without the root's trailing dot.
 * - `port`: the TCP or UDP port (1–65535); none for `/dnsaddr` and bare hosts.
 * - `transport`: the protocol stack above the host, without values, e.g. `tcp`, `tcp/ws`, `tcp/wss`,
 *   `udp/quic-v1`, `udp/quic-v1/webtransport`, `udp/webrtc-direct`; `""` when none is named
 *   (a `/dnsaddr` address). `/tls/ws` is written `wss` and `/tls/http` `https`, which they mean;
 *   `/certhash`, `/sni`, `/ipcidr` and `/http-path` values are left out.
 * - `relayed`: the address goes through a relay (`/p2p-circuit`); `host` and `port` are the relay's.
 * - `scope`: where the host lives (see {@link Scope}); IPv4-mapped IPv6 hosts as their IPv4 address.
 * - `netgroup`: the group used to spread connections (Bitcoin addrman's GetGroup): IPv4 /16
 *   (`ip4:1.2`), IPv6 /32 (`ip6:2001:db8`), the DNS name (`dns:example.com`, the same for `/dns`,
 *   `/dns4`, `/dns6` and `/dnsaddr`); IPv6 hosts that embed an IPv4 address (IPv4-mapped, 6to4, Teredo,
 *   NAT64) group as that address; relayed addresses group with their relay.
 * - `key`: the dedupe key, one entry per host + port + transport. The same IP on two ports, or the
 *   same ip+port over tcp and over udp/quic-v1, are two keys; the peer id, certhashes and SNI are no
 *   part of it; an IPv4-mapped IPv6 host has its IPv4 host's key; `/dns`, `/dns4` and `/dns6` of one
 *   name are three keys (they resolve to different records). Relayed addresses add their target's
 *   peer id, and so do `/dnsaddr` names, which resolve to a different peer per TXT record
 *   (`/dnsaddr/bootstrap.libp2p.io` stands for four peers in kubo's list); a relay behind a `/dnsaddr`
 *   name adds its own peer id too.
 *
 * @since 0.1.0
 */
export class PeerAddress extends Data.Class<{
  readonly multiaddr: string
  readonly peerId: Option.Option<string>
  readonly hostKind: HostKind
  readonly host: string
  readonly port: Option.Option<number>
  readonly transport: string
  readonly relayed: boolean
  readonly scope: Scope
  readonly netgroup: string
  readonly key: string
}> {
  override toString(): string {
    return this.multiaddr
  }
  toJSON(): string {
    return this.multiaddr
  }
}

/**
 * A string that is not a usable peer address. `input` is the offending string (as given), `reason`
 * says what is wrong with it.
 *
 * @since 0.1.0
 */
export class AddressParseError extends Data.TaggedError("AddressParseError")<{
  readonly input: string
  readonly reason: string
}> {
  override get message(): string {
    return `invalid multiaddr ${JSON.stringify(this.input)}: ${this.reason}`
  }
}

const MAX_INPUT_LENGTH = 1024

/**
 * A peer id in its canonical text form: the base58btc multihash (`12D3KooW…`, `Qm…`) as libp2p prints
 * it. A CIDv1 (`bafz…`, `k51…`, libp2p-key codec) gives the base58btc form of its multihash; anything
 * that is not a peer id (not an identity or sha2-256 multihash) gives none.
 *
 * @since 0.1.0
 */
export const normalizePeerId = (id: string): Option.Option<string> => {
  const checked = canonicalPeerId(id)
  return checked.ok ? Option.some(checked.id) : Option.none()
}

/**
 * Schema of a peer id string: decoding checks it ({@link normalizePeerId}) and gives its canonical
 * base58btc form, failing with the reason; encoding writes it as it is.
 *
 * @since 0.1.0
 */
export const PeerId: Schema.Schema<string> = Schema.transformOrFail(
  Schema.String,
  Schema.String.annotations({
    arbitrary: () => (fc) => fc.constantFrom(...ARBITRARY_PEER_IDS)
  }),
  {
    strict: true,
    decode: (s, _, ast) => {
      const checked = canonicalPeerId(s)
      return checked.ok ? ParseResult.succeed(checked.id) : ParseResult.fail(new ParseResult.Type(ast, s, checked.reason))
    },
    encode: ParseResult.succeed
  }
).annotations({ identifier: "PeerId" })

const fail = (input: string, reason: string) => Either.left(new AddressParseError({ input, reason }))

/** `PeerAddress` values of the shapes `parseCommon` reads (see `internal/multiaddrFast`). */
const makeCommon = addressMaker(PeerAddress.prototype)

/**
 * Parses and normalises a multiaddr string (see {@link PeerAddress} for what it knows).
 *
 * Fails with {@link AddressParseError} naming the input and the reason when the string is not a
 * multiaddr (as `@multiformats/multiaddr` reads it), names no host (`ip4`, `ip6` — possibly zoned —,
 * `dns`, `dns4`, `dns6`, `dnsaddr`) as its first component, has a port outside 1–65535 or two ports,
 * names two peer ids without `/p2p-circuit` between them, is relayed without naming its relay or its
 * target, or carries a peer id that is not one (a base58btc identity or sha2-256 multihash, or a
 * CIDv1 of the libp2p-key codec: libp2p peer id spec). Surrounding whitespace is trimmed; inputs
 * over 1024 characters are refused.
 *
 * @since 0.1.0
 */
export const parse = (input: string): Either.Either<PeerAddress, AddressParseError> => parseMemo(input, undefined)

/**
 * {@link parse}, with the caller's memo of the base58 peer ids already checked (id → valid): a
 * decode of many addresses keeps one for its run, since the addresses of one peer name the same id
 * and checking one costs ~10 µs. The caller owns the map and its size. Same results as `parse`.
 *
 * @since 0.2.0
 */
export const parseMemo = (
  input: string,
  peerIds: Map<string, boolean> | undefined
): Either.Either<PeerAddress, AddressParseError> => {
  const text = input.trim()
  if (text.length === 0) return fail(input, "empty")
  if (text.length > MAX_INPUT_LENGTH) return fail(input, `longer than ${MAX_INPUT_LENGTH} characters`)
  const fast = parseCommon(text, makeCommon, peerIds)
  return fast === undefined ? parseFull(input, text) : Either.right(fast)
}

/**
 * The full parser (the multiaddr library): every shape, and the error for an invalid input.
 * Exported for the differential test of the fast path.
 *
 * @since 0.1.0
 */
export const parseFull = (input: string, text: string = input.trim()): Either.Either<PeerAddress, AddressParseError> => {
  let components: Array<Component>
  let canonical: string
  try {
    const ma = parseMultiaddr(text)
    components = ma.getComponents()
    canonical = ma.toString()
  } catch (e) {
    return fail(input, e instanceof Error ? e.message : String(e))
  }
  const fields = readComponents(components, canonical)
  return Either.isLeft(fields) ? fail(input, fields.left) : Either.right(new PeerAddress(fields.right))
}

/**
 * Parses a multiaddr string, throwing {@link AddressParseError} when it is invalid. For literals in
 * tests and examples; use {@link parse} for input.
 *
 * @since 0.1.0
 */
export const unsafeParse = (input: string): PeerAddress => {
  const result = parse(input)
  if (Either.isLeft(result)) throw result.left
  return result.right
}

/**
 * Schema for a peer address encoded as its multiaddr string. Decoding fails with the parse reason.
 *
 * @since 0.1.0
 */
export const FromString: Schema.Schema<PeerAddress, string> = Schema.transformOrFail(
  Schema.String,
  Schema.declare((u): u is PeerAddress => u instanceof PeerAddress, {
    identifier: "PeerAddress",
    arbitrary: () => (fc) => fc.constantFrom(...ARBITRARY_SEEDS).map(unsafeParse)
  }),
  {
    strict: true,
    decode: (s, _, ast) =>
      Either.mapLeft(parse(s), (e) => new ParseResult.Type(ast, s, e.message)),
    encode: (a) => ParseResult.succeed(a.multiaddr)
  }
).annotations({ identifier: "PeerAddressFromString" })

const ARBITRARY_PEER_IDS: ReadonlyArray<string> = [
  "12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx",
  "12D3KooWBBzzGy5hAHUQVh2vBvL25CKwJ7wbmooPcz4amQhzJHJq",
  "QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN"
]

const ARBITRARY_SEEDS: ReadonlyArray<string> = [
  "/ip4/1.2.3.4/tcp/4001",
  "/ip4/1.2.3.4/udp/4001/quic-v1",
  "/ip6/2001:db8::1/tcp/4001",
  "/dns4/example.com/tcp/443/wss"
]

/**
 * The same address naming `peerId` as its peer: `/p2p/<peerId>` appended, or replacing the peer id it
 * names. For a relayed address that is the target (`…/p2p-circuit/p2p/<peerId>`); the relay's own
 * peer id is kept. Throws {@link AddressParseError} when `peerId` is not a peer id (see
 * {@link normalizePeerId}); a CIDv1 peer id is written in its base58btc form.
 *
 * @since 0.1.0
 */
export const withPeerId: {
  (peerId: string): (self: PeerAddress) => PeerAddress
  (self: PeerAddress, peerId: string): PeerAddress
} = dual(2, (self: PeerAddress, peerId: string): PeerAddress => {
  if (Option.contains(self.peerId, peerId)) return self
  // The peer id, when there is one, is always the last `/p2p/` component of the canonical form.
  const bare = Option.isSome(self.peerId) ? self.multiaddr.slice(0, self.multiaddr.lastIndexOf("/p2p/")) : self.multiaddr
  return unsafeParse(`${bare}/p2p/${peerId}`)
})

/**
 * Which addresses a node may dial. Relayed addresses are never dialled directly; unspecified and
 * reserved hosts never; loopback, private and link-local hosts only when allowed (off by default,
 * on for local demos and tests).
 *
 * @since 0.1.0
 */
export interface DialPolicy {
  /** Dial loopback hosts (127.0.0.0/8, ::1, localhost). Default `false`. */
  readonly allowLoopback?: boolean
  /** Dial private and link-local hosts (RFC 1918, CGNAT, fc00::/7, fe80::/10). Default `false`. */
  readonly allowPrivate?: boolean
}

/**
 * Whether the address may be picked for a dial under the policy (see {@link DialPolicy}). An address
 * that names no port (a bare `/ip4/1.2.3.4`) names nothing to dial; `/dnsaddr` names are dialable
 * (the dialer resolves their TXT records).
 *
 * @since 0.1.0
 */
export const isDialable: {
  (policy?: DialPolicy): (self: PeerAddress) => boolean
  (self: PeerAddress, policy?: DialPolicy): boolean
} = dual(
  (args) => args[0] instanceof PeerAddress,
  (self: PeerAddress, policy: DialPolicy = {}): boolean =>
    isDialableWith(self, policy.allowLoopback === true, policy.allowPrivate === true)
)

/**
 * {@link isDialable} for hot loops: data-first, the policy as two flags, no dispatch. The one place the
 * rule is written.
 *
 * @since 0.1.0
 */
export const isDialableWith = (self: PeerAddress, allowLoopback: boolean, allowPrivate: boolean): boolean => {
  if (self.relayed || (self.port._tag === "None" && self.hostKind !== "dnsaddr")) return false
  switch (self.scope) {
    case "public":
      return true
    case "loopback":
      return allowLoopback
    case "private":
    case "link-local":
      return allowPrivate
    default:
      return false
  }
}

/**
 * The TCP endpoint of an address, for dialers that open a plain TCP socket: present when the address
 * is `/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>` (possibly followed by `/p2p/…` only) and not relayed.
 *
 * @since 0.1.0
 */
export const tcpEndpoint = (self: PeerAddress): Option.Option<{ readonly host: string; readonly port: number }> =>
  self.transport === "tcp" && !self.relayed && self.hostKind !== "dnsaddr" && Option.isSome(self.port)
    ? Option.some({ host: self.host, port: self.port.value })
    : Option.none()
