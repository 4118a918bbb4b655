/**
 * The body of `Protection.make`: a {@link KeyTable} of pure `KeyProtection` states, driven with the
 * calling fiber's `Clock` and `Random`, counted with per-instance metrics, announced on a `PubSub`.
 */
import { type CircuitBreaker, KeyProtection, ProtectionStatus } from "@bootstrap-cache/core"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import type * as MetricLabel from "effect/MetricLabel"
import * as PubSub from "effect/PubSub"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import {
  CircuitOpenError,
  CircuitThrottledError,
  CircuitTooManyRequestsError,
  defaults,
  type KeyStatus,
  metrics,
  type OverallStatus,
  Protection,
  type ProtectionOptions,
  type ProtectionRejection,
  type StateChange
} from "../../Protection.js"
import { InstanceMetrics } from "./metrics.js"
import { type Entry, KeyTable } from "./table.js"

/** Instances made without a `name` are labelled `protection-1`, `protection-2`, … in creation order. */
let unnamed = 0

/** The draw handed to a step that does not read it (see `KeyProtection.admitReadsDraw`, `completeReadsDraw`). */
const unusedDraw = 0.5

/**
 * `matchCauseEffect` handlers from two functions. The functions are written as arguments, where the
 * `keepNames` transform of esbuild (tsx) does not wrap them in a per-call `Object.defineProperty`.
 */
const handlers = <A, E, B, E2, R2, C, E3, R3>(
  onSuccess: (a: A) => Effect.Effect<B, E2, R2>,
  onFailure: (cause: Cause.Cause<E>) => Effect.Effect<C, E3, R3>
) => ({ onSuccess, onFailure })

const toMs = (input: Duration.DurationInput) => Duration.toMillis(Duration.decode(input))

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

/** An admitted call: what its completion needs. */
class Call {
  constructor(
    readonly key: string,
    readonly entry: Entry,
    readonly ticket: KeyProtection.Ticket,
    readonly fiber: Fiber.RuntimeFiber<unknown, unknown>,
    readonly clock: Clock.Clock,
    readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
  ) {}
}

