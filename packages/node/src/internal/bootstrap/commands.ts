/**
 * How each `BootstrapMachine` command is carried out (fibers, the store, `onEvent`, metrics) and how
 * what the fibers report becomes the machine's next event.
 */
import { BootstrapMachine as Machine, type PeerTable } from "@bootstrap-cache/core"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import type { BootstrapOptions, Services } from "../../Bootstrap.js"
import { BootstrapEvent, failureReason, metrics } from "../../Bootstrap.js"
import type { ContactsUnavailable, EndpointReport, FetchResult } from "../../ContactsFetcher.js"
import * as Dialer from "../../Dialer.js"
import type { ProtectionRejection } from "../../Protection.js"
import { describe, isRejection } from "./report.js"

/** How a dial fiber ended. */
export type DialExit = Exit.Exit<number, Dialer.DialError | ProtectionRejection>

/**
 * What the fibers report: a dial's exit, the endpoints' answer, or that the whole table is in.
 * `prepared` is the table the store loaded, whose passes `BootstrapMachine.tableLoadedSteps` made
 * before the message was sent: the store's view when the message is read is that table or one made
 * from it by the changes recorded since, whose passes the step derives from it (the message keeps it
 * reachable while it waits).
 */
export type Message =
  | { readonly _tag: "Dial"; readonly id: number; readonly exit: DialExit }
  | { readonly _tag: "Endpoints"; readonly result: Either.Either<FetchResult, ContactsUnavailable> }
  | { readonly _tag: "TableLoaded"; readonly prepared: PeerTable.PeerTable }

/** The dial error behind an exit the machine books as a failure (a cancelled silent dial: a timeout). */
const errorOf = (exit: Option.Option<DialExit>, address: string, timeoutMs: number): Dialer.DialError => {
  const failure = Option.flatMap(exit, (e) => (Exit.isFailure(e) ? Cause.failureOption(e.cause) : Option.none()))
  return Option.isSome(failure) && !isRejection(failure.value)
    ? failure.value
    : new Dialer.DialTimeoutError({ address, timeoutMs })
}

/** A dial's exit as the machine's outcome; a defect is re-raised. */
const outcomeOf = (exit: DialExit): Effect.Effect<Machine.DialOutcome> => {
  if (Exit.isSuccess(exit)) return Effect.succeed(Machine.DialOutcome.Succeeded({ rttMs: exit.value }))
  if (Cause.isInterruptedOnly(exit.cause)) return Effect.succeed(Machine.DialOutcome.Interrupted())
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) return Effect.failCause(exit.cause as Cause.Cause<never>)
  const e = failure.value
  if (isRejection(e)) return Effect.succeed(Machine.DialOutcome.Rejected())
  const reason = failureReason(e)
  return Effect.succeed(reason === "unsupported" ? Machine.DialOutcome.NotPeerFault() : Machine.DialOutcome.Failed({ reason }))
}

/** What the interpreter loop uses of a runner (see {@link makeRunner}). */
export interface Runner {
  readonly execute: (commands: ReadonlyArray<Machine.Command>, exit: Option.Option<DialExit>) => Effect.Effect<void>
  readonly toEvent: (m: Message) => Effect.Effect<{ readonly event: Machine.Event; readonly exit: Option.Option<DialExit> }>
  readonly absorb: (result: Either.Either<FetchResult, ContactsUnavailable>) => Effect.Effect<Machine.Event>
  readonly interruptFetch: Effect.Effect<void>
}

/** What the runner's pieces share: the services, where reports go, and the fibers in flight. */
interface Context {
  readonly services: Services
  readonly options: BootstrapOptions
  readonly timeoutMs: number
  readonly emit: (event: BootstrapEvent) => Effect.Effect<void>
  readonly messages: Queue.Queue<Message>
  readonly reports: Ref.Ref<ReadonlyArray<EndpointReport>>
  readonly fetching: Ref.Ref<Option.Option<Fiber.RuntimeFiber<unknown>>>
  /** The dial fibers by command id, until their outcome is recorded. */
  readonly fibers: Map<number, Fiber.RuntimeFiber<unknown>>
}

