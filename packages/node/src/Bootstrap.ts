/**
 * The cache-first bootstrap: join the network through peers that worked before, fall back to the
 * contacts endpoints when the cache cannot do it, and remember every outcome.
 *
 * This module is the service, its options, events, result and error. The policy — how many dials to
 * start, when to ask the endpoints, what to cancel, when to stop — is the pure state machine
 * `BootstrapMachine` of `@bootstrap-cache/core` (see its docs and ARCHITECTURE.md); the body in
 * `internal/bootstrap/` runs its commands with fibers, the `Clock` and the services, and feeds the
 * outcomes back.
 *
 * **Staggered dialing** (Happy Eyeballs v2, RFC 8305 §5): the dials the target still needs start at
 * once, one more whenever a dial fails or the Connection Attempt Delay passes without progress, at
 * most `concurrency` in flight. The delay follows the set-up times the cache measured for the
 * addresses in flight (2 × the largest, in [100 ms, 2 s]), 250 ms when one is unmeasured, so a warm
 * cache of good peers costs exactly `target` dials even when a connection takes a second. A warm
 * start (at least `target` known-good peers) does not explore peers that failed within the last day.
 *
 * **From the file's head.** The run starts on what the store has loaded (`CacheStore.head`): for a
 * large cache file that is its head (the best 32 peers at the last write) while the rest decodes, so
 * the first dials do not wait for the whole table; the table joins the run when it is in
 * (`TableLoaded`). Before it is handed over, the passes over every peer that the machine's step would
 * make (the selection's pool, the count of usable and recently failed peers:
 * `BootstrapMachine.tableLoadedSteps`) are made 1,024 peers at a time with a turn of the event loop
 * between slices, so the dials in flight are not held up by a 30k-peer pass; the step then derives
 * what it reads from them (the same picks either way). Only the head in and used up is never a reason
 * to ask the endpoints: the run waits for the table. The run returns once the whole table is in (its
 * prune needs it).
 *
 * **Fallback.** The endpoints are asked before dialing when the cache is empty, has too few usable
 * peers or is stale; while dialing (concurrently with the cached dials) once `fallbackAfter` passed
 * without the target or `fallbackFailures` cached dials failed; and when every candidate was dialled
 * without reaching the target. At most once per run. Bitcoin Core asks its DNS seeds the same way
 * (only when the address manager cannot find peers, after 11 s without a good connection).
 *
 * @since 0.1.0
 */
import { BootstrapMachine } from "@bootstrap-cache/core"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as Option from "effect/Option"
import type { PeerAddress } from "@bootstrap-cache/core"
import { CacheStore } from "./CacheStore.js"
import { ContactsFetcher, type EndpointReport } from "./ContactsFetcher.js"
import * as Dialer from "./Dialer.js"
import * as ConfigHelpers from "./internal/config.js"
import * as internal from "./internal/bootstrap/run.js"
import { Protection, type ProtectionRejection } from "./Protection.js"

// ---------------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------------

/**
 * Options of a run. Durations are `Duration.DurationInput` (a bare number is ms).
 *
 * | option           | default | meaning |
 * | ---------------- | ------- | ------- |
 * | `target`         | 5       | live peers wanted; the remaining dials are cancelled once reached |
 * | `concurrency`    | 10      | dials in flight at once, at most |
 * | `stagger`        | 250 ms  | RFC 8305 §5 Connection Attempt Delay while a dial in flight has no measured set-up time; at least 10 ms |
 * | `measuredStagger` | true   | the delay follows the measured set-up times of the dials in flight: 2 × the largest, in [100 ms, `maxStagger`] |
 * | `maxStagger`     | 2 s     | upper bound of the measured delay (RFC 8305 §8) |
 * | `timeout`        | 5 s     | per dial; a peer silent that long is recorded as a (timeout) failure |
 * | `fallbackAfter`  | 2 × `timeout` (10 s) | time since the first dial without the target after which the endpoints are asked concurrently (Bitcoin Core: 11 s); `Duration.infinity` never |
 * | `fallbackFailures` | 2 × `target` (10) | failed dials of cached addresses after which the endpoints are asked concurrently; `Infinity` never |
 * | `endpoints`      | the `ContactsFetcher`'s own | contacts URLs to ask (through `ContactsFetcher.fetchFrom`) |
 * | `minCachedPeers` | `target` | usable cached peers below which the endpoints are asked before dialing |
 * | `avoidFailedWithin` | 24 h | a warm start (≥ `target` known-good peers) does not dial peers whose usable addresses all failed within this; 0 never avoids |
 * | `epsilon`        | 0.1     | exploration probability of the selection (ADR epsilon-greedy) |
 * | `dialPolicy`     | public only | `PeerAddress.DialPolicy`: `allowLoopback`, `allowPrivate` |
 * | `reconnect`      | false   | dial known peers relay-first, by quality (`Selection.reconnectOrder`) instead of epsilon-greedy |
 * | `batchSize`      | 3 × target, at least `concurrency` | candidates picked per selection round |
 * | `prune`          | true    | apply `Prune.prune` (core defaults) after dialing, through `store.remove` |
 * | `onEvent`        | none    | called with every {@link BootstrapEvent}, for live progress |
 *
 * A usable cached peer has a dialable address (under `dialPolicy`) that the dialer supports and
 * that has failed fewer than {@link TERRIBLE_STREAK} times in a row.
 *
 * @category options
 * @since 0.1.0
 */
