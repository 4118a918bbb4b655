/**
 * One {@link Selection.select} in progress over a pool: the per-call state of every peer, the
 * netgroup and source-group counters, and the exploit and explore steps.
 *
 * @internal
 */
import * as SelectionHeap from "./selectionHeap.js"
import * as SelectionLazy from "./selectionLazy.js"
import { AVAILABLE, byGroupOf, bySourceOf, headOf, markExcluded, PICKED, type Pool } from "./selectionPool.js"

/** What {@link Run.explore}'s steps answer when no peer is admissible under the current netgroup limit. */
const NONE = -2

/** One selection in progress: the pool, the per-call state, the netgroup and source-group counters. */
export class Run {
  readonly state: Uint8Array
  readonly perGroup: Int32Array
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
  /** The excluded peers, ascending, and the peers picked so far. */
  readonly excluded: Int32Array
  readonly picked: Array<number> = []
  constructor(
    readonly pool: Pool,
    exclude: ReadonlySet<string> | undefined,
    netgroupsInUse: Iterable<string> | undefined,
    sourceGroupsInUse: Iterable<string> | undefined,
    tie: number | undefined,
    readonly step: number,
    readonly diversity: boolean,
    prefixSize: number,
    /** Take the plain paths (full passes) only: the reference the indexed paths are tested against. */
    readonly plain: boolean
  ) {
    const n = pool.n
    this.state = new Uint8Array(n)
    const excluded = markExcluded(pool, exclude, this.state)
    this.excluded = excluded
    this.eligible = n - excluded.length
    this.live = this.eligible
    this.liveInSource = pool.sourceSize.slice()
    for (let j = 0; j < excluded.length; j++) this.liveInSource[pool.source[excluded[j]!]!]!--
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
    this.prefix = this.prefixOf(m)
    this.covered = m === this.live
    pool.runs++
  }

