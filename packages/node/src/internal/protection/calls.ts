/**
 * The call path of a `Protection` instance: admitting a call of a key, running it, and recording its
 * end in the instance's {@link KeyTable}, with metrics and phase-change announcements.
 */
import { type CircuitBreaker, KeyProtection } from "@bootstrap-cache/core"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import type * as MetricLabel from "effect/MetricLabel"
import * as PubSub from "effect/PubSub"
import * as Random from "effect/Random"
import {
  CircuitOpenError,
  CircuitThrottledError,
  CircuitTooManyRequestsError,
  metrics,
  type ProtectionRejection,
  type StateChange
} from "../../Protection.js"
import type { InstanceMetrics } from "./metrics.js"
import type { Entry, KeyTable } from "./table.js"

/** The draw handed to a step that does not read it (see `KeyProtection.admitReadsDraw`, `completeReadsDraw`). */
export const unusedDraw = 0.5

/** Whether a key in `phase` has a closed breaker (a recovering key's breaker is closed; its ramp throttles). */
const closedPhase = (phase: KeyProtection.Phase) => phase === "closed" || phase === "recovering"

/** The `restore` of an `uninterruptibleMask`, or `undefined` on the unmasked path. */
type Restore = (<AX, EX, RX>(effect: Effect.Effect<AX, EX, RX>) => Effect.Effect<AX, EX, RX>) | undefined

const outcomeOf = <A, E>(exit: Exit.Exit<A, E>, durationMs: number): CircuitBreaker.Outcome<unknown> => {
  if (Exit.isSuccess(exit)) return { _tag: "Success", durationMs }
  if (Cause.isInterruptedOnly(exit.cause)) return { _tag: "Interrupted", durationMs }
  const failure = Cause.failureOption(exit.cause)
  return { _tag: "Failure", error: failure._tag === "Some" ? failure.value : Cause.squash(exit.cause), durationMs }
}

const rejectionOf = (key: string, r: Extract<KeyProtection.Admission, { _tag: "Rejected" }>): ProtectionRejection =>
  r.reason === "open"
    ? new CircuitOpenError({ key, state: r.phase, retryAfterMs: r.retryAfterMs })
    : r.reason === "too-many-requests"
    ? new CircuitTooManyRequestsError({ key, state: r.phase, retryAfterMs: r.retryAfterMs })
    : new CircuitThrottledError({ key, state: r.phase, retryAfterMs: r.retryAfterMs, rate: r.rate })

/**
 * An admitted call: its ticket, what its completion needs, and the `matchCauseEffect` handlers that
 * complete it (the call is the handlers' options object: one object fewer per call). Built on every
 * call, so its fields are assigned in the constructor rather than defined as class fields first; the
 * handlers arrive as arguments, where the `keepNames` transform of esbuild (tsx) does not wrap them in
 * a per-call `Object.defineProperty`.
 */
class Call<A, E> implements KeyProtection.Ticket {
  declare readonly key: string
  declare readonly entry: Entry
  declare readonly generation: number
  declare readonly epoch: number | undefined
  declare readonly startedAt: number
  declare readonly fiber: Fiber.RuntimeFiber<unknown, unknown>
  declare readonly clock: Clock.Clock
  declare readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
  declare readonly onSuccess: (a: A) => Effect.Effect<A, E>
  declare readonly onFailure: (cause: Cause.Cause<E>) => Effect.Effect<A, E>
  constructor(
    key: string,
    entry: Entry,
    generation: number,
    epoch: number | undefined,
    startedAt: number,
    fiber: Fiber.RuntimeFiber<unknown, unknown>,
    clock: Clock.Clock,
    labels: ReadonlyArray<MetricLabel.MetricLabel>,
    onSuccess: (a: A) => Effect.Effect<A, E>,
    onFailure: (cause: Cause.Cause<E>) => Effect.Effect<A, E>
  ) {
    const self = this as { -readonly [K in keyof Call<A, E>]: Call<A, E>[K] }
    self.key = key
    self.entry = entry
    self.generation = generation
    self.epoch = epoch
    self.startedAt = startedAt
    self.fiber = fiber
    self.clock = clock
    self.labels = labels
    self.onSuccess = onSuccess
    self.onFailure = onFailure
  }
}

