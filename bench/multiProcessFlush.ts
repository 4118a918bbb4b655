/**
 * `multi-process-flush`: flushes per second when 4 processes share one cache file. Each is a real
 * `node --import tsx` process (`bench/multiProcessWorker.ts`) that opens the store on the file, then —
 * all released at once — records one success for its own address and flushes, M times. The file
 * holds 1,000 peers written by the store. Baseline: the same M flushes from one process alone, so the
 * ratio (baseline / value, lower is better) is the cost of lock contention.
 *
 * Then the file is read: each process's address must have gained exactly M successes. Any shortfall
 * is reported as `lost` and fails the run.
 */
import { CacheFile, PeerAddress, PeerTable } from "@bootstrap-cache/core"
import { CacheStore } from "@bootstrap-cache/node"
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { Result } from "./harness.js"
import { writeStoreFile } from "./storeFiles.js"

const WORKER = fileURLToPath(new URL("./multiProcessWorker.ts", import.meta.url))
const ROOT = fileURLToPath(new URL("..", import.meta.url))

interface Child {
  readonly ready: Promise<void>
  readonly done: Promise<number>
  readonly go: () => void
  readonly kill: () => void
}

const startWorker = (file: string, multiaddr: string, count: number): Child => {
  const child = spawn(process.execPath, ["--conditions=@bootstrap-cache/source", "--import", "tsx", WORKER, file, multiaddr, String(count)], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "pipe"]
  })
  let out = ""
  let err = ""
  let onReady: () => void = () => undefined
  const ready = new Promise<void>((resolve) => (onReady = resolve))
  child.stdout.on("data", (chunk) => {
    out += String(chunk)
    if (/^ready$/m.test(out)) onReady()
  })
  child.stderr.on("data", (chunk) => (err += String(chunk)))
  child.stdin.on("error", () => undefined) // a worker that died before "go" closes its stdin
  const done = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`worker ${multiaddr} did not finish in 5 minutes; stderr: ${err}`))
    }, 300_000)
    child.on("error", (e) => {
      clearTimeout(timer)
      reject(new Error(`worker ${multiaddr} could not start: ${e.message}`))
    })
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      const m = /^done ([\d.]+)$/m.exec(out)
      if (code === 0 && m !== null) resolve(Number(m[1]))
      else reject(new Error(`worker ${multiaddr} exited ${code ?? signal}: ${err.trim() || out.trim()}`))
    })
  })
  // A worker that dies before it is ready must not leave `ready` pending forever.
  done.catch(() => onReady())
  return { ready, done, go: () => child.stdin.end("go\n"), kill: () => child.kill("SIGKILL") }
}

const successesOf = (file: string, address: PeerAddress.PeerAddress): number => {
  const decoded = Either.getOrThrow(CacheFile.decode(readFileSync(file, "utf8"), { hash: CacheStore.sha256 }))
  return Option.match(PeerTable.lookupAddress(decoded.table, address), {
    onNone: () => 0,
    onSome: ({ record }) => record.successes
  })
}

/** Runs `addresses.length` workers of `count` flushes each; wall ms from the release to the last exit, and lost outcomes. */
const round = async (file: string, addresses: ReadonlyArray<PeerAddress.PeerAddress>, count: number) => {
  const before = addresses.map((a) => successesOf(file, a))
  const children = addresses.map((a) => startWorker(file, a.multiaddr, count))
  try {
    await Promise.all(children.map((c) => c.ready))
    const start = performance.now()
    for (const c of children) c.go()
    const loops = await Promise.all(children.map((c) => c.done))
    const wallMs = performance.now() - start
    const after = addresses.map((a) => successesOf(file, a))
    const lost = addresses.reduce((n, _, i) => n + Math.max(0, before[i]! + count - after[i]!), 0)
    return { wallMs, loops, lost }
  } catch (e) {
    for (const c of children) c.kill()
    throw e
  }
}

export const run = async (quick: boolean): Promise<Array<Result>> => {
  const processes = 4
  const count = quick ? 10 : 40
  const stored = await writeStoreFile(1_000, "mp")
  try {
    const addresses = stored.addresses.slice(0, processes)
    const alone = await round(stored.file, addresses.slice(0, 1), count)
    const shared = await round(stored.file, addresses, count)
    const lost = alone.lost + shared.lost
    const value = (processes * count) / (shared.wallMs / 1000)
    const baseline = count / (alone.wallMs / 1000)
    return [{
      name: "multi-process-flush",
      value,
      unit: "flushes/s",
      baseline,
      baselineName: "the same flushes from one process alone",
      ratio: baseline / value,
      lost,
      note: `${processes} processes × ${count} record+flush on one ${stored.peers}-peer file: ${processes * count} flushes in ` +
        `${shared.wallMs.toFixed(0)} ms (slowest process ${Math.max(...shared.loops).toFixed(0)} ms); alone ${count} in ` +
        `${alone.wallMs.toFixed(0)} ms; lost outcomes: ${lost}`
    }]
  } finally {
    stored.dispose()
  }
}
