import { describe, expect, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as NodeFs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as CachePaths from "../src/CachePaths.js"

const Real = Layer.merge(NodeFileSystem.layer, NodePath.layer)
const tempDir = Effect.acquireRelease(
  Effect.sync(() => NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "bc-paths-"))),
  (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
)
const withEnv = (env: Record<string, string>) => Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

describe("CachePaths", () => {
  it("names the system-wide directory of each platform", () => {
    expect(CachePaths.systemDirectory("linux")).toBe("/var/lib/bootstrap-cache")
    expect(CachePaths.systemDirectory("darwin")).toBe("/Library/Application Support/bootstrap-cache")
    expect(CachePaths.systemDirectory("win32", "D:\\ProgramData")).toBe("D:\\ProgramData\\bootstrap-cache")
    expect(CachePaths.userDirectory()).toMatch(/bootstrap-cache$/)
  })

  it.scoped("prefers the option, then BOOTSTRAP_CACHE_PATH, then a writable system directory, then the user directory", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const system = Path.join(dir, "var", "lib", "bootstrap-cache") // does not exist yet: its ancestor is writable
      const user = Path.join(dir, "home", "bootstrap-cache")
      const paths = { systemDirectory: system, userDirectory: user }
      const env = withEnv({ BOOTSTRAP_CACHE_PATH: Path.join(dir, "env.json") })

      expect(yield* CachePaths.resolve({ ...paths, path: Path.join(dir, "opt.json") }).pipe(env))
        .toEqual({ path: Path.join(dir, "opt.json"), origin: "option" })
      expect(yield* CachePaths.resolve(paths).pipe(env)).toEqual({ path: Path.join(dir, "env.json"), origin: "env" })
      expect(yield* CachePaths.resolve(paths).pipe(withEnv({}))).toEqual({ path: Path.join(system, "peers.json"), origin: "system" })
      expect(NodeFs.existsSync(system)).toBe(false) // resolving creates nothing

      // A system directory that cannot be one (an ancestor is a file) falls back to the user directory.
      NodeFs.writeFileSync(Path.join(dir, "var"), "not a directory")
      expect(yield* CachePaths.resolve(paths).pipe(withEnv({}))).toEqual({ path: Path.join(user, "peers.json"), origin: "user" })
      // An override naming a directory means peers.json inside it.
      expect(yield* CachePaths.resolve(paths).pipe(withEnv({ BOOTSTRAP_CACHE_PATH: dir })))
        .toEqual({ path: Path.join(dir, "peers.json"), origin: "env" })
    }).pipe(Effect.provide(Real)))
})
