/**
 * The fresh process of `breaker-overhead` (see `breakerOverhead.ts`). It runs what users run:
 * `breakerOverhead.ts` compiles this file to plain JavaScript (`bench/dist/breakerOverheadChild.mjs`,
 * esbuild, no bundling), and `node bench/dist/breakerOverheadChild.mjs <mode> <calls> <rounds>` imports
 * the packages' built `dist/`. Every process loads the same modules and builds every variant, whatever
 * it measures, so all variants run on the same heap.
 *
 * Modes:
 * - `time`: warms every variant, then `rounds` rounds; a round times one loop of `calls` calls of each
 *   variant, in an order rotated every round (interleaved samples). Prints one JSON line: per variant,
 *   the CPU time (user + system, every thread: what the calls cost, not how long they waited for a core
 *   on a busy machine) of each round's loop, in ns per call.
 * - `alloc`: per variant, the bytes allocated per call (V8's sampling heap profiler, every 64 bytes,
 *   counting objects that garbage collection already freed). Prints one JSON line.
 *
 * Variants: a bare awaited promise; cockatiel 3 (`circuitBreaker.execute`), also with an `onSuccess`
 * listener (it then times each call); opossum 8 (`fire`); a bare `Effect` step; `effect-floor`, the
 * call shape of `Protection.execute` with no bookkeeping (`withFiberRuntime`, a clock read, the effect
 * under `matchCauseEffect`, a clock read in the handler, its exit); `Protection.execute`; and the pure
 * step (`KeyProtection.admit` + `complete` of a success, epoch-ms times).
 */
import type * as EffectType from "effect/Effect"
import { Session } from "node:inspector/promises"

const [mode = "time", callsArg = "20000", roundsArg = "15"] = process.argv.slice(2)
const calls = Number(callsArg)
const rounds = Number(roundsArg)

const { KeyProtection } = await import("@bootstrap-cache/core")
const { Protection } = await import("@bootstrap-cache/node")
const { ConsecutiveBreaker, circuitBreaker, handleAll } = await import("cockatiel")
const { default: Opossum } = await import("opossum")
const Clock = await import("effect/Clock")
const Context = await import("effect/Context")
const Effect = await import("effect/Effect")
const Exit = await import("effect/Exit")

let sink = 0
const task = () => Promise.resolve(1)

const protection = await Effect.runPromise(Effect.scoped(Protection.make({})))
const cockatiel = circuitBreaker(handleAll, { halfOpenAfter: 60_000, breaker: new ConsecutiveBreaker(5) })
const cockatielTimed = circuitBreaker(handleAll, { halfOpenAfter: 60_000, breaker: new ConsecutiveBreaker(5) })
cockatielTimed.onSuccess(({ duration }) => {
  sink += duration
})
const opossum = new Opossum(task, { timeout: false, resetTimeout: 60_000, errorThresholdPercentage: 50 })

const bare = Effect.succeed(1)

/** `Protection.execute`'s call shape with nothing counted: the floor of an Effect-built breaker. */
const floor = <A, E, R>(effect: EffectType.Effect<A, E, R>): EffectType.Effect<A, E, R> =>
  Effect.withFiberRuntime<A, E, R>((fiber) => {
    const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
    const start = clock.unsafeCurrentTimeMillis()
    return Effect.matchCauseEffect(effect, {
      onSuccess: (a) => {
        sink += clock.unsafeCurrentTimeMillis() - start
        return Exit.succeed(a)
      },
      onFailure: (cause) => Exit.failCause(cause)
    })
  })

const effectLoop = (call: () => EffectType.Effect<number, unknown>) => () =>
  Effect.runPromise(Effect.gen(function*() {
    let sum = 0
    for (let i = 0; i < calls; i++) sum += yield* call()
    return sum
  }))

const promiseLoop = (call: () => Promise<number>) => async () => {
  let sum = 0
  for (let i = 0; i < calls; i++) sum += await call()
  return sum
}

const success = { _tag: "Success", durationMs: 0 } as const
const epochMs = 1_765_000_000_000
const pureLoop = async () => {
  let state = KeyProtection.make({}, epochMs)
  for (let i = 0; i < calls; i++) {
    const admission = KeyProtection.admit(state, epochMs + i, 0.5)
    if (admission._tag === "Admitted") state = KeyProtection.complete(admission.state, admission, success, epochMs + i, 0.5).state
  }
  return state.breaker.counts.requests
}

const variants: Record<string, () => Promise<unknown>> = {
  "promise-bare": promiseLoop(task),
  "cockatiel": promiseLoop(() => cockatiel.execute(task)),
  "cockatiel-timed": promiseLoop(() => cockatielTimed.execute(task)),
  "opossum": promiseLoop(() => opossum.fire() as Promise<number>),
  "effect-bare": effectLoop(() => bare),
  "effect-floor": effectLoop(() => floor(bare)),
  "protected": effectLoop(() => protection.execute("peer", bare)),
  "pure-step": pureLoop
}
const names = Object.keys(variants)

const cpuNsPerCall = async (run: () => Promise<unknown>): Promise<number> => {
  const start = process.cpuUsage()
  const out = await run()
  const used = process.cpuUsage(start)
  sink += out === undefined ? 0 : 1
  return ((used.user + used.system) * 1_000) / calls
}

const time = async () => {
  const samples: Record<string, Array<number>> = Object.fromEntries(names.map((n) => [n, []]))
  for (let w = 0; w < 3; w++) for (const name of names) await variants[name]!()
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(r + k) % names.length]!
      samples[name]!.push(await cpuNsPerCall(variants[name]!))
    }
  }
  return samples
}

interface ProfileNode {
  readonly selfSize: number
  readonly children: ReadonlyArray<ProfileNode>
}
const totalSize = (node: ProfileNode): number => node.children.reduce((sum, c) => sum + totalSize(c), node.selfSize)

const alloc = async () => {
  const session = new Session()
  session.connect()
  await session.post("HeapProfiler.enable")
  const bytes: Record<string, number> = {}
  for (const name of names) {
    for (let w = 0; w < 3; w++) await variants[name]!()
    await session.post("HeapProfiler.startSampling", {
      samplingInterval: 64,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true
    } as never)
    await variants[name]!()
    const { profile } = await session.post("HeapProfiler.stopSampling")
    bytes[name] = totalSize(profile.head as ProfileNode) / calls
  }
  session.disconnect()
  return bytes
}

const result = mode === "alloc" ? await alloc() : await time()
opossum.shutdown()
console.log(JSON.stringify({ mode, result, sink: sink > 0 }))
process.exit(0)
