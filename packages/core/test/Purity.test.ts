import { describe, expect, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import ts from "typescript"

/**
 * The functional core is pure: no `node:*`, no `@effect/platform`, no clock and no randomness of its
 * own (time and draws arrive as arguments), and no module-level mutable state (a memo or a pool that
 * outlives a call belongs to the caller, who passes it in). `tsc -p packages/core` (no Node types)
 * catches `node:*` and `process`; this catches the rest, on code lines (doc comments may name what
 * they avoid) for the imports, and on the top-level statements (TypeScript's parser) for the state.
 */
const dir = new URL("../src/", import.meta.url)
const files = [
  ...readdirSync(dir).filter((f) => f.endsWith(".ts")),
  ...readdirSync(new URL("internal/", dir)).filter((f) => f.endsWith(".ts")).map((f) => `internal/${f}`)
]
const source = (file: string) => readFileSync(new URL(file, dir), "utf8")

const COLLECTIONS: ReadonlySet<string> = new Set(["Map", "WeakMap", "Set", "WeakSet"])
const MUTABLE_TYPES: ReadonlySet<string> = new Set(["Array", "Record", "Map", "WeakMap", "Set", "WeakSet"])

/**
 * Whether a declared type is read-only: `Readonly…<…>` (`ReadonlyArray`, `ReadonlySet`, `ReadonlyMap`,
 * `Readonly<…>`), `readonly T[]`, a type literal whose members are all `readonly`, or (for a literal,
 * `collection` false) a named type other than the mutable built-ins (its fields are its own to declare).
 */
const readOnlyType = (type: ts.TypeNode, collection: boolean): boolean => {
  if (ts.isTypeOperatorNode(type)) return type.operator === ts.SyntaxKind.ReadonlyKeyword
  if (ts.isTypeReferenceNode(type)) {
    const name = ts.isIdentifier(type.typeName) ? type.typeName.text : type.typeName.right.text
    if (name.startsWith("Readonly")) return true
    return !collection && !MUTABLE_TYPES.has(name)
  }
  if (ts.isTypeLiteralNode(type)) {
    return type.members.every((m) => (ts.getCombinedModifierFlags(m as ts.Declaration) & ts.ModifierFlags.Readonly) !== 0)
  }
  return false
}

/**
 * The module-level mutable state of a source text, as `name: why`: a top-level `let` or `var`, or a
 * top-level `const` initialised with `new Map`/`WeakMap`/`Set`/`WeakSet` without a `Readonly…` type,
 * with an empty `[]`/`{}`, or with an array or object literal declared with a mutable type (`Array`,
 * `T[]`, `Record`, a type literal with a member that is not `readonly`). `as const` and
 * `Object.freeze(…)` make constants. A non-empty literal with no declared type is taken as a table of
 * constants (its inferred type is mutable, but it holds nothing a call fills in).
 */
export const mutableState = (text: string): ReadonlyArray<string> => {
  const file = ts.createSourceFile("module.ts", text, ts.ScriptTarget.Latest, true)
  const found: Array<string> = []
  for (const statement of file.statements) {
    if (!ts.isVariableStatement(statement)) continue
    const isConst = (statement.declarationList.flags & ts.NodeFlags.Const) !== 0
    for (const declaration of statement.declarationList.declarations) {
      const name = declaration.name.getText(file)
      if (!isConst) {
        found.push(`${name}: a top-level let or var`)
        continue
      }
      let type = declaration.type
      let init = declaration.initializer
      while (init !== undefined && (ts.isParenthesizedExpression(init) || ts.isSatisfiesExpression(init) || ts.isAsExpression(init))) {
        if (ts.isAsExpression(init)) {
          if (ts.isTypeReferenceNode(init.type) && init.type.getText(file) === "const") break
          type = init.type
        }
        init = init.expression
      }
      if (init === undefined || ts.isAsExpression(init)) continue
      if (ts.isNewExpression(init) && ts.isIdentifier(init.expression) && COLLECTIONS.has(init.expression.text)) {
        if (type === undefined || !readOnlyType(type, true)) found.push(`${name}: a new ${init.expression.text} without a Readonly type`)
      } else if (ts.isArrayLiteralExpression(init) || ts.isObjectLiteralExpression(init)) {
        const empty = ts.isArrayLiteralExpression(init) ? init.elements.length === 0 : init.properties.length === 0
        const what = ts.isArrayLiteralExpression(init) ? "an array" : "an object"
        if (type === undefined ? empty : !readOnlyType(type, false)) found.push(`${name}: ${what} literal of a mutable type`)
      }
    }
  }
  return found
}

describe("packages/core/src", () => {
  const forbidden: ReadonlyArray<readonly [RegExp, string]> = [
    [/from\s+["'](node:|@effect\/platform)/, "an import of node:* or @effect/platform"],
    [/import\(\s*["'](node:|@effect\/platform)/, "a dynamic import of node:* or @effect/platform"],
    [/\brequire\(/, "require()"],
    [/\bprocess\./, "process"],
    [/Date\.now\(|new Date\(\)|performance\.now\(/, "a clock of its own"],
    [/Math\.random\(/, "randomness of its own"]
  ]

  it("holds the modules, internal ones included", () => {
    expect(files).toContain("PeerTable.ts")
    expect(files).toContain("internal/recordJson.ts")
  })

  it.each(files)("%s imports nothing impure and reads no clock or randomness of its own", (file) => {
    const offending: Array<string> = []
    source(file).split("\n").forEach((line, i) => {
      const code = line.trim()
      if (code.startsWith("*") || code.startsWith("//") || code.startsWith("/*")) return
      for (const [pattern, what] of forbidden) if (pattern.test(code)) offending.push(`${file}:${i + 1}: ${what}: ${code}`)
    })
    expect(offending).toEqual([])
  })

  it.each(files)("%s keeps no module-level mutable state", (file) => {
    expect(mutableState(source(file)).map((s) => `${file}:${s}`)).toEqual([])
  })
})

describe("mutableState", () => {
  it("finds each kind of module-level state, and passes constants", () => {
    const text = [
      "let counter = 0",
      "var legacy = 1",
      "const cache = new Map<string, number>()",
      "const weak = new WeakMap<object, string>()",
      "const seen: Set<string> = new Set()",
      "const list: Array<number> = []",
      "const empty = []",
      "const bag = {}",
      "const table: Record<string, number> = { a: 1 }",
      "const slot: { value: number | undefined } = { value: undefined }",
      "export const exported = new WeakSet<object>()",
      "const names: ReadonlySet<string> = new Set([\"a\"])",
      "const index: ReadonlyMap<string, number> = new Map()",
      "const none: ReadonlyArray<never> = []",
      "const frozen = Object.freeze({ a: 1 })",
      "const tuple = [\"a\", \"b\"] as const",
      "const fixed: Readonly<Record<string, number>> = { a: 1 }",
      "const shape: { readonly a: number } = { a: 1 }",
      "const defaults = { a: 1 }",
      "const f = (x: number) => { let y = x; const m = new Map(); return y + m.size }"
    ].join("\n")
    expect(mutableState(text).map((s) => s.split(":")[0])).toEqual([
      "counter", "legacy", "cache", "weak", "seen", "list", "empty", "bag", "table", "slot", "exported"
    ])
  })
})
