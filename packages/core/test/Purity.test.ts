import { describe, expect, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"

/**
 * The functional core is pure: no `node:*`, no `@effect/platform`, no clock and no randomness of its
 * own (time and draws arrive as arguments). `tsc -p packages/core` (no Node types) catches `node:*`
 * and `process`; this catches the rest, on code lines (doc comments may name what they avoid).
 */
describe("packages/core/src", () => {
  const dir = new URL("../src/", import.meta.url)
  const files = readdirSync(dir).filter((f) => f.endsWith(".ts"))
  const forbidden: ReadonlyArray<readonly [RegExp, string]> = [
    [/from\s+["'](node:|@effect\/platform)/, "an import of node:* or @effect/platform"],
    [/import\(\s*["'](node:|@effect\/platform)/, "a dynamic import of node:* or @effect/platform"],
    [/\brequire\(/, "require()"],
    [/\bprocess\./, "process"],
    [/Date\.now\(|new Date\(\)|performance\.now\(/, "a clock of its own"],
    [/Math\.random\(/, "randomness of its own"]
  ]

  it("holds the modules", () => {
    expect(files).toContain("PeerTable.ts")
  })

  it.each(files)("%s imports nothing impure and reads no clock or randomness of its own", (file) => {
    const offending: Array<string> = []
    readFileSync(new URL(file, dir), "utf8").split("\n").forEach((line, i) => {
      const code = line.trim()
      if (code.startsWith("*") || code.startsWith("//") || code.startsWith("/*")) return
      for (const [pattern, what] of forbidden) if (pattern.test(code)) offending.push(`${file}:${i + 1}: ${what}: ${code}`)
    })
    expect(offending).toEqual([])
  })
})