/** Forks the dial (protected when protection is on) and announces it. */
const startDial = (ctx: Context, c: Extract<Machine.Command, { _tag: "StartDial" }>) =>
  Effect.gen(function*() {
    const { timeoutMs } = ctx
    const dial = ctx.services.dialer.dial(c.address, Duration.millis(timeoutMs)).pipe(
      // Enforced here too, so a dialer that does not enforce its timeout still has its silent peers
      // learnt as timeout failures.
      Effect.timeoutFail({
        duration: Duration.millis(timeoutMs),
        onTimeout: (): Dialer.DialError => new Dialer.DialTimeoutError({ address: c.address.multiaddr, timeoutMs })
      })
    )
    const guarded = Option.match(ctx.services.protection, {
      onNone: () => dial,
      onSome: (p) => p.execute(c.address.key, dial)
    })
    // The exit is reported uninterruptibly, so an outcome is never lost to a cancellation: a dial
    // interrupted before it reports was cancelled.
    const fiber = yield* Effect.fork(
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(Effect.exit(restore(guarded)), (exit) => ctx.messages.offer({ _tag: "Dial", id: c.id, exit }))
      )
    )
    ctx.fibers.set(c.id, fiber)
    yield* ctx.emit(BootstrapEvent.DialStarted({ address: c.address, origin: c.origin, trigger: c.trigger, inFlight: c.inFlight }))
  })

/** Forks a fetch from the contacts endpoints, if there are any; its result arrives as a message. */
const askEndpoints = (ctx: Context, reason: Machine.EndpointReason) =>
  Effect.gen(function*() {
    if (Option.isNone(ctx.services.contacts)) return
    const fetcher = ctx.services.contacts.value
    yield* ctx.emit(BootstrapEvent.EndpointsFetching({ reason }))
    yield* Effect.logInfo(`asking the contacts endpoints (${reason})`)
    const fetch = ctx.options.endpoints === undefined ? fetcher.fetch : fetcher.fetchFrom(ctx.options.endpoints)
    const fiber = yield* Effect.fork(
      Effect.flatMap(Effect.either(fetch), (result) => ctx.messages.offer({ _tag: "Endpoints", result }))
    )
    yield* Ref.set(ctx.fetching, Option.some<Fiber.RuntimeFiber<unknown>>(fiber))
  })

/** Interrupts the endpoints' fetch in flight, if any. */
const interruptFetch = (ctx: Context) =>
  Effect.flatMap(Ref.getAndSet(ctx.fetching, Option.none()), (f) =>
    Option.match(f, { onNone: () => Effect.void, onSome: (fiber) => Effect.asVoid(Fiber.interrupt(fiber)) }))

/** Books a dial's outcome: the store, the dial metric and the matching `onEvent` event. */
const recordOutcome = (
  ctx: Context,
  c: Extract<Machine.Command, { _tag: "RecordOutcome" }>,
  exit: Option.Option<DialExit>
) =>
  Effect.gen(function*() {
    const { emit, services: { store }, timeoutMs } = ctx
    const { address, booked, elapsedMs, inFlight, origin } = c
    const warn = (what: string) => (e: unknown) => Effect.logWarning(`could not record ${what} of ${address.multiaddr}: ${describe(e)}`)
    switch (booked._tag) {
      case "Success":
        yield* store.recordSuccess(address, { rttMs: booked.rttMs }).pipe(Effect.catchAllCause(warn("success")))
        yield* Metric.increment(Metric.tagged(metrics.dials, "outcome", "success"))
        return yield* emit(BootstrapEvent.DialSucceeded({ address, origin, rttMs: booked.rttMs, connected: c.connected, inFlight }))
      case "Cancelled":
        yield* Metric.increment(Metric.tagged(metrics.dials, "outcome", "cancelled"))
        return yield* emit(BootstrapEvent.DialCancelled({ address, origin, elapsedMs, inFlight }))
      case "Rejected": {
        yield* Metric.increment(Metric.tagged(metrics.dials, "outcome", "rejected"))
        const failure = Option.flatMap(exit, (e) => (Exit.isFailure(e) ? Cause.failureOption(e.cause) : Option.none()))
        if (Option.isSome(failure) && isRejection(failure.value)) {
          yield* emit(BootstrapEvent.DialRejected({ address, origin, rejection: failure.value, inFlight }))
        }
        return
      }
      case "Unsupported":
      case "Failure": {
        const error = errorOf(exit, address.multiaddr, timeoutMs)
        const reason = booked._tag === "Failure" ? booked.reason : "unsupported"
        if (booked._tag === "Failure") {
          yield* store.recordFailure(address).pipe(Effect.catchAllCause(warn("failure")))
          yield* Metric.increment(Metric.tagged(Metric.tagged(metrics.dials, "outcome", "failure"), "reason", booked.reason))
        } else {
          yield* Metric.increment(Metric.tagged(metrics.dials, "outcome", "unsupported"))
        }
        yield* Effect.logDebug(error.message)
        return yield* emit(BootstrapEvent.DialFailed({ address, origin, error, reason, elapsedMs, inFlight }))
      }
    }
  })

