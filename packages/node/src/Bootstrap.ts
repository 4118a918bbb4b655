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
 * dial in parallel (concurrency 10, timeout 5 s each) until `target` peers answer (5),
 * then cancel the dials still in flight
 *        ▼
 * target not reached and the endpoints not asked yet? ──▶ fetch them, dial the new peers
 *        ▼
 * record every outcome (with its RTT) as it happens ─▶ prune ─▶ flush
 * ```
 *
 * The rules come from Bitcoin Core (ask the DNS seeds only when the address manager cannot find
 * peers; one outbound connection per netgroup; `IsTerrible` for pruning) and ant-bootstrap
 * (maidsafe/autonomi: cache first, then the network-contacts endpoints). A stale or dead cache never
 * stops a node from starting: when every cached peer fails, the endpoints are asked.
 *
 * Seams: the store is passed in as a {@link Store} (the shape of `CacheStore`'s service; {@link memoryStore}
 * for tests and nodes that do not persist); discovery is the optional `ContactsFetcher` service (no
 * fetcher, no endpoints); dial protection is the optional `Protection` service (each dial runs under
 * the breaker of the address's dedupe key); dialing is the `Dialer` service.
 *
 * @since 0.1.0
 */
import { type PeerAddress, type PeerRecord, PeerTable, Prune, Score, Selection } from "@bootstrap-cache/core"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import { CacheStore } from "./CacheStore.js"
import { ContactsFetcher, type ContactsUnavailable, type EndpointReport } from "./ContactsFetcher.js"
import * as Dialer from "./Dialer.js"
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
 * | `concurrency`    | 10      | dials in flight at once |
 * | `timeout`        | 5 s     | per dial |
 * | `endpoints`      | the `ContactsFetcher`'s own | contacts URLs to ask (through `ContactsFetcher.fetchFrom`) |
 * | `minCachedPeers` | `target` | usable cached peers below which the endpoints are asked before dialing |
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
 * @since 0.1.0
 */
export interface BootstrapOptions {
  readonly target?: number
  readonly concurrency?: number
  readonly timeout?: Duration.DurationInput
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
  timeoutMs: 5_000,
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
 * Why the endpoints were asked: the cache was `empty`, held `too-few` usable peers, was `stale`, or
 * every cached candidate was dialled without reaching the target (`fallback`).
 *
 * @since 0.1.0
 */
export type EndpointReason = "empty" | "too-few" | "stale" | "fallback"

/**
 * Progress of a bootstrap, in order of occurrence. `inFlight` is the number of dials in flight after
 * the event; `connected` the number of live peers so far; times are ms since the run started.
 *
 * @since 0.1.0
 */
export type BootstrapEvent = Data.TaggedEnum<{
  CacheLoaded: { readonly peers: number; readonly usable: number; readonly stale: boolean }
  EndpointsFetching: { readonly reason: EndpointReason }
  EndpointsFetched: { readonly addresses: number; readonly endpoints: ReadonlyArray<EndpointReport> }
  EndpointsFailed: { readonly reason: string }
  DialStarted: { readonly address: PeerAddress.PeerAddress; readonly origin: Origin; readonly inFlight: number }
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
    readonly inFlight: number
  }
  DialRejected: { readonly address: PeerAddress.PeerAddress; readonly rejection: ProtectionRejection }
  DialCancelled: { readonly address: PeerAddress.PeerAddress; readonly origin: Origin }
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
 * - `dials`: dials started (cancelled ones included, breaker rejections not); `successes`,
 *   `failures` (refused, timeout, unreachable), `cancelled` (interrupted once the target was reached),
 *   `rejected` (by a breaker, not dialled).
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
  readonly cancelled: number
  readonly rejected: number
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
 * (tag `outcome`: `success` | `failure` | `cancelled` | `rejected`), the time to the first peer and
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
): boolean => dialable(r.address, policy) && supports(r.address) && r.consecutiveFailures < TERRIBLE_STREAK

const dialable = (a: PeerAddress.PeerAddress, policy: PeerAddress.DialPolicy): boolean => {
  if (a.relayed) return false
  switch (a.scope) {
    case "public":
      return true
    case "loopback":
      return policy.allowLoopback === true
    case "private":
    case "link-local":
      return policy.allowPrivate === true
    default:
      return false
  }
}

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
 * the settings). Every dial outcome is recorded in the store as it happens (successes with their RTT;
 * unsupported transports, breaker rejections and cancelled dials are not failures of the peer);
 * terrible addresses are pruned; the store is flushed.
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
    const policy = options.dialPolicy ?? {}
    const batchSize = Math.max(concurrency, Math.floor(options.batchSize ?? 3 * Math.max(1, target)))
    const minCached = options.minCachedPeers ?? target
    const emit = options.onEvent ?? (() => Effect.void)
    const started = yield* Clock.currentTimeMillis
    const since = Effect.map(Clock.currentTimeMillis, (now) => now - started)

    const tally = {
      connected: [] as Array<ConnectedPeer>,
      dials: 0,
      successes: 0,
      failures: 0,
      cancelled: 0,
      rejected: 0,
      cachedAttempts: 0,
      cachedSuccesses: 0,
      inFlight: 0,
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

    const fetchEndpoints = (reason: EndpointReason) =>
      Effect.gen(function*() {
        if (Option.isNone(fetcher) || endpoints.asked) return false
        endpoints.asked = true
        endpoints.reason = Option.some(reason)
        yield* emit(BootstrapEvent.EndpointsFetching({ reason }))
        yield* Effect.logInfo(`asking the contacts endpoints (${reason})`)
        const fetch = options.endpoints === undefined ? fetcher.value.fetch : fetcher.value.fetchFrom(options.endpoints)
        const result = yield* Effect.either(fetch)
        if (result._tag === "Left") {
          const error: ContactsUnavailable = result.left
          endpoints.error = Option.some(error.message)
          yield* emit(BootstrapEvent.EndpointsFailed({ reason: error.message }))
          yield* Effect.logWarning(`contacts endpoints gave nothing: ${error.message}`)
          return false
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
        return true
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
    const reached = yield* Deferred.make<void>()

    const record = (c: Candidate, origin: Origin, exit: Exit.Exit<number, Dialer.DialError | ProtectionRejection>) =>
      Effect.gen(function*() {
        tally.inFlight--
        if (Exit.isSuccess(exit)) {
          const rttMs = exit.value
          tally.successes++
          if (origin === "cache") {
            tally.cachedAttempts++
            tally.cachedSuccesses++
          }
          tally.connected.push({ peerKey: c.peerKey, address: c.address, rttMs, origin })
          yield* store.recordSuccess(c.address, { rttMs }).pipe(
            Effect.catchAll((e) => Effect.logWarning(`could not record success of ${c.address.multiaddr}: ${describe(e)}`))
          )
          yield* Metric.increment(Metric.tagged(metrics.dials, "outcome", "success"))
          const elapsed = yield* since
          if (Option.isNone(tally.timeToFirstPeerMs)) tally.timeToFirstPeerMs = Option.some(elapsed)
          yield* emit(BootstrapEvent.DialSucceeded({
            address: c.address,
            origin,
            rttMs,
            connected: tally.connected.length,
            inFlight: tally.inFlight
          }))
          if (tally.connected.length >= target && Option.isNone(tally.timeToTargetMs)) {
            tally.timeToTargetMs = Option.some(elapsed)
            yield* emit(BootstrapEvent.TargetReached({ connected: tally.connected.length, elapsedMs: elapsed }))
            yield* Deferred.succeed(reached, undefined)
          }
          return
        }
        if (Cause.isInterruptedOnly(exit.cause)) {
          tally.cancelled++
          yield* Metric.increment(Metric.tagged(metrics.dials, "outcome", "cancelled"))
          return yield* emit(BootstrapEvent.DialCancelled({ address: c.address, origin }))
        }
        const error = Cause.failureOption(exit.cause)
        if (Option.isNone(error)) return yield* Effect.failCause(exit.cause as Cause.Cause<never>)
        const e = error.value
        if (isRejection(e)) {
          tally.dials--
          tally.rejected++
          yield* Metric.increment(Metric.tagged(metrics.dials, "outcome", "rejected"))
          return yield* emit(BootstrapEvent.DialRejected({ address: c.address, rejection: e }))
        }
        if (Dialer.isPeerFailure(e)) {
          tally.failures++
          if (origin === "cache") tally.cachedAttempts++
          yield* store.recordFailure(c.address).pipe(
            Effect.catchAll((err) => Effect.logWarning(`could not record failure of ${c.address.multiaddr}: ${describe(err)}`))
          )
          yield* Metric.increment(Metric.tagged(metrics.dials, "outcome", "failure"))
        }
        yield* Effect.logDebug(e.message)
        yield* emit(BootstrapEvent.DialFailed({ address: c.address, origin, error: e, inFlight: tally.inFlight }))
      })

    const dialOne = (c: Candidate) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const origin: Origin = cachedKeys.has(c.address.key) ? "cache" : "endpoints"
          tally.dials++
          tally.inFlight++
          yield* emit(BootstrapEvent.DialStarted({ address: c.address, origin, inFlight: tally.inFlight }))
          const dial = dialer.dial(c.address, timeout)
          const guarded = Option.match(protection, {
            onNone: () => dial,
            onSome: (p) => p.execute(c.address.key, dial)
          })
          const exit = yield* Effect.exit(restore(guarded))
          yield* record(c, origin, exit)
        })
      )

    /** Dials candidates from the current table until the target is reached or none is left. */
    const dialPhase = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const pending: Array<Candidate> = []
      let exhausted = false
      const refill = Effect.gen(function*() {
        while (pending.length === 0 && !exhausted) {
          const picks: ReadonlyArray<Selection.Candidate> = options.reconnect === true
            ? Selection.reconnectOrder(table, { now, dialPolicy: policy, exclude: attempted, limit: batchSize })
            : Selection.select(table, {
              now,
              dialPolicy: policy,
              exclude: attempted,
              count: batchSize,
              epsilon: options.epsilon ?? defaults.epsilon,
              draws: yield* Effect.replicateEffect(Random.next, Selection.drawsNeeded(batchSize))
            })
          if (picks.length === 0) exhausted = true
          for (const pick of picks) {
            attempted.add(pick.peerKey)
            // The best address the dialer speaks (selection knows dial policy, not transports).
            const address = dialer.supports(pick.address)
              ? Option.some(pick.address)
              : Option.map(
                Score.best(pick.peer, now, Score.defaults, (r) => dialable(r.address, policy) && dialer.supports(r.address)),
                (b) => b.record.address
              )
            if (Option.isSome(address)) pending.push({ peerKey: pick.peerKey, address: address.value })
          }
        }
        return pending.shift()
      })
      const lock = yield* Effect.makeSemaphore(1)
      const next = lock.withPermits(1)(refill)
      const worker = Effect.gen(function*() {
        while (tally.connected.length < target) {
          const c = yield* next
          if (c === undefined) return
          yield* dialOne(c)
        }
      })
      yield* Effect.race(
        Effect.all(Array.from({ length: concurrency }, () => worker), { concurrency: "unbounded", discard: true }),
        Deferred.await(reached)
      )
    })

    // 3. Dial; fall back to the endpoints when the cache ran out of candidates.
    if (target > 0) {
      yield* dialPhase
      if (tally.connected.length < target && (yield* fetchEndpoints("fallback"))) yield* dialPhase
    }

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
      cancelled: tally.cancelled,
      rejected: tally.rejected,
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
      `bootstrap done: ${result.connected.length}/${target} peers, ${result.dials} dials, ${result.failures} failures`
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
