/**
 * A bounded check of a parsed JSON value before anything walks it recursively (the Schema, its
 * error formatter, `JSON.stringify`): nesting deeper than a limit, numbers outside the safe-integer
 * range or not finite, and `__proto__` keys are reported with the JSON path of the first one.
 * The walk is iterative (an explicit stack), so no input can exhaust the call stack.
 */

/** What is wrong with a value, and where (a JSON path relative to the value, e.g. `.addresses[0].successes`). */
export interface Issue {
  readonly path: string
  readonly reason: string
}

/** Nesting deeper than this is never a cache record (a record is at most 4 levels deep). */
export const MAX_DEPTH = 32

interface Frame {
  readonly value: unknown
  readonly path: string
  readonly depth: number
}

const numberIssue = (n: number): string | undefined =>
  !Number.isFinite(n)
    ? "is not a finite number"
    : Math.abs(n) > Number.MAX_SAFE_INTEGER
    ? "is outside the safe integer range (±2^53)"
    : undefined

/**
 * The first issue of `value` (depth-first, in key order), or undefined when it has none. Visits each
 * node once: O(size of the value).
 */
export const check = (value: unknown, maxDepth: number = MAX_DEPTH): Issue | undefined => {
  const stack: Array<Frame> = [{ value, path: "", depth: 0 }]
  while (stack.length > 0) {
    const { depth, path, value: v } = stack.pop()!
    if (typeof v === "number") {
      const reason = numberIssue(v)
      if (reason !== undefined) return { path, reason: `${v} ${reason}` }
      continue
    }
    if (typeof v !== "object" || v === null) continue
    if (depth >= maxDepth) return { path, reason: `nested deeper than ${maxDepth} levels` }
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: `${path}[${i}]`, depth: depth + 1 })
      continue
    }
    const keys = Object.keys(v)
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!
      if (key === "__proto__") return { path: `${path}.__proto__`, reason: "a __proto__ key is not allowed" }
      stack.push({ value: (v as Record<string, unknown>)[key], path: `${path}.${key}`, depth: depth + 1 })
    }
  }
  return undefined
}
