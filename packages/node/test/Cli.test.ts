import { ContactsServer, LoopbackNetwork } from "@bootstrap-cache/testkit"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const BIN = fileURLToPath(new URL("../bin/bootstrap-cache.mjs", import.meta.url))
const FIXTURES = fileURLToPath(new URL("../../../../shared/fixtures/", import.meta.url))

interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the real executable as a child process (bounded: killed after 60 s). */
const cli = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Effect.Effect<Ran> =>
  Effect.async<Ran>((resume) => {
    const child = spawn(process.execPath, [BIN, ...args], {
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
  it.scopedLive("add, list --json, stats --json, export, remove on one cache file", () =>
    Effect.gen(function*() {
      const cache = join(yield* tempDir, "peers.json")
      const added = yield* cli(["add", A, B, "--cache", cache])
      assert.strictEqual(added.code, 0, added.stderr)
      assert.include(added.stdout, "added 2 addresses")

      // Global options before the command work too.
      const list = yield* cli(["--json", "--cache", cache, "list"])
      assert.strictEqual(list.code, 0, list.stderr)
      const peers = JSON.parse(list.stdout) as Array<{ peerId: string | null; addresses: Array<Record<string, unknown>> }>
      assert.strictEqual(peers.length, 2)
      const withId = peers.find((p) => p.peerId !== null)!
      assert.strictEqual(withId.peerId, "12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx")
      for (const p of peers) {
        for (const a of p.addresses) {
          assert.includeMembers(Object.keys(a), ["multiaddr", "successes", "failures", "lastSeen"])
          assert.strictEqual(a.successes, 0)
          assert.isNumber(a.lastSeen)
        }
      }
      assert.sameMembers(peers.flatMap((p) => p.addresses.map((a) => a.multiaddr)), [A, B])

      const stats = yield* cli(["stats", "--json", "--cache", cache])
      assert.strictEqual(stats.code, 0, stats.stderr)
      const s = JSON.parse(stats.stdout)
      assert.strictEqual(s.peers, 2)
      assert.strictEqual(s.addresses, 2)
      assert.strictEqual(s.neverDialled, 2)
      assert.strictEqual(s.path, cache)

      const exported = yield* cli(["export", "--cache", cache])
      assert.sameMembers(exported.stdout.trim().split("\n"), [A, B])

      const removed = yield* cli(["remove", B, "--json", "--cache", cache])
      assert.strictEqual(removed.code, 0, removed.stderr)
      assert.deepStrictEqual(JSON.parse(removed.stdout).removed, [B])
      const human = yield* cli(["list", "--cache", cache])
      assert.include(human.stdout, "PEER")
      assert.include(human.stdout, "/ip4/1.2.3.4/tcp/4001")
      assert.notInclude(human.stdout, "2001:db8")
    }), 60_000)

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
      const runs = yield* Effect.forEach(outcomes, (o) => cli(["record", A, ...o, "--cache", cache]), {
        concurrency: "unbounded"
      })
      for (const r of runs) assert.strictEqual(r.code, 0, r.stderr)
      const list = JSON.parse((yield* cli(["list", "--json", "--cache", cache])).stdout)
      assert.strictEqual(list.length, 1)
      const address = list[0].addresses[0]
      assert.strictEqual(address.successes, 4)
      assert.strictEqual(address.failures, 2)
      assert.isNumber(address.rttMs)
    }), 60_000)

  it.scopedLive("user errors: one line on stderr, exit 1, no stack; usage errors exit 2", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const cache = join(dir, "peers.json")
      assertOneLineError(yield* cli(["add", A, "/ip4/1.2.3.4/tcp/99999", "--cache", cache]), "/ip4/1.2.3.4/tcp/99999")
      // Nothing was added: the typo stopped the whole command before the cache was opened.
      assert.isFalse(existsSync(cache))
      assertOneLineError(yield* cli(["import", join(dir, "missing.txt"), "--cache", cache]), join(dir, "missing.txt"))
      assertOneLineError(yield* cli(["record", A, "--cache", cache]), "--success or --failure")
      writeFileSync(join(dir, "a-file"), "x")
      assertOneLineError(yield* cli(["stats", "--cache", join(dir, "a-file", "peers.json")]), join(dir, "a-file"))
      const usage = yield* cli(["bootstrap", "--target", "0", "--cache", cache])
      assert.strictEqual(usage.code, 2)
      assert.include(usage.stderr + usage.stdout, "--target must be at least 1")
      assert.notMatch(usage.stderr + usage.stdout, /\n\s+at /)
    }), 60_000)

  it.scopedLive("import a real fixture, skip its bad lines, and round-trip through export --format json", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const cache = join(dir, "peers.json")
      const bad = yield* cli(["import", join(FIXTURES, "safe-network-contacts-2023-quoted.txt"), "--json", "--cache", cache])
      assert.strictEqual(bad.code, 0, bad.stderr)
      const report = JSON.parse(bad.stdout)
      assert.strictEqual(report.entries, 0)
      assert.strictEqual(report.bad.length, 7)
      assert.strictEqual(report.bad[0].location, "line 1")

      const kubo = yield* cli(["import", join(FIXTURES, "kubo-bootstrap.txt"), "--cache", cache])
      assert.strictEqual(kubo.code, 0, kubo.stderr)
      assert.include(kubo.stdout, "imported 7 addresses")

      const exported = yield* cli(["export", "--format", "json", "--cache", cache])
      const file = join(dir, "export.json")
      writeFileSync(file, exported.stdout)
      const other = join(dir, "other.json")
      const again = yield* cli(["import", file, "--json", "--cache", other])
      assert.strictEqual(again.code, 0, again.stderr)
      assert.strictEqual(JSON.parse(again.stdout).format, "bootstrap-cache")
      const inFile = (JSON.parse(exported.stdout).peers as Array<{ addresses: Array<{ multiaddr: string }> }>)
        .flatMap((p) => p.addresses.map((a) => a.multiaddr))
      const reimported = (yield* cli(["export", "--cache", other])).stdout.trim().split("\n")
      assert.strictEqual(inFile.length, 7)
      assert.sameMembers(reimported, inFile)
      // The cache file on disk is the bootstrap-cache format.
      assert.strictEqual(JSON.parse(readFileSync(cache, "utf8")).version, 1)
    }), 60_000)

  it.scopedLive("bootstrap on a loopback network: cold from the endpoint, then cache-first (--json)", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const net = yield* LoopbackNetwork.make(LoopbackNetwork.mix({ accept: 6, refuse: 4, hang: 2 }, 11))
      const server = yield* ContactsServer.make({ "/contacts": ContactsServer.Behaviour.Body({ body: net.contacts }) })
      const args = ["bootstrap", "--endpoint", server.urlFor("/contacts"), "--allow-loopback", "--target", "3", "--timeout", "500ms", "--json"]
      // The cache path comes from BOOTSTRAP_CACHE_PATH when --cache is absent.
      const env = { BOOTSTRAP_CACHE_PATH: join(dir, "peers.json") }
      const cold = yield* cli(args, env)
      assert.strictEqual(cold.code, 0, cold.stderr)
      const first = JSON.parse(cold.stdout)
      assert.isTrue(first.endpointsUsed)
      assert.strictEqual(first.endpointReason, "empty")
      assert.isAtLeast(first.connected.length, 3)
      assert.isTrue(first.targetReached)
      assert.isNumber(first.timeToFirstPeerMs)
      assert.isNumber(first.timeToTargetMs)
      const warm = JSON.parse((yield* cli(args, env)).stdout)
      assert.isFalse(warm.endpointsUsed)
      assert.strictEqual(warm.cachedPeers, 12)
      assert.isTrue(warm.connected.every((c: { origin: string }) => c.origin === "cache"))
      assert.strictEqual(yield* server.requests("/contacts"), 1)

      // Without endpoints and with nothing reachable: a one-line error and exit 1.
      const empty = yield* cli(["bootstrap", "--allow-loopback", "--cache", join(dir, "empty.json")])
      assertOneLineError(empty, "no peer")
      assert.include(empty.stdout, "connected")
    }), 60_000)
})
