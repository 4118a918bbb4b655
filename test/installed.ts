/**
 * The workspace packages installed as a user gets them: every package in `packages/*` built (when its
 * dist/ is older than its sources), packed with `npm pack`, and installed from the tarballs into a new
 * project in the OS temp directory, with the registry packages they need: their peer dependencies at the
 * versions this repository is tested with, and the given extras. Used by test/Packaging.test.ts and
 * bench/cliStart.ts. `dispose` removes the project.
 *
 * The install uses the local npm cache first (`--prefer-offline`) and the registry for anything missing.
 * Install scripts are skipped: no package of ours has one.
 */
import { spawn } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
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

/**
 * Runs a command to completion (asynchronously: a test worker stays responsive); a non-zero exit is an
 * error carrying its output. Resolves with stdout.
 */
export const run = (command: string, args: ReadonlyArray<string>, cwd: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    child.on("error", reject)
    child.on("close", (code, signal) =>
      code === 0
        ? resolve(stdout)
        : reject(new Error(`${command} ${args.join(" ")} (in ${cwd}) exited ${code ?? signal}:\n${stdout}\n${stderr}`)))
  })

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
  readonly dispose: () => Promise<void>
}

/**
 * Builds (if stale), packs and installs every workspace package into a new temp project.
 * `extras`: more registry packages to install beside them, e.g. `["typescript@5.9.3"]`.
 */
export const installPackages = async (extras: ReadonlyArray<string> = []): Promise<Installed> => {
  const dir = await mkdtemp(join(tmpdir(), "bootstrap-cache-install-"))
  const dispose = () => rm(dir, { recursive: true, force: true })
  try {
    await run(process.execPath, [join(ROOT, "scripts/build.mjs"), "--if-stale"], ROOT)
    const packages = workspacePackages()
    const tarballs = join(dir, "tarballs")
    await mkdir(tarballs)
    const packed = JSON.parse(
      await run(
        "npm",
        ["pack", "--json", "--ignore-scripts", "--pack-destination", tarballs, ...packages.flatMap((p) => ["-w", p.manifest.name])],
        ROOT
      )
    ) as ReadonlyArray<Packed>
    const project = join(dir, "project")
    await mkdir(project)
    await writeFile(
      join(project, "package.json"),
      JSON.stringify({ name: "bootstrap-cache-consumer", version: "1.0.0", private: true, type: "module" }, null, 2)
    )
    await run("npm", [
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
    return { dir: project, packages, packed, dispose }
  } catch (e) {
    await dispose()
    throw e
  }
}

/** The packages' registry peer dependencies, at the versions this repository is tested with. */
const pinnedPeers = (packages: ReadonlyArray<{ readonly manifest: Manifest }>): ReadonlyArray<string> => {
  const ours = new Set(packages.map((p) => p.manifest.name))
  const names = new Set(packages.flatMap((p) => Object.keys(p.manifest.peerDependencies ?? {})).filter((n) => !ours.has(n)))
  return [...names].sort().map(pinned)
}

/**
 * A registry package as `name@version`, at the version this repository is tested with: the root
 * manifest's pin, else the version installed in the repository's node_modules, else the bare name.
 */
export const pinned = (name: string): string => {
  const root = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>
    devDependencies?: Record<string, string>
  }
  const installed = join(ROOT, "node_modules", name, "package.json")
  const version = root.devDependencies?.[name] ?? root.dependencies?.[name] ??
    (existsSync(installed) ? (JSON.parse(readFileSync(installed, "utf8")) as { version?: string }).version : undefined)
  return version === undefined ? name : `${name}@${version}`
}
