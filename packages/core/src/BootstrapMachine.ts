/**
 * The bootstrap's coordinator as a pure state machine: `step(state, event, now, draws) → { state,
 * commands }`. It decides how many dials to start, when to ask the contacts endpoints, what to cancel
 * and when the run is over; the shell (`@bootstrap-cache/node` `Bootstrap`) runs the commands and feeds
 * the events back, with its clock's `now` (epoch ms) and uniform draws in [0,1) for the selection.
 *
 * The rules come from Happy Eyeballs v2 (RFC 8305 §5: staggered attempts, a measured Connection
 * Attempt Delay), Bitcoin Core (ask the DNS seeds only when the address manager cannot do it; one
 * outbound connection per netgroup) and ant-bootstrap (cache first, then the contacts endpoints).
 * Every dial carries an id (gobreaker's generation trick): an event for an id no longer in flight is
 * ignored, so late and duplicate events are harmless.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Option from "effect/Option"
import * as Candidates from "./internal/bootstrapCandidates.js"
import * as Machine from "./internal/bootstrapStep.js"
import type * as PeerAddress from "./PeerAddress.js"
import type * as PeerTable from "./PeerTable.js"
import * as Selection from "./Selection.js"

/**
 * Where a dialled address came from: the cache as loaded (`cache`) or the endpoints asked during the
 * run (`endpoints`).
 *
 * @category models
 * @since 0.1.0
 */
export type Origin = "cache" | "endpoints"

/**
 * Why the endpoints were asked. Before dialing: the cache was `empty`, held `too-few` usable peers or
 * was `stale`. While dialing: `cache-slow` (`fallbackAfterMs` passed without the target) or
 * `cache-failing` (`fallbackFailures` cached dials failed). After dialing: every candidate was dialled
 * without reaching the target (`fallback`).
 *
 * @category models
 * @since 0.1.0
 */
export type EndpointReason = "empty" | "too-few" | "stale" | "cache-slow" | "cache-failing" | "fallback"

/**
 * Why a dial was started: `needed` (the target still needs it), `failure` (it replaces a dial that
 * failed, was rejected or was cancelled; RFC 8305 §5: a failed attempt starts the next at once) or
 * `stagger` (the Connection Attempt Delay passed without progress).
 *
 * @category models
 * @since 0.1.0
 */
export type DialTrigger = "needed" | "failure" | "stagger"

/**
 * A failure counted against the address: `refused`, `timeout` (also a dial in flight for the whole
 * timeout when it was cancelled) or `unreachable` (every other failure that is the peer's fault).
 *
 * @category models
 * @since 0.1.0
 */
export type FailureReason = "refused" | "timeout" | "unreachable"

/**
 * The settings of a run. Durations in ms.
 *
 * - `target`: live peers wanted; `concurrency`: dials in flight at most.
 * - `staggerMs`: the Connection Attempt Delay when the dials in flight have no measured set-up time
 *   (RFC 8305 §5: 250 ms). With `measuredStagger`, the delay is the largest measured set-up time of
 *   the dials in flight × `staggerFactor`, clamped to [`minStaggerMs`, `maxStaggerMs`] (RFC 8305 §5
 *   allows a delay from historical RTTs; §8: 100 ms to 2 s).
 * - `timeoutMs`: per dial; a dial cancelled after that long is a timeout failure.
 * - `fallbackAfterMs`, `fallbackFailures`: ask the endpoints while dialing after that long without the
 *   target, or after that many failed cached dials (`Infinity`: never).
 * - `minCachedPeers`: usable cached peers below which the endpoints are asked before dialing.
 * - `batchSize`, `epsilon`, `reconnect`, `dialPolicy`: the selection's (`Selection.select`,
 *   `Selection.reconnectOrder`).
 * - `avoidFailedWithinMs`: a warm start (at least `target` known-good peers) does not pick peers whose
 *   usable addresses all failed within that long; 0 turns it off.
 * - `canAskEndpoints`: whether there is a contacts fetcher at all.
 * - `supports`: whether the dialer speaks an address's transport.
 *
 * @category models
 * @since 0.1.0
 */
