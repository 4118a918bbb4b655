import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import { makeWith } from "../src/internal/protection/service.js"
import * as Protection from "../src/Protection.js"

// The steady path (a closed key counts its calls in a mutable run, see `internal/protection/table.ts`)
// against the reference that takes the full pure steps for every call: the same generated calls, at
// the same TestClock times, must give the same results, statuses, snapshots, metrics and changes.

const KEYS = ["a", "b", "c"] as const

type Step =
  | { readonly _tag: "call"; readonly key: number; readonly outcome: "s" | "f" | "x" | "die"; readonly latencyMs: number }
  | { readonly _tag: "advance"; readonly ms: number }
  | { readonly _tag: "interrupt"; readonly pick: number }
  | { readonly _tag: "observe" }
  | { readonly _tag: "trip" | "reset"; readonly key: number }

const key = FastCheck.integer({ min: 0, max: KEYS.length - 1 })
const step: FastCheck.Arbitrary<Step> = FastCheck.oneof(
  {
    weight: 8,
    arbitrary: FastCheck.record({
      _tag: FastCheck.constant("call" as const),
      key,
      outcome: FastCheck.constantFrom("s" as const, "s" as const, "s" as const, "f" as const, "x" as const, "die" as const),
      latencyMs: FastCheck.oneof(FastCheck.constant(0), FastCheck.integer({ min: 0, max: 120 }))
    })
  },
  { weight: 5, arbitrary: FastCheck.record({ _tag: FastCheck.constant("advance" as const), ms: FastCheck.integer({ min: 0, max: 150 }) }) },
  { weight: 1, arbitrary: FastCheck.record({ _tag: FastCheck.constant("interrupt" as const), pick: FastCheck.nat() }) },
  { weight: 2, arbitrary: FastCheck.constant({ _tag: "observe" as const }) },
  { weight: 1, arbitrary: FastCheck.record({ _tag: FastCheck.constantFrom("trip" as const, "reset" as const), key }) }
)

const options = FastCheck.record({
  interval: FastCheck.constantFrom(0, 0, 250),
  slowCall: FastCheck.constantFrom("off" as const, "fixed" as const, "tuned" as const),
  failures: FastCheck.integer({ min: 1, max: 4 }),
  maxRequests: FastCheck.integer({ min: 1, max: 2 }),
  window: FastCheck.integer({ min: 1, max: 20 }),
  recovery: FastCheck.boolean(),
  idleTimeout: FastCheck.constantFrom(undefined, 400),
  maxKeys: FastCheck.constantFrom(undefined, 1, 2)
})

type Values = typeof options extends FastCheck.Arbitrary<infer A> ? A : never

let instances = 0

const optionsOf = (v: Values, name: string): Protection.ProtectionOptions => ({
  name,
  breaker: {
    interval: v.interval,
    timeout: 200,
    maxRequests: v.maxRequests,
    readyToTrip: (c) => c.consecutiveFailures >= v.failures,
    isExcluded: (e) => e === "x",
    ...(v.slowCall === "off"
      ? {}
      : { slowCall: { threshold: 50, ...(v.slowCall === "tuned" ? { autoTune: { minSamples: 3, window: 8, min: 10 } } : {}) } })
  },
  health: { window: { calls: v.window }, minSamples: 2 },
  recovery: v.recovery ? { initialRate: 0.5, successes: 3, failures: 2, maxDuration: 400, cooldown: 100 } : false,
  ...(v.idleTimeout === undefined ? {} : { idleTimeout: v.idleTimeout }),
  ...(v.maxKeys === undefined ? {} : { maxKeys: v.maxKeys })
})

