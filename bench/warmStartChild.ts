/**
 * The fresh process of `warm-start` (see `warmStart.ts`). It runs what users run: `warmStart.ts`
 * compiles this file to plain JavaScript (`bench/dist/warmStartChild.mjs`, esbuild, no bundling), and
 * `node bench/dist/warmStartChild.mjs <mode> <cache file>` imports the packages' built `dist/`. It
 * prints one JSON line of timings (ms, from `performance.now()`, whose origin is the process start).
 * Every import is dynamic, after the first timestamp, so module loading is timed.
 *
 * Modes:
 * - `empty`: nothing (the cost of starting `node`).
 * - `effect`, `effect-subpaths`, `platform-node`: import the `effect` barrel, the subpaths the core and
 *   store use, `@effect/platform-node`.
 * - `store`: the real warm start: `CacheStore.layer` on the file (its head at once, the whole table in
 *   the background), `Bootstrap.run` (target 5, loopback dialer) → first `DialStarted`, first
 *   `DialSucceeded`, `TargetReached`, and `TableLoaded` when the whole table came in during the run
 *   (0 when the target was reached first); `headPeers`: the peers the run started on.
 * - `split`: the same steps one by one with the core's public functions: read, parse, decode
 *   (checksum, records, table), score every peer, first `Selection.select`, first dial.
 * - `head`: the head only: read the first 64 KB, `CacheFile.decodeHead`, dial the head in order with
 *   `node:net` (5 at a time) until 5 connect.
 * - `open`: `CacheStore.layer` + first `snapshot` (the libp2p client's start on a small cache).
 *
 * `store` also gives `longestBlock`: the longest turn of the event loop (ms, the largest gap between
 * two ticks of a 1 ms interval, less the interval) from the first `DialStarted` to `TargetReached`,
 * and `tableLoadedBlock`: the turn in which the machine took the whole table (its `TableLoaded` step;
 * 0 when the table came in after the target).
 *
 * `store` and `open` also give `cpu`: the CPU time (ms, user + system, every thread of the process)
 * from modules loaded to the first `DialStarted` (`store`) or to the snapshot (`open`), and `gc`: the
 * ms spent in garbage collection over the same span (`v8.GCProfiler`). On a busy machine the wall
 * time includes waiting for a core; the CPU time does not.
 */
import { performance } from "node:perf_hooks"

const started = performance.now()
const [mode = "empty", file = ""] = process.argv.slice(2)
const TARGET = 5

/** CPU ms (user + system) of the process since `since`. */
const cpuSince = (since: NodeJS.CpuUsage): number => {
  const { system, user } = process.cpuUsage(since)
  return (user + system) / 1000
}

const print = (timings: Record<string, number | string>) => {
  process.stdout.write(`${JSON.stringify({ mode, started, ...timings })}\n`)
}

/** Connects to 127.0.0.1:port; resolves true when connected, false on error (never throws). */
const connect = async (port: number): Promise<boolean> => {
  const net = await import("node:net")
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })
}

