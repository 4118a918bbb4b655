/**
 * The bootstrap's interpreter: loads the cache, runs the commands of core's `BootstrapMachine`
 * (dials and the endpoints' fetch in fibers, outcomes into the store, events to `onEvent`) and feeds
 * their results back as events, with the `Clock`'s time and `Random` draws. Every decision is the
 * machine's; this file only does what it is told.
 */
import { BootstrapMachine as Machine, PeerTable, Prune } from "@bootstrap-cache/core"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import type { BootstrapOptions, BootstrapResult, Services } from "../../Bootstrap.js"
import { BootstrapEvent, NoPeersError } from "../../Bootstrap.js"
import type { EndpointReport } from "../../ContactsFetcher.js"
import { nextMacrotask, runPausing } from "../cacheStore/diskFile.js"
import { type Message, makeRunner, type Runner } from "./commands.js"
import { bookMetrics, describe } from "./report.js"

/** The machine's settings from the run's options and services. */
export const configOf = (services: Services, options: BootstrapOptions): Machine.Config => {
  const ms = (d: Duration.DurationInput | undefined) => (d === undefined ? undefined : Duration.toMillis(Duration.decode(d)))
  const timeoutMs = ms(options.timeout)
  const fallbackAfterMs = ms(options.fallbackAfter)
  const maxStaggerMs = ms(options.maxStagger)
  const avoidFailedWithinMs = ms(options.avoidFailedWithin)
  const staggerMs = ms(options.stagger)
  return Machine.makeConfig({
    ...(options.target === undefined ? {} : { target: options.target }),
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    ...(staggerMs === undefined ? {} : { staggerMs }),
    ...(options.measuredStagger === undefined ? {} : { measuredStagger: options.measuredStagger }),
    ...(maxStaggerMs === undefined ? {} : { maxStaggerMs }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(fallbackAfterMs === undefined ? {} : { fallbackAfterMs }),
    ...(options.fallbackFailures === undefined ? {} : { fallbackFailures: options.fallbackFailures }),
    ...(options.minCachedPeers === undefined ? {} : { minCachedPeers: options.minCachedPeers }),
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
    ...(options.epsilon === undefined ? {} : { epsilon: options.epsilon }),
    ...(options.reconnect === undefined ? {} : { reconnect: options.reconnect }),
    ...(options.dialPolicy === undefined ? {} : { dialPolicy: options.dialPolicy }),
    ...(avoidFailedWithinMs === undefined ? {} : { avoidFailedWithinMs }),
    canAskEndpoints: Option.isSome(services.contacts),
    supports: services.dialer.supports
  })
}

/** Runs one bootstrap (see `Bootstrap.runWith`). */
export const run = (services: Services, options: BootstrapOptions): Effect.Effect<BootstrapResult, NoPeersError> =>
  Effect.gen(function*() {
    const { store } = services
    const config = configOf(services, options)
    const emit = options.onEvent ?? (() => Effect.void)
    const draws = Effect.replicateEffect(Random.next, Machine.drawsNeeded(config))

    // 1. Load the cache (its head, if the store is still decoding the file); the machine decides
    // whether to ask the endpoints first.
    const { complete, table } = yield* store.head
    const stale = yield* store.isStale
    const startedAt = yield* Clock.currentTimeMillis
    // The start reads the cache and decides once; random numbers are drawn only when it selects.
    const starting = Machine.starting(config, { table, stale, loading: !complete }, startedAt)
    const first = starting.usesDraws ? starting.start(yield* draws) : starting.start([])
    const { cachedPeers, usable } = first.state
    yield* emit(BootstrapEvent.CacheLoaded({ peers: cachedPeers, usable, stale }))

    // 2. Run the machine until it finishes; the whole table, when it is still decoding, arrives as a
    // message like any other.
    const messages = yield* Queue.unbounded<Message>()
    const reports = yield* Ref.make<ReadonlyArray<EndpointReport>>([])
    const fetching = yield* Ref.make(Option.none<Fiber.RuntimeFiber<unknown>>())
    const runner = makeRunner(services, config, options, messages, reports, fetching)
    // The first dials start before the "cache loaded" line is logged (formatting and writing a log
    // line costs more than starting a dial in a fresh process); dials log nothing, so the line is
    // still the run's first. The fiber awaiting the whole table is forked after them too: the table
    // comes in a turn of the event loop later at the earliest.
    const dials = leadingDials(first.commands)
    yield* runner.execute(first.commands.slice(0, dials), Option.none())
    if (!complete) {
      const loaded = Effect.flatMap(store.snapshot, (table) => prepare(config, table, first.state.selectAt))
      yield* Effect.fork(Effect.flatMap(loaded, (prepared) => messages.offer({ _tag: "TableLoaded", prepared })))
    }
    yield* Effect.logInfo(`cache loaded: ${cachedPeers} peers${complete ? "" : " (the file's head)"}, ${usable} usable${stale ? ", stale" : ""}`)
    yield* runner.execute(first.commands.slice(dials), Option.none())
    const final = yield* drive(runner, messages, emit, draws, first.state)
    yield* drain(runner, messages)

    // 3. Prune and flush.
    const pruned = options.prune === false ? 0 : yield* pruneAfter(services, final.tally.connected)
    const flushed = yield* Effect.either(store.flush)
    const flushError = Either.isLeft(flushed) ? Option.some(describe(flushed.left)) : Option.none<string>()
    if (Option.isSome(flushError)) yield* Effect.logWarning(`cache could not be saved: ${flushError.value}`)

    const result = resultOf(config, final, {
      elapsedMs: (yield* Clock.currentTimeMillis) - startedAt,
      endpoints: yield* Ref.get(reports),
      // A run that ended before the whole table came in still reports the whole cache (the prune
      // above waited for it).
      cachedPeers: final.loading ? PeerTable.size(yield* store.snapshot) : final.cachedPeers,
      pruned,
      flushError
    })
    yield* bookMetrics(result)
    if (config.target > 0 && result.connected.length === 0) return yield* new NoPeersError({ result })
    return result
  }).pipe(Effect.annotateLogs({ module: "Bootstrap" }))

/** How many peers `BootstrapMachine.tableLoadedSteps` takes between two turns of the event loop (~1.5 ms of work, warm). */
const PEERS_PER_STEP = 1024

/**
 * The whole table, once the passes its `TableLoaded` step would make are done
 * (`BootstrapMachine.tableLoadedSteps` at the run's `selectAt`), a slice at a time with a turn of the
 * event loop before each slice (`setImmediate`, as the store's decode: dials in flight complete and
 * timers fire meanwhile). The step then derives what it reads from these passes instead of holding
 * the event loop for a pass over every peer.
 */
const prepare = (config: Machine.Config, table: PeerTable.PeerTable, now: number): Effect.Effect<PeerTable.PeerTable> =>
  Effect.zipRight(nextMacrotask, Effect.as(runPausing(() => Machine.tableLoadedSteps(config, table, now, PEERS_PER_STEP)), table))

/** Runs `transition` with random draws only when it selects (see `Transition.usedDraws`). */
const withDraws = (draws: Effect.Effect<Array<number>>, transition: (draws: ReadonlyArray<number>) => Machine.Transition) =>
  Effect.suspend(() => {
    const plain = transition([])
    return plain.usedDraws ? Effect.map(draws, transition) : Effect.succeed(plain)
  })

/**
 * Steps the machine from `start` until it is done: each message (a dial's end, the endpoints' answer,
 * the whole table) becomes an event, and the time given by `wakeAt` a `Tick`; the commands of each
 * step are executed. Returns the final state.
 */
const drive = (
  runner: Runner,
  messages: Queue.Queue<Message>,
  emit: (event: BootstrapEvent) => Effect.Effect<void>,
  draws: Effect.Effect<Array<number>>,
  start: Machine.State
) =>
  Effect.iterate(start, {
    while: (state) => state.phase !== "done",
    body: (state) =>
      Effect.gen(function*() {
        const wake = Machine.wakeAt(state)
        const waitFrom = yield* Clock.currentTimeMillis
        const message = wake === undefined
          ? Option.some(yield* Queue.take(messages))
          : yield* Effect.timeoutOption(Queue.take(messages), Duration.millis(Math.max(0, wake - waitFrom)))
        const now = yield* Clock.currentTimeMillis
        const { event, exit } = Option.isNone(message)
          ? { event: Machine.Event.Tick(), exit: Option.none() }
          : yield* runner.toEvent(message.value)
        const next = yield* withDraws(draws, (d) => Machine.step(state, event, now, d))
        if (event._tag === "TableLoaded") yield* tableLoaded(emit, next.state)
        yield* runner.execute(next.commands, exit)
        return next.state
      })
  })

/**
 * After the machine is done: a fetch it stopped awaiting may have answered already, so its addresses
 * are kept for the next run.
 */
const drain = (runner: Runner, messages: Queue.Queue<Message>) =>
  Effect.gen(function*() {
    yield* runner.interruptFetch
    for (const m of yield* Queue.takeAll(messages)) {
      if (m._tag === "Endpoints") yield* runner.absorb(m.result)
    }
  })

/** The run's result: the machine's final tally and endpoint state, with what the shell measured. */
const resultOf = (
  config: Machine.Config,
  final: Machine.State,
  measured: Pick<BootstrapResult, "elapsedMs" | "endpoints" | "cachedPeers" | "pruned" | "flushError">
): BootstrapResult => {
  const tally = final.tally
  return {
    target: config.target,
    connected: tally.connected,
    targetReached: tally.connected.length >= config.target,
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
    endpointsUsed: final.endpoints.used,
    endpointReason: final.endpoints.reason,
    endpointError: final.endpoints.error,
    ...measured
  }
}

/** How many of `commands` are `StartDial`s before the first command of another kind. */
const leadingDials = (commands: ReadonlyArray<Machine.Command>): number => {
  const other = commands.findIndex((c) => c._tag !== "StartDial")
  return other === -1 ? commands.length : other
}

/** Announces the whole table, once it replaced the head the run started on. */
const tableLoaded = (emit: (event: BootstrapEvent) => Effect.Effect<void>, state: Machine.State) =>
  Effect.zipRight(
    emit(BootstrapEvent.TableLoaded({ peers: state.cachedPeers, usable: state.usable })),
    Effect.logInfo(`cache table loaded: ${state.cachedPeers} peers, ${state.usable} usable`)
  )

/** Applies `Prune.prune` through `store.remove`, never removing an address that just connected. */
const pruneAfter = (services: Services, connected: ReadonlyArray<Machine.Connected>) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const connectedKeys = new Set(connected.map((c) => c.address.key))
    const removals = Prune.prune(yield* services.store.snapshot, now).removed
      .flatMap((removal) => removal.addresses)
      .filter((address) => !connectedKeys.has(address.key))
    yield* Effect.forEach(removals, (address) => services.store.remove(address), { discard: true })
    return removals.length
  })
