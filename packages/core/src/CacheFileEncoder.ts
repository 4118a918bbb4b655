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
  /**
   * Builds what a first `encode` would build — the peers in key order, each record's line, the
   * source table, each peer's score for the head, the file's bytes and where each line sits in them
   * — a slice of peers at a time, for a caller that must not hold its thread for it (a 30k-peer
   * table takes ~150 ms at once, and allocates what the engine then collects): a generator that
   * pauses (yields how far its current stage is) after every slice; the Node store resumes it a turn
   * of the event loop later, once a save is coming. `table` is the table the next save starts from,
   * or an older version of it (the save brings it up to date from the peers changed since, as a
   * steady save does). The next `encode` finishes a preparation still under way at once, so its
   * bytes never depend on how far one got (differential tests). Does nothing once this encoder has
   * encoded or is already preparing. Never fails.
   */
  readonly prepare: (table: PeerTable.PeerTable, options: PrepareOptions) => Generator<number, void, void>
}

/**
 * Options of {@link CacheFileEncoder.prepare}: the time of the preparation (`now`, epoch ms: the head
 * is ranked at it, and a score then bounds the peer's score at any later save), the head's size the
 * saves will use (`head`, default `CacheFile.DEFAULT_HEAD`) and the peers a slice handles
 * (`peersPerStep`, default {@link PEERS_PER_STEP}).
 *
 * @since 0.2.0
 */
export interface PrepareOptions {
  readonly now: number
  readonly head?: number
  readonly peersPerStep?: number
}

/**
 * How many peers {@link CacheFileEncoder.prepare} handles between pauses by default: ~1–3 ms of
 * work a slice on a 2020s machine.
 *
 * @since 0.2.0
 */
export const PEERS_PER_STEP = 1024

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
      encoder.encode(table, { lastUpdated: options.lastUpdated, hash: options.hash, head: options.head ?? DEFAULT_HEAD }),
    prepare: (table, options) => encoder.prepare(table, options.now, options.head ?? DEFAULT_HEAD, options.peersPerStep ?? PEERS_PER_STEP)
  }
}
