/**
 * The packages as a user meets them: every workspace package packed (`npm pack`) and installed from its
 * tarball into a new project outside the repository (see installed.ts). Then plain `node` imports every
 * entry point, a strict TypeScript consumer (`moduleResolution: nodenext`) type-checks a program against
 * the shipped `.d.ts`, and the installed `bootstrap-cache --help` exits 0 — with no tsx and no
 * TypeScript source anywhere in what was installed.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { existsSync, readFileSync } from "node:fs"
import { writeFile } from "node:fs/promises"
import { join } from "node:path"
import { type Installed, installPackages, pinned, run } from "./installed.js"

/** Installing from the registry cache, with a build first when dist/ is stale: minutes on a busy machine. */
const INSTALL_TIMEOUT = 15 * 60_000
const CHECK_TIMEOUT = 5 * 60_000

let installed: Installed

beforeAll(async () => {
  installed = await installPackages([pinned("typescript"), pinned("@types/node")])
}, INSTALL_TIMEOUT)

afterAll(() => installed?.dispose(), CHECK_TIMEOUT)

/** Every import specifier a package offers: its name, and name/subpath for each subpath export. */
const specifiers = (manifest: Installed["packages"][number]["manifest"]): ReadonlyArray<string> =>
  Object.keys(manifest.exports ?? { ".": null }).map((key) => key === "." ? manifest.name : `${manifest.name}/${key.slice(2)}`)

describe("installed from npm pack tarballs", () => {
  it("packs every workspace package, with dist/ and without tests, TypeScript sources or build stamps", () => {
    const dirs = installed.packages.map((p) => p.manifest.name).sort()
    assert.deepStrictEqual(installed.packed.map((p) => p.name).sort(), dirs)
    assert.includeMembers(dirs, ["@bootstrap-cache/core", "@bootstrap-cache/node", "@bootstrap-cache/testkit"])
    for (const tarball of installed.packed) {
      const files = tarball.files.map((f) => f.path)
      assert.include(files, "dist/index.js", tarball.name)
      assert.include(files, "dist/index.d.ts", tarball.name)
      const unwanted = files.filter((f) => /^(src|test)\/|\.test\.|(?<!\.d)\.ts$|\.build-stamp$|tsbuildinfo$/.test(f))
      assert.deepStrictEqual(unwanted, [], tarball.name)
    }
  })

  it("plain node imports every package's entry points; one copy of effect; no tsx", async () => {
    for (const { manifest } of installed.packages) {
      for (const specifier of specifiers(manifest)) {
        const script = `const m = await import(${JSON.stringify(specifier)}); console.log(Object.keys(m).join(","))`
        const names = (await run(process.execPath, ["--input-type=module", "-e", script], installed.dir)).trim()
        assert.isAbove(names.length, 0, `${specifier} exports nothing`)
      }
    }
    const script = "console.log(Object.keys(await import('@bootstrap-cache/core')).join(','))"
    const core = await run(process.execPath, ["--input-type=module", "-e", script], installed.dir)
    assert.include(core.trim().split(","), "PeerTable")
    const effects = (await run("npm", ["ls", "effect", "--all", "--parseable"], installed.dir)).trim().split("\n")
    assert.strictEqual(new Set(effects).size, 1, effects.join("\n"))
    assert.isFalse(existsSync(join(installed.dir, "node_modules/tsx")), "tsx was installed")
  }, CHECK_TIMEOUT)

  it("a strict TypeScript consumer (nodenext) type-checks against the shipped .d.ts", async () => {
    const imports = installed.packages.flatMap((p) => specifiers(p.manifest)).map((s, i) => `import * as entry${i} from ${JSON.stringify(s)}`)
    await writeFile(
      join(installed.dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ["node"]
        },
        include: ["consumer.ts"]
      })
    )
    await writeFile(
      join(installed.dir, "consumer.ts"),
      [
        ...imports,
        `import { PeerAddress, PeerTable } from "@bootstrap-cache/core"`,
        `import { CacheStore } from "@bootstrap-cache/node"`,
        `import { TestLayers } from "@bootstrap-cache/testkit"`,
        `import { Effect } from "effect"`,
        ``,
        `export const entries = [${imports.map((_, i) => `entry${i}`).join(", ")}]`,
        `const address: PeerAddress.PeerAddress = PeerAddress.unsafeParse("/ip4/1.2.3.4/tcp/4001")`,
        `export const table: PeerTable.PeerTable = PeerTable.recordSuccess(PeerTable.empty, address, 0)`,
        `export const peers: Effect.Effect<number, never, CacheStore.CacheStore> = Effect.map(`,
        `  Effect.flatMap(CacheStore.CacheStore, (store) => store.snapshot),`,
        `  (snapshot) => PeerTable.stats(snapshot).peers`,
        `)`,
        `export const test = Effect.provide(peers, TestLayers.cacheStoreMemory())`,
        `// @ts-expect-error the types are real: a string is not a peer table`,
        `export const wrong: PeerTable.PeerTable = "peers"`,
        ``
      ].join("\n")
    )
    const tsc = join(installed.dir, "node_modules/typescript/bin/tsc")
    await run(process.execPath, [tsc, "-p", installed.dir], installed.dir)
  }, CHECK_TIMEOUT)

  it("the installed bootstrap-cache --help exits 0 and runs compiled JavaScript", async () => {
    const bin = join(installed.dir, "node_modules/.bin/bootstrap-cache")
    const help = await run(bin, ["--help"], installed.dir)
    assert.include(help, "bootstrap-cache")
    // --help is answered from dist/cli-help.json; a command runs the installed bundle itself.
    const stats = JSON.parse(await run(bin, ["stats", "--json", "--cache", join(installed.dir, "peers.json")], installed.dir))
    assert.strictEqual(stats.peers, 0)
    const target = readFileSync(join(installed.dir, "node_modules/@bootstrap-cache/node/bin/bootstrap-cache.mjs"), "utf8")
    assert.notInclude(target, "tsx")
  }, CHECK_TIMEOUT)
})