const main = async () => {
  switch (mode) {
    case "empty":
      return print({ loaded: performance.now() })
    case "effect": {
      await import("effect")
      return print({ loaded: performance.now() })
    }
    case "effect-subpaths": {
      await Promise.all([
        import("effect/Effect"),
        import("effect/Layer"),
        import("effect/Schema"),
        import("effect/HashMap"),
        import("effect/Option"),
        import("effect/Either")
      ])
      return print({ loaded: performance.now() })
    }
    case "platform-node": {
      await import("@effect/platform-node")
      return print({ loaded: performance.now() })
    }
    case "head": {
      const [{ CacheFile }, fs, { createHash }] = await Promise.all([import("@bootstrap-cache/core"), import("node:fs"), import("node:crypto")])
      const loaded = performance.now()
      const fd = fs.openSync(file, "r")
      const buffer = Buffer.alloc(65_536)
      const n = fs.readSync(fd, buffer, 0, buffer.length, 0)
      fs.closeSync(fd)
      const read = performance.now()
      const hash = (t: string) => createHash("sha256").update(t).digest("hex")
      const head = CacheFile.decodeHead(buffer.subarray(0, n).toString("utf8"), { hash })
      if (head._tag === "None") throw new Error("no head")
      const decoded = performance.now()
      const ports = head.value.records.flatMap((r) => r.addresses.filter((a) => a.address.scope === "loopback").map((a) => Number(a.address.port._tag === "Some" ? a.address.port.value : 0)))
      let firstDial = 0
      let connected = 0
      let next = 0
      await new Promise<void>((resolve, reject) => {
        const dialOne = (): void => {
          if (next >= ports.length) return connected >= TARGET ? undefined : reject(new Error(`only ${connected} connected`))
          if (firstDial === 0) firstDial = performance.now()
          void connect(ports[next++]!).then((ok) => {
            if (ok && ++connected === TARGET) resolve()
            else if (connected < TARGET) dialOne()
          })
        }
        for (let i = 0; i < TARGET; i++) dialOne()
      })
      return print({ loaded, read, decoded, firstDial, target: performance.now(), headPeers: head.value.records.length })
    }
    case "split": {
      const [{ CacheFile, PeerTable, Score, Selection }, fs, { createHash }] = await Promise.all([
        import("@bootstrap-cache/core"),
        import("node:fs"),
        import("node:crypto")
      ])
      const loaded = performance.now()
      const text = fs.readFileSync(file, "utf8")
      const read = performance.now()
      const hash = (t: string) => createHash("sha256").update(t).digest("hex")
      const json = CacheFile.parseJson(text)
      if (json._tag === "Left") throw json.left
      const parsed = performance.now()
      const decoded = CacheFile.decodeDocument(json.right, { hash })
      if (decoded._tag === "Left") throw decoded.left
      const table = decoded.right.table
      const decodedAt = performance.now()
      const now = Date.now()
      let sink = 0
      for (const peer of PeerTable.peers(table)) sink += Score.peer(peer, now)
      const scored = performance.now()
      const picks = Selection.select(table, { now, count: 10, draws: Array.from({ length: Selection.drawsNeeded(10) }, (_, i) => (i * 0.37) % 1) })
      const selected = performance.now()
      const first = picks[0]
      const firstDial = performance.now()
      if (first !== undefined && first.address.scope === "loopback" && first.address.port._tag === "Some") {
        await connect(first.address.port.value)
      }
      // The table build alone, measured again on the decoded records (warm: a lower bound).
      const records = PeerTable.toRecords(table)
      const t = performance.now()
      PeerTable.fromRecords(records)
      const tableBuild = performance.now() - t
      return print({ loaded, read, parsed, decoded: decodedAt, scored, selected, firstDial, tableBuild, peers: PeerTable.size(table), sink })
    }
    case "store":
    case "open": {
      const [{ Bootstrap, CacheStore, Dialer }, { PeerTable }, Duration, Effect, Layer, NodeContext, v8] = await Promise.all([
        import("@bootstrap-cache/node"),
        import("@bootstrap-cache/core"),
        import("effect/Duration"),
        import("effect/Effect"),
        import("effect/Layer"),
        import("@effect/platform-node/NodeContext"),
        import("node:v8")
      ])
      const collections = new v8.GCProfiler()
      collections.start()
      /** ms spent in garbage collection since modules were loaded (stops the profiler: call once). */
      const gcMs = () => collections.stop().statistics.reduce((sum, e) => sum + e.cost, 0) / 1000
      const loaded = performance.now()
      const cpuAtLoad = process.cpuUsage()
      const store = CacheStore.layer({ path: file, flushInterval: Duration.infinity, readOnly: true })
      if (mode === "open") {
        const size = await Effect.runPromise(
          Effect.flatMap(CacheStore.CacheStore, (s) => s.snapshot).pipe(Effect.scoped, Effect.provide(store), Effect.provide(NodeContext.layer))
        )
        const opened = performance.now()
        return print({ loaded, opened, cpu: cpuSince(cpuAtLoad), gc: gcMs(), peers: PeerTable.size(size) })
      }
      // Only loopback addresses are supported: nothing else is ever dialled.
      const loopbackOnly = Layer.effect(
        Dialer.Dialer,
        Effect.map(Dialer.Dialer, (d) => ({ dial: d.dial, supports: (a: { readonly scope: string }) => a.scope === "loopback" && d.supports(a as never) }))
      ).pipe(Layer.provide(Dialer.layer))
      let opened = 0
      let firstDial = 0
      let cpu = 0
      let gc = 0
      let firstConnected = 0
      let target = 0
      let tableLoaded = 0
      let headPeers = 0
      // Turns of the event loop: gaps between ticks of a 1 ms interval, while dialing.
      let lastTick = performance.now()
      let longestBlock = 0
      let tableLoadedBlock = 0
      const ticks = setInterval(() => {
        const t = performance.now()
        const block = t - lastTick - 1
        if (firstDial !== 0 && target === 0) longestBlock = Math.max(longestBlock, block)
        if (tableLoaded !== 0 && tableLoadedBlock === 0 && t > tableLoaded) tableLoadedBlock = Math.max(block, Number.MIN_VALUE)
        lastTick = t
      }, 1)
      await Effect.runPromise(
        Effect.gen(function*() {
          const s = yield* CacheStore.CacheStore
          opened = performance.now()
          return yield* Bootstrap.run(s, {
            target: TARGET,
            timeout: Duration.seconds(2),
            dialPolicy: { allowLoopback: true },
            onEvent: (e) =>
              Effect.sync(() => {
                if (e._tag === "CacheLoaded") headPeers = e.peers
                if (e._tag === "DialStarted" && firstDial === 0) {
                  firstDial = performance.now()
                  cpu = cpuSince(cpuAtLoad)
                  gc = gcMs()
                }
                if (e._tag === "DialSucceeded" && firstConnected === 0) firstConnected = performance.now()
                if (e._tag === "TableLoaded") tableLoaded = performance.now()
                if (e._tag === "TargetReached") target = performance.now()
              })
          })
        }).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(store, loopbackOnly)), Effect.provide(NodeContext.layer))
      )
      clearInterval(ticks)
      return print({ loaded, opened, firstDial, cpu, gc, firstConnected, target, tableLoaded, headPeers, longestBlock, tableLoadedBlock, ended: performance.now() })
    }
    default:
      throw new Error(`unknown mode ${mode}`)
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`)
    process.exit(1)
  }
)
