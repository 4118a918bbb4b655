/**
 * The cache-first bootstrap: join the network through peers that worked before, fall back to the
 * contacts endpoints when the cache cannot do it, and remember every outcome.
 *
 * ```
 * load the cache ──▶ enough usable peers and fresh? ──no──▶ fetch the endpoints, merge
 *        │ yes                                                   │
 *        ▼                                                       ▼
 * pick candidates (epsilon-greedy, netgroup-diverse; relay-first when reconnecting)
 *        ▼
 * dial, staggered (Happy Eyeballs): start as many dials as the target still needs, one more
 * whenever a dial fails or 250 ms pass without progress, at most 10 in flight, 5 s timeout each,
 * until `target` peers answer (5); then cancel the dials still in flight
 *        │
 *        ├─ the cache evidently not working (no target after `fallbackAfter`, 2 × timeout = 10 s, or
 *        │  after 2 × target cached failures) and the endpoints not asked yet? ──▶ ask them *while the
 *        │  cached dials go on*; their new peers are dialled next (netgroup-diverse)
 *        └─ every candidate dialled, no target, endpoints not asked yet? ──▶ ask them, dial the new peers
 *        ▼
 * record every outcome (with its RTT) as it happens ─▶ prune ─▶ flush
 * ```
 *
 * The rules come from Bitcoin Core (ask the DNS seeds only when the address manager cannot find
 * peers; one outbound connection per netgroup; `IsTerrible` for pruning), ant-bootstrap
 * (maidsafe/autonomi: cache first, then the network-contacts endpoints) and Happy Eyeballs v2
 * (RFC 8305 §5: staggered connection attempts, "Connection Attempt Delay" 250 ms by default, never
 * below 10 ms; a failed attempt starts the next one at once). A stale or dead cache never stops a node
 * from starting, nor stalls it: see "Fallback" below.
 *
 * **Staggered dialing.** With a warm cache of good peers, starting `concurrency` dials at once wastes
 * the ones cancelled when the target is reached (each a connection attempt against a real peer). The
 * bootstrap therefore starts only the dials the target still needs (`target − connected − in flight`,
 * at least one), and one more each time a dial fails (or is rejected by its breaker) or `stagger`
 * passes without any dial starting or completing, up to `concurrency`. A warm cache of good peers
 * costs `target` dials and cancels none; a cold or bad cache ramps up to full concurrency in
 * `(concurrency − target) × stagger` (1.25 s with the defaults), faster when dials fail fast.
 *
 * **Fallback.** A cache that is not flagged stale can still be dead (the node was offline for months,
 * the network renumbered): with 1,000 peers that never answer, a 5 s timeout and 10 dials at once,
 * dialling the whole cache before asking the endpoints would take ~500 s. So the endpoints are asked
 * *concurrently with the cached dials* as soon as the cache is evidently not working, whichever comes
 * first:
 * - `fallbackAfter` (default 2 × `timeout`, 10 s with the defaults) has passed since the first dial
 *   without reaching the target (reason `cache-slow`). Bitcoin Core asks its DNS seeds when it has no
 *   good outbound connection after 11 s (`net.cpp`, `ThreadDNSAddressSeed`); two timeouts means the
 *   first wave of dials has had its full chance;
 * - `fallbackFailures` (default 2 × `target`) dials of cached addresses have failed (reason
 *   `cache-failing`): at the ≥ 50% hit rate of a working cache, reaching the target takes about
 *   `target` failures, so twice that is evidence, not noise.
 * When the endpoints answer, their new addresses (those not in the cache when the run started) are
 * dialled before any further cached peer, picked by the same selection (netgroup-diverse, counting
 * the netgroups already connected or being dialled); when the dials in flight leave no room for them,
 * the oldest cached dials are cancelled (booked as `cancelled`, not as failures of their peers) to
 * make room for as many as the target still needs. When every candidate has been dialled without
 * reaching the target, the endpoints are asked too (reason `fallback`), if not asked yet. A fetch still
 * in flight when the target is reached is cancelled (the node has its peers; `endpointsUsed` stays
 * false). The endpoints are asked at most once per run.
 *
 * **Outcomes.** Every dial ends as exactly one of: succeeded; failed — refused, timeout or unreachable
 * (recorded against the address); unsupported transport (not the peer's fault, not recorded);
 * cancelled (interrupted when the target was reached, not recorded); or rejected by its breaker before
 * dialing (not a dial). A peer that does not answer within `timeout` is a timeout failure, also when
 * the dial is still in flight at the moment the target is reached, and also with a dialer that does
 * not enforce the timeout itself (the bootstrap enforces it too).
 *
 * Seams: the store is passed in as a {@link Store} (the shape of `CacheStore`'s service; {@link memoryStore}
 * for tests and nodes that do not persist); discovery is the optional `ContactsFetcher` service (no
 * fetcher, no endpoints); dial protection is the optional `Protection` service (each dial runs under
 * the breaker of the address's dedupe key); dialing is the `Dialer` service.
 *
 * @since 0.1.0
 */
import { PeerAddress, PeerRecord, PeerTable, Prune, Score, Selection } from "@bootstrap-cache/core"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import { CacheStore } from "./CacheStore.js"
import {
  ContactsFetcher,
  type ContactsUnavailable,
  type EndpointReport,
  type FetchResult,
  type SourcedAddress
} from "./ContactsFetcher.js"
import * as Dialer from "./Dialer.js"
import * as ConfigHelpers from "./internal/config.js"
import { Protection, type ProtectionRejection } from "./Protection.js"

// ---------------------------------------------------------------------------------------------------
// The store seam
// ---------------------------------------------------------------------------------------------------

/**
 * What the bootstrap needs of the cache store: the shape of `CacheStore`'s service (so the service
 * itself can be passed). Errors of the store never fail the bootstrap: a failed read counts as an
 * empty cache, a failed write is logged and reported in {@link BootstrapResult.flushError}.
 *
 * @since 0.1.0
 */
export interface Store {
  readonly snapshot: Effect.Effect<PeerTable.PeerTable, unknown>
  readonly add: (
    address: PeerAddress.PeerAddress,
    options: { readonly source: PeerRecord.Source; readonly capabilities?: Partial<PeerRecord.Capabilities> }
  ) => Effect.Effect<unknown, unknown>
  readonly recordSuccess: (
    address: PeerAddress.PeerAddress,
    options?: { readonly rttMs?: number; readonly bytes?: number }
  ) => Effect.Effect<unknown, unknown>
  readonly recordFailure: (address: PeerAddress.PeerAddress) => Effect.Effect<unknown, unknown>
  readonly remove: (address: PeerAddress.PeerAddress) => Effect.Effect<unknown, unknown>
  readonly flush: Effect.Effect<unknown, unknown>
  readonly isStale: Effect.Effect<boolean, unknown>
}

