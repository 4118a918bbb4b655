/**
 * `save-30k`: one full save of a 30,000-peer cache after one change, as a node does it —
 * `CacheStore.recordSuccess` then `flush`: take the lock, read and decode the file as it is now,
 * replay the change, prune (default rules), encode with its checksum, write a temp file, `fsync`,
 * keep `.bak`, `rename`, `fsync` the directory, unlock. Baseline: writing the same bytes with
 * `open` / `write` / `fsync` / `close` (no lock, no read, no merge, no rename). Target: ratio ≤ 2.
 *
 * A second row, `save-30k-floor`, is what any save with the store's guarantees must do beyond the
 * baseline, measured alone on the same bytes in the same run: SHA-256 of the bytes, an exclusively
 * created temp file written and fsynced, the `.bak` link, the rename, the directory's fsync. The
 * store's figure minus this floor is what its own work (lock, merge, prune, encode) costs.
 *
 * A third row, `save-30k-floor-locked`, adds what the cross-process guarantees need on top: a lock
 * on a separate lock file taken exclusively (`open(…, "wx")`, the holder's pid written, closed) and
 * removed after, and a `stat` of the cache file under it (has another process written it since?).
 * It is the least a save that merges with other processes' writes can cost. `save-30k-floor-async`
 * is that same sequence through `node:fs/promises`, one call after another, as a store that never
 * blocks the event loop must make them (each call a round trip through libuv's thread pool).
 *
 * A fourth row, `save-30k-first`, is the first flush of a store just opened on the file (the whole
 * table loaded first), a while after its first change, against the same baseline: what a node pays
 * on its first flush once the store has prepared it in the background. `save-30k-first-at-once` is
 * that flush right after the change (the preparation then runs in it, in one block);
 * `save-30k-first-longest-block` the longest delay of the event loop from the change to the end of
 * the prepared flush; `save-30k-first-prepare-cpu` the process's CPU time
 * from the change to the flush (the preparation's cost).
 */
import { CacheStore } from "@bootstrap-cache/node"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { createHash } from "node:crypto"
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from "node:fs"
import * as Fsp from "node:fs/promises"
import { join } from "node:path"
import { monitorEventLoopDelay, performance } from "node:perf_hooks"
import type { PeerAddress } from "@bootstrap-cache/core"
import { median, type Result, timeAsync, timeSync } from "./harness.js"
import { platform, shared30k } from "./storeFiles.js"

/** What one first save of a fresh store measured (see {@link firstSaves}). */
interface FirstSave {
  /** recordSuccess + flush, the flush right after the change. */
  readonly atOnceMs: number
  /** The flush alone, after the preparation had the time to run. */
  readonly preparedMs: number
  /** The longest delay of the event loop (a 1 ms timer's) from the change to the end of that flush. */
  readonly longestMs: number
  /** CPU time (every thread) from the change to just before that flush: the preparation's cost. */
  readonly prepareCpuMs: number
}

