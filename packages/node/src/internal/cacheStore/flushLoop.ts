/**
 * The store's background flush (every `flushInterval`) and its final flush when the scope closes,
 * bounded by `shutdownTimeout`. Both are registered in the current scope.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { CacheWriteError, FlushResult } from "../../CacheStore.js"
import { nextMacrotask } from "./diskFile.js"

export interface FlushLoopOptions {
  /** A flush whose failure has already been reported (warned once per kind). */
  readonly flush: Effect.Effect<FlushResult, CacheWriteError>
  /** How many changes are waiting: the final flush is skipped (and takes no lock) when none. */
  readonly pending: () => number
  readonly flushInterval: Duration.Duration
  readonly shutdownTimeout: Duration.Duration
  readonly warn: (message: string) => Effect.Effect<void>
  readonly info: (message: string) => Effect.Effect<void>
}

/**
 * Registers the final flush, then forks the loop: on close the loop stops first, then the final
 * flush runs. A final flush that fails is reported once per kind (by `flush`) and summed up in one
 * line; one that hangs is abandoned after `shutdownTimeout`.
 */
export const start = (o: FlushLoopOptions): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => o.pending() === 0 ? Effect.void : finalFlush(o))
    )
    if (!Duration.isFinite(o.flushInterval)) return
    // The loop also stops cooperatively: effect 3.22 can lose an interruption that arrives while a
    // fiber closes an `Effect.scoped` scope with an asynchronous finalizer (here: the lock release),
    // which would leave the scope's close waiting forever. `stop` is completed by a finalizer that
    // runs before the fiber's interruption; the loop exits at its next sleep or after its flush.
    const stop = yield* Deferred.make<void>()
    const loop = Effect.gen(function*() {
      while (true) {
        const stopped = yield* Effect.raceFirst(
          Effect.as(Effect.sleep(o.flushInterval), false),
          Effect.as(Deferred.await(stop), true)
        )
        if (stopped) return
        yield* Effect.ignore(o.flush)
        if (yield* Deferred.isDone(stop)) return
      }
    })
    // The loop's fiber begins a turn of the event loop later, so that its race and timer are set up
    // after what the caller starts at once (a warm start's first dials); no flush is due before
    // the first interval anyway.
    yield* Effect.forkScoped(Effect.zipRight(nextMacrotask, loop))
    yield* Effect.addFinalizer(() => Deferred.succeed(stop, undefined))
  })

const finalFlush = (o: FlushLoopOptions) =>
  o.flush.pipe(
    // Finalizers run uninterruptibly: the flush is made interruptible and disconnected so the
    // timeout can abandon it (it then finishes or is interrupted in the background).
    Effect.disconnect,
    Effect.interruptible,
    Effect.timeout(o.shutdownTimeout),
    Effect.catchAll((e) =>
      e._tag === "TimeoutException"
        ? o.warn(`the final flush did not finish within ${Duration.format(o.shutdownTimeout)}: abandoned`)
        : o.info(`the final flush failed (${e.code ?? e.operation}): ${o.pending()} change(s) not written`)
    )
  )