/**
 * A {@link Store} over a `Ref<PeerTable>`, timestamped with Effect's `Clock`: for tests and for nodes
 * that do not persist their cache. `flush` does nothing; `isStale` is `stale` (default `false`).
 * `ref` is exposed so tests can inspect and seed the table.
 *
 * @since 0.1.0
 */
export const memoryStore = (
  initial: PeerTable.PeerTable = PeerTable.empty,
  options: { readonly stale?: boolean } = {}
): Effect.Effect<Store & { readonly ref: Ref.Ref<PeerTable.PeerTable> }> =>
  Effect.map(Ref.make(initial), (ref) => {
    const update = (f: (table: PeerTable.PeerTable, now: number) => PeerTable.PeerTable) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => Ref.update(ref, (t) => f(t, now)))
    return {
      ref,
      snapshot: Ref.get(ref),
      add: (address, o) =>
        update((t, now) =>
          PeerTable.add(t, address, {
            now,
            source: o.source,
            ...(o.capabilities === undefined ? {} : { capabilities: o.capabilities })
          })
        ),
      recordSuccess: (address, o = {}) => update((t, now) => PeerTable.recordSuccess(t, address, now, o)),
      recordFailure: (address) => update((t, now) => PeerTable.recordFailure(t, address, now)),
      remove: (address) => Ref.update(ref, (t) => PeerTable.remove(t, address)),
      flush: Effect.void,
      isStale: Effect.succeed(options.stale === true)
    }
  })

// ---------------------------------------------------------------------------------------------------
// Options, events, results
// ---------------------------------------------------------------------------------------------------

/**
 * Options of {@link run}. Durations are `Duration.DurationInput` (a bare number is ms).
 *
 * | option           | default | meaning |
 * | ---------------- | ------- | ------- |
 * | `target`         | 5       | live peers wanted; the remaining dials are cancelled once reached |
 * | `concurrency`    | 10      | dials in flight at once, at most |
 * | `stagger`        | 250 ms  | Happy Eyeballs "Connection Attempt Delay" (RFC 8305 §5): time without progress after which one more dial starts; at least 10 ms |
 * | `timeout`        | 5 s     | per dial; a peer silent that long is recorded as a (timeout) failure |
 * | `fallbackAfter`  | 2 × `timeout` (10 s) | time since the first dial without reaching the target after which the endpoints are asked concurrently (module docs, "Fallback"; Bitcoin Core: 11 s); `Duration.infinity` never |
 * | `fallbackFailures` | 2 × `target` (10) | failed dials of cached addresses after which the endpoints are asked concurrently; `Infinity` never |
 * | `endpoints`      | the `ContactsFetcher`'s own | contacts URLs to ask (through `ContactsFetcher.fetchFrom`) |
 * | `minCachedPeers` | `target` | usable cached peers below which the endpoints are asked before dialing |
 * | `epsilon`        | 0.1     | exploration probability of the selection (ADR epsilon-greedy) |
 * | `dialPolicy`     | public only | `PeerAddress.DialPolicy`: `allowLoopback`, `allowPrivate` |
 * | `reconnect`      | false   | dial known peers relay-first, by quality (`Selection.reconnectOrder`) instead of epsilon-greedy |
 * | `batchSize`      | 3 × target, at least `concurrency` | candidates picked per selection round; each round counts the netgroups of the peers connected or being dialled (`Selection.select`'s `netgroupsInUse`) |
 * | `prune`          | true    | apply `Prune.prune` (core defaults) after dialing, through `store.remove` |
 * | `onEvent`        | none    | called with every {@link BootstrapEvent}, for live progress |
 *
 * A usable cached peer has a dialable address (under `dialPolicy`) that the dialer supports and
 * that has failed fewer than {@link TERRIBLE_STREAK} times in a row.
 *
 * @since 0.1.0
 */
export interface BootstrapOptions {
  readonly target?: number
  readonly concurrency?: number
  readonly stagger?: Duration.DurationInput
  readonly timeout?: Duration.DurationInput
  readonly fallbackAfter?: Duration.DurationInput
  readonly fallbackFailures?: number
  readonly endpoints?: ReadonlyArray<string>
  readonly minCachedPeers?: number
  readonly epsilon?: number
  readonly dialPolicy?: PeerAddress.DialPolicy
  readonly reconnect?: boolean
  readonly batchSize?: number
  readonly prune?: boolean
  readonly onEvent?: (event: BootstrapEvent) => Effect.Effect<void>
}

/**
 * The documented defaults of {@link BootstrapOptions} (durations in ms).
 *
 * @since 0.1.0
 */
export const defaults = {
  target: 5,
  concurrency: 10,
  /** RFC 8305 §5: the recommended default Connection Attempt Delay. */
  staggerMs: 250,
  /** RFC 8305 §5: the Connection Attempt Delay MUST NOT be less than 10 ms. */
  minStaggerMs: 10,
  timeoutMs: 5_000,
  /** `fallbackAfter` = this × the dial timeout (10 s with the default timeout; Bitcoin Core: 11 s). */
  fallbackAfterTimeouts: 2,
  /** `fallbackFailures` = this × the target (10 with the default target). */
  fallbackFailuresPerTarget: 2,
  epsilon: Selection.defaults.epsilon
} as const

/**
 * Where a dialled address came from in this run: the cache as loaded (`cache`), or the endpoints
 * asked during the run (`endpoints`).
 *
 * @since 0.1.0
 */
export type Origin = "cache" | "endpoints"

/**
 * Why the endpoints were asked. Before dialing: the cache was `empty`, held `too-few` usable peers,
 * or was `stale`. While dialing (concurrently with the cached dials, see the module docs,
 * "Fallback"): `cache-slow` — `fallbackAfter` passed without reaching the target; `cache-failing` —
 * `fallbackFailures` cached dials failed. After dialing: every candidate was dialled without reaching
 * the target (`fallback`).
 *
 * @since 0.1.0
 */
export type EndpointReason = "empty" | "too-few" | "stale" | "cache-slow" | "cache-failing" | "fallback"

/**
 * Why a dial was started (see the module docs, "Staggered dialing"): `needed` — the target still
 * needed it (at the start of a dial round, or after a success left the target short of in-flight
 * dials); `failure` — it replaces a dial that failed or was rejected (RFC 8305 §5: a failed attempt
 * starts the next one at once); `stagger` — `stagger` passed without progress.
 *
 * @since 0.1.0
 */
