/**
 * The keyed table of a `Protection` instance: one `KeyProtection` per key in a `Map` kept in use order
 * (least recently used first), bounded by an idle timeout and a key cap, and the count of keys whose
 * breaker is not closed (the instance's open-breakers gauge).
 *
 * Everything here is synchronous: JavaScript runs it without interleaving, so each read-modify-write
 * of an entry is atomic without a lock.
 */
import { CircuitBreaker, KeyProtection } from "@bootstrap-cache/core"
import type * as Fiber from "effect/Fiber"
import type { StateChange } from "../../Protection.js"

/** One key: its pure state plus the bookkeeping only the shell needs. */
export class Entry {
  /**
   * The fibers running an admitted call of this key, one element per call. A call on a closed breaker
   * runs without an uninterruptible frame (see `execute`), so an interrupted one may never remove its
   * fiber: {@link Entry.busy} counts only fibers that have not exited.
   */
  readonly runners: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
  /** Set when removed from the table: a result arriving later belongs to nobody. */
  evicted = false
  constructor(public state: KeyProtection.KeyProtection, public lastUsed: number) {}

  /** Removes one call of `fiber` (the most recent is last, so this is O(1) in practice). */
  release(fiber: Fiber.RuntimeFiber<unknown, unknown>): void {
    const i = this.runners.lastIndexOf(fiber)
    if (i >= 0) {
      this.runners[i] = this.runners[this.runners.length - 1]!
      this.runners.pop()
    }
  }

  /** Whether a call is in flight: some runner's fiber has not exited (the others are dropped). */
  busy(): boolean {
    for (let i = this.runners.length - 1; i >= 0; i--) {
      if (this.runners[i]!.unsafePoll() === null) return true
      this.runners[i] = this.runners[this.runners.length - 1]!
      this.runners.pop()
    }
    return false
  }
}

const notClosed = (phase: KeyProtection.Phase) => phase === "open" || phase === "half-open"

export class KeyTable {
  readonly entries = new Map<string, Entry>()
  /** Keys whose breaker is open or half-open, as last stepped. */
  notClosedCount = 0
  /** The most recently inserted entry (the Map's last), which a touch need not move. */
  private newest: Entry | undefined
  // Sweeping looks at the least recently used end and stops at the first entry it may not evict. Until
  // that entry (`sweepHead`) is idle, or moves, or the table overflows, a sweep would stop there again:
  // `sweepAt` (epoch ms) skips those sweeps.
  private sweepAt = Number.NEGATIVE_INFINITY
  private sweepHead: Entry | undefined

  constructor(
    readonly config: KeyProtection.Config,
    readonly idleMs: number,
    readonly maxKeys: number
  ) {}

  /** The entry of `key` (created fresh at `now` when missing), moved to the most recently used end. */
  touch(key: string, now: number, known: Entry | undefined = this.entries.get(key)): Entry {
    let entry = known
    if (entry === undefined) {
      entry = new Entry(KeyProtection.make(this.config, now), now)
      this.entries.set(key, entry)
      this.newest = entry
    } else if (entry !== this.newest) {
      this.entries.delete(key)
      this.entries.set(key, entry)
      this.newest = entry
      if (entry === this.sweepHead) this.sweepAt = Number.NEGATIVE_INFINITY // the head moved: look again
    }
    entry.lastUsed = now
    return entry
  }

  /** Sweeps when one may be due: called on every admission. */
  maybeSweep(now: number): void {
    if (now >= this.sweepAt || this.entries.size > this.maxKeys) this.sweep(now)
  }

  /** Sets `entry`'s state, recording a phase change in `changes` and keeping the not-closed count. */
  step(key: string, entry: Entry, next: KeyProtection.KeyProtection, now: number, changes: Array<StateChange>): void {
    const from = KeyProtection.phase(entry.state)
    entry.state = next
    const to = KeyProtection.phase(next)
    if (to === from) return
    if (notClosed(to) !== notClosed(from)) this.notClosedCount += notClosed(to) ? 1 : -1
    changes.push({ key, from, to, at: now, generation: next.breaker.generation })
  }

  private evict(key: string, entry: Entry): void {
    this.entries.delete(key)
    entry.evicted = true
    if (notClosed(KeyProtection.phase(entry.state))) this.notClosedCount--
  }

  /** Bounded, amortised O(1) eviction from the least recently used end. */
  private sweep(now: number): void {
    let budget = 64
    for (const [key, entry] of this.entries) {
      if (budget-- <= 0) {
        this.sweepAt = Number.NEGATIVE_INFINITY // more may be due: go on at the next call
        return
      }
      const overflow = this.entries.size > this.maxKeys
      const idle = now - entry.lastUsed >= this.idleMs
      if (!overflow && !idle) {
        this.sweepHead = entry
        this.sweepAt = entry.lastUsed + this.idleMs
        return
      }
      // An open or half-open breaker is a dead peer's memory (its backoff streak): idleness alone
      // does not evict it, only overflow does.
      const guarded = entry.busy() ||
        (!overflow && CircuitBreaker.stateAt(entry.state.breaker, now) !== "closed")
      if (guarded) {
        this.entries.delete(key)
        this.entries.set(key, entry)
        this.newest = entry
        continue
      }
      this.evict(key, entry)
    }
    this.sweepHead = undefined
    this.sweepAt = Number.NEGATIVE_INFINITY
  }
}