/** Phase changes to `hub` and the debug log (only run when there are some). */
export const announce = (hub: PubSub.PubSub<StateChange>, changes: ReadonlyArray<StateChange>): Effect.Effect<void> =>
  Effect.zipRight(
    PubSub.publishAll(hub, changes),
    Effect.forEach(changes, (c) =>
      Effect.logDebug("circuit phase change").pipe(
        Effect.annotateLogs({ key: c.key, from: c.from, to: c.to, generation: c.generation })
      ), { discard: true })
  )

/**
 * The calls of one instance. Each step is synchronous between two Effect steps, so the phase changes
 * it makes are gathered in `pending` and announced before the step's result is handed on.
 */
export class Calls {
  /** Phase changes of the current synchronous step (everything between two Effect steps is atomic). */
  private pending: Array<StateChange> = []
  private services: Context.Context<never> | undefined
  private clock: Clock.Clock | undefined

  constructor(
    readonly table: KeyTable,
    readonly meter: InstanceMetrics,
    readonly hub: PubSub.PubSub<StateChange>
  ) {}

  /**
   * The hot path: one synchronous step to admit and one to complete. Time comes from the fiber's
   * `Clock` service (`unsafeCurrentTimeMillis`, which `TestClock` implements), metrics are updated
   * with `unsafeUpdate`, and `Random` is asked for a draw only when a step reads it.
   *
   * A call on a closed breaker runs without an uninterruptible frame (two runtime-flag changes, most
   * of the cost of a call): if it is interrupted before its handler runs, it only loses an
   * interruption, which a closed breaker counts as an exclusion (nothing), and its entry's runner is
   * dropped once its fiber exits. Calls on a breaker that is not closed take {@link executeMasked}.
   */
  execute<A, E, R>(key: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | ProtectionRejection, R> {
    return Effect.withFiberRuntime<A, E | ProtectionRejection, R>((fiber) =>
      this.admitWith(fiber, undefined, key, effect)
    )
  }

  /**
   * A call whose admission may take a half-open probe slot: admission and the handler that completes
   * the call are installed uninterruptibly, and the call runs `restore`d to the caller's
   * interruptibility, so an admitted probe always releases its slot.
   */
  private executeMasked<A, E, R>(key: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | ProtectionRejection, R> {
    return Effect.uninterruptibleMask((restore) =>
      Effect.withFiberRuntime<A, E | ProtectionRejection, R>((fiber) => this.admitWith(fiber, restore, key, effect))
    )
  }

  /** Draws first when admission reads a draw (a ramp runs); the entry is looked up again after it. */
  private admitWith<A, E, R>(
    fiber: Fiber.RuntimeFiber<unknown, unknown>,
    restore: Restore,
    key: string,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | ProtectionRejection, R> {
    const known = this.table.entries.get(key)
    return known !== undefined && KeyProtection.admitReadsDraw(known.shape)
      ? Effect.flatMap(Random.next, (draw) => this.begin(fiber, restore, key, effect, this.table.entries.get(key), draw))
      : this.begin(fiber, restore, key, effect, known, unusedDraw)
  }

  /**
   * Admits a call of `key` with `draw` and runs it, or rejects it. `restore` is the mask's when called
   * inside `uninterruptibleMask`; without it (`undefined`), a breaker found not closed sends the call
   * down the masked path, since its admission may take a half-open probe slot.
   */
  private begin<A, E, R>(
    fiber: Fiber.RuntimeFiber<unknown, unknown>,
    restore: Restore,
    key: string,
    effect: Effect.Effect<A, E, R>,
    known: Entry | undefined,
    draw: number
  ): Effect.Effect<A, E | ProtectionRejection, R> {
    if (restore === undefined && known !== undefined && !closedPhase(KeyProtection.phase(known.shape))) {
      return this.executeMasked(key, effect)
    }
    const { meter, table } = this
    const clock = this.clockOf(fiber)
    const labels = meter.labels(fiber.getFiberRef(FiberRef.currentMetricLabels))
    const now = clock.unsafeCurrentTimeMillis()
    const entry = table.touch(key, now, known)
    table.maybeSweep(now)
    // a steady key only counts the admission (see `Entry`); otherwise the full step
    let generation = entry.admitSteady(now)
    let epoch: number | undefined
    if (generation === undefined) {
      const admission = KeyProtection.admit(entry.state, now, draw)
      table.step(key, entry, admission.state, now, this.pending)
      if (admission._tag === "Rejected") {
        meter.gauge(table.notClosedCount, labels)
        meter.rejection(admission.reason, labels)
        return this.flushPending(Effect.fail(rejectionOf(key, admission)))
      }
      generation = admission.generation
      epoch = admission.epoch
    }
    meter.gauge(table.notClosedCount, labels)
    entry.runners.push(fiber)
    metrics.calls.unsafeUpdate(1, labels)
    const call: Call<A, E> = new Call(
      key,
      entry,
      generation,
      epoch,
      now,
      fiber,
      clock,
      labels,
      (a: A) => this.finish(call, Exit.succeed(a)),
      (cause: Cause.Cause<E>) => this.finish(call, Exit.failCause(cause))
    )
    return this.flushPending(Effect.matchCauseEffect(restore === undefined ? effect : restore(effect), call))
  }

  /**
   * Completes an admitted call with its `exit`. Synchronous unless the step reads a draw from
   * `Random` (a counted failure may trip the breaker; a ramp may fail).
   */
  private finish<A, E>(call: Call<A, E>, exit: Exit.Exit<A, E>): Effect.Effect<A, E> {
    const end = call.clock.unsafeCurrentTimeMillis()
    const { entry } = call
    // a success of a steady key only counts (see `Entry`); otherwise the full step
    if (Exit.isSuccess(exit) && !entry.evicted && entry.succeedSteady(call.generation, call.startedAt, end)) {
      return this.close(call, end, "success", exit)
    }
    const outcome = outcomeOf(exit, end - call.startedAt)
    const state = entry.state
    return KeyProtection.completeReadsDraw(state, KeyProtection.classify(state, outcome, end))
      ? Effect.flatMap(Random.next, (draw) => this.settle(call, outcome, end, exit, draw))
      : this.settle(call, outcome, end, exit, unusedDraw)
  }

  /** Records the end of an admitted call with `draw`, then hands back the call's own `exit`. */
  private settle<A, E>(
    call: Call<A, E>,
    outcome: CircuitBreaker.Outcome<unknown>,
    end: number,
    exit: Exit.Exit<A, E>,
    draw: number
  ): Effect.Effect<A, E> {
    const { entry } = call
    const done = KeyProtection.complete(entry.state, call, outcome, end, draw)
    if (!entry.evicted) this.table.step(call.key, entry, done.state, end, this.pending) // else: the result belongs to nobody
    return this.close(call, end, done.kind, exit)
  }

  /** The bookkeeping of a call's end counted as `kind`, then the call's own `exit`. */
  private close<A, E>(call: Call<A, E>, end: number, kind: CircuitBreaker.Classification, exit: Exit.Exit<A, E>): Effect.Effect<A, E> {
    const { entry, labels } = call
    entry.release(call.fiber)
    entry.lastUsed = end
    this.meter.gauge(this.table.notClosedCount, labels)
    if (kind === "success") metrics.successes.unsafeUpdate(1, labels)
    else if (kind !== "excluded") metrics.failures.unsafeUpdate(1, labels)
    return this.flushPending(exit)
  }

  /** The fiber's `Clock` service, memoised by the identity of its default services (they rarely change). */
  private clockOf(fiber: Fiber.RuntimeFiber<unknown, unknown>): Clock.Clock {
    const services = fiber.currentDefaultServices
    if (services !== this.services) {
      this.services = services
      this.clock = Context.get(services, Clock.Clock)
    }
    return this.clock!
  }

  /** `next`, preceded by the announcement of the phase changes gathered since the last flush. */
  private flushPending<A, E, R>(next: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    if (this.pending.length === 0) return next
    const changes = this.pending
    this.pending = []
    return Effect.zipRight(announce(this.hub, changes), next)
  }
}
