/**
 * The fresh process of `load-30k` and its floor rows (see `load30k.ts`). It runs what users run:
 * `load30k.ts` compiles this file to plain JavaScript (`bench/dist/load30kChild.mjs`, esbuild, no
 * bundling), and `node --expose-gc bench/dist/load30kChild.mjs <file> <rounds> [variant,…]` imports the packages'
 * built `dist/`. One warm-up round, then `rounds` rounds; a round runs every variant once, in an order
 * rotated every round (interleaved samples), each after a full collection, on the same heap; with
 * `rounds` 0, the first variant named runs once, cold, as the process's first work after its modules
 * load (what a node starting on its cache does). Prints one JSON line: per variant and round, the CPU
 * time (user + system, every thread: the garbage collector's helper threads included, not the wait
 * for a core on a busy machine), the wall time and the main thread's garbage collection time, in ms,
 * and the number of peers each variant's result holds.
 *
 * Variants, each a prefix of the work any decode that gives the public table must do:
 * - `baseline`: `JSON.parse(readFileSync(file))`.
 * - `floor-parse`: the file read, its checksum verified (SHA-256 of the text with its digits zeroed,
 *   hashed in parts), its peer lines found and parsed in runs of 256 (one `JSON.parse` each, as the
 *   decoder does); the parsed values are dropped run by run.
 * - `floor-table`: `floor-parse`, and every parsed peer made into objects of the public records' shape
 *   (a `PeerRecord` literal, its address array, an `AddressRecord` literal, a `PeerAddress` of ten
 *   fields with its key, host and netgroup strings, the options as one-field `Some`s) inserted in a
 *   persistent `HashMap` (transient while built): no value checked, the address split naively.
 * - `floor-validate`: `floor-table` with every address through `PeerAddress.parse` (the multiaddr and
 *   its peer id validated, the host classified) and every count checked: what a decode must do at least.
 * - `decode`: `CacheFile.decode` of the text read (with `CacheStore.sha256` and its parts form).
 * - `store-open`: `CacheStore.make` (read-only) on the file and its `snapshot` (what `load-30k` times).
 */
import { readFileSync } from "node:fs"
import { createHash } from "node:crypto"
import { performance } from "node:perf_hooks"
import { GCProfiler } from "node:v8"

const [file = "", roundsArg = "5", only] = process.argv.slice(2)
const rounds = Number(roundsArg)

const { CacheFile, PeerAddress, PeerTable } = await import("@bootstrap-cache/core")
const { CacheStore } = await import("@bootstrap-cache/node")
const NodeContext = await import("@effect/platform-node/NodeContext")
const Duration = await import("effect/Duration")
const Effect = await import("effect/Effect")
const Either = await import("effect/Either")
const HashMap = await import("effect/HashMap")
const Layer = await import("effect/Layer")
const Logger = await import("effect/Logger")
const LogLevel = await import("effect/LogLevel")
const Option = await import("effect/Option")

const gc = (globalThis as { gc?: (options?: { type: "minor"; execution: "sync" }) => void }).gc
if (gc === undefined) throw new Error("run with --expose-gc")

/** `Option.some` in one field (a constructor over `Option.some`'s prototype), as the decoder makes them. */
function Some(this: { value: unknown }, value: unknown) {
  this.value = value
}
Some.prototype = Object.getPrototypeOf(Option.some(0)) as object
const some = (value: unknown): object => new (Some as unknown as new(v: unknown) => object)(value)
const NONE = Option.none()

