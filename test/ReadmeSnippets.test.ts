/**
 * The README as a user follows it. Its install commands name a version of every registry package the
 * packages take as a peer, inside the peer range; every TypeScript block is, line for line, the text of
 * a file the repository type-checks (`npm run typecheck`) and runs (`examples/`, the ReadmeExample
 * tests); the CLI section names every command the CLI has; and, with the packages installed from their
 * `npm pack` tarballs (see installed.ts), the Effect program and the core block type-check against the
 * shipped `.d.ts` under `moduleResolution` `node16` and `bundler`, and run under plain `node`.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Installed, installPackages, pinned, ROOT, run, workspacePackages } from "./installed.js"

const README = readFileSync(join(ROOT, "README.md"), "utf8")

/** The fenced blocks of `text` in language `lang`, in order. */
const blocks = (text: string, lang: string): ReadonlyArray<string> =>
  [...text.matchAll(new RegExp("^```" + lang + "\\n([\\s\\S]*?)^```$", "gm"))].map((m) => m[1]!)

/** The text of `## title` up to the next `## ` heading. */
const section = (title: string): string => {
  const start = README.indexOf(`\n## ${title}\n`)
  assert.isAtLeast(start, 0, `README has no section "${title}"`)
  const end = README.indexOf("\n## ", start + 1)
  return README.slice(start, end < 0 ? undefined : end)
}

/**
 * Whether `file` holds `block`: each of its import lines somewhere, and the rest of its lines one after
 * another (compared without indentation, blank lines left out), so a block may sit inside a test.
 */
const holds = (file: string, block: string): boolean => {
  const lines = file.split("\n").map((l) => l.trim()).filter((l) => l.length > 0)
  const wanted = block.split("\n").map((l) => l.trim()).filter((l) => l.length > 0)
  const imports = wanted.filter((l) => l.startsWith("import "))
  const body = wanted.filter((l) => !l.startsWith("import "))
  return imports.every((l) => lines.includes(l)) && lines.some((_, i) => body.every((w, j) => lines[i + j] === w))
}

/** The first version component(s) that make a range's compatible set: `^0.97.2` → `0.97`, `^3.22.4` → `3`. */
const compatibleLine = (version: string): string => {
  const [major, minor] = version.replace(/^[~^]/, "").split(".")
  return major === "0" ? `${major}.${minor}` : major!
}

/** Where each block of the README's TypeScript lives, in the README's order. */
const HOMES = [
  "examples/bootstrap.ts",
  "packages/core/test/ReadmeExample.test.ts",
  "packages/testkit/test/ReadmeExample.test.ts",
  "examples/libp2p.ts"
]

describe("the README against the repository", () => {
  it("every TypeScript block is the text of a type-checked file, in the README's order", () => {
    const ts = blocks(README, "ts")
    assert.strictEqual(ts.length, HOMES.length, "a TypeScript block was added or removed: give it a home in HOMES")
    ts.forEach((block, i) => {
      assert.isTrue(holds(readFileSync(join(ROOT, HOMES[i]!), "utf8"), block), `README block ${i + 1} differs from ${HOMES[i]}`)
    })
  })

  it("the install commands give every peer dependency a version inside the packages' peer range", () => {
    const lines = blocks(section("Install"), "sh").flatMap((b) => b.split("\n")).filter((l) => l.startsWith("npm install "))
    // Every package named on any line, as [name, version or undefined], each occurrence kept.
    const named = lines.flatMap((l) => l.replace(/#.*/, "").trim().split(/\s+/).slice(2)).filter((w) => !w.startsWith("-")).map((w) => {
      const at = w.lastIndexOf("@")
      return at > 0 ? [w.slice(0, at), w.slice(at + 1)] as const : [w, undefined] as const
    })
    const packages = workspacePackages()
    const ours = new Set(packages.map((p) => p.manifest.name))
    for (const [name, version] of named) {
      if (!ours.has(name)) assert.isDefined(version, `"${name}" without a version installs the registry's latest`)
    }
    for (const p of packages.filter((p) => named.some(([name]) => name === p.manifest.name))) {
      for (const [peer, range] of Object.entries(p.manifest.peerDependencies ?? {})) {
        if (ours.has(peer)) continue
        const given = named.filter(([name]) => name === peer)
        assert.isAbove(given.length, 0, `${p.manifest.name} needs ${peer} (${range}): no install line names it`)
        for (const [, version] of given) {
          assert.strictEqual(compatibleLine(version!), compatibleLine(range), `${peer}@${version} against ${p.manifest.name}'s ${range}`)
        }
      }
    }
  })

  it("the CLI section names every command of the CLI, and no other", () => {
    const source = readFileSync(join(ROOT, "packages/node/src/cli/Cli.ts"), "utf8")
    const list = /Command\.withSubcommands\(\[([^\]]*)\]\)/.exec(source)
    assert.isNotNull(list, "Cli.ts no longer lists its subcommands in one Command.withSubcommands([…])")
    const commands = list![1]!.split(",").map((s) => s.trim().replace(/Command$/, "")).filter((s) => s.length > 0).sort()
    const usage = blocks(section("The CLI"), "sh")[0]!
    const documented = usage.split("\n").slice(1).map((l) => /^([a-z]+)\b/.exec(l)?.[1]).filter((c) => c !== undefined).sort()
    assert.deepStrictEqual(documented, commands)
  })
})

