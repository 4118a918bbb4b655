/**
 * One {@link Selection.select} in progress over a pool: the per-call state of every peer, the
 * netgroup and source-group counters, and the exploit and explore steps.
 *
 * @internal
 */
import * as SelectionHeap from "./selectionHeap.js"
import { AVAILABLE, markExcluded, PICKED, type Pool } from "./selectionPool.js"

/** One selection in progress: the pool, the per-call state, the netgroup and source-group counters. */
export class Run {
  readonly state: Uint8Array
  readonly perGroup: Int32Array
  readonly liveInGroup: Int32Array
  readonly touched: Array<number> = []
  readonly perSource: Int32Array
  readonly liveInSource: Int32Array
  readonly sourcesTouched: Array<number> = []
  readonly pivot: number
  /** Non-excluded peers. */
  readonly eligible: number
  /** Non-excluded peers not picked yet. */
  live: number
  limit: number
  /** Connections held and picks made: k − 1 for the k-th pick of the source-group rule. */
  taken = 0
  /** Whether each source group may take the current pick. */
  readonly allowed: Uint8Array
  readonly totalWeight: number
  prefix: Int32Array
  head = 0
  covered: boolean
  constructor(
    readonly pool: Pool,
    exclude: ReadonlySet<string> | undefined,
    netgroupsInUse: Iterable<string> | undefined,
    sourceGroupsInUse: Iterable<string> | undefined,
    tie: number | undefined,
    readonly step: number,
    readonly diversity: boolean,
    prefixSize: number
  ) {
    const n = pool.n
    this.state = new Uint8Array(n)
    const excluded = markExcluded(pool, exclude, this.state)
    this.eligible = n - excluded.length
    this.live = this.eligible
    this.liveInGroup = Int32Array.from(pool.groupSize)
    this.liveInSource = Int32Array.from(pool.sourceSize)
    for (let j = 0; j < excluded.length; j++) {
      this.liveInGroup[pool.group[excluded[j]!]!]!--
      this.liveInSource[pool.source[excluded[j]!]!]!--
    }
    this.perGroup = new Int32Array(pool.groupSize.length)
    this.perSource = new Int32Array(pool.sourceSize.length)
    this.allowed = new Uint8Array(pool.sourceSize.length).fill(1)
    let total = 0
    for (let s = 0; s < pool.sourceWeight.length; s++) total += pool.sourceWeight[s]!
    this.totalWeight = total
    if (netgroupsInUse !== undefined) {
      for (const netgroup of netgroupsInUse) {
        const g = pool.groupIds.get(netgroup)
        if (g !== undefined) this.count(g)
      }
    }
    if (sourceGroupsInUse !== undefined) {
      for (const group of sourceGroupsInUse) {
        this.taken++
        const s = pool.sourceIds.get(group)
        if (s !== undefined) this.countSource(s)
      }
    }
    this.limit = step
    // The tie-break rotation starts at the `offset`-th non-excluded peer.
    const offset = tie === undefined || !(tie > 0) ? 0 : Math.min(this.live - 1, Math.floor(tie * this.live))
    let pivot = offset
    for (let j = 0; j < excluded.length && excluded[j]! <= pivot; j++) pivot++
    this.pivot = pivot
    const m = Math.min(this.live, prefixSize)
    this.prefix = SelectionHeap.topPrefix(pool.quality, pool.n, this.state, pivot, m)
    this.covered = m === this.live
  }

  count(g: number): void {
    if (this.perGroup[g]!++ === 0) this.touched.push(g)
  }

  countSource(s: number): void {
    if (this.perSource[s]!++ === 0) this.sourcesTouched.push(s)
  }