export interface BootstrapOptions {
  readonly target?: number
  readonly concurrency?: number
  readonly stagger?: Duration.DurationInput
  readonly measuredStagger?: boolean
  readonly maxStagger?: Duration.DurationInput
  readonly timeout?: Duration.DurationInput
  readonly fallbackAfter?: Duration.DurationInput
  readonly fallbackFailures?: number
  readonly endpoints?: ReadonlyArray<string>
  readonly minCachedPeers?: number
  readonly avoidFailedWithin?: Duration.DurationInput
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
 * @category options
 * @since 0.1.0
 */
export const defaults = {
  target: BootstrapMachine.defaults.target,
  concurrency: BootstrapMachine.defaults.concurrency,
  /** RFC 8305 §5: the recommended default Connection Attempt Delay. */
  staggerMs: BootstrapMachine.defaults.staggerMs,
  /** RFC 8305 §5: the Connection Attempt Delay MUST NOT be less than 10 ms. */
  minStaggerMs: BootstrapMachine.defaults.absoluteMinStaggerMs,
  /** RFC 8305 §8: the largest Connection Attempt Delay. */
  maxStaggerMs: BootstrapMachine.defaults.maxStaggerMs,
  timeoutMs: BootstrapMachine.defaults.timeoutMs,
  /** `fallbackAfter` = this × the dial timeout (10 s with the default timeout; Bitcoin Core: 11 s). */
  fallbackAfterTimeouts: BootstrapMachine.defaults.fallbackAfterTimeouts,
  /** `fallbackFailures` = this × the target (10 with the default target). */
  fallbackFailuresPerTarget: BootstrapMachine.defaults.fallbackFailuresPerTarget,
  epsilon: BootstrapMachine.defaults.epsilon
} as const

/**
 * Consecutive failures from which an address no longer counts as usable: `Prune`'s
 * `maxConsecutiveFailures` (3, Bitcoin Core addrman `ADDRMAN_RETRIES`).
 *
 * @category options
 * @since 0.1.0
 */
export const TERRIBLE_STREAK: number = BootstrapMachine.TERRIBLE_STREAK

/**
 * Where a dialled address came from in this run: the cache as loaded (`cache`), or the endpoints
 * asked during the run (`endpoints`).
 *
 * @category models
 * @since 0.1.0
 */
export type Origin = "cache" | "endpoints"

/**
 * Why the endpoints were asked: `empty`, `too-few`, `stale` (before dialing), `cache-slow`,
 * `cache-failing` (concurrently with the cached dials), `fallback` (every candidate dialled).
 *
 * @category models
 * @since 0.1.0
 */
export type EndpointReason = "empty" | "too-few" | "stale" | "cache-slow" | "cache-failing" | "fallback"

/**
 * Why a dial was started: `needed` (the target still needs it), `failure` (it replaces a dial that
 * failed, was rejected or cancelled; RFC 8305 §5) or `stagger` (the Connection Attempt Delay passed
 * without progress).
 *
 * @category models
 * @since 0.1.0
 */
export type DialTrigger = "needed" | "failure" | "stagger"

/**
 * Why a dial failed: `refused`, `timeout` (also in flight longer than the timeout when cancelled),
 * `unreachable` (every other failure that is the peer's fault) — recorded against the address — or
 * `unsupported` (not the peer's fault, `Dialer.isPeerFailure` false: never recorded).
 *
 * @category models
 * @since 0.1.0
 */
export type FailureReason = "refused" | "timeout" | "unreachable" | "unsupported"

/**
 * The reason of a dial error (see {@link FailureReason}): errors that are not the peer's fault
 * (`Dialer.isPeerFailure`) are `unsupported`, and a dial error this module does not name is
 * `unreachable`.
 *
 * @category models
 * @since 0.1.0
 */
export const failureReason = (error: Dialer.DialError): FailureReason => {
  if (!Dialer.isPeerFailure(error)) return "unsupported"
  switch (error._tag) {
    case "DialRefusedError":
      return "refused"
    case "DialTimeoutError":
      return "timeout"
    default:
      return "unreachable"
  }
}

// ---------------------------------------------------------------------------------------------------
// Events, results, errors
// ---------------------------------------------------------------------------------------------------

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
 * `CacheLoaded` counts the table the run starts on: the whole cache, or its head (the file's best
 * peers) while the store is still decoding a large file (`CacheStore.head`); then `TableLoaded`
 * follows with the whole cache's counts when it is in, usually after the first `DialStarted`.
 *
 * @category events
 * @since 0.1.0
 */
export type BootstrapEvent = Data.TaggedEnum<{
  CacheLoaded: { readonly peers: number; readonly usable: number; readonly stale: boolean }
  TableLoaded: { readonly peers: number; readonly usable: number }
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
 * @category events
 * @since 0.1.0
 */
export const BootstrapEvent = Data.taggedEnum<BootstrapEvent>()

/**
 * A peer that answered: its key in the table, the address dialled, the set-up time (ms) and where
 * the address came from.
 *
 * @category models
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
 * - `cachedPeers`: peers in the whole cache (also when the run started on its head); `pruned`:
 *   addresses removed after dialing.
 * - `flushError`: why the cache could not be saved, if so (the bootstrap still succeeds).
 *
 * @category models
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
 * @category errors
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
 * @category metrics
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
// Service
// ---------------------------------------------------------------------------------------------------

/**
 * What a run works with, every one named: the cache store, the dialer, and — when the node has
 * them — the contacts fetcher (no fetcher: the endpoints are never asked) and the per-address
 * protection (each dial runs under the breaker of the address's dedupe key).
 *
 * @category models
 * @since 0.1.0
 */
export interface Services {
  readonly store: CacheStore["Type"]
  readonly dialer: Dialer.Dialer["Type"]
  readonly contacts: Option.Option<ContactsFetcher["Type"]>
  readonly protection: Option.Option<Protection["Type"]>
}

/**
 * Runs one bootstrap with `services` (see the module docs for the flow, {@link BootstrapOptions} for
 * the settings). Every dial outcome is recorded in the store as it happens (successes with their
 * set-up time; refusals, timeouts and unreachable hosts as failures; unsupported transports, breaker
 * rejections and cancelled dials are not failures of the peer); terrible addresses are pruned; the
 * store is flushed. Errors of the store never fail the run: a failed read counts as an empty cache, a
 * failed flush is logged and reported in {@link BootstrapResult.flushError}. Selection draws come
 * from Effect's `Random`, times from its `Clock`.
 *
 * Fails with {@link NoPeersError} (carrying the result) when no peer answered and `target` > 0.
 *
 * @category constructors
 * @since 0.1.0
 */
export const runWith = (services: Services, options: BootstrapOptions = {}): Effect.Effect<BootstrapResult, NoPeersError> =>
  internal.run(services, options)

/**
 * {@link runWith} on `store` and the `Dialer` of the context, with the contacts fetcher and the
 * protection passed explicitly (`contacts`, `protection`; absent: none).
 *
 * @category constructors
 * @since 0.1.0
 */
export const run = (
  store: CacheStore["Type"],
  options: BootstrapOptions & {
    readonly contacts?: ContactsFetcher["Type"] | undefined
    readonly protection?: Protection["Type"] | undefined
  } = {}
): Effect.Effect<BootstrapResult, NoPeersError, Dialer.Dialer> =>
  Effect.flatMap(Dialer.Dialer, (dialer) =>
    internal.run({
      store,
      dialer,
      contacts: Option.fromNullable(options.contacts),
      protection: Option.fromNullable(options.protection)
    }, options))

/**
 * The bootstrap as a service: `run(options?)` runs it with the services it was built with and the
 * Layer's options overridden by the call's.
 *
 * @category tags
 * @since 0.1.0
 */
export class Bootstrap extends Context.Tag("@bootstrap-cache/node/Bootstrap")<Bootstrap, {
  readonly run: (options?: BootstrapOptions) => Effect.Effect<BootstrapResult, NoPeersError>
}>() {}

/**
 * The {@link Bootstrap} service over `services` (see {@link runWith}).
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (services: Services, options: BootstrapOptions = {}): Bootstrap["Type"] =>
  Bootstrap.of({ run: (overrides: BootstrapOptions = {}) => internal.run(services, { ...options, ...overrides }) })

/**
 * Which optional services a {@link layer} uses, each said out loud: `contacts: true` requires a
 * `ContactsFetcher` (the fallback to the endpoints), `protection: true` a `Protection`. Neither is
 * ever picked up from the context silently.
 *
 * @category options
 * @since 0.1.0
 */
export interface Uses {
  readonly contacts: boolean
  readonly protection: boolean
}

/**
 * The services a {@link layer} built with `uses` requires besides `CacheStore` and `Dialer`.
 *
 * @category models
 * @since 0.1.0
 */
export type Requires<U extends Uses> =
  | (U["contacts"] extends false ? never : ContactsFetcher)
  | (U["protection"] extends false ? never : Protection)

const servicesFor = (uses: Uses) =>
  Effect.gen(function*() {
    const store = yield* CacheStore
    const dialer = yield* Dialer.Dialer
    const contacts = uses.contacts ? Option.some(yield* ContactsFetcher) : Option.none()
    const protection = uses.protection ? Option.some(yield* Protection) : Option.none()
    return { store, dialer, contacts, protection }
  })

/**
 * The {@link Bootstrap} service: needs the `CacheStore`, a `Dialer`, and the services `uses` names
 * (`Bootstrap.layer({ contacts: true, protection: true, target: 5 })` requires a `ContactsFetcher`
 * and a `Protection` too; forgetting one is a type error). For the whole wiring in one Layer, see
 * `BootstrapCache.layer`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = <const O extends BootstrapOptions & Uses>(
  options: O
): Layer.Layer<Bootstrap, never, CacheStore | Dialer.Dialer | Requires<O>> =>
  Layer.effect(
    Bootstrap,
    Effect.map(servicesFor(options), (services) => make(services, options))
  ) as Layer.Layer<Bootstrap, never, CacheStore | Dialer.Dialer | Requires<O>>

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
 * | `measuredStagger` | boolean | true |
 * | `maxStagger`, `avoidFailedWithin` | durations | 2 s, 24 hours |
 *
 * `onEvent` is code, not configuration: add it with `Config.map` or pass it to `run`. Nest under a
 * prefix with `Config.nested(Bootstrap.config, "bootstrap")` (with
 * `ConfigProvider.fromEnv().pipe(ConfigProvider.constantCase)`: `BOOTSTRAP_TARGET`, …).
 *
 * Fails with a `ConfigError` naming the key when a value is set but malformed or out of range.
 *
 * @category config
 * @since 0.1.0
 */
export const config: Config.Config<BootstrapOptions> = Config.map(
  Config.all({
    target: ConfigHelpers.optional(ConfigHelpers.integerAtLeast("target", 0)),
    concurrency: ConfigHelpers.optional(ConfigHelpers.integerAtLeast("concurrency", 1)),
    stagger: ConfigHelpers.optional(Config.duration("stagger")),
    measuredStagger: ConfigHelpers.optional(Config.boolean("measuredStagger")),
    maxStagger: ConfigHelpers.optional(Config.duration("maxStagger")),
    avoidFailedWithin: ConfigHelpers.optional(Config.duration("avoidFailedWithin")),
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
 * (`Config.Config.Wrap`, as Effect's own `layerConfig`s take), and the optional services it uses
 * named in code (`uses`). Fails with the `ConfigError` of a missing or malformed value when the
 * Layer is built.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = <const U extends Uses>(
  config: Config.Config.Wrap<BootstrapOptions>,
  uses: U
): Layer.Layer<Bootstrap, ConfigError.ConfigError, CacheStore | Dialer.Dialer | Requires<U>> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), (options) => layer({ ...options, ...uses }))) as Layer.Layer<
    Bootstrap,
    ConfigError.ConfigError,
    CacheStore | Dialer.Dialer | Requires<U>
  >