/** Runs `commands` in order; `exit` is the dial exit of the event that produced them, if any. */
const execute = (ctx: Context, commands: ReadonlyArray<Machine.Command>, exit: Option.Option<DialExit>) =>
  Effect.forEach(commands, (command) => {
    switch (command._tag) {
      case "StartDial":
        return startDial(ctx, command)
      case "CancelDial": {
        const fiber = ctx.fibers.get(command.id)
        return fiber === undefined ? Effect.void : Fiber.interruptFork(fiber)
      }
      case "AskEndpoints":
        return askEndpoints(ctx, command.reason)
      case "CancelEndpoints":
        return interruptFetch(ctx)
      case "RecordOutcome":
        ctx.fibers.delete(command.id)
        return recordOutcome(ctx, command, exit)
      case "TargetReached":
        return ctx.emit(BootstrapEvent.TargetReached({ connected: command.connected, elapsedMs: command.elapsedMs }))
      case "Finish":
        return Effect.void
    }
  }, { discard: true })

/** Books what the endpoints answered: their addresses merged into the store. */
const absorb = (ctx: Context, result: Either.Either<FetchResult, ContactsUnavailable>) =>
  Effect.gen(function*() {
    const { emit, services: { store } } = ctx
    if (Either.isLeft(result)) {
      const message = result.left.message
      yield* emit(BootstrapEvent.EndpointsFailed({ reason: message }))
      yield* Effect.logWarning(`contacts endpoints gave nothing: ${message}`)
      return Machine.Event.EndpointsFailed({ message })
    }
    const { addresses, endpoints } = result.right
    yield* Ref.set(ctx.reports, endpoints)
    yield* Effect.forEach(addresses, ({ address, source }) =>
      store.add(address, { source: { _tag: "endpoint", url: source } }), { discard: true })
    yield* emit(BootstrapEvent.EndpointsFetched({ addresses: addresses.length, endpoints }))
    // What is loaded so far: the whole table arrives as its own event if it is still decoding.
    return Machine.Event.EndpointsAnswered({
      table: (yield* store.head).table,
      addresses: addresses.map(({ address, source }) => ({ address, url: source }))
    })
  })

/** The machine's event for a report, with the dial exit behind it. */
const toEvent = (ctx: Context, m: Message) =>
  Effect.gen(function*() {
    if (m._tag === "Endpoints") {
      yield* Ref.set(ctx.fetching, Option.none())
      return { event: yield* absorb(ctx, m.result), exit: Option.none<DialExit>() }
    }
    if (m._tag === "TableLoaded") {
      // The store's view now: the whole file plus every change recorded since, this run's included.
      const { table } = yield* ctx.services.store.head
      return { event: Machine.Event.TableLoaded({ table }), exit: Option.none<DialExit>() }
    }
    const outcome = yield* outcomeOf(m.exit)
    return { event: Machine.Event.DialEnded({ id: m.id, outcome }), exit: Option.some(m.exit) }
  })

/**
 * The runner of one bootstrap: executes commands and turns reports into events. `fetching` holds the
 * endpoints' fetch in flight, `reports` the endpoints' last reports.
 */
export const makeRunner = (
  services: Services,
  config: Machine.Config,
  options: BootstrapOptions,
  messages: Queue.Queue<Message>,
  reports: Ref.Ref<ReadonlyArray<EndpointReport>>,
  fetching: Ref.Ref<Option.Option<Fiber.RuntimeFiber<unknown>>>
): Runner => {
  const ctx: Context = {
    services,
    options,
    timeoutMs: config.timeoutMs,
    emit: options.onEvent ?? (() => Effect.void),
    messages,
    reports,
    fetching,
    fibers: new Map()
  }
  return {
    execute: (commands, exit) => execute(ctx, commands, exit),
    toEvent: (m) => toEvent(ctx, m),
    absorb: (result) => absorb(ctx, result),
    interruptFetch: interruptFetch(ctx)
  } as const
}