export type DialTrigger = "needed" | "failure" | "stagger"

/**
 * Why a dial failed: `refused` (`DialRefusedError`), `timeout` (`DialTimeoutError`, or in flight
 * longer than the timeout when the target was reached), `unreachable` (`DialUnreachableError`) —
 * these three are recorded against the address; a `DialWrongPeerError` counts as `unreachable` — or
 * `unsupported` (`UnsupportedTransportError`, `DialLocalError`: this side's limit, not recorded).
 *
 * @since 0.1.0
 */
export type FailureReason = "refused" | "timeout" | "unreachable" | "unsupported"

/**
 * The reason of a dial error (see {@link FailureReason}).
 *
 * @since 0.1.0
 */
export const failureReason = (error: Dialer.DialError): FailureReason => {
  switch (error._tag) {
    case "DialRefusedError":
      return "refused"
    case "DialTimeoutError":
      return "timeout"
    case "DialUnreachableError":
    case "DialWrongPeerError":
      return "unreachable"
    case "UnsupportedTransportError":
    case "DialLocalError":
      return "unsupported"
  }
}

/**
 * Progress of a bootstrap, in order of occurrence. `inFlight` is the number of dials in flight after
 * the event; `connected` the number of live peers so far; times are ms since the run started,
 * `elapsedMs` of a dial event is how long that dial was in flight (ms).
 *
 * Every `DialStarted` ends in exactly one of `DialSucceeded`, `DialFailed` (with its
 * {@link FailureReason}), `DialCancelled` (interrupted because the target was reached, or a cached dial
 * making room for the endpoints' peers after a fallback; not a failure)
 * or `DialRejected` (its breaker refused it before dialing; not counted as a dial).
 *
 * @since 0.1.0
 */
export type BootstrapEvent = Data.TaggedEnum<{
  CacheLoaded: { readonly peers: number; readonly usable: number; readonly stale: boolean }
  EndpointsFetching: { readonly reason: EndpointReason }
  EndpointsFetched: { readonly addresses: number; readonly endpoints: ReadonlyArray<EndpointReport> }
  EndpointsFailed: { readonly reason: string }
  DialStarted: {
    readonly address: PeerAddress.PeerAddress
    readonly origin: Origin
    readonly trigger: DialTrigger
    readonly inFlight: number
  }
  DialSucceeded: {
    readonly address: PeerAddress.PeerAddress
    readonly origin: Origin
    readonly rttMs: number
    readonly connected: number
    readonly inFlight: number
  }
  DialFailed: {
    readonly address: PeerAddress.PeerAddress
    readonly origin: Origin
    readonly error: Dialer.DialError
    readonly reason: FailureReason
    readonly elapsedMs: number
    readonly inFlight: number
  }
  DialRejected: {
    readonly address: PeerAddress.PeerAddress
    readonly origin: Origin
    readonly rejection: ProtectionRejection
    readonly inFlight: number
  }
  DialCancelled: {
    readonly address: PeerAddress.PeerAddress
    readonly origin: Origin
    readonly elapsedMs: number
    readonly inFlight: number
  }
  TargetReached: { readonly connected: number; readonly elapsedMs: number }
}>

/**
 * Constructors and matchers of {@link BootstrapEvent}.
 *
 * @since 0.1.0
 */
export const BootstrapEvent = Data.taggedEnum<BootstrapEvent>()

/**
 * A peer that answered: its key in the table, the address dialled, the set-up time (ms) and where
 * the address came from.
 *
 * @since 0.1.0
 */
export interface ConnectedPeer {
  readonly peerKey: string
  readonly address: PeerAddress.PeerAddress
  readonly rttMs: number
  readonly origin: Origin
}

/**
 * What a bootstrap did.
 *
 * - `connected`: the peers that answered, in order of answer (may exceed `target` by dials that
 *   completed as the target was reached).
 * - `targetReached`: `connected.length >= target`.
 * - `dials`: dials started (cancelled ones included, breaker rejections not) =
 *   `successes + failures + unsupported + cancelled`. `failures`: refused, timeout or unreachable
 *   (recorded in the store), split in `failuresByReason`; `unsupported`: the dialer does not speak the
 *   transport (not recorded); `cancelled`: interrupted once the target was reached, or (cached dials
 *   only) to make room for the endpoints' addresses after a fallback, in flight for less than the
 *   timeout (the wasted dials: a warm cache of good peers has none); `rejected`: by a breaker, not
 *   dialled.
 * - `peakInFlight`: the most dials in flight at once (≤ `concurrency`; staggering keeps it near
 *   `target` when the cache is good).
 * - `cachedAttempts`, `cachedSuccesses`: completed dials of addresses that were in the cache when the
 *   run started; `hitRate` = `cachedSuccesses / cachedAttempts` in [0,1] (0 when none).
 * - `timeToFirstPeerMs`, `timeToTargetMs`: ms from the start of the run; `elapsedMs`: the whole run.
 * - `endpointsUsed`, `endpointReason`, `endpoints`: whether and why the endpoints were asked, and
 *   each endpoint's report; `endpointError`: why no endpoint gave addresses, if so.
 * - `cachedPeers`: peers in the cache when loaded; `pruned`: addresses removed after dialing.
 * - `flushError`: why the cache could not be saved, if so (the bootstrap still succeeds).
 *
 * @since 0.1.0
 */
export interface BootstrapResult {
  readonly target: number
  readonly connected: ReadonlyArray<ConnectedPeer>
  readonly targetReached: boolean
  readonly dials: number
  readonly successes: number
  readonly failures: number
  readonly failuresByReason: { readonly refused: number; readonly timeout: number; readonly unreachable: number }
  readonly unsupported: number
  readonly cancelled: number
  readonly rejected: number
  readonly peakInFlight: number
  readonly cachedAttempts: number
  readonly cachedSuccesses: number
  readonly hitRate: number
  readonly timeToFirstPeerMs: Option.Option<number>
  readonly timeToTargetMs: Option.Option<number>
  readonly elapsedMs: number
  readonly endpointsUsed: boolean
  readonly endpointReason: Option.Option<EndpointReason>
  readonly endpoints: ReadonlyArray<EndpointReport>
  readonly endpointError: Option.Option<string>
  readonly cachedPeers: number
  readonly pruned: number
  readonly flushError: Option.Option<string>
}

/**
 * No peer answered: every candidate failed (or there were none) and the endpoints gave nothing
 * dialable. Carries the full {@link BootstrapResult} (every outcome was recorded and flushed first).
 *
 * @since 0.1.0
 */