/** A `PeerAddress` of ten fields, made by a constructor over the class's prototype, nothing checked. */
function Address(this: Record<string, unknown>, multiaddr: string) {
  const parts = multiaddr.split("/")
  const hostKind = parts[1]!
  const host = parts[2]!
  const port = Number(parts[4])
  const transport = parts.length > 5 && parts[5] !== "p2p" ? `${parts[3]}/${parts[5]}` : parts[3]!
  this.multiaddr = multiaddr
  this.peerId = NONE
  this.hostKind = hostKind
  this.host = host
  this.port = some(port)
  this.transport = transport
  this.relayed = false
  this.scope = "public"
  this.netgroup = `ip4:${host.slice(0, host.indexOf(".", host.indexOf(".") + 1))}`
  this.key = [hostKind, host, port, transport].join("/")
}
Address.prototype = PeerAddress.PeerAddress.prototype

const sha256 = CacheStore.sha256
const hashParts = (parts: ReadonlyArray<string>): string => {
  const h = createHash("sha256")
  for (const p of parts) h.update(p)
  return h.digest("hex")
}

/** Reads the file, verifies its checksum and calls `each` on every parsed peer, in runs of 256 lines. */
const parseLines = (each: (peer: ReadonlyArray<any>, sources: ReadonlyArray<unknown>) => void): number => {
  const text = readFileSync(file, "utf8")
  const first = text.indexOf("\n")
  const header = JSON.parse(`${text.slice(0, first)}]}`) as { checksum: string; sources: Array<unknown> }
  const at = text.indexOf(`"checksum":"`) + 12
  if (hashParts([text.slice(0, at), "0".repeat(64), text.slice(at + 64)]) !== header.checksum) throw new Error("checksum")
  const starts: Array<number> = []
  const end = text.length - 4
  for (let i = first + 1; i <= end;) {
    starts.push(i)
    const next = text.indexOf("\n", i)
    if (next === end) break
    i = next + 1
  }
  for (let i = 0; i < starts.length; i += 256) {
    const to = Math.min(starts.length, i + 256)
    const run = JSON.parse(`[${text.slice(starts[i]!, to < starts.length ? starts[to]! - 2 : end)}]`) as Array<ReadonlyArray<any>>
    for (let j = 0; j < run.length; j++) each(run[j]!, header.sources)
  }
  return starts.length
}

const CAPABILITIES = { relay: false, coordinator: false, bootstrap: false, symmetricNat: false }

/**
 * The parsed peers as records of the public shape, each address made by `address`: in a `HashMap`
 * (`map`), else in a plain array beside their keys (giving how many). With `check`, a peer with a count
 * that is not one is left out.
 */
const table = (address: (multiaddr: string) => unknown, check: boolean, map = true) => {
  const plain: Array<unknown> = []
  let peers = HashMap.beginMutation(HashMap.empty<string, unknown>())
  let lists = new Map<number | string, ReadonlyArray<unknown>>()
  let entry: unknown
  const someEntry = () => some(entry) as never
  parseLines((u, sources) => {
    const encoded = u[3] as ReadonlyArray<ReadonlyArray<any>>
    const addresses = new Array(encoded.length)
    for (let i = 0; i < encoded.length; i++) {
      const a = encoded[i]!
      if (check && !(Number.isSafeInteger(a[1]) && Number.isSafeInteger(a[2]) && Number.isSafeInteger(a[3]) && a[1] >= 0 && a[2] >= 0 && a[3] >= 0)) return
      const success = a[4] === null ? NONE : some(a[4])
      addresses[i] = {
        address: address(a[0]),
        successes: a[1],
        failures: a[2],
        consecutiveFailures: a[3],
        lastSuccess: success,
        lastFailure: a[5] === null || a[5] === undefined ? NONE : some(a[5]),
        lastSeen: a[6] === a[4] ? success : some(a[6]),
        rttMs: a[7] === null || a[7] === undefined ? NONE : some(a[7]),
        bytesTransferred: a[8] ?? 0
      }
    }
    if (check && !(Number.isSafeInteger(u[1]) && Number.isSafeInteger(u[2]))) return
    const indices = u[6] as Array<number>
    const listKey = indices.length === 1 ? indices[0]! : indices.length === 2 ? -1 - (indices[0]! * 1024 + indices[1]!) : indices.join(",")
    let list = lists.get(listKey)
    if (list === undefined) lists.set(listKey, list = indices.map((i) => sources[i]))
    const record = { peerId: NONE, addresses, protocols: u[5], capabilities: CAPABILITIES, sources: list, firstSeen: u[1], lastSeen: u[2] }
    const key = ["addr", (addresses[0].address as { key: string }).key].join(":")
    if (!map) {
      plain.push(key, record)
      return
    }
    entry = record
    peers = HashMap.modifyAt(peers, key, someEntry)
  })
  lists = new Map()
  return map ? HashMap.endMutation(peers) : plain.length / 2
}

