/**
 * Output of the `bootstrap-cache` CLI: the JSON shapes printed by `--json` and the human tables.
 *
 * JSON shapes are stable (scripts parse them): absent values are `null`, times are epoch ms,
 * durations ms, ratios in [0,1].
 *
 * @since 0.1.0
 */
import { PeerRecord, type PeerTable, Score } from "@bootstrap-cache/core"
import * as Option from "effect/Option"
import type * as Bootstrap from "../Bootstrap.js"

const orNull = <A>(o: Option.Option<A>): A | null => Option.getOrNull(o)

/**
 * One address in `list --json`: `multiaddr`, `successes`, `failures`, `consecutiveFailures`,
 * `lastSuccess` / `lastFailure` / `lastSeen` (epoch ms or null), `rttMs` (smoothed, ms or null),
 * `bytesTransferred`.
 *
 * @since 0.1.0
 */
export const addressJson = (r: PeerRecord.AddressRecord) => ({
  multiaddr: r.address.multiaddr,
  successes: r.successes,
  failures: r.failures,
  consecutiveFailures: r.consecutiveFailures,
  lastSuccess: orNull(r.lastSuccess),
  lastFailure: orNull(r.lastFailure),
  lastSeen: orNull(r.lastSeen),
  rttMs: orNull(r.rttMs),
  bytesTransferred: r.bytesTransferred
})

/**
 * One peer in `list --json`: `peerId` (null for an address listed without one), `quality` in [0,1]
 * at `now`, `relay`, `capabilities`, `protocols`, `sources`, `firstSeen` / `lastSeen` (epoch ms),
 * `connectionCount` (Chiral `connection_count`: successful connections, the sum of its addresses'
 * `successes`), `bytesTransferred` (bytes, summed over its addresses) and its `addresses` (see
 * {@link addressJson}).
 *
 * @since 0.1.0
 */
export const peerJson = (peer: PeerRecord.PeerRecord, now: number) => ({
  peerId: orNull(peer.peerId),
  quality: Score.peer(peer, now),
  relay: PeerRecord.isRelay(peer),
  capabilities: peer.capabilities,
  protocols: peer.protocols,
  sources: peer.sources,
  firstSeen: peer.firstSeen,
  lastSeen: peer.lastSeen,
  connectionCount: peer.addresses.reduce((n, r) => n + r.successes, 0),
  bytesTransferred: peer.addresses.reduce((n, r) => n + r.bytesTransferred, 0),
  addresses: peer.addresses.map(addressJson)
})

/**
 * `bootstrap --json`: the {@link Bootstrap.BootstrapResult} with addresses as multiaddr strings and
 * options as values or null.
 *
 * @since 0.1.0
 */
export const resultJson = (r: Bootstrap.BootstrapResult) => ({
  target: r.target,
  targetReached: r.targetReached,
  connected: r.connected.map((c) => ({ peerKey: c.peerKey, multiaddr: c.address.multiaddr, rttMs: c.rttMs, origin: c.origin })),
  dials: r.dials,
  successes: r.successes,
  failures: r.failures,
  failuresByReason: r.failuresByReason,
  unsupported: r.unsupported,
  cancelled: r.cancelled,
  rejected: r.rejected,
  peakInFlight: r.peakInFlight,
  cachedAttempts: r.cachedAttempts,
  cachedSuccesses: r.cachedSuccesses,
  hitRate: r.hitRate,
  timeToFirstPeerMs: orNull(r.timeToFirstPeerMs),
  timeToTargetMs: orNull(r.timeToTargetMs),
  elapsedMs: r.elapsedMs,
  endpointsUsed: r.endpointsUsed,
  endpointReason: orNull(r.endpointReason),
  endpointError: orNull(r.endpointError),
  endpoints: r.endpoints.map((e) => ({
    endpoint: e.endpoint,
    outcome: e.outcome,
    valid: e.valid,
    invalid: e.invalid,
    filtered: e.filtered,
    failure: Option.match(e.failure, { onNone: () => null, onSome: (f) => f.message })
  })),
  cachedPeers: r.cachedPeers,
  pruned: r.pruned,
  flushError: orNull(r.flushError)
})

/**
 * Pretty JSON with a trailing newline.
 *
 * @since 0.1.0
 */
export const json = (value: unknown): string => JSON.stringify(value, null, 2) + "\n"

/**
 * An aligned text table: a header row, then the rows; every column padded to its widest cell
 * (numbers right-aligned).
 *
 * @since 0.1.0
 */
export const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string | number>>): string => {
  const cells = rows.map((row) => row.map((c) => String(c)))
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((row) => typeof row[i] === "number"))
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => (row[i] ?? "").length)))
  const line = (row: ReadonlyArray<string>) =>
    row.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd()
  return [line(headers), ...cells.map(line)].join("\n") + "\n"
}

/**
 * A duration in ms for people: `850 ms`, `1.2 s`, `3 min`.
 *
 * @since 0.1.0
 */
export const ms = (value: number): string =>
  value < 1 ? `${value.toFixed(2)} ms` : value < 1_000 ? `${Math.round(value)} ms` : value < 120_000
    ? `${(value / 1_000).toFixed(1)} s`
    : `${Math.round(value / 60_000)} min`

/**
 * How long ago an epoch-ms time was, relative to `now`: `12 s ago`, `3 h ago`, `never` for none.
 *
 * @since 0.1.0
 */
