import { CacheFile, PeerAddress, PeerTable } from "@bootstrap-cache/core"
import { ContactsServer, LoopbackNetwork } from "@bootstrap-cache/testkit"
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import * as CachePaths from "../src/CachePaths.js"
import * as CacheStore from "../src/CacheStore.js"
import * as FileLock from "../src/FileLock.js"
import { bundleCli } from "./cliBundle.js"

/** The CLI compiled from the current sources, as the executable runs it (installed: test/Packaging.test.ts). */
const bundle = bundleCli()
afterAll(bundle.dispose)
const BIN = [bundle.file]
const FIXTURES = fileURLToPath(new URL("../../../fixtures/", import.meta.url))

interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the real executable as a child process (bounded: killed after 60 s). */
const cli = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Effect.Effect<Ran> =>
  run(process.execPath, [...BIN, ...args], env)

/** Runs every command at once (independent child processes): the suite's wall time is the slowest. */
const all = <const T extends ReadonlyArray<Effect.Effect<Ran>>>(runs: T) => Effect.all(runs, { concurrency: "unbounded" })

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`

/** Runs the executable under a pseudo-terminal (util-linux `script`), so stderr is a TTY. */
const cliOnTty = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Effect.Effect<Ran> =>
  run("script", ["-qec", [process.execPath, ...BIN, ...args].map(shellQuote).join(" "), "/dev/null"], env)

/** Whether the system-wide directory (or its nearest existing ancestor) is a directory this process may write: CachePaths' rule. */
const systemWritable = (dir: string): boolean => {
  let current = dir
  while (!existsSync(current)) {
    const parent = dirname(current)
    if (parent === current) return false
    current = parent
  }
  try {
    accessSync(current, constants.W_OK)
    return statSync(current).isDirectory()
  } catch {
    return false
  }
}

const hasScript = (() => {
  try {
    return statSync("/usr/bin/script").isFile()
  } catch {
    return false
  }
})()

const run = (command: string, args: ReadonlyArray<string>, env: Record<string, string>): Effect.Effect<Ran> =>
  Effect.async<Ran>((resume) => {
    const child = spawn(command, args, {
      env: { ...process.env, BOOTSTRAP_CACHE_PATH: "", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.on("close", (code) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code, stdout, stderr }))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "bootstrap-cache-cli-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const A = "/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx"
const B = "/ip6/2001:db8::1/udp/4001/quic-v1"

/** A user error: exit code 1, exactly one line on stderr prefixed with the program name, no stack. */
const assertOneLineError = (ran: Ran, mentions: string) => {
  assert.strictEqual(ran.code, 1, ran.stderr)
  const lines = ran.stderr.trimEnd().split("\n")
  assert.strictEqual(lines.length, 1, ran.stderr)
  assert.match(lines[0]!, /^bootstrap-cache: /)
  assert.include(lines[0]!, mentions)
  assert.notMatch(ran.stderr, /\n\s+at /)
}

describe("bootstrap-cache CLI (child processes, real files)", () => {
  it.scopedLive("every cache command on one file: add, record, list, stats, export, prune, remove; --json prints only JSON", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const cache = join(dir, "peers.json")
      const added = yield* cli(["add", A, B, "--cache", cache])
      assert.strictEqual(added.code, 0, added.stderr)
      assert.include(added.stdout, "added 2 addresses")
      const C = "/ip4/5.6.7.8/tcp/4001"
      const [addJson, success, failure, typo] = yield* all([
        cli(["add", "--json", C, "--source", "connection", "--cache", cache]),
        cli(["record", A, "--success", "--rtt", "42", "--json", "--cache", cache]),
        cli(["record", B, "--failure", "--cache", cache]),
        cli(["record", A, "--failure", "--rtt", "3", "--cache", cache])
      ])
      assert.deepStrictEqual(JSON.parse(addJson.stdout), { added: [C], path: cache })
      assert.deepStrictEqual(JSON.parse(success.stdout), { multiaddr: A, outcome: "success", path: cache })
      assert.include(failure.stdout, `recorded a failure for ${B}`)
      assertOneLineError(typo, "--rtt goes with --success only")

      // Read-only commands, all at once; global options before the command work too.
      const [list, listHuman, listLimited, stats, statsHuman, exported, exportedJson, dryRun] = yield* all([
        cli(["--json", "--cache", cache, "list"]),
        cli(["list", "--cache", cache]),
        cli(["list", "--json", "--limit", "1", "--sort", "last-seen", "--cache", cache]),
        cli(["stats", "--json", "--cache", cache]),
        cli(["stats", "--cache", cache]),
        cli(["export", "--cache", cache]),
        cli(["export", "--json", "--cache", cache]),
        cli(["prune", "--dry-run", "--json", "--cache", cache])
      ])
      for (const r of [list, listHuman, listLimited, stats, statsHuman, exported, exportedJson, dryRun]) {
        assert.strictEqual(r.code, 0, r.stderr)
        assert.strictEqual(r.stderr, "")
      }
      const peers = JSON.parse(list.stdout) as Array<{ peerId: string | null; addresses: Array<Record<string, unknown>> }>
      assert.strictEqual(peers.length, 3)
      assert.strictEqual(peers[0]!.addresses[0]!.multiaddr, A) // best quality first: the one success
      assert.strictEqual(peers[0]!.peerId, "12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx")
      for (const p of peers) {
        for (const a of p.addresses) {
          assert.includeMembers(Object.keys(a), ["multiaddr", "successes", "failures", "lastSeen"])
          assert.isNumber(a.lastSeen)
        }
      }
      const byAddress = new Map(peers.flatMap((p) => p.addresses.map((a) => [a.multiaddr as string, a])))
      assert.strictEqual(byAddress.get(A)!.successes, 1)
      assert.strictEqual(byAddress.get(A)!.rttMs, 42)
      assert.strictEqual(byAddress.get(B)!.failures, 1)
      assert.strictEqual(byAddress.get(C)!.successes, 0)
      assert.strictEqual(JSON.parse(listLimited.stdout).length, 1)
      assert.match(listHuman.stdout, /^PEER\s+ADDRESS\s+OK\s+FAIL\s+RTT\s+LAST SEEN\s+QUALITY\n/)
      assert.include(listHuman.stdout, "/ip4/1.2.3.4/tcp/4001")
      assert.include(listHuman.stdout, "42 ms")

      const s = JSON.parse(stats.stdout)
      assert.strictEqual(s.peers, 3)
      assert.strictEqual(s.addresses, 3)
      assert.strictEqual(s.neverDialled, 1)
      assert.strictEqual(s.totalSuccesses, 1)
      assert.strictEqual(s.totalFailures, 1)
      assert.strictEqual(s.path, cache)
      assert.isBoolean(s.stale)
      assert.match(statsHuman.stdout, /^cache\s+\S+peers\.json\npeers\s+3\n/)

      assert.sameMembers(exported.stdout.trim().split("\n"), [A, B, C])
      assert.strictEqual(JSON.parse(exportedJson.stdout).version, 1)
      assert.deepStrictEqual(JSON.parse(dryRun.stdout), { dryRun: true, removed: [] })

      // Every flush applies the Prune rules, so a file written elsewhere shows what `prune` does: B has
      // failed three times in a row (addrman ADDRMAN_RETRIES) and two peers work (Prune's
      // minimum-working-peer rule).
      const now = Date.now()
      let crafted = PeerTable.empty
      for (const m of [A, B, C]) crafted = PeerTable.add(crafted, PeerAddress.unsafeParse(m), { now, source: { _tag: "user" } })
      for (const m of [A, C]) crafted = PeerTable.recordSuccess(crafted, PeerAddress.unsafeParse(m), now)
      for (let i = 0; i < 3; i++) crafted = PeerTable.recordFailure(crafted, PeerAddress.unsafeParse(B), now)
      const terrible = join(dir, "terrible.json")
      writeFileSync(terrible, CacheFile.encode(crafted, { hash: CacheStore.sha256, lastUpdated: now }))
      const before = readFileSync(terrible, "utf8")
      const wouldPrune = yield* cli(["prune", "--dry-run", "--cache", terrible])
      assert.strictEqual(wouldPrune.code, 0, wouldPrune.stderr)
      assert.match(wouldPrune.stdout, /^ADDRESS\s+REASON\s+DETAIL\n/)
      assert.include(wouldPrune.stdout, B)
      assert.include(wouldPrune.stdout, "would remove 1 address\n")
      assert.strictEqual(readFileSync(terrible, "utf8"), before)
      const pruned = JSON.parse((yield* cli(["prune", "--json", "--cache", terrible])).stdout)
      assert.isFalse(pruned.dryRun)
      assert.deepStrictEqual(pruned.removed.flatMap((r: { addresses: Array<string> }) => r.addresses), [B])
      assert.notInclude(readFileSync(terrible, "utf8"), "2001:db8")

      const removed = yield* cli(["remove", C, "/ip4/9.9.9.9/tcp/1", "--json", "--cache", cache])
      assert.strictEqual(removed.code, 0, removed.stderr)
      assert.deepStrictEqual(JSON.parse(removed.stdout), { removed: [C], unknown: ["/ip4/9.9.9.9/tcp/1"], path: cache })
      assert.sameMembers((yield* cli(["export", "--cache", cache])).stdout.trim().split("\n"), [A, B])
    }), 90_000)

  it.scopedLive("6 concurrent record processes on one cache lose no outcome", () =>
    Effect.gen(function*() {
      const cache = join(yield* tempDir, "peers.json")
      const outcomes = [
        ["--success", "--rtt", "10"],
        ["--failure"],
        ["--success", "--rtt", "30"],
        ["--success"],
        ["--failure"],
        ["--success", "--rtt", "20"]
      ]
      const runs = yield* all(outcomes.map((o) => cli(["record", A, ...o, "--cache", cache])))
      for (const r of runs) assert.strictEqual(r.code, 0, r.stderr)
      const list = JSON.parse((yield* cli(["list", "--json", "--cache", cache])).stdout)
      assert.strictEqual(list.length, 1)
      const address = list[0].addresses[0]
      assert.strictEqual(address.successes, 4)
      assert.strictEqual(address.failures, 2)
      assert.isNumber(address.rttMs)
    }), 60_000)

  it.scopedLive("user errors: one line on stderr, exit 1, no stack; usage errors exit 2; a corrupt cache is moved aside", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const cache = join(dir, "peers.json")
      writeFileSync(join(dir, "a-file"), "x")
      // A cache whose lock another process (this one) holds for the whole test, heartbeat included.
      const held = join(dir, "held.json")
      yield* (yield* FileLock.make).acquire(held)
      const corrupt = join(dir, "corrupt.json")
      writeFileSync(corrupt, "{\"version\": 1, \"peers\": [")
      const [typo, missing, noOutcome, notADir, usage, locked, badLockTimeout, recovered] = yield* all([
        cli(["add", A, "/ip4/1.2.3.4/tcp/99999", "--cache", cache]),
        cli(["import", join(dir, "missing.txt"), "--cache", cache]),
        cli(["record", A, "--cache", cache]),
        cli(["stats", "--cache", join(dir, "a-file", "peers.json")]),
        cli(["bootstrap", "--target", "0", "--cache", cache]),
        cli(["record", A, "--success", "--lock-timeout", "300ms", "--cache", held]),
        cli(["stats", "--lock-timeout", "soon", "--cache", cache]),
        cli(["stats", "--json", "--cache", corrupt])
      ])
      assertOneLineError(typo, "/ip4/1.2.3.4/tcp/99999")
      // Nothing was added: the typo stopped the whole command before the cache was opened.
      assert.isFalse(existsSync(cache))
      assertOneLineError(missing, join(dir, "missing.txt"))
      assertOneLineError(noOutcome, "--success or --failure")
      assertOneLineError(notADir, join(dir, "a-file"))
      assert.strictEqual(usage.code, 2)
      assert.include(usage.stderr + usage.stdout, "--target must be at least 1")
      assert.notMatch(usage.stderr + usage.stdout, /\n\s+at /)
      assertOneLineError(locked, `held by pid ${process.pid}`)
      assert.include(locked.stderr, "timed out after")
      assert.strictEqual(badLockTimeout.code, 2)
      assert.include(badLockTimeout.stderr + badLockTimeout.stdout, "--lock-timeout")
      // A corrupt cache never stops a command: one warning line, the file moved aside (never deleted).
      assert.strictEqual(recovered.code, 0, recovered.stderr)
      assert.strictEqual(JSON.parse(recovered.stdout).peers, 0)
      assert.match(recovered.stderr, /^bootstrap-cache: warning: the cache file is corrupt .* moved aside to \S+corrupt\.json\.corrupt-\S+\n$/)
      const aside = readdirSync(dir).filter((f) => f.startsWith("corrupt.json.corrupt-"))
      assert.strictEqual(aside.length, 1)
      assert.strictEqual(readFileSync(join(dir, aside[0]!), "utf8"), "{\"version\": 1, \"peers\": [")
    }), 60_000)

  it.scopedLive("import a real fixture (file and http URL), skip bad lines, round-trip through export --format json", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const cache = join(dir, "peers.json")
      const kuboText = readFileSync(join(FIXTURES, "kubo-bootstrap.txt"), "utf8")
      const server = yield* ContactsServer.make({
        "/kubo.txt": ContactsServer.Behaviour.Body({ body: kuboText }),
        "/gone": ContactsServer.Behaviour.Status({ status: 404 })
      })
      const [bad, kubo, fromUrl, gone] = yield* all([
        cli(["import", join(FIXTURES, "safe-network-contacts-2023-quoted.txt"), "--json", "--cache", join(dir, "bad.json")]),
        cli(["import", join(FIXTURES, "kubo-bootstrap.txt"), "--cache", cache]),
        cli(["import", server.urlFor("/kubo.txt"), "--json", "--cache", join(dir, "from-url.json")]),
        cli(["import", server.urlFor("/gone"), "--cache", join(dir, "gone.json")])
      ])
      assert.strictEqual(bad.code, 0, bad.stderr)
      const report = JSON.parse(bad.stdout)
      assert.strictEqual(report.entries, 0)
      assert.strictEqual(report.bad.length, 7)
      assert.strictEqual(report.bad[0].location, "line 1")
      assert.strictEqual(kubo.code, 0, kubo.stderr)
      assert.include(kubo.stdout, "imported 7 addresses")
      assert.strictEqual(fromUrl.code, 0, fromUrl.stderr)
      const urlReport = JSON.parse(fromUrl.stdout)
      assert.strictEqual(urlReport.entries, 7)
      assert.strictEqual(urlReport.source, server.urlFor("/kubo.txt"))
      assertOneLineError(gone, "404")

      const exported = yield* cli(["export", "--format", "json", "--cache", cache])
      const file = join(dir, "export.json")
      writeFileSync(file, exported.stdout)
      const other = join(dir, "other.json")
      const again = yield* cli(["import", file, "--json", "--cache", other])
      assert.strictEqual(again.code, 0, again.stderr)
      assert.strictEqual(JSON.parse(again.stdout).format, "bootstrap-cache")
      const inFile = (JSON.parse(exported.stdout).peers as Array<{ addresses: Array<{ multiaddr: string }> }>)
        .flatMap((p) => p.addresses.map((a) => a.multiaddr))
      const [reimported, fromUrlExport] = yield* all([
        cli(["export", "--cache", other]),
        cli(["export", "--cache", join(dir, "from-url.json")])
      ])
      assert.strictEqual(inFile.length, 7)
      assert.sameMembers(reimported.stdout.trim().split("\n"), inFile)
      assert.sameMembers(fromUrlExport.stdout.trim().split("\n"), inFile)
      // The cache file on disk is the bootstrap-cache format (version 2, compact; the export is version 1).
      assert.strictEqual(JSON.parse(readFileSync(cache, "utf8")).version, 2)
    }), 60_000)

  it.scopedLive("bootstrap on a loopback network: cold from the endpoint, then cache-first; human, JSON and TTY output", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const net = yield* LoopbackNetwork.make(LoopbackNetwork.mix({ accept: 6, refuse: 4, hang: 2 }, 11))
      const server = yield* ContactsServer.make({ "/contacts": ContactsServer.Behaviour.Body({ body: net.contacts }) })
      const args = ["bootstrap", "--endpoint", server.urlFor("/contacts"), "--allow-loopback", "--target", "3", "--timeout", "1s"]
      // The cache path comes from BOOTSTRAP_CACHE_PATH when --cache is absent.
      const env = { BOOTSTRAP_CACHE_PATH: join(dir, "peers.json") }
      // Where the default location must resolve, judged before any command runs (a command run as
      // root may create the system directory, which must not decide what is checked afterwards).
      const system = CachePaths.systemDirectory(process.platform, process.env.ProgramData)
      const expectedDefault = systemWritable(system)
        ? join(system, "peers.json")
        : join(dir, "xdg", "bootstrap-cache", "peers.json")
      const cold = yield* cli([...args, "--json"], env)
      assert.strictEqual(cold.code, 0, cold.stderr)
      const first = JSON.parse(cold.stdout)
      assert.isTrue(first.endpointsUsed)
      assert.strictEqual(first.endpointReason, "empty")
      assert.isAtLeast(first.connected.length, 3)
      assert.isTrue(first.targetReached)
      assert.isNumber(first.timeToFirstPeerMs)
      assert.isNumber(first.timeToTargetMs)
      assert.isNumber(first.hitRate)
      assert.isNumber(first.dials)
      // No terminal, no progress line.
      assert.notInclude(cold.stderr, "in flight")

      const [warmJson, warmHuman, empty, defaultLocation] = yield* all([
        cli([...args, "--json"], env),
        cli([...args, "--cache", join(dir, "peers.json")]),
        cli(["bootstrap", "--allow-loopback", "--cache", join(dir, "empty.json")]),
        // Neither --cache nor BOOTSTRAP_CACHE_PATH: the per-user data directory (XDG) unless a
        // system-wide one is writable.
        cli(["stats", "--json"], { XDG_DATA_HOME: join(dir, "xdg") })
      ])
      const warm = JSON.parse(warmJson.stdout)
      assert.isFalse(warm.endpointsUsed)
      assert.strictEqual(warm.cachedPeers, 12)
      assert.isTrue(warm.connected.every((c: { origin: string }) => c.origin === "cache"))
      assert.strictEqual(warmHuman.code, 0, warmHuman.stderr)
      assert.match(warmHuman.stdout, /^connected\s+3\/3\nsource\s+cache\n/)
      assert.match(warmHuman.stdout, /\nPEER\s+ADDRESS\s+RTT\s+FROM\n/)
      assert.include(warmHuman.stdout, "hit rate")
      assert.strictEqual(yield* server.requests("/contacts"), 1)
      // Without endpoints and with nothing reachable: a one-line error and exit 1, the summary on stdout.
      assertOneLineError(empty, "no peer")
      assert.include(empty.stdout, "connected")
      assert.strictEqual(defaultLocation.code, 0, defaultLocation.stderr)
      assert.strictEqual(JSON.parse(defaultLocation.stdout).path, expectedDefault)

      // On a terminal: live progress (dials in flight, connected so far) on stderr.
      if (hasScript) {
        const tty = yield* cliOnTty([...args, "--cache", join(dir, "peers.json")])
        assert.strictEqual(tty.code, 0, tty.stdout)
        assert.match(tty.stdout, /\r\x1b\[Kcache: \d+ dials, \d+ in flight, \d+ failed, \d\/3 connected/)
      }
    }), 90_000)
})
