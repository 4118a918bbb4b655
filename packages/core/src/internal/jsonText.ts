/** Where a `JSON.parse` error is, as a 1-based line and column of the text. */

/** Line and column (1-based) of a character offset. */
const locate = (text: string, offset: number): { line: number; column: number } => {
  let line = 1
  let lineStart = 0
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++
      lineStart = i + 1
    }
  }
  return { line, column: offset - lineStart + 1 }
}

/** The position a JSON.parse error reports ("at position 123", "(line 4 column 2)"), if any. */
export const jsonErrorPosition = (text: string, message: string): { line: number; column: number } | undefined => {
  const lc = /line (\d+) column (\d+)/.exec(message)
  if (lc !== null) return { line: Number(lc[1]), column: Number(lc[2]) }
  const pos = /at position (\d+)/.exec(message)
  if (pos !== null) return locate(text, Number(pos[1]))
  if (/end of JSON input|Unterminated|Unexpected end/i.test(message)) return locate(text, text.length)
  // V8 (Node 20): `Unexpected token 'x', ..."<10 chars>x<10 chars>"... is not valid JSON`.
  const snippet = /Unexpected token '(.)', (\.\.\.)?"([\s\S]*?)"(\.\.\.)? is not valid JSON/.exec(message)
  if (snippet !== null) {
    const token = snippet[1]!
    const context = snippet[3]!
    const at = text.indexOf(context)
    if (at >= 0) return locate(text, snippet[2] === undefined ? at + context.indexOf(token) : at + 10)
  }
  return undefined
}

