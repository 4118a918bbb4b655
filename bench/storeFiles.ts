/**
 * Cache files for the store benchmarks, written by the store itself: a fresh `CacheStore` imports
 * the fixture table (a bootstrap-cache document) and flushes with its default settings (lock, merge,
 * default pruning, checksum, atomic write), exactly as a node's first save would.
 */
import { CacheFile, PeerTable } from "@bootstrap-cache/core"
import { CacheStore } from "@bootstrap-cache/node"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { PeerAddress } from "@bootstrap-cache/core"
import { healthyTableOf } from "./fixtures.js"

/** Node platform services, with the store's warnings silenced (a benchmark prints only its table). */
export const platform = Layer.mergeAll(NodeContext.layer, Logger.minimumLogLevel(LogLevel.Error))

/** Runs an effect needing the Node platform. */
export const runNode = <A, E>(effect: Effect.Effect<A, E, NodeContext.NodeContext>): Promise<A> =>
  Effect.runPromise(Effect.provide(effect, platform))

/** A temp directory, removed by `dispose`. */
export const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), `bc-bench-${prefix}-`))
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) }
}

export interface StoreFile {
  readonly file: string
  readonly dir: string
  /** Peers in the written file (after the store's pruning). */
  readonly peers: number
  readonly bytes: number
  readonly addresses: ReadonlyArray<PeerAddress.PeerAddress>
  readonly dispose: () => void
}

/** Writes `<temp>/peers.json` holding `n` healthy peers through a real store flush. */
export const writeStoreFile = async (n: number, prefix: string): Promise<StoreFile> => {
  // Times relative to the real clock: the store prunes with it (staleness counts from the newest
  // lastSeen, so a table a month old would lose every peer but the one just recorded).
  const now = Date.now()
  const { table, addresses } = healthyTableOf(n, 1, now)
  const { dir, dispose } = tempDir(prefix)
  const file = join(dir, "peers.json")
  const text = CacheFile.encode(table, { lastUpdated: now, hash: CacheStore.sha256 })
  const result = await runNode(Effect.scoped(Effect.gen(function*() {
    const store = yield* CacheStore.make({ path: file, flushInterval: Duration.infinity })
    yield* store.importText(text, "bench fixture")
    return yield* store.flush
  })))
  if (result._tag !== "Written") throw new Error(`the store did not write ${file}: ${result._tag}`)
  if (result.peers !== PeerTable.size(table)) {
    throw new Error(`the store kept ${result.peers} of ${PeerTable.size(table)} fixture peers (pruning): the fixture must survive the default pruning`)
  }
  return { file, dir, peers: result.peers, bytes: result.bytes, addresses, dispose }
}

let shared: Promise<StoreFile> | undefined

/**
 * The 30,000-peer file shared by `load-30k`, `save-30k` and `record-outcome` (written once per run;
 * `save-30k` rewrites it with the same peers). Removed at exit.
 */
export const shared30k = (): Promise<StoreFile> => {
  if (shared === undefined) {
    shared = writeStoreFile(30_000, "30k")
    shared.then((f) => process.once("exit", f.dispose), () => undefined)
  }
  return shared
}