export interface Config {
  readonly target: number
  readonly concurrency: number
  readonly staggerMs: number
  readonly measuredStagger: boolean
  readonly staggerFactor: number
  readonly minStaggerMs: number
  readonly maxStaggerMs: number
  readonly timeoutMs: number
  readonly fallbackAfterMs: number
  readonly fallbackFailures: number
  readonly minCachedPeers: number
  readonly batchSize: number
  readonly epsilon: number
  readonly reconnect: boolean
  readonly dialPolicy: PeerAddress.DialPolicy
  readonly avoidFailedWithinMs: number
  readonly canAskEndpoints: boolean
  readonly supports: (address: PeerAddress.PeerAddress) => boolean
}

/**
 * The defaults of {@link Config}: target 5, 10 dials in flight, 250 ms stagger (RFC 8305 §5; never
 * below 10 ms), measured stagger = 2 × the largest expected set-up time in [100 ms, 2 s] (RFC 8305
 * §8), 5 s timeout, fallback after 2 timeouts (Bitcoin Core asks its seeds after 11 s) or 2 × target
 * cached failures, ε = 0.1, failures within a day avoided on a warm start.
 *
 * @category constructors
 * @since 0.1.0
 */
export const defaults = {
  target: 5,
  concurrency: 10,
  staggerMs: 250,
  absoluteMinStaggerMs: 10,
  staggerFactor: 2,
  minStaggerMs: 100,
  maxStaggerMs: 2_000,
  timeoutMs: 5_000,
  fallbackAfterTimeouts: 2,
  fallbackFailuresPerTarget: 2,
  epsilon: Selection.defaults.epsilon,
  avoidFailedWithinMs: 24 * 60 * 60 * 1000
} as const

/**
 * A {@link Config} from partial settings, each missing one at its default; numbers are floored and
 * clamped (target ≥ 0, concurrency ≥ 1, stagger ≥ 10 ms, batch ≥ concurrency).
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeConfig = (options: Partial<Config> = {}): Config => {
  const target = Math.max(0, Math.floor(options.target ?? defaults.target))
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? defaults.concurrency))
  const timeoutMs = options.timeoutMs ?? defaults.timeoutMs
  return {
    target,
    concurrency,
    staggerMs: Math.max(defaults.absoluteMinStaggerMs, options.staggerMs ?? defaults.staggerMs),
    measuredStagger: options.measuredStagger ?? true,
    staggerFactor: options.staggerFactor ?? defaults.staggerFactor,
    minStaggerMs: Math.max(defaults.absoluteMinStaggerMs, options.minStaggerMs ?? defaults.minStaggerMs),
    maxStaggerMs: options.maxStaggerMs ?? defaults.maxStaggerMs,
    timeoutMs,
    fallbackAfterMs: options.fallbackAfterMs ?? defaults.fallbackAfterTimeouts * timeoutMs,
    fallbackFailures: Math.max(1, options.fallbackFailures ?? defaults.fallbackFailuresPerTarget * Math.max(1, target)),
    minCachedPeers: options.minCachedPeers ?? target,
    batchSize: Math.max(concurrency, Math.floor(options.batchSize ?? 3 * Math.max(1, target))),
    epsilon: options.epsilon ?? defaults.epsilon,
    reconnect: options.reconnect ?? false,
    dialPolicy: options.dialPolicy ?? {},
    avoidFailedWithinMs: options.avoidFailedWithinMs ?? defaults.avoidFailedWithinMs,
    canAskEndpoints: options.canAskEndpoints ?? false,
    supports: options.supports ?? (() => true)
  }
}

/**
 * How a dial ended, as the shell saw it: `Succeeded` with its set-up time (ms), `Failed` for the
 * peer's fault, `NotPeerFault` (unsupported transport, a local failure: never counted against the
 * address), `Rejected` by its breaker before dialing, or `Interrupted` (cancelled).
 *
 * @category models
 * @since 0.1.0
 */
export type DialOutcome = Data.TaggedEnum<{
  Succeeded: { readonly rttMs: number }
  Failed: { readonly reason: FailureReason }
  NotPeerFault: {}
  Rejected: {}
  Interrupted: {}
}>

/**
 * Constructors of {@link DialOutcome}.
 *
 * @category constructors
 * @since 0.1.0
 */
export const DialOutcome = Data.taggedEnum<DialOutcome>()