const platform = Layer.mergeAll(NodeContext.layer, Logger.minimumLogLevel(LogLevel.Error))
const open = Effect.scoped(Effect.gen(function*() {
  const store = yield* CacheStore.make({ path: file, flushInterval: Duration.infinity, readOnly: true })
  return PeerTable.size(yield* store.snapshot)
}))

const variants: Record<string, () => unknown> = {
  "baseline": () => JSON.parse(readFileSync(file, "utf8")),
  "floor-parse": () => parseLines(() => undefined),
  "floor-objects": () => table((m) => new (Address as unknown as new(m: string) => unknown)(m), false, false),
  "floor-table": () => table((m) => new (Address as unknown as new(m: string) => unknown)(m), false),
  "floor-validate": () => table((m) => Either.getOrThrow(PeerAddress.parse(m)), true),
  "decode": () => Either.getOrThrow(CacheFile.decode(readFileSync(file, "utf8"), { hash: sha256, hashParts })).table,
  "store-open": () => Effect.runPromise(Effect.provide(open, platform))
}

/** How many peers a variant's result holds (checked by the parent: every variant must see every peer). */
const sizeOf = (u: unknown): number =>
  typeof u === "number"
    ? u
    : HashMap.isHashMap(u)
    ? HashMap.size(u)
    : PeerTable.isPeerTable(u)
    ? PeerTable.size(u)
    : (u as { peers: ReadonlyArray<unknown> }).peers.length

/**
 * Runs one variant (after a full collection, unless `cold`): its CPU and wall ms, the ms of garbage
 * collection on the main thread in its window (`v8.GCProfiler`), and how many peers its result holds.
 * The result is dropped when this returns (held by no frame of the loop, so the next variant does not
 * run beside it).
 */
const measure = async (name: string): Promise<{ cpu: number; wall: number; gc: number; size: number }> => {
  if (!cold) gc()
  const profiler = new GCProfiler()
  profiler.start()
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  const result = await variants[name]!()
  const t = performance.now() - t0
  const c = process.cpuUsage(c0)
  // Each collection's cost is in µs.
  const collected = profiler.stop().statistics.reduce((ms, s) => ms + s.cost / 1000, 0)
  return { cpu: (c.user + c.system) / 1000, wall: t, gc: collected, size: sizeOf(result) }
}

const names = only === undefined ? Object.keys(variants) : only.split(",")
/** `rounds` 0: one cold run of the first variant, the process's first work after its modules load. */
const cold = rounds === 0
const series = () => Object.fromEntries(names.map((n) => [n, [] as Array<number>]))
const cpu = series()
const wall = series()
const gcTime = series()
const sizes: Record<string, number> = {}
for (let r = cold ? 1 : 0; r <= Math.max(1, rounds); r++) {
  for (let k = 0; k < (cold ? 1 : names.length); k++) {
    const name = cold ? names[0]! : names[(k + r) % names.length]!
    const m = await measure(name)
    sizes[name] = m.size
    if (r === 0) continue
    cpu[name]!.push(m.cpu)
    wall[name]!.push(m.wall)
    gcTime[name]!.push(m.gc)
  }
}
console.log(JSON.stringify({ mode: "load", result: { cpu, wall, gc: gcTime, sizes } }))
