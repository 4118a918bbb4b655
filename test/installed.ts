/**
 * The workspace packages installed as a user gets them: every package in `packages/*` built (when its
 * dist/ is older than its sources), packed with `npm pack`, and installed from the tarballs into a new
 * project in the OS temp directory, with the registry packages they need: their peer dependencies at the
 * versions this repository pins, and the given extras. Used by test/Packaging.test.ts and
 * bench/cliStart.ts. `dispose` removes the project.
 *
 * The install uses the local npm cache first (`--prefer-offline`) and the registry for anything missing.
 * Install scripts are skipped: no package of ours has one.
 */
import { type SpawnSyncReturns, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export const ROOT = fileURLToPath(new URL("..", import.meta.url))

/** A workspace package's manifest, as far as packaging reads it. */
export interface Manifest {
  readonly name: string
  readonly private?: boolean
  readonly exports?: Record<string, unknown>
  readonly bin?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
  readonly dependencies?: Record<string, string>
}

/** Every publishable workspace package: its folder and manifest. */
export const workspacePackages = (): ReadonlyArray<{ readonly dir: string; readonly manifest: Manifest }> =>
  readdirSync(join(ROOT, "packages"), { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(ROOT, "packages", e.name, "package.json")))
    .map((e) => {
      const dir = join(ROOT, "packages", e.name)
      return { dir, manifest: JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest }
    })
    .filter((p) => p.manifest.private !== true)

/** Runs a command to completion; a non-zero exit is an error carrying its output. */
export const run = (command: string, args: ReadonlyArray<string>, cwd: string): SpawnSyncReturns<string> => {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", maxBuffer: 64 * 2 ** 20 })
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} (in ${cwd}) exited ${result.status ?? result.signal}:\n${result.stdout}\n${result.stderr}`
    )
  }
  return result
}

/** What `npm pack --json` reports of one tarball. */
export interface Packed {
  readonly name: string
  readonly filename: string
  readonly files: ReadonlyArray<{ readonly path: string }>
}

export interface Installed {
  /** The consumer project (package.json, node_modules/). */
  readonly dir: string
  readonly packages: ReadonlyArray<{ readonly dir: string; readonly manifest: Manifest }>
  readonly packed: ReadonlyArray<Packed>
  readonly dispose: () => void
}

/**
 * Builds (if stale), packs and installs every workspace package into a new temp project.
 * `extras`: more registry packages to install beside them, e.g. `["typescript@5.9.3"]`.
 */
export const installPackages = (extras: ReadonlyArray<string> = []): Installed => {
  const dir = mkdtempSync(join(tmpdir(), "bootstrap-cache-install-"))
  try {
    run(process.execPath, [join(ROOT, "scripts/build.mjs"), "--if-stale"], ROOT)
    const packages = workspacePackages()
    const tarballs = join(dir, "tarballs")
    mkdirSync(tarballs)
    const packed = JSON.parse(
      run(
        "npm",
        ["pack", "--json", "--ignore-scripts", "--pack-destination", tarballs, ...packages.flatMap((p) => ["-w", p.manifest.name])],
        ROOT
      ).stdout
    ) as ReadonlyArray<Packed>
    const project = join(dir, "project")
    mkdirSync(project)
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "bootstrap-cache-consumer", version: "1.0.0", private: true, type: "module" }, null, 2)
    )
    run("npm", [
      "install",
      "--prefer-offline",
      "--ignore-scripts",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
      ...packed.map((p) => join(tarballs, p.filename)),
      ...pinnedPeers(packages),
      ...extras
    ], project)
    return { dir: project, packages, packed, dispose: () => rmSync(dir, { recursive: true, force: true }) }
  } catch (e) {
    rmSync(dir, { recursive: true, force: true })
    throw e
  }
}

/** The packages' registry peer dependencies at the versions the repository's root pins. */
const pinnedPeers = (packages: ReadonlyArray<{ readonly manifest: Manifest }>): ReadonlyArray<string> => {
  const root = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as Manifest
  const ours = new Set(packages.map((p) => p.manifest.name))
  const names = new Set(packages.flatMap((p) => Object.keys(p.manifest.peerDependencies ?? {})).filter((n) => !ours.has(n)))
  return [...names].sort().map((n) => {
    const pinned = root.dependencies?.[n]
    return pinned === undefined ? n : `${n}@${pinned}`
  })
}

/** The repository's pinned version of a root (dev) dependency, as `name@version`. */
export const pinned = (name: string): string => {
  const root = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>
    devDependencies?: Record<string, string>
  }
  const version = root.devDependencies?.[name] ?? root.dependencies?.[name]
  return version === undefined ? name : `${name}@${version}`
}