/** Runs `node` with `args` in `cwd`; resolves with the exit code and both outputs, whatever the code. */
const node = (args: ReadonlyArray<string>, cwd: string, env: NodeJS.ProcessEnv) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

describe("the README's programs, installed from the tarballs", () => {
  let installed: Installed
  let scratch: string

  beforeAll(async () => {
    installed = await installPackages([pinned("typescript"), pinned("@types/node")])
    scratch = await mkdtemp(join(tmpdir(), "bootstrap-cache-readme-"))
    const [program, core] = blocks(README, "ts")
    await writeFile(join(installed.dir, "program.ts"), program!)
    await writeFile(join(installed.dir, "core.ts"), `${core!}\nexport { picks }\n`)
  }, 15 * 60_000)

  afterAll(async () => {
    await installed?.dispose()
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true })
  }, 5 * 60_000)

  for (const [resolution, module] of [["Node16", "Node16"], ["Bundler", "ESNext"]] as const) {
    it(`type-check with moduleResolution ${resolution}`, async () => {
      const config = `tsconfig.${resolution}.json`
      await writeFile(
        join(installed.dir, config),
        JSON.stringify({
          compilerOptions: { target: "ES2022", module, moduleResolution: resolution, strict: true, noEmit: true, skipLibCheck: true, types: ["node"] },
          files: ["program.ts", "core.ts"]
        })
      )
      await run(process.execPath, [join(installed.dir, "node_modules/typescript/bin/tsc"), "-p", config], installed.dir)
    }, 5 * 60_000)
  }

  it("plain node runs them: the core block picks its peer; the program opens its cache and fails with NoPeersError", async () => {
    // Both blocks are JavaScript as well as TypeScript, so node runs their text as it is.
    const [program, core] = blocks(README, "ts")
    await writeFile(join(installed.dir, "core.mjs"), `${core!}\nconsole.log(JSON.stringify(picks.map((p) => p.address.multiaddr)))\n`)
    const picked = await node(["core.mjs"], installed.dir, process.env)
    assert.strictEqual(picked.code, 0, picked.stderr)
    assert.deepStrictEqual(JSON.parse(picked.stdout), ["/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx"])

    // No endpoint and an empty cache: nothing to dial, so the run ends at once, as a typed failure.
    await writeFile(join(installed.dir, "program.mjs"), program!)
    const path = join(scratch, "peers.json")
    const ran = await node(["program.mjs"], installed.dir, { ...process.env, BOOTSTRAP_CACHE_PATH: path })
    assert.strictEqual(ran.code, 1, ran.stdout + ran.stderr)
    assert.include(ran.stdout + ran.stderr, "bootstrap done: 0/5 peers")
    assert.include(ran.stdout + ran.stderr, "NoPeersError")
  }, 5 * 60_000)
})