  /**
   * The first `m` non-excluded peers of the exploit order. On a lazily scored pool, from the peers
   * whose bounds reach the m-th best ({@link SelectionLazy.lazyTop}); from the pool's head when it
   * holds m of them (built once the pool serves its second selection); else by a pass over the pool.
   */
  prefixOf(m: number): Int32Array {
    const pool = this.pool
    if (pool.lazy !== undefined) {
      const top = this.plain ? undefined : SelectionLazy.lazyTop(pool, pool.lazy, this.state, this.pivot, m)
      if (top !== undefined) return top
      SelectionLazy.materialize(pool)
    }
    if (!this.plain && pool.runs > 0 && m <= pool.n >> 2) {
      const head = headOf(pool)
      let inHead = head.indices.length
      for (let j = 0; j < this.excluded.length; j++) if (pool.quality[this.excluded[j]!]! >= head.threshold) inHead--
      if (inHead >= m) return SelectionHeap.topPrefix(pool.quality, pool.n, this.state, this.pivot, m, head.indices)
    }
    return SelectionHeap.topPrefix(pool.quality, pool.n, this.state, this.pivot, m)
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
    this.picked.push(i)
    this.live--
    this.taken++
    this.count(this.pool.group[i]!)
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
        this.prefix = this.prefixOf(m)
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
   * peers (in order of their first admissible peer in the pool), drawn with probability proportional
   * to its weight, then the ⌊r·m⌋-th of its m admissible peers in the pool's order, where r is what
   * is left of `v` once the group is drawn (again uniform in [0,1)). Raises the netgroup limit while
   * none is admissible. Through the pool's member lists when few peers are held back
   * ({@link exploreIndexed}), else two passes over the pool ({@link exploreByScan}); both give the same pick.
   */
  explore(v: number): number {
    for (;;) {
      if (this.live === 0) return -1
      const i = (this.plain ? undefined : this.exploreIndexed(v)) ?? this.exploreByScan(v)
      if (i !== NONE) return i
      this.limit += this.step
    }
  }

  /** {@link explore} at the current limit by two passes over the pool; {@link NONE} when no peer is admissible. */
  exploreByScan(v: number): number {
    const n = this.pool.n
    const source = this.pool.source
    const counts = new Int32Array(this.pool.sourceSize.length)
    const groups: Array<number> = []
    for (let i = 0; i < n; i++) {
      if (!this.admissible(i)) continue
      if (counts[source[i]!]!++ === 0) groups.push(source[i]!)
    }
    if (groups.length === 0) return NONE
    const [s, target] = drawSource(v, groups, counts, this.pool.sourceWeight)
    let left = target
    for (let i = 0; i < n; i++) {
      if (source[i] !== s || !this.admissible(i)) continue
      if (left === 0) return i
      left--
    }
    return -1
  }

  /**
   * {@link explore} at the current limit from the held-back peers alone: those excluded, picked, or
   * in a full netgroup, as (source group, rank in it) keys; a group's admissible peers are its members
   * less those. Undefined when more than an eighth of the pool (at least 64) is held back.
   */
  exploreIndexed(v: number): number | undefined {
    const pool = this.pool
    const n = pool.n
    const budget = Math.max(64, n >> 3)
    if (this.excluded.length + this.picked.length > budget) return undefined
    const bySource = bySourceOf(pool)
    const held: Array<number> = []
    const hold = (i: number) => {
      const s = pool.source[i]!
      if (this.allowed[s] === 1) held.push(s * n + bySource.rank[i]!)
    }
    for (let j = 0; j < this.excluded.length; j++) hold(this.excluded[j]!)
    for (let j = 0; j < this.picked.length; j++) hold(this.picked[j]!)
    const byGroup = byGroupOf(pool)
    let count = this.excluded.length + this.picked.length
    for (const g of this.touched) {
      if (this.perGroup[g]! < this.limit) continue
      count += byGroup.start[g + 1]! - byGroup.start[g]!
      if (count > budget) return undefined
      for (let j = byGroup.start[g]!; j < byGroup.start[g + 1]!; j++) {
        const i = byGroup.members[j]!
        if (this.state[i] === AVAILABLE) hold(i)
      }
    }
    const keys = Float64Array.from(held).sort()
    const sources = pool.sourceSize.length
    const counts = new Int32Array(sources)
    const segment = new Int32Array(sources + 1)
    const firsts: Array<number> = [] // first admissible pool index × sources + source group
    let p = 0
    for (let s = 0; s < sources; s++) {
      segment[s] = p
      let first = 0
      while (p < keys.length && keys[p]! < (s + 1) * n) {
        if (keys[p]! - s * n === first) first++
        p++
      }
      const admissible = this.allowed[s] === 1 ? pool.sourceSize[s]! - (p - segment[s]!) : 0
      counts[s] = admissible
      if (admissible > 0) firsts.push(bySource.members[bySource.start[s]! + first]! * sources + s)
    }
    segment[sources] = p
    if (firsts.length === 0) return NONE
    firsts.sort((a, b) => a - b)
    const groups = firsts.map((f) => f % sources)
    const [s, target] = drawSource(v, groups, counts, pool.sourceWeight)
    let rank = target
    for (let q = segment[s]!; q < segment[s + 1]!; q++) {
      if (keys[q]! - s * n <= rank) rank++
      else break
    }
    return bySource.members[bySource.start[s]! + rank]!
  }
}

/**
 * The source group an explore pick draws for `v` in [0,1) among `groups` (in their order), with
 * probability proportional to `weight`, and the index among its `counts[s]` admissible peers.
 */
const drawSource = (v: number, groups: ReadonlyArray<number>, counts: Int32Array, weight: Int32Array): [number, number] => {
  let total = 0
  for (const g of groups) total += weight[g]!
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
  return [s, Math.min(counts[s]! - 1, Math.floor(r * counts[s]!))]
}

/** The first prefix of the exploit order a selection takes: enough for k picks and some netgroup clashes. */
const prefixSize = (count: number): number => 4 * count + 16

/** What {@link runPicks} needs besides the pool: `Selection.SelectOptions` with their defaults applied. */
export interface RunOptions {
  readonly count: number
  readonly epsilon: number
  readonly step: number
  readonly diversity: boolean
  readonly exclude: ReadonlySet<string> | undefined
  readonly netgroupsInUse: Iterable<string> | undefined
  readonly sourceGroupsInUse: Iterable<string> | undefined
  readonly draws: ReadonlyArray<number>
}

/**
 * The picks of `Selection.select` on a non-empty pool, in order: the pool index of an exploit pick,
 * `−index − 1` of an explore pick. `plain` takes the full passes only (the tests' reference).
 */
export const runPicks = (pool: Pool, o: RunOptions, plain = false): Array<number> => {
  const run = new Run(pool, o.exclude, o.netgroupsInUse, o.sourceGroupsInUse, o.draws[o.count], o.step, o.diversity, prefixSize(o.count), plain)
  const picks: Array<number> = []
  const want = Math.min(o.count, run.eligible)
  for (let p = 0; p < want; p++) {
    const raw = o.draws[p]
    const u = raw === undefined || Number.isNaN(raw) ? 1 : Math.max(0, raw)
    const exploring = u < o.epsilon
    run.beginPick()
    const i = exploring ? run.explore(u / o.epsilon) : run.exploit()
    if (i < 0) break
    run.pick(i)
    picks.push(exploring ? -i - 1 : i)
  }
  return picks
}