export class NoPeersError extends Data.TaggedError("NoPeersError")<{
  readonly result: BootstrapResult
}> {
  override get message(): string {
    const r = this.result
    const endpoints = Option.match(r.endpointError, {
      onNone: () => (r.endpointsUsed ? "endpoints asked" : "endpoints not asked"),
      onSome: (e) => `endpoints failed: ${e}`
    })
    return `bootstrap reached no peer: ${r.dials} dials, ${r.failures} failures, ${r.cachedPeers} cached peers, ${endpoints}`
  }
}

// ---------------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------------

const msBoundaries = MetricBoundaries.exponential({ start: 1, factor: 2, count: 17 })

/**
 * Effect `Metric`s of the bootstrap: runs (tag `endpoints`: `used` | `unused`), dials by outcome
 * (tag `outcome`: `success` | `failure` | `unsupported` | `cancelled` | `rejected`; failures also
 * tagged `reason`: `refused` | `timeout` | `unreachable`), the time to the first peer and
 * to the target (histograms, ms), the last hit rate ([0,1]) and the last number of connected peers.
 *
 * @since 0.1.0
 */
export const metrics = {
  runs: Metric.counter("bootstrap_cache_bootstrap_runs_total", { description: "bootstrap runs" }),
  dials: Metric.counter("bootstrap_cache_dials_total", { description: "dials by outcome (tag outcome)" }),
  timeToFirstPeer: Metric.histogram("bootstrap_cache_time_to_first_peer_ms", msBoundaries, "ms from start to the first live peer"),
  timeToTarget: Metric.histogram("bootstrap_cache_time_to_target_ms", msBoundaries, "ms from start to the target number of live peers"),
  hitRate: Metric.gauge("bootstrap_cache_hit_rate", { description: "successful / attempted cached addresses, last run" }),
  connected: Metric.gauge("bootstrap_cache_connected_peers", { description: "live peers found, last run" })
} as const

// ---------------------------------------------------------------------------------------------------
// Policies used here
// ---------------------------------------------------------------------------------------------------

/**
 * Consecutive failures from which an address no longer counts as usable: `Prune`'s
 * `maxConsecutiveFailures` (3, Bitcoin Core addrman `ADDRMAN_RETRIES`).
 *
 * @since 0.1.0
 */
export const TERRIBLE_STREAK: number = Prune.defaults.maxConsecutiveFailures

/** The dialable, supported addresses of a peer with fewer than TERRIBLE_STREAK failures in a row. */
const usableAddress = (
  r: PeerRecord.AddressRecord,
  policy: PeerAddress.DialPolicy,
  supports: (a: PeerAddress.PeerAddress) => boolean
): boolean => PeerAddress.isDialable(r.address, policy) && supports(r.address) && r.consecutiveFailures < TERRIBLE_STREAK

const countUsable = (
  table: PeerTable.PeerTable,
  policy: PeerAddress.DialPolicy,
  supports: (a: PeerAddress.PeerAddress) => boolean
): number => {
  let n = 0
  for (const peer of PeerTable.peers(table)) {
    if (peer.addresses.some((r) => usableAddress(r, policy, supports))) n++
  }
  return n
}

const isRejection = (e: unknown): e is ProtectionRejection =>
  typeof e === "object" && e !== null && "_tag" in e &&
  (e._tag === "CircuitOpenError" || e._tag === "CircuitTooManyRequestsError" || e._tag === "CircuitThrottledError")

const describe = (e: unknown): string =>
  typeof e === "object" && e !== null && "message" in e && typeof e.message === "string" ? e.message : String(e)

// ---------------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------------

interface Candidate {
  readonly peerKey: string
  readonly address: PeerAddress.PeerAddress
}

/**
 * Runs one bootstrap against `store` (see the module docs for the flow, {@link BootstrapOptions} for
 * the settings). Dials are staggered (RFC 8305 §5, see the module docs): the target's worth at once,
 * one more per failure or per `stagger` without progress, at most `concurrency`. When the cache is
 * evidently not working (`fallbackAfter` without the target, or `fallbackFailures` cached failures),
 * the endpoints are asked while the cached dials go on, and their new peers are dialled next (see the
 * module docs, "Fallback"). Every dial outcome is
 * recorded in the store as it happens (successes with their RTT; refusals, timeouts and unreachable
 * hosts as failures; unsupported transports, breaker rejections and dials cancelled at the target are
 * not failures of the peer); terrible addresses are pruned; the store is flushed.
 *
 * Requires a `Dialer`; uses `ContactsFetcher` (discovery) and `Protection` (per-address breakers)
 * when they are provided. Selection draws come from Effect's `Random`, times from its `Clock`.
 *
 * Fails with {@link NoPeersError} (carrying the result) when no peer answered and `target` > 0.
 *
 * @since 0.1.0
 */
