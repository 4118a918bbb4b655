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

/**
 * Successes a key's steady run holds before it is handed to the pure state. A hand-over rebuilds the
 * health window (50 samples by default) once for the whole run, so a longer run costs less per call;
 * only a key that ran that many calls between two reads holds arrays this long (4 KB).
 */
const RUN_CAPACITY = 256

/**
 * One key: its pure state plus the bookkeeping only the shell needs.
 *
 * While the state is steady (`KeyProtection.steady`: closed, no ramp, no self-tuning slow-call rule),
 * a call that only bumps counters is counted here, in a mutable run — admissions, and the completion
 * times and latencies of successes — instead of stepping the immutable state twice. Reading
 * {@link Entry.state} hands the run over first (`KeyProtection.applySteady`), so every reader sees the
 * state the one-by-one steps would have built; the run is also handed over when it is full.
 */
export class Entry {
  /**
   * The fibers running an admitted call of this key, one element per call. A call on a closed breaker
   * runs without an uninterruptible frame (see `execute`), so an interrupted one may never remove its
   * fiber: {@link Entry.busy} counts only fibers that have not exited.
   */
  readonly runners: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
  /** Set when removed from the table: a result arriving later belongs to nobody. */
  evicted = false
  /** The state without the steady run. */
  private base: KeyProtection.KeyProtection
  /**
   * The steady run: admissions, and each success's completion time (epoch ms) and latency (ms), the
   * first `successes` of `at` and `latencyMs`. The arrays keep their length between runs (a hot key
   * does not grow them again for every run; a key with a few calls keeps short ones).
   */
  private admitted = 0
  private successes = 0
  private readonly at: Array<number> = []
  private readonly latencyMs: Array<number> = []
  /** `KeyProtection.steady` of `base`, spelled out; `steadyUntil` is −∞ when it is not steady. */
  private steadyUntil = Number.NEGATIVE_INFINITY
  private steadyMaxLatencyMs = 0
  private steadyGeneration = 0

  /** `countSteady` false: every call takes the full steps (the reference the steady path is tested against). */
  constructor(state: KeyProtection.KeyProtection, public lastUsed: number, private readonly countSteady = true) {
    this.base = state
    this.setSteady(state)
  }

  /** The key's state, with the steady run handed over. */
  get state(): KeyProtection.KeyProtection {
    if (this.admitted > 0 || this.successes > 0) this.handOver()
    return this.base
  }

  /** A new state, stepped from {@link state} (which took the run in: the run starts empty). */
  set state(next: KeyProtection.KeyProtection) {
    this.base = next
    this.admitted = 0
    this.successes = 0
    this.setSteady(next)
  }

  /**
   * The state as far as its phase, ramp and generation go, without handing the run over (a steady
   * run changes none of them).
   */
  get shape(): KeyProtection.KeyProtection {
    return this.base
  }

  /** Whether a call admitted at `now` only counts a request (then counted, with its ticket's generation returned). */
  admitSteady(now: number): number | undefined {
    if (!(now < this.steadyUntil)) return undefined
    this.admitted++
    return this.steadyGeneration
  }

  /**
   * Whether the success at `end` (epoch ms) of a call admitted at `startedAt` in `generation` only
   * counts a success and a health sample (then counted).
   */
  succeedSteady(generation: number, startedAt: number, end: number): boolean {
    const latencyMs = end - startedAt
    if (!(end < this.steadyUntil) || latencyMs > this.steadyMaxLatencyMs || generation !== this.steadyGeneration) return false
    const i = this.successes++
    this.at[i] = end
    this.latencyMs[i] = latencyMs
    if (this.successes >= RUN_CAPACITY) this.handOver()
    return true
  }

  private handOver(): void {
    this.base = KeyProtection.applySteady(this.base, this.admitted, this.at, this.latencyMs, this.successes)
    this.admitted = 0
    this.successes = 0
  }

  private setSteady(state: KeyProtection.KeyProtection): void {
    const steady = this.countSteady ? KeyProtection.steady(state) : undefined
    this.steadyUntil = steady === undefined ? Number.NEGATIVE_INFINITY : steady.until
    this.steadyMaxLatencyMs = steady === undefined ? 0 : steady.maxLatencyMs
    this.steadyGeneration = steady === undefined ? -1 : steady.generation
  }

  /** Removes one call of `fiber` (the most recent is last, so this is O(1) in practice). */
  release(fiber: Fiber.RuntimeFiber<unknown, unknown>): void {
    const runners = this.runners
    for (let i = runners.length - 1; i >= 0; i--) {
      if (runners[i] === fiber) {
        runners[i] = runners[runners.length - 1]!
        runners.pop()
        return
      }
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
    readonly maxKeys: number,
    /** Whether entries count steady calls in a run (see `Entry`); false only in the tests' reference. */
    readonly countSteady = true
  ) {}

  /** The entry of `key` (created fresh at `now` when missing), moved to the most recently used end. */
  touch(key: string, now: number, known: Entry | undefined = this.entries.get(key)): Entry {
    let entry = known
    if (entry === undefined) {
      entry = new Entry(KeyProtection.make(this.config, now), now, this.countSteady)
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
