/**
 * The split of a steady `save-30k` flush, for reading rather than for the results table:
 * `node --expose-gc --conditions=@bootstrap-cache/source --import tsx bench/saveSplit.ts [flushes]`.
 *
 * A store (and its `FileLock`) runs on a `FileSystem` that times every call, a descriptor's calls
 * included. Each flush is one recordSuccess + `flush` on the shared 30,000-peer file, as in
 * `save-30k`; the tool prints the median wall and CPU time (`process.cpuUsage`: every thread of the
 * process, libuv's pool included) of a flush, its number of file-system calls, and each call in order
 * with its median start (ms from the flush's start) and duration. A gap between one call's end and
 * the next call's start is work on the main thread (the merge, prune and encode before the temp file
 * is opened) or waiting to be scheduled.
 */
import { CacheStore, FileLock } from "@bootstrap-cache/node"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { performance } from "node:perf_hooks"
import { median } from "./harness.js"
import { platform, shared30k } from "./storeFiles.js"

interface Call {
  readonly name: string
  readonly arg: string
  readonly t0: number
  readonly t1: number
}

let calls: Array<Call> = []

/** A path as printed: its last name, with random and per-process parts replaced. */
const short = (a: unknown): string =>
  typeof a === "string" ? a.split("/").pop()!.replace(/[0-9a-f]{16}/, "R").replace(/\.\d+\.\d+\./, ".P.N.") : ""

const timed = <A, E, R>(name: string, arg: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    const t0 = performance.now()
    return Effect.onExit(effect, () => Effect.sync(() => calls.push({ name, arg, t0, t1: performance.now() })))
  })

type Methods = Record<PropertyKey, unknown>

const DESCRIPTOR_CALLS = new Set(["writeAll", "readAlloc", "sync", "stat"])

/** A descriptor whose `writeAll`, `readAlloc`, `sync` and `stat` are timed. */
const timedFile = (file: FileSystem.File, arg: string): FileSystem.File =>
  new Proxy(file, {
    get(target, prop) {
      const value = (target as unknown as Methods)[prop]
      if (!DESCRIPTOR_CALLS.has(String(prop))) return value
      const name = `f.${String(prop)}`
      return typeof value === "function"
        ? (...args: Array<unknown>) => timed(name, arg, (value as (...a: Array<unknown>) => Effect.Effect<unknown>).apply(target, args))
        : timed(name, arg, value as Effect.Effect<unknown>)
    }
  })

/** `fs` with every call timed (an opened descriptor's too). */
const timedFileSystem = (fs: FileSystem.FileSystem): FileSystem.FileSystem =>
  new Proxy(fs, {
    get(target, prop) {
      const value = (target as unknown as Methods)[prop]
      if (typeof value !== "function") return value
      return (...args: Array<unknown>) => {
        const result: unknown = value.apply(target, args)
        if (!Effect.isEffect(result)) return result
        const arg = short(args[0]) + (typeof args[1] === "string" ? ` → ${short(args[1])}` : "")
        const effect = prop === "open" ? Effect.map(result as Effect.Effect<FileSystem.File>, (f) => timedFile(f, short(args[0]))) : result
        return timed(String(prop), arg, effect)
      }
    }
  })

const timedLayer = Layer.provideMerge(
  Layer.effect(FileLock.FileLock, FileLock.makeFileSystem),
  Layer.effect(FileSystem.FileSystem, Effect.map(FileSystem.FileSystem, timedFileSystem))
)

const main = async () => {
  const flushes = Number(process.argv[2] ?? 40)
  const { file, addresses } = await shared30k()
  const scope = Effect.runSync(Scope.make())
  const store = await Effect.runPromise(
    CacheStore.make({ path: file, flushInterval: Duration.infinity }).pipe(Scope.extend(scope), Effect.provide(timedLayer), Effect.provide(platform))
  )
  const runs: Array<{ readonly calls: Array<Call>; readonly start: number; readonly wall: number; readonly cpu: number }> = []
  for (let i = 0; i < flushes + 3; i++) {
    await Effect.runPromise(store.recordSuccess(addresses[(i * 7919) % addresses.length]!, { rttMs: 30 }))
    calls = []
    const cpu0 = process.cpuUsage()
    const start = performance.now()
    await Effect.runPromise(store.flush)
    const wall = performance.now() - start
    const cpu = process.cpuUsage(cpu0)
    // The first flushes warm the encoder and the JIT up.
    if (i >= 3) runs.push({ calls, start, wall, cpu: (cpu.user + cpu.system) / 1000 })
  }
  await Effect.runPromise(Scope.close(scope, Exit.void))
  console.log(
    `${runs.length} flushes: wall ${median(runs.map((r) => r.wall)).toFixed(2)} ms, CPU ${median(runs.map((r) => r.cpu)).toFixed(2)} ms, ` +
      `${median(runs.map((r) => r.calls.length))} file-system calls (medians)`
  )
  const byPlace = new Map<string, { readonly at: Array<number>; readonly took: Array<number> }>()
  for (const r of runs) {
    ;[...r.calls].sort((a, b) => a.t0 - b.t0).forEach((c, k) => {
      const key = `${String(k).padStart(2)} ${c.name}(${c.arg})`
      const slot = byPlace.get(key) ?? { at: [], took: [] }
      slot.at.push(c.t0 - r.start)
      slot.took.push(c.t1 - c.t0)
      byPlace.set(key, slot)
    })
  }
  for (const [key, { at, took }] of byPlace) {
    if (at.length < runs.length / 2) continue
    console.log(`${key.padEnd(62)} at ${median(at).toFixed(2).padStart(7)} ms  took ${median(took).toFixed(2).padStart(6)} ms`)
  }
}

main()
