/**
 * A writer of version 2 cache files that remembers its last save, for a store that saves the same
 * table again and again after a few changes. It gives exactly the bytes (UTF-8) of
 * `CacheFile.encodeCompact`'s text, but a save after `c` changes to an `n`-peer table with the same
 * keys and sources costs O(c · log n) to bring its key order up to date, the head ranked from the
 * scores it remembers (`internal/fileV2Head`), the changed lines written over the last save's bytes
 * (or the runs of unchanged lines between them copied whole, one copy per run), and two hashes (the
 * head's bytes, then the whole) — instead of rendering every record, sorting `n` keys, joining one
 * string and encoding it to UTF-8 again.
 *
 * What it remembers (its own, never shared between encoders): the last table's peers in key order,
 * each record's rendered line by record identity (records are immutable, so an unchanged record is
 * the same object), and the file's source table. A new source (or the last use of one) renumbers the
 * source table and so re-renders every line, as the format requires.
 *
 * @since 0.2.0
 */
import { DEFAULT_HEAD } from "./CacheFile.js"
import { Encoder } from "./internal/fileV2Encoder.js"
import type * as PeerTable from "./PeerTable.js"

/**
 * A hash function over bytes: SHA-256 as 64 lowercase hex characters (the Node shell passes
 * `node:crypto`'s; see `CacheFile`'s note on why the hash is an argument).
 *
 * @since 0.2.0
 */
export type BytesHash = (bytes: Uint8Array) => string

/**
 * Options of {@link Encoder.encode}: `lastUpdated` (epoch ms of the write), the {@link BytesHash},
 * and the number of best peers written first (`head`, default `CacheFile.DEFAULT_HEAD`, 32).
 *
 * @since 0.2.0
 */
export interface EncodeOptions {
  readonly lastUpdated: number
  readonly hash: BytesHash
  readonly head?: number
}

/**
 * An encoder (see the module docs). `encode(table, options)` returns the file's bytes: the UTF-8 of
 * `CacheFile.encodeCompact(table, …)` with the same `lastUpdated`, head and an equal hash. Never
 * fails. The bytes are a view of one of the encoder's two buffers, reused by its next `encode`s (a
 * fresh multi-megabyte buffer per save is memory outside the heap that the engine answers with
 * collections), and the next save is built from them: write or copy them before encoding again, and
 * never modify them. Stateful: give each writer its own.
 *
 * @since 0.2.0
 */
export interface CacheFileEncoder {
  readonly encode: (table: PeerTable.PeerTable, options: EncodeOptions) => Uint8Array
}

/**
 * A fresh encoder with nothing remembered.
 *
 * @example
 * const encoder = CacheFileEncoder.make()
 * const bytes = encoder.encode(table, { lastUpdated: now, hash: sha256Bytes })
 *
 * @since 0.2.0
 */
export const make = (): CacheFileEncoder => {
  const encoder = new Encoder()
  return {
    encode: (table, options) =>
      encoder.encode(table, { lastUpdated: options.lastUpdated, hash: options.hash, head: options.head ?? DEFAULT_HEAD })
  }
}
