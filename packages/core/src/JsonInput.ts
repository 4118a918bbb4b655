/**
 * Untrusted JSON in: parsing that cannot throw (nesting depth bounded before `JSON.parse` runs, so
 * neither the parser nor any later recursive walk can overflow the stack), and short previews of bad
 * values for one-line messages (never the whole input echoed back, never a recursive
 * `JSON.stringify` of a deep value).
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"

/**
 * The deepest nesting accepted (arrays and objects): 256 levels. Every format read here nests at
 * most 5 levels; 256 leaves room and stays far below what a stack can hold.
 *
 * @since 0.1.0
 */
export const MAX_DEPTH = 256

/**
 * The deepest nesting of `[`/`{` in a JSON text, counted outside strings, stopping early once it
 * exceeds `limit`. O(length), no recursion.
 *
 * @since 0.1.0
 */
export const depth = (text: string, limit = Number.POSITIVE_INFINITY): number => {
  let current = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // backslash: skip the escaped character
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 91 || c === 123) {
      current++
      if (current > deepest) {
        deepest = current
        if (deepest > limit) return deepest
      }
    } else if (c === 93 || c === 125) current--
  }
  return deepest
}

/**
 * Why a JSON text could not be parsed: `TooDeep` (nested deeper than `maxDepth`) or `Malformed`
 * (`JSON.parse`'s message).
 *
 * @since 0.1.0
 */
export interface ParseFailure {
  readonly reason: "TooDeep" | "Malformed"
  readonly detail: string
}

/**
 * `JSON.parse` that never throws: fails with `TooDeep` before parsing when the text nests deeper than
 * `maxDepth` (default {@link MAX_DEPTH}), with `Malformed` when it is not JSON.
 *
 * @since 0.1.0
 */
export const parse = (text: string, maxDepth = MAX_DEPTH): Either.Either<unknown, ParseFailure> => {
  if (depth(text, maxDepth) > maxDepth) {
    return Either.left({ reason: "TooDeep", detail: `nested deeper than ${maxDepth} levels` })
  }
  try {
    return Either.right(JSON.parse(text))
  } catch (e) {
    return Either.left({ reason: "Malformed", detail: (e instanceof Error ? e.message : String(e)).slice(0, 200) })
  }
}

/**
 * A short, one-line preview of any value for a message: strings quoted and cut at `max` characters
 * (default 60), arrays and objects summarised by their size without walking into them, numbers as
 * written (`1e+308`, `Infinity`).
 *
 * @since 0.1.0
 */
export const preview = (u: unknown, max = 60): string => {
  const cut = (s: string) => (s.length > max ? `${s.slice(0, max)}…` : s)
  if (typeof u === "string") return JSON.stringify(cut(u.replace(/[\r\n]+/g, " ")))
  if (Array.isArray(u)) return `an array of ${u.length}`
  if (u === null) return "null"
  if (typeof u === "object") return `an object of ${Object.keys(u).length} keys`
  return cut(String(u))
}

/**
 * A message cut to `max` characters (default 300) on one line: for reasons that may embed input
 * (a Schema error quoting the offending value).
 *
 * @since 0.1.0
 */
export const oneLine = (message: string, max = 300): string => {
  const flat = message.replace(/\s*\n\s*/g, " ")
  return flat.length > max ? `${flat.slice(0, max)}…` : flat
}