/**
 * An address the endpoints listed, with the endpoint's URL.
 *
 * @category models
 * @since 0.1.0
 */
export interface Answered {
  readonly address: PeerAddress.PeerAddress
  readonly url: string
}

/**
 * What the shell feeds the machine.
 *
 * - `DialEnded`: dial `id` ended (ignored when `id` is not in flight: late or duplicate).
 * - `EndpointsAnswered`: the endpoints listed `addresses`; `table` is the cache with them merged.
 * - `EndpointsFailed`: no endpoint gave addresses (`message` says why).
 * - `TableLoaded`: a run started on the file's head (`loading`) now has the whole cache: `table` is
 *   the store's view at that moment (the file plus every change recorded since, the endpoints' too).
 * - `Tick`: the time given by {@link wakeAt} came.
 *
 * @category models
 * @since 0.1.0
 */
export type Event = Data.TaggedEnum<{
  DialEnded: { readonly id: number; readonly outcome: DialOutcome }
  EndpointsAnswered: { readonly table: PeerTable.PeerTable; readonly addresses: ReadonlyArray<Answered> }
  EndpointsFailed: { readonly message: string }
  TableLoaded: { readonly table: PeerTable.PeerTable }
  Tick: {}
}>

/**
 * Constructors of {@link Event}.
 *
 * @category constructors
 * @since 0.1.0
 */
export const Event = Data.taggedEnum<Event>()

/**
 * What the outcome of a dial is booked as: `Success` (record it with its set-up time), `Failure`
 * (record it against the address), `Unsupported` (not the peer's fault), `Cancelled` (not a failure)
 * or `Rejected` (not a dial).
 *
 * @category models
 * @since 0.1.0
 */
export type Booked = Data.TaggedEnum<{
  Success: { readonly rttMs: number }
  Failure: { readonly reason: FailureReason }
  Unsupported: {}
  Cancelled: {}
  Rejected: {}
}>

/**
 * Constructors of {@link Booked}.
 *
 * @category constructors
 * @since 0.1.0
 */
export const Booked = Data.taggedEnum<Booked>()

/**
 * What the machine asks of the shell, in order.
 *
 * - `StartDial`: dial `address` under id `id` (report its end as `DialEnded` with that id).
 * - `CancelDial`: interrupt dial `id` (its end is still reported, as for any dial).
 * - `AskEndpoints`: fetch the contacts endpoints (report `EndpointsAnswered` or `EndpointsFailed`).
 * - `CancelEndpoints`: interrupt that fetch; its answer is no longer awaited.
 * - `RecordOutcome`: dial `id` ended as `booked`: record it in the store.
 * - `TargetReached`: `connected` peers answered, `elapsedMs` after the start.
 * - `Finish`: the run is over (no dial in flight, no fetch awaited).
 *
 * `inFlight` is the number of dials in flight after the command, `connected` the live peers so far.
 *
 * @category models
 * @since 0.1.0
 */
export type Command = Data.TaggedEnum<{
  StartDial: {
    readonly id: number
    readonly peerKey: string
    readonly address: PeerAddress.PeerAddress
    readonly origin: Origin
    readonly trigger: DialTrigger
    readonly inFlight: number
  }
  CancelDial: { readonly id: number }
  AskEndpoints: { readonly reason: EndpointReason }
  CancelEndpoints: {}
  RecordOutcome: {
    readonly id: number
    readonly peerKey: string
    readonly address: PeerAddress.PeerAddress
    readonly origin: Origin
    readonly booked: Booked
    readonly elapsedMs: number
    readonly connected: number
    readonly inFlight: number
  }
  TargetReached: { readonly connected: number; readonly elapsedMs: number }
  Finish: { readonly targetReached: boolean }
}>

/**
 * Constructors of {@link Command}.
 *
 * @category constructors
 * @since 0.1.0
 */
export const Command = Data.taggedEnum<Command>()

/**
 * A peer that answered: its table key, the address dialled, its set-up time (ms), its origin.
 *
 * @category models
 * @since 0.1.0
 */
export interface Connected {
  readonly peerKey: string
  readonly address: PeerAddress.PeerAddress
  readonly rttMs: number
  readonly origin: Origin
}

