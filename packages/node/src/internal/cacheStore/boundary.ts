/**
 * The one rule for what enters the journal: only what the loader would read back. A change the cache
 * file could not hold (a non-finite RTT, a byte count past 2^53, a record whose encoding does not
 * decode) is trimmed or left out here, so "accepted, then dropped at the next load" cannot happen.
 */
import { CacheFile, Journal } from "@bootstrap-cache/core"
import type { CacheImport, PeerAddress, PeerRecord } from "@bootstrap-cache/core"
import * as Either from "effect/Either"

/** `rttMs` (ms) as the file holds it: finite and ≥ 0, else none. */
export const validRtt = (rttMs: number | undefined): number | undefined =>
  rttMs !== undefined && Number.isFinite(rttMs) && rttMs >= 0 ? rttMs : undefined

/** `bytes` as the file holds it: a safe integer ≥ 0 (fractions rounded down), else none. */
export const validBytes = (bytes: number | undefined): number | undefined =>
  bytes !== undefined && Number.isFinite(bytes) && bytes >= 0 ? Math.min(Math.floor(bytes), Number.MAX_SAFE_INTEGER) : undefined

/** The `Success` operation of a dial, its measurements kept only when the file can hold them. */
export const successOp = (
  address: PeerAddress.PeerAddress,
  at: number,
  o: { readonly rttMs?: number; readonly bytes?: number } | undefined
): Journal.Op => (o === undefined ? Journal.success(address, at) : Journal.success(address, at, validRtt(o.rttMs), validBytes(o.bytes)))

/**
 * Splits imported records into those the loader reads back (encoded then decoded with the cache
 * file's own codec: the same Schema) and the others, reported as bad entries.
 */
export const loadableRecords = (
  records: ReadonlyArray<PeerRecord.PeerRecord>
): { readonly records: ReadonlyArray<PeerRecord.PeerRecord>; readonly bad: ReadonlyArray<CacheImport.BadEntry> } => {
  const ok: Array<PeerRecord.PeerRecord> = []
  const bad: Array<CacheImport.BadEntry> = []
  records.forEach((record, i) => {
    const back = roundTrip(record)
    if (Either.isRight(back)) ok.push(back.right)
    else bad.push({ location: `records[${i}]`, reason: `the cache file could not hold it: ${back.left}` })
  })
  return { records: ok, bad }
}

const roundTrip = (record: PeerRecord.PeerRecord): Either.Either<PeerRecord.PeerRecord, string> => {
  try {
    return Either.mapLeft(CacheFile.decodePeer(JSON.parse(JSON.stringify(CacheFile.encodePeerDirect(record)))), (e) => e.message.slice(0, 200))
  } catch (defect) {
    return Either.left(String(defect).slice(0, 200))
  }
}