export const run = (
  store: Store,
  options: BootstrapOptions = {}
): Effect.Effect<BootstrapResult, NoPeersError, Dialer.Dialer> =>
  Effect.gen(function*() {
    const dialer = yield* Dialer.Dialer
    const protection = yield* Effect.serviceOption(Protection)
    const fetcher = yield* Effect.serviceOption(ContactsFetcher)
    const target = Math.max(0, Math.floor(options.target ?? defaults.target))
    const concurrency = Math.max(1, Math.floor(options.concurrency ?? defaults.concurrency))
    const timeout = options.timeout ?? Duration.millis(defaults.timeoutMs)
    const timeoutMs = Duration.toMillis(Duration.decode(timeout))
    const staggerMs = Math.max(defaults.minStaggerMs, Duration.toMillis(Duration.decode(options.stagger ?? defaults.staggerMs)))
    const policy = options.dialPolicy ?? {}
    const batchSize = Math.max(concurrency, Math.floor(options.batchSize ?? 3 * Math.max(1, target)))
    const minCached = options.minCachedPeers ?? target
    const fallbackAfterMs = Duration.toMillis(
      Duration.decode(options.fallbackAfter ?? Duration.millis(defaults.fallbackAfterTimeouts * timeoutMs))
    )
    const fallbackFailures = Math.max(1, options.fallbackFailures ?? defaults.fallbackFailuresPerTarget * Math.max(1, target))
    const emit = options.onEvent ?? (() => Effect.void)
    const started = yield* Clock.currentTimeMillis
    const since = Effect.map(Clock.currentTimeMillis, (now) => now - started)

    const tally = {
      connected: [] as Array<ConnectedPeer>,
      dials: 0,
      successes: 0,
      failures: 0,
      failuresByReason: { refused: 0, timeout: 0, unreachable: 0 },
      unsupported: 0,
      cancelled: 0,
      rejected: 0,
      peakInFlight: 0,
      cachedAttempts: 0,
      cachedSuccesses: 0,
      timeToFirstPeerMs: Option.none<number>(),
      timeToTargetMs: Option.none<number>()
    }
    const endpoints = {
      used: false,
      reason: Option.none<EndpointReason>(),
      reports: [] as ReadonlyArray<EndpointReport>,
      error: Option.none<string>(),
      asked: false
    }

    const snapshot = store.snapshot.pipe(
      Effect.catchAll((e) =>
        Effect.as(Effect.logWarning(`cache could not be read, starting from an empty table: ${describe(e)}`), PeerTable.empty)
      )
    )

    // 1. Load the cache.
    let table = yield* snapshot
    const cachedKeys = new Set<string>()
    for (const peer of PeerTable.peers(table)) for (const r of peer.addresses) cachedKeys.add(r.address.key)
    const cachedPeers = PeerTable.size(table)
    const stale = yield* store.isStale.pipe(Effect.orElseSucceed(() => false))
    const usable = countUsable(table, policy, dialer.supports)
    yield* emit(BootstrapEvent.CacheLoaded({ peers: cachedPeers, usable, stale }))
    yield* Effect.logInfo(`cache loaded: ${cachedPeers} peers, ${usable} usable${stale ? ", stale" : ""}`)

    type Fetch = Effect.Effect<FetchResult, ContactsUnavailable>

    /** Marks the endpoints asked (at most once per run) and returns their fetch; none without a fetcher. */
    const beginFetch = (reason: EndpointReason) =>
      Effect.gen(function*() {
        if (Option.isNone(fetcher) || endpoints.asked) return Option.none<Fetch>()
        endpoints.asked = true
        endpoints.reason = Option.some(reason)
        yield* emit(BootstrapEvent.EndpointsFetching({ reason }))
        yield* Effect.logInfo(`asking the contacts endpoints (${reason})`)
        return Option.some<Fetch>(
          options.endpoints === undefined ? fetcher.value.fetch : fetcher.value.fetchFrom(options.endpoints)
        )
      })

    /**
     * Books what the endpoints answered: merges their addresses into the store and re-reads the table.
     * Returns the addresses, or none when no endpoint gave any.
     */
    const absorb = (result: Either.Either<FetchResult, ContactsUnavailable>) =>
      Effect.gen(function*() {
        if (Either.isLeft(result)) {
          const error: ContactsUnavailable = result.left
          endpoints.error = Option.some(error.message)
          yield* emit(BootstrapEvent.EndpointsFailed({ reason: error.message }))
          yield* Effect.logWarning(`contacts endpoints gave nothing: ${error.message}`)
          return Option.none<ReadonlyArray<SourcedAddress>>()
        }
        endpoints.used = true
        endpoints.reports = result.right.endpoints
        for (const { address, source } of result.right.addresses) {
          yield* store.add(address, { source: { _tag: "endpoint", url: source } }).pipe(
            Effect.catchAll((e) => Effect.logWarning(`could not add ${address.multiaddr}: ${describe(e)}`))
          )
        }
        yield* emit(BootstrapEvent.EndpointsFetched({ addresses: result.right.addresses.length, endpoints: result.right.endpoints }))
        table = yield* snapshot
        return Option.some(result.right.addresses)
      })

    /** Asks the endpoints and waits for them (before dialing). */
    const fetchEndpoints = (reason: EndpointReason) =>
      Effect.gen(function*() {
        const fetch = yield* beginFetch(reason)
        if (Option.isSome(fetch)) yield* absorb(yield* Effect.either(fetch.value))
      })

    // 2. Ask the endpoints first when the cache cannot do it.
    if (target > 0) {
      const reason: EndpointReason | undefined = cachedPeers === 0
        ? "empty"
        : usable < minCached
        ? "too-few"
        : stale
        ? "stale"
        : undefined
      if (reason !== undefined) yield* fetchEndpoints(reason)
    }

    const attempted = new Set<string>()

    /** A dial in flight: what was dialled, why, since when (epoch ms), and its fiber. */
    interface Flight {
      readonly candidate: Candidate
      readonly origin: Origin
      readonly startedAt: number
      readonly fiber: Fiber.RuntimeFiber<DialExit>
    }
    type DialExit = Exit.Exit<number, Dialer.DialError | ProtectionRejection>
    /** What the coordinator waits for: a dial's exit, or the endpoints' answer to a fallback. */
    type Message =
      | { readonly _tag: "Dial"; readonly id: number; readonly exit: DialExit }
      | { readonly _tag: "Endpoints"; readonly result: Either.Either<FetchResult, ContactsUnavailable> }
    const flights = new Map<number, Flight>()
    let nextFlightId = 0

    const warn = (what: string, c: Candidate) => (e: unknown) =>
      Effect.logWarning(`could not record ${what} of ${c.address.multiaddr}: ${describe(e)}`)

    /** Books one dial outcome (the coordinator's fiber only: no two outcomes are booked at once). */
    const record = (flight: Flight, exit: DialExit) =>
      Effect.gen(function*() {
        const { candidate: c, origin } = flight
        const elapsedMs = (yield* Clock.currentTimeMillis) - flight.startedAt
        if (Exit.isSuccess(exit)) {
          const rttMs = exit.value
          tally.successes++
          if (origin === "cache") {
            tally.cachedAttempts++
            tally.cachedSuccesses++
          }
          tally.connected.push({ peerKey: c.peerKey, address: c.address, rttMs, origin })
          yield* store.recordSuccess(c.address, { rttMs }).pipe(Effect.catchAll(warn("success", c)))
          yield* Metric.increment(Metric.tagged(metrics.dials, "outcome", "success"))
          const elapsed = yield* since
          if (Option.isNone(tally.timeToFirstPeerMs)) tally.timeToFirstPeerMs = Option.some(elapsed)
          yield* emit(BootstrapEvent.DialSucceeded({
            address: c.address,
            origin,
            rttMs,
            connected: tally.connected.length,
            inFlight: flights.size
          }))
          if (tally.connected.length >= target && Option.isNone(tally.timeToTargetMs)) {
            tally.timeToTargetMs = Option.some(elapsed)
            yield* emit(BootstrapEvent.TargetReached({ connected: tally.connected.length, elapsedMs: elapsed }))
          }
          return
        }
        let error: Dialer.DialError
        if (Cause.isInterruptedOnly(exit.cause)) {
          // Cancelled: unless the peer had already been silent for the whole timeout, which is a
          // timeout failure whoever noticed it first.
          if (elapsedMs < timeoutMs) {
            tally.cancelled++
            yield* Metric.increment(Metric.tagged(metrics.dials, "outcome", "cancelled"))
            return yield* emit(BootstrapEvent.DialCancelled({ address: c.address, origin, elapsedMs, inFlight: flights.size }))
          }
          error = new Dialer.DialTimeoutError({ address: c.address.multiaddr, timeoutMs })
        } else {
          const failure = Cause.failureOption(exit.cause)
          if (Option.isNone(failure)) return yield* Effect.failCause(exit.cause as Cause.Cause<never>)
          const e = failure.value
          if (isRejection(e)) {
            tally.dials--
            tally.rejected++
            yield* Metric.increment(Metric.tagged(metrics.dials, "outcome", "rejected"))
            return yield* emit(BootstrapEvent.DialRejected({ address: c.address, origin, rejection: e, inFlight: flights.size }))
          }
          error = e
        }
        const reason = failureReason(error)
        if (reason === "unsupported") {
          tally.unsupported++
          yield* Metric.increment(Metric.tagged(metrics.dials, "outcome", "unsupported"))
        } else {
          tally.failures++
          tally.failuresByReason[reason]++
          if (origin === "cache") tally.cachedAttempts++
          yield* store.recordFailure(c.address).pipe(Effect.catchAll(warn("failure", c)))
          yield* Metric.increment(Metric.tagged(Metric.tagged(metrics.dials, "outcome", "failure"), "reason", reason))
        }
        yield* Effect.logDebug(error.message)
        yield* emit(BootstrapEvent.DialFailed({
          address: c.address,
          origin,
          error,
          reason,
          elapsedMs,
          inFlight: flights.size
        }))
      })

    /**
     * Dials candidates from the current table until the target is reached or none is left, staggered
     * (RFC 8305 §5; see the module docs), asking the endpoints concurrently once the cache is evidently
     * not working (module docs, "Fallback"). One coordinator (this fiber) starts the dials and books
     * every outcome; each dial, and a fallback fetch, runs in its own fiber and reports through
     * `messages`.
     */
    const dialPhase = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const messages = yield* Queue.unbounded<Message>()
      const pending: Array<Candidate> = []
      let exhausted = false
      /** After a fallback: the endpoints' new peers, selected before any further cached peer. */
      let fresh = Option.none<PeerTable.PeerTable>()
      /** The fallback fetch in flight, if any. */
      let fetching = Option.none<Fiber.RuntimeFiber<boolean>>()

      /** The next candidate, picking a new batch from the table when the last one is used up. */
      const next = Effect.gen(function*() {
        while (pending.length === 0 && !exhausted) {
          // Bitcoin Core: one outbound connection per netgroup. The peers connected or being dialled
          // count against their netgroup, so a refill cannot hand a flooding /16 a second slot.
          const netgroupsInUse = [
            ...tally.connected.map((p) => p.address.netgroup),
            ...Array.from(flights.values(), (f) => f.candidate.address.netgroup)
          ]
          const source = Option.getOrElse(fresh, () => table)
          const picks: ReadonlyArray<Selection.Candidate> = options.reconnect === true
            ? Selection.reconnectOrder(source, { now, dialPolicy: policy, exclude: attempted, limit: batchSize })
            : Selection.select(source, {
              now,
              dialPolicy: policy,
              exclude: attempted,
              count: batchSize,
              epsilon: options.epsilon ?? defaults.epsilon,
              netgroupsInUse,
              draws: yield* Effect.replicateEffect(Random.next, Selection.drawsNeeded(batchSize))
            })
          if (picks.length === 0) {
            // The endpoints' new peers are used up: back to the whole table.
            if (Option.isSome(fresh)) {
              fresh = Option.none()
              continue
            }
            exhausted = true
          }
          for (const pick of picks) {
            attempted.add(pick.peerKey)
            // The best address the dialer speaks (selection knows dial policy, not transports).
            const address = dialer.supports(pick.address)
              ? Option.some(pick.address)
              : Option.map(
                Score.best(
                  pick.peer,
                  now,
                  Score.defaults,
                  (r) => PeerAddress.isDialable(r.address, policy) && dialer.supports(r.address)
                ),
                (b) => b.record.address
              )
            if (Option.isSome(address)) pending.push({ peerKey: pick.peerKey, address: address.value })
          }
        }
        return pending.shift()
      })

      /** Starts one dial in its own fiber; false when no candidate is left. */
      const start = (trigger: DialTrigger) =>
        Effect.gen(function*() {
          const c = yield* next
          if (c === undefined) return false
          const origin: Origin = cachedKeys.has(c.address.key) ? "cache" : "endpoints"
          const id = nextFlightId++
          const dial = dialer.dial(c.address, timeout).pipe(
            // Enforced here too, so a dialer that does not enforce its timeout still has its silent
            // peers learnt as timeout failures.
            Effect.timeoutFail({
              duration: Duration.millis(timeoutMs),
              onTimeout: (): Dialer.DialError => new Dialer.DialTimeoutError({ address: c.address.multiaddr, timeoutMs })
            })
          )
          const guarded = Option.match(protection, {
            onNone: () => dial,
            onSome: (p) => p.execute(c.address.key, dial)
          })
          // The exit is captured and reported uninterruptibly, so an outcome is never lost to the
          // cancellation that follows the target: a fiber interrupted before it reports was cancelled.
          const fiber = yield* Effect.fork(
            Effect.uninterruptibleMask((restore) =>
              Effect.tap(
                Effect.exit(restore(guarded)),
                (exit) => Queue.offer(messages, { _tag: "Dial", id, exit } as const)
              )
            )
          )
          flights.set(id, { candidate: c, origin, startedAt: yield* Clock.currentTimeMillis, fiber })
          tally.dials++
          tally.peakInFlight = Math.max(tally.peakInFlight, flights.size)
          yield* emit(BootstrapEvent.DialStarted({ address: c.address, origin, trigger, inFlight: flights.size }))
          return true
        })

      /** Starts up to `n` dials, never more than `concurrency` in flight. */
      const launch = (n: number, trigger: DialTrigger) =>
        Effect.gen(function*() {
          for (let i = 0; i < n && flights.size < concurrency; i++) {
            if (!(yield* start(trigger))) return
          }
        })
      const needed = () => target - tally.connected.length - flights.size

      // The fallback (module docs): the endpoints asked while the cached dials go on.
      const fallbackAt = now + fallbackAfterMs
      let lastProgress = now
      const canFallBack = () => Option.isSome(fetcher) && !endpoints.asked
      const startFallback = (reason: EndpointReason) =>
        Effect.gen(function*() {
          const fetch = yield* beginFetch(reason)
          if (Option.isNone(fetch)) return false
          fetching = Option.some(
            yield* Effect.fork(
              Effect.flatMap(Effect.either(fetch.value), (result) => Queue.offer(messages, { _tag: "Endpoints", result } as const))
            )
          )
          return true
        })

      /** Books the endpoints' answer; their new peers are dialled next, making room if need be. */
      const onEndpoints = (result: Either.Either<FetchResult, ContactsUnavailable>) =>
        Effect.gen(function*() {
          fetching = Option.none()
          const answered = yield* absorb(result)
          if (Option.isNone(answered)) return
          exhausted = false
          const at = yield* Clock.currentTimeMillis
          let newPeers = PeerTable.empty
          for (const { address, source } of answered.value) {
            if (!cachedKeys.has(address.key)) {
              newPeers = PeerTable.add(newPeers, address, { now: at, source: { _tag: "endpoint", url: source } })
            }
          }
          let usableNew = 0
          for (const peer of PeerTable.peers(newPeers)) {
            const first = peer.addresses[0]
            if (first === undefined || attempted.has(PeerRecord.peerKey(peer.peerId, first.address))) continue
            if (peer.addresses.some((r) => usableAddress(r, policy, dialer.supports))) usableNew++
          }
          if (usableNew === 0) return
          fresh = Option.some(newPeers)
          // The cached candidates already picked go back: the new peers come first.
          for (const c of pending) attempted.delete(c.peerKey)
          pending.length = 0
          // Room for as many new peers as the target still needs: cancel the oldest cached dials (not
          // a failure of their peers; booked as cancelled).
          const wanted = Math.min(usableNew, target - tally.connected.length)
          const victims = Array.from(flights, ([id, f]) => ({ id, f }))
            .filter(({ f }) => f.origin === "cache")
            .sort((x, y) => x.f.startedAt - y.f.startedAt)
            .slice(0, Math.max(0, wanted - (concurrency - flights.size)))
          for (const { f, id } of victims) {
            const exit = yield* Fiber.interrupt(f.fiber)
            // Deleted first: the exit the fiber also reported through `messages` is then ignored.
            flights.delete(id)
            yield* record(f, Exit.isSuccess(exit) ? exit.value : Exit.interrupt(f.fiber.id()))
          }
          yield* launch(wanted, "needed")
        })

      yield* launch(Math.max(1, needed()), "needed")
      while (tally.connected.length < target) {
        // The cache evidently not working: ask the endpoints while the cached dials go on.
        if (canFallBack()) {
          if (tally.cachedAttempts - tally.cachedSuccesses >= fallbackFailures) yield* startFallback("cache-failing")
          else if ((yield* Clock.currentTimeMillis) >= fallbackAt) yield* startFallback("cache-slow")
        }
        if (flights.size === 0 && Option.isNone(fetching)) {
          // Nothing in flight, nothing coming: new candidates, else the endpoints, else done.
          yield* launch(Math.max(1, needed()), "needed")
          if (flights.size > 0) continue
          if (yield* startFallback("fallback")) continue
          break
        }
        // RFC 8305 §5: wait for an outcome, at most the Connection Attempt Delay (or until the
        // fallback is due).
        const waitFrom = yield* Clock.currentTimeMillis
        const staggerAt = lastProgress + staggerMs
        const wakeAt = canFallBack() ? Math.min(staggerAt, fallbackAt) : staggerAt
        const message = yield* Effect.timeoutOption(Queue.take(messages), Duration.millis(Math.max(0, wakeAt - waitFrom)))
        const woke = yield* Clock.currentTimeMillis
        if (Option.isNone(message)) {
          if (woke >= staggerAt) {
            lastProgress = woke
            yield* launch(1, "stagger")
          }
          continue
        }
        lastProgress = woke
        const m = message.value
        if (m._tag === "Endpoints") {
          yield* onEndpoints(m.result)
          continue
        }
        const flight = flights.get(m.id)
        if (flight === undefined) continue
        flights.delete(m.id)
        yield* record(flight, m.exit)
        if (tally.connected.length >= target) break
        if (Exit.isSuccess(m.exit)) yield* launch(needed(), "needed")
        else yield* launch(Math.max(1, needed()), "failure")
      }

      // Target reached (or nothing left): cancel a fallback fetch still in flight and the dials still
      // in flight, then book every outcome, including those that completed before their fiber saw the
      // interruption (and an endpoints' answer already in: its addresses are kept for the next run).
      if (Option.isSome(fetching)) yield* Fiber.interrupt(fetching.value)
      yield* Fiber.interruptAll(Array.from(flights.values(), (f) => f.fiber))
      const late = new Map<number, DialExit>()
      for (const m of yield* Queue.takeAll(messages)) {
        if (m._tag === "Dial") late.set(m.id, m.exit)
        else yield* absorb(m.result)
      }
      for (const [id, flight] of Array.from(flights)) {
        flights.delete(id)
        yield* record(flight, late.get(id) ?? Exit.interrupt(flight.fiber.id()))
      }
    })

    // 3. Dial, with the endpoints as the fallback (concurrent, or once the candidates ran out).
    if (target > 0) yield* dialPhase

    // 4. Prune and flush.
    let pruned = 0
    if (options.prune !== false) {
      const now = yield* Clock.currentTimeMillis
      const connectedKeys = new Set(tally.connected.map((c) => c.address.key))
      for (const removal of Prune.prune(yield* snapshot, now).removed) {
        for (const address of removal.addresses) {
          if (connectedKeys.has(address.key)) continue
          const removed = yield* Effect.either(store.remove(address))
          if (removed._tag === "Right") pruned++
        }
      }
    }
    const flushed = yield* Effect.either(store.flush)
    const flushError = flushed._tag === "Left" ? Option.some(describe(flushed.left)) : Option.none<string>()
    if (Option.isSome(flushError)) yield* Effect.logWarning(`cache could not be saved: ${flushError.value}`)

    const result: BootstrapResult = {
      target,
      connected: tally.connected,
      targetReached: tally.connected.length >= target,
      dials: tally.dials,
      successes: tally.successes,
      failures: tally.failures,
      failuresByReason: tally.failuresByReason,
      unsupported: tally.unsupported,
      cancelled: tally.cancelled,
      rejected: tally.rejected,
      peakInFlight: tally.peakInFlight,
      cachedAttempts: tally.cachedAttempts,
      cachedSuccesses: tally.cachedSuccesses,
      hitRate: tally.cachedAttempts === 0 ? 0 : tally.cachedSuccesses / tally.cachedAttempts,
      timeToFirstPeerMs: tally.timeToFirstPeerMs,
      timeToTargetMs: tally.timeToTargetMs,
      elapsedMs: yield* since,
      endpointsUsed: endpoints.used,
      endpointReason: endpoints.reason,
      endpoints: endpoints.reports,
      endpointError: endpoints.error,
      cachedPeers,
      pruned,
      flushError
    }

    yield* Metric.increment(Metric.tagged(metrics.runs, "endpoints", result.endpointsUsed ? "used" : "unused"))
    yield* Metric.set(metrics.hitRate, result.hitRate)
    yield* Metric.set(metrics.connected, result.connected.length)
    if (Option.isSome(result.timeToFirstPeerMs)) yield* Metric.update(metrics.timeToFirstPeer, result.timeToFirstPeerMs.value)
    if (Option.isSome(result.timeToTargetMs)) yield* Metric.update(metrics.timeToTarget, result.timeToTargetMs.value)
    yield* Effect.logInfo(
      `bootstrap done: ${result.connected.length}/${target} peers, ${result.dials} dials, ${result.failures} failures, ${result.cancelled} cancelled`
    ).pipe(
      Effect.annotateLogs({
        hitRate: result.hitRate,
        timeToFirstPeerMs: Option.getOrElse(result.timeToFirstPeerMs, () => -1),
        timeToTargetMs: Option.getOrElse(result.timeToTargetMs, () => -1),
        endpointsUsed: result.endpointsUsed,
        cancelled: result.cancelled,
        pruned
      })
    )
    if (target > 0 && result.connected.length === 0) return yield* new NoPeersError({ result })
    return result
  }).pipe(Effect.annotateLogs({ module: "Bootstrap" }))

