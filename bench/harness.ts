/**
 * A small benchmark harness: every figure is measured beside a baseline in the same run, because these
 * machines are noisy, and reported as a ratio (figure / baseline) with the absolute values beside it.
 */
import { performance } from "node:perf_hooks"

/** One row of `bench/results.json`. */
export interface Result {
  /** Benchmark name, e.g. `load-30k`. */
  readonly name: string
  /** The measured figure, in `unit`. */
  readonly value: number
  /** `ms`, `ns/op`, `ops/s`, `bytes`, … */
  readonly unit: string
  /** The baseline's figure, in the same unit (or `null` when the figure is a ratio of its own). */
  readonly baseline: number | null
  /** value / baseline (for throughputs: baseline / value, so that lower is better everywhere). */
  readonly ratio: number | null
  /** What the baseline is. */
  readonly baselineName: string
  /** The target, in words, and whether this run met it. */
  readonly target?: string
  readonly met?: boolean
  /** Outcomes lost (multi-process benchmarks); any value above 0 fails the run. */
  readonly lost?: number
  /** Anything else worth printing. */
  readonly note?: string
}

/** Options of a timing loop. */
export interface TimingOptions {
  /** Samples to take; the median is reported. */
  readonly samples: number
  /** Calls of `fn` per sample (amortises timer overhead for fast functions). */
  readonly iterations: number
  /** Samples thrown away first (JIT warm-up). */
  readonly warmup?: number
}

/** Median ms per call of `fn` over `samples` samples of `iterations` calls each. */
export const timeSync = (fn: (i: number) => unknown, options: TimingOptions): number => {
  const times: Array<number> = []
  let sink: unknown
  for (let s = 0; s < (options.warmup ?? 2) + options.samples; s++) {
    const start = performance.now()
    for (let i = 0; i < options.iterations; i++) sink = fn(i)
    const elapsed = (performance.now() - start) / options.iterations
    if (s >= (options.warmup ?? 2)) times.push(elapsed)
  }
  keep(sink)
  return median(times)
}

/** Median ms per call of an async `fn`. */
export const timeAsync = async (fn: (i: number) => Promise<unknown>, options: TimingOptions): Promise<number> => {
  const times: Array<number> = []
  let sink: unknown
  for (let s = 0; s < (options.warmup ?? 1) + options.samples; s++) {
    const start = performance.now()
    for (let i = 0; i < options.iterations; i++) sink = await fn(i)
    const elapsed = (performance.now() - start) / options.iterations
    if (s >= (options.warmup ?? 1)) times.push(elapsed)
  }
  keep(sink)
  return median(times)
}

export const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

let sinkHole: unknown
/** Keeps a value alive so the JIT cannot drop the work that made it. */
export const keep = (value: unknown): void => {
  sinkHole = value
}
export const _sink = () => sinkHole

/** Forces a full collection (needs `node --expose-gc`); returns false when unavailable. */
export const gc = (): boolean => {
  const g = (globalThis as { gc?: () => void }).gc
  if (g === undefined) return false
  g()
  g()
  return true
}

/** A small seeded generator (mulberry32) so generated data is the same in every run. */
export const seeded = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