/** How long a store is left to prepare its first save before it flushes (ms of wall time; ample). */
const PREPARE_WAIT_MS = 2_500
/** How long a store just loaded is left before its first change (its index built in the background). */
const SETTLE_MS = 1_000

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A store just opened on `file`, its whole table loaded; `use` runs with it, then its scope closes. */
const withFreshStore = async <A>(file: string, use: (store: CacheStore.CacheStore["Type"]) => Promise<A>): Promise<A> => {
  const scope = Effect.runSync(Scope.make())
  try {
    const store = await Effect.runPromise(
      CacheStore.make({ path: file, flushInterval: Duration.infinity }).pipe(Scope.extend(scope), Effect.provide(platform))
    )
    await Effect.runPromise(store.snapshot)
    return await use(store)
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const flushWritten = async (store: CacheStore.CacheStore["Type"]): Promise<void> => {
  const result = await Effect.runPromise(store.flush)
  if (result._tag !== "Written") throw new Error(`the first flush did not write: ${result._tag}`)
}

/**
 * The first save of fresh stores, two ways in alternation (medians over a few stores each): the flush
 * right after the first change (the preparation it triggers is finished by the flush, at once), and
 * the flush after the store had `PREPARE_WAIT_MS` to prepare it in the background (as a node does:
 * its first flush comes minutes after its first outcome), with the longest event-loop delay from the
 * change to the end of that flush and the CPU time from the change to the flush.
 */
const firstSaves = async (file: string, addresses: ReadonlyArray<PeerAddress.PeerAddress>, quick: boolean): Promise<FirstSave> => {
  const atOnce: Array<number> = []
  const prepared: Array<number> = []
  const longest: Array<number> = []
  const cpu: Array<number> = []
  for (let s = 0; s < (quick ? 1 : 5); s++) {
    const address = addresses[(s * 104_729) % addresses.length]!
    await withFreshStore(file, async (store) => {
      const start = performance.now()
      await Effect.runPromise(Effect.zipRight(store.recordSuccess(address, { rttMs: 30 }), store.flush))
      atOnce.push(performance.now() - start)
    })
    await withFreshStore(file, async (store) => {
      // The address index a decoded table builds in the background is done first: not the preparation's.
      await sleep(SETTLE_MS)
      // A timer sampling the event loop's delay every ms (a `setImmediate` chain would spin the CPU).
      const delay = monitorEventLoopDelay({ resolution: 1 })
      delay.enable()
      const cpu0 = process.cpuUsage()
      await Effect.runPromise(store.recordSuccess(address, { rttMs: 30 }))
      await sleep(PREPARE_WAIT_MS)
      const used = process.cpuUsage(cpu0)
      const start = performance.now()
      await flushWritten(store)
      prepared.push(performance.now() - start)
      delay.disable()
      cpu.push((used.user + used.system) / 1000)
      longest.push(delay.max / 1e6)
    })
  }
  return { atOnceMs: median(atOnce), preparedMs: median(prepared), longestMs: median(longest), prepareCpuMs: median(cpu) }
}

export const run = async (quick: boolean): Promise<Array<Result>> => {
  const { file, dir, peers, addresses } = await shared30k()
  const samples = quick ? 3 : 9
  const timing = { samples, iterations: 1, warmup: quick ? 1 : 2 }
  const text = readFileSync(file, "utf8")

  const plain = join(dir, "baseline.json")
  const baselineMs = timeSync(() => {
    const fd = openSync(plain, "w")
    writeSync(fd, text)
    fsyncSync(fd)
    closeSync(fd)
  }, timing)
  rmSync(plain, { force: true })

  // The floor: hash, temp file (exclusive) written and fsynced, `.bak` link, rename, directory fsync.
  const bytes = readFileSync(file)
  const target = join(dir, "floor.json")
  writeSync(openSync(target, "w"), bytes)
  let n = 0
  const atomicWrite = () => {
    createHash("sha256").update(bytes).digest("hex")
    const tmp = join(dir, `.floor.${n++}.tmp`)
    const fd = openSync(tmp, "wx")
    writeSync(fd, bytes)
    fsyncSync(fd)
    closeSync(fd)
    linkSync(target, `${tmp}.bak`)
    renameSync(`${tmp}.bak`, `${target}.bak`)
    renameSync(tmp, target)
    const d = openSync(dir, "r")
    fsyncSync(d)
    closeSync(d)
  }
  const floorMs = timeSync(atomicWrite, timing)
  // The same with a lock file taken exclusively around it and the file's stat under the lock.
  const lockFile = join(dir, "floor.json.lock")
  const holder = JSON.stringify({ pid: process.pid })
  const lockedMs = timeSync(() => {
    const fd = openSync(lockFile, "wx")
    writeSync(fd, holder)
    closeSync(fd)
    statSync(target)
    atomicWrite()
    unlinkSync(lockFile)
  }, timing)
  const asyncMs = await timeAsync(async () => {
    const lock = await Fsp.open(lockFile, "wx")
    await lock.write(holder)
    await lock.close()
    await Fsp.stat(target)
    createHash("sha256").update(bytes).digest("hex")
    const tmp = join(dir, `.floor.${n++}.tmp`)
    const f = await Fsp.open(tmp, "wx")
    await f.write(bytes)
    await f.sync()
    await f.close()
    await Fsp.link(target, `${tmp}.bak`)
    await Fsp.rename(`${tmp}.bak`, `${target}.bak`)
    await Fsp.rename(tmp, target)
    const d = await Fsp.open(dir, "r")
    await d.sync()
    await d.close()
    await Fsp.unlink(lockFile)
  }, timing)
  rmSync(target, { force: true })
  rmSync(`${target}.bak`, { force: true })

  const scope = Effect.runSync(Scope.make())
  try {
    const store = await Effect.runPromise(
      CacheStore.make({ path: file, flushInterval: Duration.infinity }).pipe(Scope.extend(scope), Effect.provide(platform))
    )
    let i = 0
    let written = 0
    const saveMs = await timeAsync(async () => {
      const result = await Effect.runPromise(
        Effect.zipRight(store.recordSuccess(addresses[(i++ * 7919) % addresses.length]!, { rttMs: 30 }), store.flush)
      )
      if (result._tag !== "Written") throw new Error(`flush did not write: ${result._tag}`)
      written = result.peers
    }, timing)
    if (written !== peers) throw new Error(`the flush wrote ${written} peers, expected ${peers}`)
    const ratio = saveMs / baselineMs
    const first = await firstSaves(file, addresses, quick)
    return [{
      name: "save-30k-floor",
      value: floorMs,
      unit: "ms",
      baseline: baselineMs,
      baselineName: "open/write/fsync/close of the same bytes",
      ratio: floorMs / baselineMs,
      note: "SHA-256 + exclusive temp file written and fsynced + .bak link + rename + directory fsync, alone: the least a save with the store's guarantees costs (no lock)"
    }, {
      name: "save-30k-floor-locked",
      value: lockedMs,
      unit: "ms",
      baseline: baselineMs,
      baselineName: "open/write/fsync/close of the same bytes",
      ratio: lockedMs / baselineMs,
      note: "save-30k-floor inside a lock file created exclusively (pid written) and removed after, with the cache file's stat under it: the least a save that merges with other processes' writes costs"
    }, {
      name: "save-30k-floor-async",
      value: asyncMs,
      unit: "ms",
      baseline: baselineMs,
      baselineName: "open/write/fsync/close of the same bytes",
      ratio: asyncMs / baselineMs,
      note: "save-30k-floor-locked through node:fs/promises, one call after another: what it costs without blocking the event loop"
    }, {
      name: "save-30k",
      value: saveMs,
      unit: "ms",
      baseline: baselineMs,
      baselineName: "open/write/fsync/close of the same bytes",
      ratio,
      target: "ratio ≤ 2",
      met: ratio <= 2,
      note: `recordSuccess + CacheStore.flush (lock, read, merge, prune, encode, write, fsync, rename) on ${peers} peers, ${(text.length / 1e6).toFixed(1)} MB`
    }, {
      name: "save-30k-first",
      value: first.preparedMs,
      unit: "ms",
      baseline: baselineMs,
      baselineName: "open/write/fsync/close of the same bytes",
      ratio: first.preparedMs / baselineMs,
      note: `the first flush of a store just opened on the file (its whole table loaded), ${PREPARE_WAIT_MS} ms after its first recordSuccess: ` +
        "the store prepared it in the background (CacheFileEncoder.prepare, Prune.memoSteps) a slice per turn of the event loop"
    }, {
      name: "save-30k-first-at-once",
      value: first.atOnceMs,
      unit: "ms",
      baseline: baselineMs,
      baselineName: "open/write/fsync/close of the same bytes",
      ratio: first.atOnceMs / baselineMs,
      note: "the first recordSuccess + flush of a store just opened on the file, the flush right after the change: it does the whole preparation at once (one block)"
    }, {
      name: "save-30k-first-longest-block",
      value: first.longestMs,
      unit: "ms",
      baseline: first.atOnceMs,
      baselineName: "save-30k-first-at-once in the same run (the preparation in one block)",
      ratio: first.longestMs / first.atOnceMs,
      note: "the longest delay of the event loop (monitorEventLoopDelay, 1 ms resolution) from a fresh store's first recordSuccess to the end of its first flush (save-30k-first's window)"
    }, {
      name: "save-30k-first-prepare-cpu",
      value: first.prepareCpuMs,
      unit: "ms",
      baseline: first.atOnceMs,
      baselineName: "save-30k-first-at-once in the same run",
      ratio: first.prepareCpuMs / first.atOnceMs,
      note: `CPU time of the process (every thread) from a fresh store's first recordSuccess to its first flush, ${PREPARE_WAIT_MS} ms later: what the background preparation costs`
    }]
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}