// ---------------------------------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------------------------------

/**
 * The bootstrap as a service over the `CacheStore`: `run(options?)` is {@link run} on the store with
 * the Layer's options overridden by the call's.
 *
 * @since 0.1.0
 */
export class Bootstrap extends Context.Tag("@bootstrap-cache/node/Bootstrap")<Bootstrap, {
  readonly run: (options?: BootstrapOptions) => Effect.Effect<BootstrapResult, NoPeersError>
}>() {}

/**
 * The {@link Bootstrap} service: needs the `CacheStore` and a `Dialer`; uses `ContactsFetcher` and
 * `Protection` when they are provided to the Layer too.
 *
 * @since 0.1.0
 */
export const layer = (options: BootstrapOptions = {}): Layer.Layer<Bootstrap, never, CacheStore | Dialer.Dialer> =>
  Layer.effect(
    Bootstrap,
    Effect.gen(function*() {
      const store = yield* CacheStore
      // The whole context, so the optional ContactsFetcher and Protection are kept when present.
      const context = yield* Effect.context<Dialer.Dialer>()
      return {
        run: (overrides: BootstrapOptions = {}) => run(store, { ...options, ...overrides }).pipe(Effect.provide(context))
      }
    })
  )

// ---------------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------------

/**
 * The bootstrap's options read from Effect's `Config` (the `ConfigProvider`: environment variables by
 * default, `ConfigProvider.fromMap` / `fromJson` in tests), each under its option's name and optional
 * (an unset value keeps the default of {@link BootstrapOptions}):
 *
 * | key | type | default |
 * |---|---|---|
 * | `target` | integer ≥ 0 | 5 |
 * | `concurrency` | integer ≥ 1 | 10 |
 * | `stagger`, `timeout`, `fallbackAfter` | durations (`"250 millis"`, `"5 seconds"`) | 250 ms, 5 s, 2 × `timeout` |
 * | `fallbackFailures` | integer ≥ 1 | 2 × `target` |
 * | `endpoints` | list of URLs (comma-separated in a flat provider) | the `ContactsFetcher`'s own |
 * | `minCachedPeers` | integer ≥ 0 | `target` |
 * | `epsilon` | number in [0, 1] | 0.1 |
 * | `dialPolicy.allowLoopback`, `dialPolicy.allowPrivate` | booleans | false |
 * | `reconnect`, `prune` | booleans | false, true |
 * | `batchSize` | integer ≥ 1 | 3 × `target`, at least `concurrency` |
 *
 * `onEvent` is code, not configuration: add it with `Config.map` or pass it to `run`. Nest under a
 * prefix with `Config.nested(Bootstrap.config, "bootstrap")` (with
 * `ConfigProvider.fromEnv().pipe(ConfigProvider.constantCase)`: `BOOTSTRAP_TARGET`, …).
 *
 * Fails with a `ConfigError` naming the key when a value is set but malformed or out of range.
 *
 * @since 0.1.0
 */