/** See `Protection.make`. */
export const make = (options: ProtectionOptions = {}): Effect.Effect<Protection["Type"], never, Scope.Scope> =>
  Effect.gen(function*() {
    const config = KeyProtection.makeConfig<unknown>({
      breaker: options.breaker ?? defaults.breaker,
      health: options.health,
      recovery: options.recovery
    })
    const idleMs = options.idleTimeout === undefined ? defaults.idleTimeoutMs : Math.max(0, toMs(options.idleTimeout))
    const maxKeys = Math.max(1, Math.floor(options.maxKeys ?? defaults.maxKeys))
    const table = new KeyTable(config, idleMs, maxKeys)
    const meter = new InstanceMetrics(metrics, options.name ?? `protection-${++unnamed}`)
    const hub = yield* Effect.acquireRelease(
      PubSub.sliding<StateChange>(Math.max(1, options.changesCapacity ?? defaults.changesCapacity)),
      PubSub.shutdown
    )

    /** Phase changes to the hub and the debug log (only run when there are some). */
    const announce = (changes: ReadonlyArray<StateChange>) =>
      Effect.zipRight(
        PubSub.publishAll(hub, changes),
        Effect.forEach(changes, (c) =>
          Effect.logDebug("circuit phase change").pipe(
            Effect.annotateLogs({ key: c.key, from: c.from, to: c.to, generation: c.generation })
          ), { discard: true })
      )

    /** Phase changes of the current synchronous step (everything between two Effect steps is atomic). */
    let pending: Array<StateChange> = []
    const flushPending = <A, E, R>(next: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
      if (pending.length === 0) return next
      const changes = pending
      pending = []
      return Effect.zipRight(announce(changes), next)
    }

    /** Records the end of an admitted call with `draw`, then hands back the call's own `exit`. */
    const settle = <A, E>(
      call: Call,
      outcome: CircuitBreaker.Outcome<unknown>,
      end: number,
      exit: Exit.Exit<A, E>,
      draw: number
    ): Effect.Effect<A, E> => {
      const { entry, labels } = call
      entry.release(call.fiber)
      entry.lastUsed = end
      const done = KeyProtection.complete(entry.state, call.ticket, outcome, end, draw)
      if (!entry.evicted) table.step(call.key, entry, done.state, end, pending) // else: the result belongs to nobody
      meter.gauge(table.notClosedCount, labels)
      if (done.kind === "success") metrics.successes.unsafeUpdate(1, labels)
      else if (done.kind !== "excluded") metrics.failures.unsafeUpdate(1, labels)
      return flushPending(exit)
    }

    /**
     * Completes an admitted call with its `exit`. Synchronous unless the step reads a draw from
     * `Random` (a counted failure may trip the breaker; a ramp may fail).
     */
    const finish = <A, E>(call: Call, exit: Exit.Exit<A, E>): Effect.Effect<A, E> => {
      const end = call.clock.unsafeCurrentTimeMillis()
      const outcome = outcomeOf(exit, end - call.ticket.startedAt)
      const state = call.entry.state
      return KeyProtection.completeReadsDraw(state, KeyProtection.classify(state, outcome, end))
        ? Effect.flatMap(Random.next, (draw) => settle(call, outcome, end, exit, draw))
        : settle(call, outcome, end, exit, unusedDraw)
    }

    /**
     * Admits a call of `key` with `draw` and runs it, or rejects it. `restore` is the mask's when called
     * inside `uninterruptibleMask`; without it (`undefined`), a breaker found not closed sends the call
     * down the masked path, since its admission may take a half-open probe slot.
     */
    const begin = <A, E, R>(
      fiber: Fiber.RuntimeFiber<unknown, unknown>,
      restore: (<AX, EX, RX>(effect: Effect.Effect<AX, EX, RX>) => Effect.Effect<AX, EX, RX>) | undefined,
      key: string,
      effect: Effect.Effect<A, E, R>,
      known: Entry | undefined,
      draw: number
    ): Effect.Effect<A, E | ProtectionRejection, R> => {
      if (restore === undefined && known !== undefined && known.state.breaker.state !== "closed") {
        return executeMasked(key, effect)
      }
      const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
      const labels = meter.labels(fiber.getFiberRef(FiberRef.currentMetricLabels))
      const now = clock.unsafeCurrentTimeMillis()
      const entry = table.touch(key, now, known)
      table.maybeSweep(now)
      const admission = KeyProtection.admit(entry.state, now, draw)
      table.step(key, entry, admission.state, now, pending)
      meter.gauge(table.notClosedCount, labels)
      if (admission._tag === "Rejected") {
        meter.rejection(admission.reason, labels)
        return flushPending(Effect.fail(rejectionOf(key, admission)))
      }
      entry.runners.push(fiber)
      metrics.calls.unsafeUpdate(1, labels)
      const call = new Call(key, entry, admission, fiber, clock, labels)
      return flushPending(Effect.matchCauseEffect(
        restore === undefined ? effect : restore(effect),
        handlers(
          (a: A) => finish(call, Exit.succeed(a)),
          (cause: Cause.Cause<E>) => finish(call, Exit.failCause(cause))
        )
      ))
    }

    /** Draws first when admission reads a draw (a ramp runs); the entry is looked up again after it. */
    const admitWith = <A, E, R>(
      fiber: Fiber.RuntimeFiber<unknown, unknown>,
      restore: (<AX, EX, RX>(effect: Effect.Effect<AX, EX, RX>) => Effect.Effect<AX, EX, RX>) | undefined,
      key: string,
      effect: Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | ProtectionRejection, R> => {
      const known = table.entries.get(key)
      return known !== undefined && KeyProtection.admitReadsDraw(known.state)
        ? Effect.flatMap(Random.next, (draw) => begin(fiber, restore, key, effect, table.entries.get(key), draw))
        : begin(fiber, restore, key, effect, known, unusedDraw)
    }

    /**
     * A call whose admission may take a half-open probe slot: admission and the handler that completes
     * the call are installed uninterruptibly, and the call runs `restore`d to the caller's
     * interruptibility, so an admitted probe always releases its slot.
     */
    const executeMasked = <A, E, R>(key: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | ProtectionRejection, R> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.withFiberRuntime<A, E | ProtectionRejection, R>((fiber) => admitWith(fiber, restore, key, effect))
      )

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
    const execute = <A, E, R>(key: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | ProtectionRejection, R> =>
      Effect.withFiberRuntime<A, E | ProtectionRejection, R>((fiber) => admitWith(fiber, undefined, key, effect))

    const reportAt = (key: string, now: number) => {
      const entry = table.entries.get(key)
      return { entry, report: ProtectionStatus.report(entry?.state ?? KeyProtection.make(config, now), now) }
    }

    const status = (key: string) =>
      Effect.map(Clock.currentTimeMillis, (now): KeyStatus => {
        const { entry, report } = reportAt(key, now)
        return { key, tracked: entry !== undefined, ...report, summary: ProtectionStatus.summary(key, report) }
      })

    const overall = Effect.map(Clock.currentTimeMillis, (now): OverallStatus => {
      const reports = Array.from(table.entries.values(), (entry) => ProtectionStatus.report(entry.state, now))
      const o = ProtectionStatus.overall(reports)
      return { ...o, summary: ProtectionStatus.overallSummary(o) }
    })

    const publishNow = (changes: ReadonlyArray<StateChange>) =>
      Effect.withFiberRuntime<void>((fiber) => {
        meter.gauge(table.notClosedCount, meter.labels(fiber.getFiberRef(FiberRef.currentMetricLabels)))
        return changes.length === 0 ? Effect.void : announce(changes)
      })

    const manual = (key: string, f: (s: KeyProtection.KeyProtection, now: number, draw: number) => KeyProtection.KeyProtection) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const draw = yield* Random.next
        const changes: Array<StateChange> = []
        const entry = table.touch(key, now)
        table.step(key, entry, f(entry.state, now, draw), now, changes)
        yield* publishNow(changes)
      })

    const snapshot = Effect.map(
      Clock.currentTimeMillis,
      (now) => Array.from(table.entries, ([key, entry]) => [key, KeyProtection.toSnapshot(entry.state, now)] as const)
    )

    const restoreAll = (list: Iterable<readonly [string, KeyProtection.Snapshot]>) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const changes: Array<StateChange> = []
        for (const [key, snap] of list) {
          const entry = table.touch(key, now)
          table.step(key, entry, KeyProtection.fromSnapshot(config, snap, now), now, changes)
        }
        yield* publishNow(changes)
      })

    return Protection.of({
      name: meter.name,
      execute,
      status,
      overall,
      changes: Stream.fromPubSub(hub),
      subscribe: PubSub.subscribe(hub),
      reset: (key) => manual(key, (s, now) => KeyProtection.reset(s, now)),
      trip: (key) => manual(key, (s, now, draw) => KeyProtection.trip(s, now, draw)),
      snapshot,
      restore: restoreAll
    })
  })
