/**
 * `libp2p-warm-vs-cold`: a js-libp2p node joining a network of real js-libp2p nodes on 127.0.0.1
 * (TCP, noise, yamux, identify) from one 30-entry list — 20 live nodes, 5 stopped (their ports
 * refuse) and 5 silent peers (TCP servers that accept and never speak) — with this repo's
 * `CacheDiscovery` on a warm cache against `@libp2p/bootstrap` on the same list, in the same run.
 *
 * Each sample: a fresh cache file; `CacheDiscovery` cold (the list seeds the cache; not the figure),
 * stop; `CacheDiscovery` warm (a new node on the file the cold start saved: a restarted node); a node
 * with `@libp2p/bootstrap` (`timeout: 0`, so it dials at once). Time is measured from `createLibp2p`
 * to the fifth connected peer; dials to dead peers are counted by the node's connection gater
 * (`denyDialMultiaddr`, which allows every dial) over the first 2 s of each node's life.
 *
 * Rows: `libp2p-warm-vs-cold` (median ms to 5 peers, warm / @libp2p/bootstrap) and
 * `libp2p-dead-dials` (median dials to dead peers, warm vs @libp2p/bootstrap). The cache runs with
 * its defaults (ε = 0.1 exploration, 250 ms stagger, 2 s dial timeout). Both are loopback figures:
 * dead peers here refuse at once or stall one timeout, far cheaper than on the Internet, so the time
 * ratio is an upper bound of what the cache saves.
 */
import { CacheDiscovery } from "@bootstrap-cache/libp2p"
import { bootstrap } from "@libp2p/bootstrap"
import type { Libp2p, PeerDiscovery } from "@libp2p/interface"
import type { Multiaddr } from "@multiformats/multiaddr"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
// The package's test network (real libp2p nodes on loopback), shared so tests and benchmark agree.
import { makeNetwork, startNode } from "../packages/libp2p/test/fixtures/network.js"
import { median, type Result } from "./harness.js"
import { tempDir } from "./storeFiles.js"

const TARGET = 5
const WINDOW_MS = 2_000
const TIMEOUT_MS = 20_000

type Discovery = (components: never) => PeerDiscovery

interface Sample {
  readonly ms: number
  readonly deadDials: number
}

/** Starts a node with `discovery`, waits for 5 peers and the 2 s window, stops it. */
const once = async (discovery: Discovery, dead: ReadonlySet<string>): Promise<Sample> => {
  let deadDials = 0
  const start = performance.now()
  const node: Libp2p = await startNode({
    peerDiscovery: [discovery as never],
    connectionGater: {
      denyDialMultiaddr: (ma: Multiaddr) => {
        if (dead.has(ma.toString().replace(/\/p2p\/[^/]+$/, ""))) deadDials++
        return false
      }
    }
  })
  try {
    const peers = () => new Set(node.getConnections().filter((c) => c.status === "open").map((c) => c.remotePeer.toString())).size
    while (peers() < TARGET && performance.now() - start < TIMEOUT_MS) await new Promise((r) => setTimeout(r, 5))
    const ms = performance.now() - start
    if (peers() < TARGET) throw new Error(`reached ${peers()} of ${TARGET} peers in ${TIMEOUT_MS} ms`)
    const rest = WINDOW_MS - (performance.now() - start)
    if (rest > 0) await new Promise((r) => setTimeout(r, rest))
    return { ms, deadDials }
  } finally {
    await node.stop()
  }
}

export const run = async (quick: boolean): Promise<Array<Result>> => {
  const samples = quick ? 2 : 5
  const { dir, dispose } = tempDir("libp2p")
  const net = await makeNetwork({ live: 20, stopped: 5, silent: 5 })
  try {
    const list = [...net.liveAddresses, ...net.stoppedAddresses, ...net.silentAddresses]
    const dead = new Set([...net.stoppedAddresses, ...net.silentAddresses].map((a) => a.replace(/\/p2p\/[^/]+$/, "")))
    const cache = (path: string) =>
      CacheDiscovery.peerDiscovery({
        path,
        list,
        target: TARGET,
        bootstrap: { dialPolicy: { allowLoopback: true }, timeout: 2_000 }
      }) as Discovery
    const cold: Array<Sample> = []
    const warm: Array<Sample> = []
    const baseline: Array<Sample> = []
    for (let s = 0; s < samples; s++) {
      const path = join(dir, `peers-${s}.json`)
      cold.push(await once(cache(path), dead))
      warm.push(await once(cache(path), dead))
      baseline.push(await once(bootstrap({ list: [...list], timeout: 0 }) as Discovery, dead))
    }
    const ms = (xs: ReadonlyArray<Sample>) => median(xs.map((x) => x.ms))
    const deadDials = (xs: ReadonlyArray<Sample>) => median(xs.map((x) => x.deadDials))
    const show = (xs: ReadonlyArray<Sample>) => xs.map((x) => `${x.ms.toFixed(0)} ms/${x.deadDials}`).join(", ")
    const baselineName = "@libp2p/bootstrap, same 30-entry list (10 dead), same network"
    const note = `median of ${samples}; ms to ${TARGET} peers / dead dials in ${WINDOW_MS} ms — warm ${show(warm)}; ` +
      `@libp2p/bootstrap ${show(baseline)}; CacheDiscovery cold (seeding the cache) ${show(cold)}`
    return [
      {
        name: "libp2p-warm-vs-cold",
        value: ms(warm),
        unit: "ms",
        baseline: ms(baseline),
        ratio: ms(warm) / ms(baseline),
        baselineName,
        note
      },
      {
        name: "libp2p-dead-dials",
        value: deadDials(warm),
        unit: "dials",
        baseline: deadDials(baseline),
        ratio: deadDials(baseline) === 0 ? null : deadDials(warm) / deadDials(baseline),
        baselineName,
        note: "a warm start's dead dials are the selection's exploration (epsilon-greedy, ε = 0.1: untried and " +
          "long-failed entries keep a small chance); @libp2p/bootstrap dials every entry on every start"
      }
    ]
  } finally {
    await net.close()
    dispose()
  }
}
