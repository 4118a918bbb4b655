/**
 * `breaker-overhead`: the cost per call of running a successful effect under `Protection.execute`
 * (breaker + health + recovery ramp, one key) minus running it bare; baselines: cockatiel 3 and opossum 8
 * protecting an equivalent promise, each also minus its bare promise. Target: at most 2× cockatiel's.
 * `breaker-overhead-vs-cockatiel-timed`: the same against cockatiel timing each call (a success
 * listener), as `Protection` does for its health window's latency samples.
 *
 * `breaker-overhead-pure-step`: one `KeyProtection.admit` + `complete` of a success (the pure core step
 * that `Protection.execute` runs), against the same cockatiel overhead. Target: no more than cockatiel's.
 */
import { KeyProtection } from "@bootstrap-cache/core"
import { Protection } from "@bootstrap-cache/node"
import CircuitBreaker from "opossum"
import { ConsecutiveBreaker, circuitBreaker, handleAll } from "cockatiel"
import * as Effect from "effect/Effect"
import { keep, type Result, timeAsync, timeSync } from "./harness.js"

export const run = async (quick: boolean): Promise<Array<Result>> => {
  const calls = quick ? 20_000 : 100_000
  const samples = quick ? 3 : 7
  const task = () => Promise.resolve(1)

  // Effect: N calls inside one running program, with and without protection.
  const protection = await Effect.runPromise(Effect.scoped(Protection.make({})).pipe(Effect.map((p) => p)))
  const bare = Effect.succeed(1)
  // Warm-up is generous and the bare loop is timed after the protected one too (the lower figure is
  // kept): a cold bare loop would flatter the overhead.
  const timing = { samples, iterations: 1, warmup: 3 }
  const effectBareLoop = () =>
    Effect.runPromise(Effect.gen(function*() {
      let sum = 0
      for (let i = 0; i < calls; i++) sum += yield* bare
      return sum
    }))
  const effectBareBefore = await timeAsync(effectBareLoop, timing)
  const effectProtected = await timeAsync(() =>
    Effect.runPromise(Effect.gen(function*() {
      let sum = 0
      for (let i = 0; i < calls; i++) sum += yield* protection.execute("peer", bare)
      return sum
    })), timing)
  const effectBare = Math.min(effectBareBefore, await timeAsync(effectBareLoop, timing))

  // Promises: N awaited calls, bare, under cockatiel and under opossum.
  const promiseBare = await timeAsync(async () => {
    let sum = 0
    for (let i = 0; i < calls; i++) sum += await task()
    return sum
  }, timing)
  const cockatiel = circuitBreaker(handleAll, { halfOpenAfter: 60_000, breaker: new ConsecutiveBreaker(5) })
  const cockatielMs = await timeAsync(async () => {
    let sum = 0
    for (let i = 0; i < calls; i++) sum += await cockatiel.execute(task)
    return sum
  }, timing)
  // cockatiel times a call (two `performance.now` reads) only for its success/failure listeners; with
  // one it does what our health window's latency samples need.
  const cockatielTimed = circuitBreaker(handleAll, { halfOpenAfter: 60_000, breaker: new ConsecutiveBreaker(5) })
  let timedMs = 0
  cockatielTimed.onSuccess(({ duration }) => {
    timedMs += duration
  })
  const cockatielTimedMs = await timeAsync(async () => {
    let sum = 0
    for (let i = 0; i < calls; i++) sum += await cockatielTimed.execute(task)
    return sum
  }, timing)
  keep(timedMs)
  const opossum = new CircuitBreaker(task, { timeout: false, resetTimeout: 60_000, errorThresholdPercentage: 50 })
  const opossumMs = await timeAsync(async () => {
    let sum = 0
    for (let i = 0; i < calls; i++) sum += (await opossum.fire()) as number
    return sum
  }, timing)
  opossum.shutdown()

  // The pure step: a loop of admit + complete on one key, time advancing 1 ms per call.
  const success = { _tag: "Success", durationMs: 0 } as const
  const pureMs = timeSync(() => {
    let state = KeyProtection.make({}, 0)
    for (let i = 0; i < calls; i++) {
      const admission = KeyProtection.admit(state, i, 0.5)
      if (admission._tag === "Admitted") state = KeyProtection.complete(admission.state, admission, success, i, 0.5).state
    }
    return state
  }, { samples, iterations: 1, warmup: 3 })

  const ns = (ms: number) => (ms * 1e6) / calls
  const ours = ns(effectProtected - effectBare)
  const cockatielNs = ns(cockatielMs - promiseBare)
  const cockatielTimedNs = ns(cockatielTimedMs - promiseBare)
  const opossumNs = ns(opossumMs - promiseBare)
  const pureNs = ns(pureMs)
  return [
    {
      name: "breaker-overhead",
      value: ours,
      unit: "ns/call",
      baseline: cockatielNs,
      baselineName: "cockatiel 3 circuitBreaker.execute",
      ratio: ours / cockatielNs,
      target: "at most 2× cockatiel's (ratio ≤ 2)",
      met: ours <= 2 * cockatielNs,
      note: `Protection.execute ${ns(effectProtected).toFixed(0)} ns/call vs bare Effect ${ns(effectBare).toFixed(0)}; cockatiel ${ns(cockatielMs).toFixed(0)} vs bare promise ${ns(promiseBare).toFixed(0)}`
    },
    {
      name: "breaker-overhead-pure-step",
      value: pureNs,
      unit: "ns/call",
      baseline: cockatielNs,
      baselineName: "cockatiel 3 circuitBreaker.execute",
      ratio: pureNs / cockatielNs,
      target: "no more than cockatiel's (ratio ≤ 1)",
      met: pureNs <= cockatielNs,
      note: "KeyProtection.admit + complete of a success, one key"
    },
    {
      name: "breaker-overhead-vs-cockatiel-timed",
      value: ours,
      unit: "ns/call",
      baseline: cockatielTimedNs,
      baselineName: "cockatiel 3 circuitBreaker.execute with an onSuccess listener (times each call)",
      ratio: ours / cockatielTimedNs,
      note: "cockatiel reads the clock twice a call only for a listener; Protection always does (the health window's latency samples)"
    },
    {
      name: "breaker-overhead-vs-opossum",
      value: ours,
      unit: "ns/call",
      baseline: opossumNs,
      baselineName: "opossum 8 CircuitBreaker.fire",
      ratio: ours / opossumNs
    }
  ]
}
