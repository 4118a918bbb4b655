/**
 * fast-check arbitraries for the peer model: addresses drawn from a small universe (so that sequences
 * of operations collide on hosts, ports, transports and peer ids), sources, and operation sequences.
 *
 * Kept free of Node imports so the core package's tests can use it.
 *
 * @since 0.1.0
 */
import * as FastCheck from "effect/FastCheck"
import { Journal, PeerAddress, PeerRecord } from "@bootstrap-cache/core"

/**
 * Real peer ids (Ed25519 `12D3KooW…` and RSA `Qm…`) taken from public bootstrap lists.
 *
 * @since 0.1.0
 */
export const PEER_IDS: ReadonlyArray<string> = [
  "12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx",
  "12D3KooWBBzzGy5hAHUQVh2vBvL25CKwJ7wbmooPcz4amQhzJHJq",
  "12D3KooWDKvTzMnfh9j7g4RpvU6BXwH3AydTrzr1HTW6TMBQ61HF",
  "12D3KooWFTMtaqu24ddDSXk9v5YxnuhJmTLFRunER1CG4wZ2XLUU",
  "QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN",
  "QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa"
]

/**
 * Two of {@link PEER_IDS} written as CIDv1 (libp2p-key, base32): the same peers as
 * `PEER_IDS[0]` and `PEER_IDS[4]`, which parsing normalises to the base58btc form.
 *
 * @since 0.1.0
 */
export const CIDV1_PEER_IDS: ReadonlyArray<string> = [
  "bafzaajaiaejcaempbxwgw6ccjsqbnyuxslkz4627slomml4whoq746bcl32knbif",
  "bafzbeiagwnqiviaae5aet2zivwhhsorg75x2wka2pu55o7grr23ulx5kxm"
]

// `/ip6/::ffff:1.2.3.4` is the IPv4 host `/ip4/1.2.3.4` (one dedupe key for both).
const HOSTS = ["/ip4/1.2.3.4", "/ip4/1.2.9.9", "/ip4/5.6.7.8", "/ip6/2001:db8::1", "/dns4/boot.example.com", "/ip6/::ffff:1.2.3.4"]
const TRANSPORTS = ["tcp/$PORT", "udp/$PORT/quic-v1", "tcp/$PORT/ws"]

/** A peer id of the universe, sometimes written as a CIDv1. */
const peerIdText = FastCheck.oneof(
  { weight: 5, arbitrary: FastCheck.constantFrom(...PEER_IDS) },
  { weight: 1, arbitrary: FastCheck.constantFrom(...CIDV1_PEER_IDS) }
)
const optionalPeer = FastCheck.option(peerIdText, { nil: undefined }).map((id) => id === undefined ? "" : `/p2p/${id}`)

/**
 * Multiaddr strings over a small universe: a few hosts (an IPv4-mapped IPv6 one among them), ports
 * 4001–4003, tcp / quic-v1 / ws, with or without one of {@link PEER_IDS} (sometimes as a CIDv1);
 * `/dnsaddr` names (one name, several peers); and relayed addresses (`…/p2p/<relay>/p2p-circuit`,
 * with or without a target). Collisions are likely on purpose: on dedupe keys, on peer ids, and
 * between a relay and the peers it relays for.
 *
 * @since 0.1.0
 */
export const multiaddrString: FastCheck.Arbitrary<string> = FastCheck.oneof(
  {
    weight: 8,
    arbitrary: FastCheck.tuple(
      FastCheck.constantFrom(...HOSTS),
      FastCheck.constantFrom(...TRANSPORTS),
      FastCheck.integer({ min: 4001, max: 4003 }),
      optionalPeer
    ).map(([host, transport, port, peer]) => `${host}/${transport.replace("$PORT", String(port))}${peer}`)
  },
  { weight: 1, arbitrary: optionalPeer.map((peer) => `/dnsaddr/bootstrap.example.com${peer}`) },
  {
    weight: 1,
    arbitrary: FastCheck.tuple(
      FastCheck.constantFrom("/ip4/5.6.7.8/tcp/4001", "/ip4/5.6.7.8/udp/4001/quic-v1"),
      FastCheck.constantFrom(...PEER_IDS),
      optionalPeer
    ).map(([relay, relayId, peer]) => `${relay}/p2p/${relayId}/p2p-circuit${peer}`)
  }
)

