import { ContactsServer, DnsServer } from "@bootstrap-cache/testkit"
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { execFileSync, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { bundleCli } from "./cliBundle.js"

/** The CLI compiled from the current sources, as the executable runs it. */
const bundle = bundleCli()
afterAll(bundle.dispose)

interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Starts the executable as a child process; `exit` waits for it (a child still running after 60 s is killed). */
const start = (args: ReadonlyArray<string>) =>
  Effect.sync(() => {
    const child = spawn(process.execPath, [bundle.file, ...args], {
      env: { ...process.env, BOOTSTRAP_CACHE_PATH: "" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    const out = { stdout: "", stderr: "" }
    child.stdout.on("data", (d) => (out.stdout += d))
    child.stderr.on("data", (d) => (out.stderr += d))
    const exit = Effect.async<Exit>((resume) => {
      const killer = setTimeout(() => child.kill("SIGKILL"), 60_000)
      child.on("close", (code, signal) => {
        clearTimeout(killer)
        resume(Effect.succeed({ code, signal, ...out }))
      })
      return Effect.sync(() => child.kill("SIGKILL"))
    })
    return { child, exit }
  })

const bootstrapCache = (args: ReadonlyArray<string>): Effect.Effect<Exit> => Effect.flatMap(start(args), (p) => p.exit)

const parallel = <const T extends ReadonlyArray<Effect.Effect<Exit>>>(runs: T) => Effect.all(runs, { concurrency: "unbounded" })

const scratch = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "bootstrap-cache-inputs-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** A user error: exit 1 and one short line on stderr naming `mentions`. */
const userError = (exit: Exit, mentions: RegExp) => {
  assert.strictEqual(exit.code, 1, exit.stderr)
  const lines = exit.stderr.trimEnd().split("\n")
  assert.strictEqual(lines.length, 1, exit.stderr)
  assert.isBelow(lines[0]!.length, 400)
  assert.match(lines[0]!, mentions)
}

// A chiral cache (chiral-network peer_cache.rs): one peer with two addresses, per-peer counters.
const PEER = "12D3KooWFTMtaqu24ddDSXk9v5YxnuhJmTLFRunER1CG4wZ2XLUU"
const chiral = JSON.stringify({
  version: 1,
  last_updated: 1_750_000_000,
  peers: [{
    peer_id: PEER,
    addresses: ["/ip4/139.59.168.228/tcp/4001", "/ip4/139.59.168.228/udp/4001/quic-v1"],
    last_seen: 1_750_000_000,
    successful_transfers: 8,
    failed_transfers: 2,
    total_bytes_transferred: 4096
  }]
})

describe("bootstrap-cache CLI — inputs (child processes, real files)", () => {
  it.scopedLive("import of a FIFO, /dev/zero, a directory or a file over the cap fails at once; --cache \"\" is a usage error; long input is quoted short", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      const cache = join(dir, "peers.json")
      const fifo = join(dir, "pipe")
      execFileSync("mkfifo", [fifo])
      const big = join(dir, "big.txt")
      writeFileSync(big, "")
      truncateSync(big, 16 * 1024 * 1024 + 1)
      const [pipe, zero, directory, tooBig, empty, long] = yield* parallel([
        bootstrapCache(["import", fifo, "--cache", cache]),
        bootstrapCache(["import", "/dev/zero", "--cache", cache]),
        bootstrapCache(["import", dir, "--cache", cache]),
        bootstrapCache(["import", big, "--cache", cache]),
        bootstrapCache(["stats", "--cache", ""]),
        bootstrapCache(["add", `/ip4/1.2.3.4/tcp/${"9".repeat(100_000)}`, "--cache", cache])
      ])
      userError(pipe, /FIFO.*not a regular file/)
      userError(zero, /character device, not a regular file/)
      userError(directory, /directory, not a regular file/)
      userError(tooBig, /more than the import cap of 16777216/)
      assert.strictEqual(empty.code, 2)
      assert.include(empty.stdout + empty.stderr, "--cache must name a file")
      userError(long, /invalid multiaddr/)
    }), 120_000)

  it.scopedLive("an import reports the addresses it comes to, a repeated entry once (Polkadot's 412 boot nodes, 6 listed twice)", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      const cache = join(dir, "peers.json")
      const list = fileURLToPath(new URL("../../../fixtures/polkadot-bootnodes.txt", import.meta.url))
      const [text, json] = yield* parallel([
        bootstrapCache(["import", list, "--cache", cache]),
        bootstrapCache(["import", list, "--json", "--cache", join(dir, "other.json")])
      ])
      assert.strictEqual(text.code, 0, text.stderr)
      assert.include(text.stdout, "imported 406 addresses (208 peers)")
      assert.include(text.stdout, "6 repeated entries counted once")
      const report = JSON.parse(json.stdout)
      assert.deepStrictEqual([report.entries, report.addresses, report.peers], [412, 406, 208])
      const stats = yield* bootstrapCache(["stats", "--json", "--cache", cache])
      assert.strictEqual(JSON.parse(stats.stdout).addresses, 406)
    }), 120_000)

  it.scopedLive("importing a chiral cache twice counts it once: 2 addresses (1 peer), counters assigned once; stats show bytes", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      const cache = join(dir, "peers.json")
      const file = join(dir, "chiral.json")
      writeFileSync(file, chiral)
      const first = yield* bootstrapCache(["import", file, "--cache", cache])
      assert.strictEqual(first.code, 0, first.stderr)
      assert.include(first.stdout, "imported 2 addresses (1 peer)")
      const once = readFileSync(cache, "utf8")
      const second = yield* bootstrapCache(["import", file, "--json", "--cache", cache])
      assert.strictEqual(second.code, 0, second.stderr)
      assert.strictEqual(JSON.parse(second.stdout).peers, 1)
      const [stats, list] = yield* parallel([
        bootstrapCache(["stats", "--json", "--cache", cache]),
        bootstrapCache(["list", "--json", "--cache", cache])
      ])
      const s = JSON.parse(stats.stdout)
      assert.deepStrictEqual([s.peers, s.addresses, s.totalSuccesses, s.totalFailures], [1, 2, 8, 2])
      assert.isNumber(s.totalBytesTransferred)
      const [peer] = JSON.parse(list.stdout)
      assert.strictEqual(peer.connectionCount, 8)
      const peersOf = (text: string) => JSON.parse(text).peers
      assert.deepStrictEqual(peersOf(readFileSync(cache, "utf8")), peersOf(once))
    }), 120_000)

  it.scopedLive("import URL goes through the fetcher: a redirect to 127.0.0.2 is refused; SIGTERM ends a hanging import promptly", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      const inner = yield* ContactsServer.make({ "/peers.txt": ContactsServer.Behaviour.Body({ body: "/ip4/8.8.8.8/tcp/4001\n" }) }, { host: "127.0.0.2" })
      const outer = yield* ContactsServer.make({
        "/peers.txt": ContactsServer.Behaviour.Redirect({ location: inner.urlFor("/peers.txt") }),
        "/hang": ContactsServer.Behaviour.Hang()
      })
      const hanging = yield* start(["import", outer.urlFor("/hang"), "--cache", join(dir, "b.json")])
      const redirected = yield* bootstrapCache(["import", outer.urlFor("/peers.txt"), "--cache", join(dir, "a.json")])
      userError(redirected, /redirect-refused.*127\.0\.0\.2/)
      assert.strictEqual(yield* inner.requests("/peers.txt"), 0)
      // Once the request hangs on the server, SIGTERM ends the import well before its 30 s request timeout.
      yield* Effect.repeat(outer.requests("/hang"), { until: (n) => n > 0, schedule: Schedule.spaced("50 millis") })
      hanging.child.kill("SIGTERM")
      const ended = yield* hanging.exit.pipe(Effect.timeout("20 seconds"), Effect.option)
      assert.isTrue(Option.isSome(ended), "still running 20 s after SIGTERM")
      if (Option.isSome(ended)) assert.notStrictEqual(ended.value.code, 0, ended.value.stderr)
    }), 120_000)

  it.scopedLive("bootstrap dials /dnsaddr entries resolved by a DNS server on 127.0.0.1", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      const cache = join(dir, "peers.json")
      const listener = yield* Effect.acquireRelease(
        Effect.async<Net.Server>((resume) => {
          const server = Net.createServer((socket) => socket.destroy())
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
      )
      const port = (listener.address() as Net.AddressInfo).port
      const dns = yield* DnsServer.make({ zone: { "_dnsaddr.peers.test": [`dnsaddr=/ip4/127.0.0.1/tcp/${port}`] } })
      const added = yield* bootstrapCache(["add", "/dnsaddr/peers.test", "--cache", cache])
      assert.strictEqual(added.code, 0, added.stderr)
      const ran = yield* bootstrapCache([
        "bootstrap", "--json", "--target", "1", "--allow-loopback", "--dns-server", dns.address, "--cache", cache
      ])
      assert.strictEqual(ran.code, 0, ran.stderr)
      const result = JSON.parse(ran.stdout)
      assert.strictEqual(result.successes, 1, ran.stdout)
      assert.isAbove(yield* dns.queries("_dnsaddr.peers.test"), 0)
    }), 120_000)
})
