/**
 * Helpers shared by the store's tests: a store opened in its own scope, and a cache file written as
 * another process would.
 */
import { CacheFile } from "@bootstrap-cache/core"
import type { PeerTable } from "@bootstrap-cache/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as NodeFs from "node:fs"
import * as CacheStore from "../src/CacheStore.js"

/** The TestClock time the store tests start at (epoch ms). */
export const T0 = 1_750_000_000_000

/** Opens a store in its own scope, so a test can close it (final flush) when it wants. */
export const open = (options: CacheStore.CacheStoreOptions) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const store = yield* CacheStore.make({ flushInterval: Duration.infinity, ...options }).pipe(Scope.extend(scope))
    return { store, close: Scope.close(scope, Exit.void) }
  })

/** Writes `table` to `file` as `CacheFile.encode` does (SHA-256 checksum). */
export const writeCache = (file: string, table: PeerTable.PeerTable, lastUpdated = T0) =>
  NodeFs.writeFileSync(file, CacheFile.encode(table, { lastUpdated, hash: CacheStore.sha256 }))
