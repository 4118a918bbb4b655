#!/usr/bin/env node
/**
 * `npm run build` (and the root `prepare`, so every `npm install` / `npm ci`): builds every workspace
 * package (`packages/*`) into its `dist/` — ESM JavaScript and `.d.ts` — in dependency order, since a
 * package type-checks against the `dist/*.d.ts` of the workspace packages it imports.
 *
 *   node scripts/build.mjs              clean build of every package
 *   node scripts/build.mjs --if-stale   rebuild only packages whose inputs (src/, package.json,
 *                                       tsconfig*.json, scripts/) are newer than their dist/, or that
 *                                       depend on a package rebuilt in this run
 *
 * Each package's `prepack` runs `--if-stale`, so `npm pack` / `npm publish` never ship a stale dist/.
 *
 * A package is built by its own `build` script (`npm run build` in its folder), else by
 * `tsc -p tsconfig.build.json`. dist/ is removed first, so a deleted module never ships.
 *
 * An install without dev dependencies (`npm install --omit=dev`) has no TypeScript to build with:
 * the script then says so and exits 0, so such an install never fails here.
 */
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const ROOT = fileURLToPath(new URL("..", import.meta.url))
const PACKAGES = join(ROOT, "packages")
const ifStale = process.argv.includes("--if-stale")

try {
  createRequire(join(ROOT, "package.json")).resolve("typescript")
} catch {
  console.warn("bootstrap-cache: TypeScript is not installed (dev dependencies omitted): packages not built")
  process.exit(0)
}

/** Every workspace package: folder, manifest, and the workspace packages it depends on. */
const readPackages = () => {
  const all = readdirSync(PACKAGES, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(PACKAGES, e.name, "package.json")))
    .map((e) => {
      const dir = join(PACKAGES, e.name)
      const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))
      return { dir, manifest, name: manifest.name }
    })
  const names = new Set(all.map((p) => p.name))
  return all.map((p) => ({
    ...p,
    deps: Object.keys({ ...p.manifest.dependencies, ...p.manifest.peerDependencies, ...p.manifest.devDependencies })
      .filter((d) => names.has(d))
  }))
}

/** Dependencies first; a cycle between workspace packages is an error naming it. */
const buildOrder = (packages) => {
  const byName = new Map(packages.map((p) => [p.name, p]))
  const order = []
  const state = new Map()
  const visit = (p, path) => {
    if (state.get(p.name) === "done") return
    if (state.get(p.name) === "visiting") {
      throw new Error(`workspace packages depend on each other in a cycle: ${[...path, p.name].join(" -> ")}`)
    }
    state.set(p.name, "visiting")
    for (const d of p.deps) visit(byName.get(d), [...path, p.name])
    state.set(p.name, "done")
    order.push(p)
  }
  for (const p of [...packages].sort((a, b) => a.name.localeCompare(b.name))) visit(p, [])
  return order
}

/** Newest modification time (ms) of a file or of any file under a folder; 0 when absent. */
const newest = (path) => {
  if (!existsSync(path)) return 0
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  return readdirSync(path).reduce((m, entry) => Math.max(m, newest(join(path, entry))), stat.mtimeMs)
}

const inputsTime = (dir) =>
  Math.max(
    newest(join(dir, "src")),
    newest(join(dir, "package.json")),
    newest(join(dir, "scripts")),
    ...readdirSync(dir).filter((f) => /^tsconfig.*\.json$/.test(f)).map((f) => newest(join(dir, f))),
    newest(join(ROOT, "tsconfig.base.json"))
  )

/** Written last, after a successful build: a stamp newer than every input means dist/ is current. */
const STAMP = ".build-stamp"

const run = (command, args, cwd) => {
  const result = spawnSync(command, args, { cwd, stdio: "inherit" })
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed in ${cwd} (exit ${result.status ?? result.signal})`)
  }
}

const build = (p) => {
  const dist = join(p.dir, "dist")
  rmSync(dist, { recursive: true, force: true })
  if (p.manifest.scripts?.build !== undefined) {
    run("npm", ["run", "build", "--silent"], p.dir)
  } else if (existsSync(join(p.dir, "tsconfig.build.json"))) {
    run(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], p.dir)
  } else {
    console.warn(`bootstrap-cache: ${p.name} has no build script and no tsconfig.build.json: not built`)
    return
  }
  writeFileSync(join(dist, STAMP), "")
}

const main = () => {
  const rebuilt = new Set()
  for (const p of buildOrder(readPackages())) {
    const stale = !ifStale ||
      p.deps.some((d) => rebuilt.has(d)) ||
      inputsTime(p.dir) > newest(join(p.dir, "dist", STAMP))
    if (!stale) continue
    const started = Date.now()
    build(p)
    rebuilt.add(p.name)
    console.log(`built ${p.name} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  }
  if (ifStale && rebuilt.size === 0) console.log("every package's dist/ is up to date")
}

try {
  main()
} catch (e) {
  console.error(`bootstrap-cache build: ${e instanceof Error ? e.message : String(e)}`)
  process.exit(1)
}