export const config: Config.Config<BootstrapOptions> = Config.map(
  Config.all({
    target: ConfigHelpers.optional(ConfigHelpers.integerAtLeast("target", 0)),
    concurrency: ConfigHelpers.optional(ConfigHelpers.integerAtLeast("concurrency", 1)),
    stagger: ConfigHelpers.optional(Config.duration("stagger")),
    timeout: ConfigHelpers.optional(Config.duration("timeout")),
    fallbackAfter: ConfigHelpers.optional(Config.duration("fallbackAfter")),
    fallbackFailures: ConfigHelpers.optional(ConfigHelpers.integerAtLeast("fallbackFailures", 1)),
    endpoints: ConfigHelpers.optional(Config.array(Config.nonEmptyString(), "endpoints")),
    minCachedPeers: ConfigHelpers.optional(ConfigHelpers.integerAtLeast("minCachedPeers", 0)),
    epsilon: ConfigHelpers.optional(ConfigHelpers.ratio("epsilon")),
    dialPolicy: Config.nested(
      ConfigHelpers.struct({
        allowLoopback: ConfigHelpers.optional(Config.boolean("allowLoopback")),
        allowPrivate: ConfigHelpers.optional(Config.boolean("allowPrivate"))
      }),
      "dialPolicy"
    ),
    reconnect: ConfigHelpers.optional(Config.boolean("reconnect")),
    batchSize: ConfigHelpers.optional(ConfigHelpers.integerAtLeast("batchSize", 1)),
    prune: ConfigHelpers.optional(Config.boolean("prune"))
  }),
  ConfigHelpers.compact
)

/**
 * {@link layer} with its options read from `Config`: a `Config<BootstrapOptions>` ({@link config},
 * `Config.all({ … })`, `Config.succeed(options)`) or a struct of `Config`s per option
 * (`Config.Config.Wrap`, as Effect's own `layerConfig`s take). Fails with the `ConfigError` of a
 * missing or malformed value when the Layer is built.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<BootstrapOptions>
): Layer.Layer<Bootstrap, ConfigError.ConfigError, CacheStore | Dialer.Dialer> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