/**
 * The counts of a run (see the node `BootstrapResult` for their meaning): `dials` = `successes +
 * failures + unsupported + cancelled`; rejected dials are not dials.
 *
 * @category models
 * @since 0.1.0
 */
export interface Tally {
  readonly connected: ReadonlyArray<Connected>
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
  readonly timeToFirstPeerMs: Option.Option<number>
  readonly timeToTargetMs: Option.Option<number>
}

/**
 * A dial in flight: id, peer, address, origin, start (epoch ms), measured set-up time of the address
 * (ms, if any) and whether the machine asked to cancel it.
 *
 * @category models
 * @since 0.1.0
 */
export interface Flight extends Candidates.Candidate {
  readonly id: number
  readonly origin: Origin
  readonly startedAt: number
  readonly cancelling: boolean
}

/**
 * What the endpoints did in this run: whether they were asked (at most once), why, whether an answer
 * is awaited, whether they gave addresses, and why not.
 *
 * @category models
 * @since 0.1.0
 */
export interface Endpoints {
  readonly asked: boolean
  readonly reason: Option.Option<EndpointReason>
  readonly fetching: boolean
  readonly used: boolean
  readonly error: Option.Option<string>
}

/**
 * The state of a run. `phase`: `loading` (the head alone does not make a warm cache: waiting for the
 * whole table before deciding), `prefetch` (waiting for the endpoints before dialing), `dialing`,
 * `draining` (target reached or nothing left: waiting for the cancelled dials to end) or `done`.
 *
 * `loading`: `table` is the file's head (its best peers) and the whole table is still decoding; it
 * arrives as `TableLoaded`. Until then refills select from the head, and running out of candidates
 * waits for the table instead of asking the endpoints or finishing.
 *
 * @category models
 * @since 0.1.0
 */
export interface State {
  readonly config: Config
  readonly phase: "loading" | "prefetch" | "dialing" | "draining" | "done"
  readonly table: PeerTable.PeerTable
  readonly loading: boolean
  /**
   * Address keys in the cache when the run started, or when its table loaded (their dials have origin
   * `cache`): a read-only view over that table's address index, not a copy of its keys.
   */
  readonly cachedKeys: ReadonlySet<string>
  /** Address keys the endpoints listed that were not cached: never `cache` when the table loads. */
  readonly answered: ReadonlySet<string>
  readonly cachedPeers: number
  readonly usable: number
  readonly stale: boolean
  readonly startedAt: number
  /** The `now` selections are scored at (the start of dialing). */
  readonly selectAt: number
  readonly fallbackAt: number
  readonly lastProgressAt: number
  readonly nextId: number
  readonly inFlight: ReadonlyMap<number, Flight>
  readonly pending: ReadonlyArray<Candidates.Candidate>
  readonly attempted: ReadonlySet<string>
  readonly avoid: ReadonlySet<string>
  /** After a fallback: the endpoints' new peers, selected before any further cached peer. */
  readonly fresh: Option.Option<PeerTable.PeerTable>
  readonly exhausted: boolean
  readonly endpoints: Endpoints
  readonly tally: Tally
}

/**
 * The result of {@link start} and {@link step}: the next state and the commands to run, in order.
 * `usedDraws`: whether the transition made a selection, and so read its `draws`. Transitions are
 * pure, so a shell can step without draws first and, when `usedDraws`, step again from the same
 * state with fresh ones: random numbers are then drawn only for the selections made, one batch each.
 *
 * @category models
 * @since 0.1.0
 */
export interface Transition {
  readonly state: State
  readonly commands: ReadonlyArray<Command>
  readonly usedDraws: boolean
}

/**
 * What a run starts on: the cache `table`, whether the store flags it `stale`, and with `loading`,
 * that `table` is the file's head and the whole table follows as `TableLoaded`.
 *
 * @category models
 * @since 0.1.0
 */
export interface StartInput {
  readonly table: PeerTable.PeerTable
  readonly stale: boolean
  readonly loading?: boolean
}