export const ago = (at: Option.Option<number> | number, now: number): string => {
  const t = typeof at === "number" ? Option.some(at) : at
  if (Option.isNone(t)) return "never"
  const d = Math.max(0, now - t.value)
  if (d < 60_000) return `${Math.round(d / 1_000)} s ago`
  if (d < 3_600_000) return `${Math.round(d / 60_000)} min ago`
  if (d < 172_800_000) return `${Math.round(d / 3_600_000)} h ago`
  return `${Math.round(d / 86_400_000)} d ago`
}

/**
 * A ratio in [0,1] as a percentage.
 *
 * @since 0.1.0
 */
export const percent = (ratio: number): string => `${Math.round(ratio * 100)}%`

/** A peer id shortened for tables: `12D3KooW…Xyz12` style, or `-`. */
export const shortId = (peerId: Option.Option<string>): string =>
  Option.match(peerId, {
    onNone: () => "-",
    onSome: (id) => (id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id)
  })

/**
 * The human `list` table: one row per peer with its best address; `OK` is the peer's successful
 * connections (Chiral `connection_count`), `FAIL` its failed dials.
 *
 * @since 0.1.0
 */
export const peersTable = (peers: ReadonlyArray<PeerRecord.PeerRecord>, now: number): string =>
  table(
    ["PEER", "ADDRESS", "OK", "FAIL", "RTT", "LAST SEEN", "QUALITY"],
    peers.map((peer) => {
      const best = Score.best(peer, now)
      const record = Option.getOrElse(Option.map(best, (b) => b.record), () => peer.addresses[0]!)
      const extra = peer.addresses.length > 1 ? ` (+${peer.addresses.length - 1})` : ""
      return [
        shortId(peer.peerId),
        record.address.multiaddr.replace(/\/p2p\/[^/]+$/, "") + extra,
        peer.addresses.reduce((n, r) => n + r.successes, 0),
        peer.addresses.reduce((n, r) => n + r.failures, 0),
        Option.match(record.rttMs, { onNone: () => "-", onSome: ms }),
        ago(peer.lastSeen, now),
        Score.peer(peer, now).toFixed(2)
      ]
    })
  )

/**
 * A byte count for people: `512 B`, `1.5 KiB`, `20.0 MiB`, `3.2 GiB`.
 *
 * @since 0.1.0
 */
export const bytes = (n: number): string => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"]
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`
}

/**
 * The human `stats` lines.
 *
 * @since 0.1.0
 */
export const statsText = (path: string, stats: PeerTable.Stats, stale: boolean, now: number): string =>
  table(["", ""], [
    ["cache", path],
    ["peers", stats.peers],
    ["addresses", stats.addresses],
    ["relay-capable", stats.relayCapable],
    ["never dialled", stats.neverDialled],
    ["dials", `${stats.totalSuccesses} ok (connections), ${stats.totalFailures} failed`],
    ["bytes transferred", bytes(stats.totalBytesTransferred)],
    ["avg reliability", percent(stats.averageReliability)],
    ["newest seen", stats.newestSeen === undefined ? "never" : ago(stats.newestSeen, now)],
    ["stale", stale ? "yes" : "no"]
  ].map(([a, b]) => [String(a), String(b)])).split("\n").slice(1).join("\n")

/** `7 (2 failed: 1 refused, 1 timeout; 0 cancelled; at most 6 in flight)`. */
const dialsText = (r: Bootstrap.BootstrapResult): string => {
  const reasons = (["refused", "timeout", "unreachable"] as const)
    .filter((k) => r.failuresByReason[k] > 0)
    .map((k) => `${r.failuresByReason[k]} ${k}`)
  const parts = [
    `${r.failures} failed${reasons.length === 0 ? "" : `: ${reasons.join(", ")}`}`,
    `${r.cancelled} cancelled`,
    ...(r.unsupported > 0 ? [`${r.unsupported} unsupported transport`] : []),
    ...(r.rejected > 0 ? [`${r.rejected} held by breakers`] : []),
    `at most ${r.peakInFlight} in flight`
  ]
  return `${r.dials} (${parts.join("; ")})`
}

/**
 * The human summary of a bootstrap.
 *
 * @since 0.1.0
 */
export const resultText = (r: Bootstrap.BootstrapResult): string => {
  const source = r.endpointsUsed
    ? `endpoints (${Option.getOrElse(r.endpointReason, () => "asked")})${r.cachedAttempts > 0 ? " + cache" : ""}`
    : Option.isSome(r.endpointError)
    ? "cache (endpoints failed)"
    : "cache"
  const head = table(["", ""], [
    ["connected", `${r.connected.length}/${r.target}${r.targetReached ? "" : " (target not reached)"}`],
    ["source", source],
    ["dials", dialsText(r)],
    ["hit rate", r.cachedAttempts === 0 ? "- (no cached address dialled)" : `${percent(r.hitRate)} (${r.cachedSuccesses}/${r.cachedAttempts} cached)`],
    ["first peer", Option.match(r.timeToFirstPeerMs, { onNone: () => "-", onSome: ms })],
    [`${r.target} peers`, Option.match(r.timeToTargetMs, { onNone: () => "-", onSome: ms })],
    ...(Option.isSome(r.endpointError) ? [["endpoints", r.endpointError.value]] : []),
    ...(Option.isSome(r.flushError) ? [["not saved", r.flushError.value]] : [])
  ]).split("\n").slice(1).join("\n")
  const peers = r.connected.length === 0 ? "" : "\n" + table(
    ["PEER", "ADDRESS", "RTT", "FROM"],
    r.connected.map((c) => [
      shortId(c.address.peerId),
      c.address.multiaddr.replace(/\/p2p\/[^/]+$/, ""),
      ms(c.rttMs),
      c.origin
    ])
  )
  return head + peers
}