  /**
   * Sets which source groups may take the next, k-th pick: those with live peers whose count stays
   * within their share, `count + 1 ≤ w·k`; when none does, those of the highest `w / (count + 1)`
   * (the D'Hondt apportionment's next seat). O(source groups).
   */
  beginPick(): void {
    const groups = this.allowed.length
    if (!this.diversity || groups <= 1) return
    const weight = this.pool.sourceWeight
    const k = this.taken + 1
    let best = Number.NEGATIVE_INFINITY
    let any = false
    for (let s = 0; s < groups; s++) {
      const live = this.liveInSource[s]! > 0
      const w = weight[s]! / this.totalWeight
      const ok = live && w * k - this.perSource[s]! >= 1 - 1e-9
      this.allowed[s] = ok ? 1 : 0
      if (ok) any = true
      if (live && w / (this.perSource[s]! + 1) > best) best = w / (this.perSource[s]! + 1)
    }
    if (any) return
    for (let s = 0; s < groups; s++) {
      const w = weight[s]! / this.totalWeight
      this.allowed[s] = this.liveInSource[s]! > 0 && w / (this.perSource[s]! + 1) >= best - 1e-12 ? 1 : 0
    }
  }

  pick(i: number): void {
    this.state[i] = PICKED
    this.live--
    this.taken++
    const g = this.pool.group[i]!
    this.liveInGroup[g]!--
    this.count(g)
    const s = this.pool.source[i]!
    this.liveInSource[s]!--
    this.countSource(s)
  }

  admissible(i: number): boolean {
    return this.state[i] === AVAILABLE && this.perGroup[this.pool.group[i]!]! < this.limit &&
      this.allowed[this.pool.source[i]!] === 1
  }

  /** The first admissible peer in the exploit order, or −1 when none is left. */
  exploit(): number {
    for (;;) {
      const prefix = this.prefix
      while (this.head < prefix.length && this.state[prefix[this.head]!] === PICKED) this.head++
      for (let j = this.head; j < prefix.length; j++) {
        const i = prefix[j]!
        if (this.admissible(i)) return i
      }
      if (!this.covered) {
        // Every peer of the prefix is picked or held back by a limit: take a prefix four times longer.
        const m = Math.min(prefix.length * 4, this.eligible)
        this.prefix = SelectionHeap.topPrefix(this.pool.quality, this.pool.n, this.state, this.pivot, m)
        this.head = 0
        this.covered = m === this.eligible
        continue
      }
      if (this.live === 0) return -1
      this.limit += this.step
    }
  }

  /**
   * An explore pick for `v` = `u`/ε uniform in [0,1): a source group among those holding admissible
   * peers (in order of first appearance in the pool), drawn with probability proportional to its
   * weight, then the ⌊r·m⌋-th of its m admissible peers in the pool's order, where r is what is left
   * of `v` once the group is drawn (again uniform in [0,1)). Raises the netgroup limit while none is
   * admissible. Two passes over the pool.
   */
  explore(v: number): number {
    const n = this.pool.n
    const source = this.pool.source
    const weight = this.pool.sourceWeight
    const counts = new Int32Array(this.pool.sourceSize.length)
    for (;;) {
      if (this.live === 0) return -1
      const groups: Array<number> = []
      let total = 0
      for (let i = 0; i < n; i++) {
        if (!this.admissible(i)) continue
        const s = source[i]!
        if (counts[s]!++ === 0) {
          groups.push(s)
          total += weight[s]!
        }
      }
      if (groups.length === 0) {
        this.limit += this.step
        continue
      }
      let x = v * total
      let s = groups[groups.length - 1]!
      for (const g of groups) {
        if (x < weight[g]!) {
          s = g
          break
        }
        x -= weight[g]!
      }
      const r = Math.min(1, Math.max(0, x / weight[s]!))
      let target = Math.min(counts[s]! - 1, Math.floor(r * counts[s]!))
      for (let i = 0; i < n; i++) {
        if (source[i] !== s || !this.admissible(i)) continue
        if (target === 0) return i
        target--
      }
      return -1
    }
  }
}

/** The first prefix of the exploit order {@link select} takes: enough for k picks and some netgroup clashes. */
export const prefixSize = (count: number): number => 4 * count + 16