/**
 * Starts a run on the cache `table` (flagged `stale` by the store) at `now` (epoch ms). Asks the
 * endpoints first when the cache is empty, holds fewer than `minCachedPeers` usable peers, or is
 * stale (and there is a fetcher); otherwise starts the dials the target needs. With `loading`, `table`
 * is the file's head and the whole table follows as `TableLoaded`: a head that is not a warm cache
 * on its own waits for it (phase `loading`) rather than asking the endpoints. `draws`: uniform
 * numbers in [0,1) for the selection (`Selection.drawsNeeded(config.batchSize)` of them; missing ones
 * mean exploit).
 *
 * @category constructors
 * @since 0.1.0
 */
export const start = (config: Config, input: StartInput, now: number, draws: ReadonlyArray<number> = []): Transition =>
  Machine.start(config, input, now, draws)

/**
 * A {@link start} prepared up to its one use of random numbers: `usesDraws` says whether it selects
 * (what its `usedDraws` will be), and `start(draws)` gives exactly `start(config, input, now, draws)`.
 * A shell draws random numbers only when `usesDraws`, and starts once either way.
 *
 * @category models
 * @since 0.1.0
 */
export interface Starting {
  readonly usesDraws: boolean
  readonly start: (draws: ReadonlyArray<number>) => Transition
}

/**
 * Prepares {@link start} (same arguments but the draws): the cache is read and the decision to dial
 * or to wait made once; only the selection waits for the draws.
 *
 * @category constructors
 * @since 0.1.0
 */
export const starting = (config: Config, input: StartInput, now: number): Starting => Machine.starting(config, input, now)

/**
 * One transition: `event` at `now` (epoch ms, never earlier than the last), with `draws` for any
 * selection it makes. A `DialEnded` for an id not in flight, an endpoints' answer nobody awaits, and
 * anything after `Finish` change nothing.
 *
 * @category combinators
 * @since 0.1.0
 */
export const step = (state: State, event: Event, now: number, draws: ReadonlyArray<number> = []): Transition =>
  Machine.step(state, event, now, draws)

/**
 * Does now, a slice at a time, the passes over `table` that a `TableLoaded` step of a run under
 * `config` would otherwise make at once: the selection's pass (`Selection.poolSteps`, at `now`, under
 * the run's dial policy and `supports`), then the count of usable, known-good and recently failed
 * peers (`usable`, `avoidFailedWithinMs`). A generator that pauses (yields the peers done) after every
 * `peersPerStep` peers (at least 1), for a shell that gives its event loop a turn between slices while
 * the whole table waits to be handed over. `now` is the run's `selectAt` (epoch ms): a step scoring at
 * a later time is served from this pass too, and so is a table made from `table` by a few recorded
 * changes (the store's view when the event is fed). The step's result is the same whether or not
 * this ran.
 *
 * @category combinators
 * @since 0.2.0
 */
export const tableLoadedSteps = (config: Config, table: PeerTable.PeerTable, now: number, peersPerStep: number): Generator<number, void, void> =>
  Machine.tableLoadedSteps(config, table, now, Math.max(1, Math.floor(peersPerStep)))

/**
 * When the shell should feed a `Tick` if no other event came first (epoch ms): the end of the
 * Connection Attempt Delay, or the fallback deadline, whichever is first; `undefined` when only
 * events will move the run on.
 *
 * @category getters
 * @since 0.1.0
 */
export const wakeAt = (state: State): number | undefined => Machine.wakeAt(state)

/**
 * The Connection Attempt Delay (ms) for the dials in flight: `staggerMs` when one of them has no
 * measured set-up time (or `measuredStagger` is off), else the largest × `staggerFactor`, clamped to
 * [`minStaggerMs`, `maxStaggerMs`] (RFC 8305 §5).
 *
 * @category getters
 * @since 0.1.0
 */
export const staggerDelay = (state: State): number => Machine.staggerDelay(state.config, state.inFlight.values())

/**
 * How many draws each event should carry: `Selection.drawsNeeded(config.batchSize)`.
 *
 * @category getters
 * @since 0.1.0
 */
export const drawsNeeded = (config: Config): number => Selection.drawsNeeded(config.batchSize)

/**
 * Consecutive failures from which an address is no longer usable: `Prune`'s
 * `maxConsecutiveFailures` (3, Bitcoin Core addrman `ADDRMAN_RETRIES`).
 *
 * @category constants
 * @since 0.1.0
 */
export const TERRIBLE_STREAK: number = Candidates.TERRIBLE_STREAK