/**
 * Parsed addresses over the same universe as {@link multiaddrString}.
 *
 * @since 0.1.0
 */
export const peerAddress: FastCheck.Arbitrary<PeerAddress.PeerAddress> = multiaddrString.map(PeerAddress.unsafeParse)

/**
 * Public IPv4 TCP addresses spread over many netgroups (/16s), each with a distinct host: for
 * tables of thousands of peers.
 *
 * @since 0.1.0
 */
export const publicTcpAddress: FastCheck.Arbitrary<PeerAddress.PeerAddress> = FastCheck.tuple(
  FastCheck.integer({ min: 11, max: 99 }),
  FastCheck.integer({ min: 0, max: 255 }),
  FastCheck.integer({ min: 0, max: 255 }),
  FastCheck.integer({ min: 1, max: 254 }),
  FastCheck.integer({ min: 1024, max: 65535 })
).map(([a, b, c, d, port]) => PeerAddress.unsafeParse(`/ip4/${a}.${b}.${c}.${d}/tcp/${port}`))

/**
 * Where an address was heard of.
 *
 * @since 0.1.0
 */
export const source: FastCheck.Arbitrary<PeerRecord.Source> = FastCheck.oneof(
  FastCheck.constantFrom("https://a.example/contacts", "https://b.example/peers.json").map((url) => ({ _tag: "endpoint" as const, url })),
  FastCheck.constant({ _tag: "user" as const }),
  FastCheck.constant({ _tag: "connection" as const }),
  FastCheck.constant({ _tag: "import" as const, from: "/tmp/cache.json" })
)

/**
 * One operation on a peer table, for model-based property tests. `at` is a time offset in ms.
 *
 * @since 0.1.0
 */
export type TableOp =
  | { readonly _tag: "add"; readonly address: PeerAddress.PeerAddress; readonly source: PeerRecord.Source; readonly at: number }
  | { readonly _tag: "success"; readonly address: PeerAddress.PeerAddress; readonly rttMs: number; readonly at: number }
  | { readonly _tag: "failure"; readonly address: PeerAddress.PeerAddress; readonly at: number }
  | { readonly _tag: "remove"; readonly address: PeerAddress.PeerAddress; readonly at: number }

/**
 * The journal change a {@link TableOp} stands for, its offset `at` (ms) added to `t0` (epoch ms): the
 * model a store's journal replays.
 *
 * @since 0.1.0
 */
export const journalOp = (op: TableOp, t0: number): Journal.Op => {
  switch (op._tag) {
    case "add":
      return Journal.Op.Add({ address: op.address, at: t0 + op.at, source: op.source })
    case "success":
      return Journal.Op.Success({ address: op.address, at: t0 + op.at, rttMs: op.rttMs })
    case "failure":
      return Journal.Op.Failure({ address: op.address, at: t0 + op.at })
    case "remove":
      return Journal.Op.Remove({ address: op.address, at: t0 + op.at })
  }
}

const at = FastCheck.integer({ min: 0, max: 10 * 24 * 3_600_000 })

/**
 * Sequences of table operations (adds, successes with an RTT, failures, removals).
 *
 * @since 0.1.0
 */
export const tableOps: FastCheck.Arbitrary<ReadonlyArray<TableOp>> = FastCheck.array(
  FastCheck.oneof(
    { weight: 3, arbitrary: FastCheck.record({ _tag: FastCheck.constant("add" as const), address: peerAddress, source, at }) },
    { weight: 3, arbitrary: FastCheck.record({ _tag: FastCheck.constant("success" as const), address: peerAddress, rttMs: FastCheck.integer({ min: 1, max: 2000 }), at }) },
    { weight: 3, arbitrary: FastCheck.record({ _tag: FastCheck.constant("failure" as const), address: peerAddress, at }) },
    { weight: 1, arbitrary: FastCheck.record({ _tag: FastCheck.constant("remove" as const), address: peerAddress, at }) }
  ),
  { maxLength: 60 }
)