/** Everything a user can see of an instance at this moment. */
const observe = (p: Protection.Protection["Type"]) =>
  Effect.gen(function*() {
    const m = Protection.metricsOf(p.name)
    const count = (c: Metric.Metric.Counter<number>) => Effect.map(Metric.value(c), (s) => s.count)
    return {
      statuses: yield* Effect.forEach(KEYS, (k) => p.status(k)),
      overall: yield* p.overall,
      snapshot: yield* p.snapshot,
      calls: yield* count(m.calls),
      successes: yield* count(m.successes),
      failures: yield* count(m.failures),
      rejections: yield* count(m.rejections),
      openBreakers: (yield* Metric.value(m.openBreakers)).value
    }
  })

/** An exit as plain data: a rejection's fields, the error, or the value. */
const plainExit = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isSuccess(exit) ? { ok: exit.value } : { cause: JSON.parse(JSON.stringify(exit.cause)) as unknown }

/** One instance driven by the test: its service, its own seeded Random, its changes and its calls in flight. */
const instance = (v: Values, countSteady: boolean) =>
  Effect.gen(function*() {
    const name = `steady-test-${++instances}`
    const p = yield* makeWith(optionsOf(v, name), countSteady)
    const changes = yield* p.subscribe
    const random = Random.make(7)
    return { p, changes, random, inFlight: [] as Array<Fiber.RuntimeFiber<unknown, unknown>>, exits: [] as Array<unknown> }
  })

type Driven = Effect.Effect.Success<ReturnType<typeof instance>>

const effectOf = (outcome: "s" | "f" | "x" | "die", latencyMs: number): Effect.Effect<string, string> => {
  const after = <A, E>(e: Effect.Effect<A, E>) => latencyMs === 0 ? e : Effect.zipRight(Effect.sleep(latencyMs), e)
  switch (outcome) {
    case "s":
      return after(Effect.succeed("ok"))
    case "f":
      return after(Effect.fail("boom"))
    case "x":
      return after(Effect.fail("x"))
    case "die":
      return after(Effect.die("defect"))
  }
}

const apply = (d: Driven, s: Step) =>
  Effect.gen(function*() {
    switch (s._tag) {
      case "call": {
        const call = Effect.withRandom(d.p.execute(KEYS[s.key]!, effectOf(s.outcome, s.latencyMs)), d.random)
        d.inFlight.push(yield* Effect.fork(Effect.onExit(call, (exit) => Effect.sync(() => d.exits.push(plainExit(exit))))))
        break
      }
      case "interrupt": {
        if (d.inFlight.length === 0) break
        const fiber = d.inFlight[s.pick % d.inFlight.length]!
        yield* Fiber.interrupt(fiber)
        break
      }
      case "trip":
        yield* Effect.withRandom(d.p.trip(KEYS[s.key]!), d.random)
        break
      case "reset":
        yield* d.p.reset(KEYS[s.key]!)
        break
      default:
        break
    }
  })

describe("Protection steady path", () => {
  it.effect.prop(
    "gives the results, statuses, snapshots, metrics and changes of the full steps, call for call",
    { v: options, steps: FastCheck.array(step, { minLength: 10, maxLength: 80 }) },
    ({ steps, v }) =>
      Effect.scoped(Effect.gen(function*() {
        const fast = yield* instance(v, true)
        const plain = yield* instance(v, false)
        for (const s of steps) {
          yield* apply(fast, s)
          yield* apply(plain, s)
          yield* Effect.yieldNow()
          if (s._tag === "advance") yield* TestClock.adjust(s.ms)
          if (s._tag === "observe") expect(yield* observe(fast.p)).toEqual(yield* observe(plain.p))
          expect(fast.exits).toEqual(plain.exits)
        }
        yield* TestClock.adjust(10_000)
        yield* Effect.forEach([...fast.inFlight, ...plain.inFlight], Fiber.await, { discard: true })
        expect(fast.exits).toEqual(plain.exits)
        expect(yield* observe(fast.p)).toEqual(yield* observe(plain.p))
        expect(yield* Queue.takeAll(fast.changes)).toEqual(yield* Queue.takeAll(plain.changes))
      })),
    { fastCheck: { seed: 23, numRuns: 150 }, timeout: 60_000 }
  )
})
