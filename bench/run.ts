/**
 * `npm run bench [-- --quick] [-- --only name,name] [-- --out file]`: runs every benchmark, prints a
 * table and writes `bench/results.json` (or `--out`'s file): an array of `{ name, value, unit,
 * baseline, ratio, … }`.
 *
 * Every figure is a ratio against a baseline measured in the same run; absolute values are printed
 * beside it. `--quick` runs fewer samples: `.ci/run` runs it (with `--out` in a temp directory) so the
 * benchmarks cannot rot; its figures are not kept.
 *
 * One failing benchmark prints its error and the others still run. The exit code is 1 when any
 * benchmark failed or any row reports lost outcomes (`lost` > 0).
 */
import { readFileSync, writeFileSync } from "node:fs"
import { cpus, loadavg, totalmem } from "node:os"
import { performance } from "node:perf_hooks"
import { fileURLToPath, pathToFileURL } from "node:url"
import type { Result } from "./harness.js"
import * as breakerOverhead from "./breakerOverhead.js"
import * as cliStart from "./cliStart.js"
import * as fastPaths from "./fastPaths.js"
import * as freshProcess from "./freshProcess.js"
import * as heapPerPeer from "./heapPerPeer.js"
import * as libp2pWarmVsCold from "./libp2pWarmVsCold.js"
import * as load30k from "./load30k.js"
import * as multiProcessFlush from "./multiProcessFlush.js"
import * as prune from "./prune.js"
import * as recordOutcome from "./recordOutcome.js"
import * as save30k from "./save30k.js"
import * as scale from "./scale.js"
import * as select from "./select.js"
import * as warmStart from "./warmStart.js"
import * as warmVsCold from "./warmVsCold.js"

const args = process.argv.slice(2)
const quick = args.includes("--quick")
const onlyAt = args.indexOf("--only")
const only = onlyAt >= 0 ? new Set((args[onlyAt + 1] ?? "").split(",").filter((s) => s.length > 0)) : undefined
const outAt = args.indexOf("--out")
const resultsUrl = outAt >= 0 && args[outAt + 1] !== undefined
  ? pathToFileURL(args[outAt + 1]!)
  : new URL("./results.json", import.meta.url)

const benches: Array<{ readonly name: string; readonly run: (quick: boolean) => Array<Result> | Promise<Array<Result>> }> = [
  { name: "load-30k", run: load30k.run },
  { name: "save-30k", run: save30k.run },
  { name: "record-outcome", run: recordOutcome.run },
  { name: "select-10-of-30k", run: select.run },
  { name: "prune-30k", run: prune.run },
  { name: "breaker-overhead", run: breakerOverhead.run },
  { name: "multi-process-flush", run: multiProcessFlush.run },
  { name: "warm-vs-cold", run: warmVsCold.run },
  { name: "warm-start", run: warmStart.run },
  { name: "scale", run: scale.run },
  { name: "fast-paths", run: fastPaths.run },
  { name: "libp2p-warm-vs-cold", run: libp2pWarmVsCold.run },
  { name: "cli-start", run: cliStart.run },
  { name: "fresh-process", run: freshProcess.run },
  // Last: the heap figure is cleanest when the earlier benchmarks' garbage has been collected.
  { name: "heap-per-peer", run: heapPerPeer.run }
]

const previousResults = (url: URL): Array<Result> => {
  try {
    const rows: unknown = JSON.parse(readFileSync(url, "utf8"))
    return Array.isArray(rows) ? rows : []
  } catch {
    return []
  }
}

const fmt = (x: number | null | undefined, digits = 2) =>
  x === null || x === undefined || Number.isNaN(x) ? "-" : Math.abs(x) >= 1000 ? Math.round(x).toLocaleString("en-US") : x.toFixed(digits)

const main = async () => {
  if (only !== undefined) {
    const unknown = [...only].filter((name) => !benches.some((b) => b.name === name))
    if (unknown.length > 0) {
      console.error(`unknown benchmark(s): ${unknown.join(", ")}; known: ${benches.map((b) => b.name).join(", ")}`)
      process.exitCode = 2
      return
    }
  }
  const cpu = cpus()
  const machine = `${cpu.length} × ${cpu[0]?.model.trim() ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${process.platform}/${process.arch}`
  const load = () => loadavg().map((x) => x.toFixed(2)).join(" ")
  console.log(`bootstrap-cache benchmarks${quick ? " (quick)" : ""} — ${machine}; load average at start ${load()}\n`)
  const started = performance.now()
  const results: Array<Result> = []
  const failed: Array<string> = []
  for (const bench of benches) {
    if (only !== undefined && !only.has(bench.name)) continue
    const t = performance.now()
    process.stderr.write(`running ${bench.name}…`)
    try {
      results.push(...(await bench.run(quick)))
      process.stderr.write(` ${((performance.now() - t) / 1000).toFixed(1)} s\n`)
    } catch (e) {
      process.stderr.write(" FAILED\n")
      console.error(`\n${bench.name} FAILED:`, e, "\n")
      failed.push(bench.name)
    }
  }
  const rows = results.map((r) => [
    r.name,
    `${fmt(r.value)} ${r.unit}`,
    `${fmt(r.baseline)} ${r.baseline === null ? "" : r.unit}`,
    fmt(r.ratio),
    r.target === undefined ? "" : `${r.met ? "met" : "MISSED"}: ${r.target}`,
    r.baselineName
  ])
  const header = ["name", "value", "baseline", "ratio", "target", "baseline is"]
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()
  console.log(`\n${machine}`)
  console.log(`load average at end ${load()}; ${((performance.now() - started) / 1000).toFixed(0)} s${quick ? " (quick)" : ""}\n`)
  console.log(line(header))
  console.log(widths.map((w) => "-".repeat(w)).join("  "))
  for (const row of rows) console.log(line(row))
  console.log("")
  for (const r of results) if (r.note !== undefined) console.log(`  ${r.name}: ${r.note}`)
  const losing = results.filter((r) => (r.lost ?? 0) > 0)
  // With --only, the rows of the benchmarks not run are kept from the previous results.
  const kept = only === undefined ? [] : previousResults(resultsUrl).filter((r) => !results.some((n) => n.name === r.name))
  writeFileSync(resultsUrl, JSON.stringify([...kept, ...results], null, 2) + "\n")
  console.log(`\nwrote ${fileURLToPath(resultsUrl)}`)
  for (const r of losing) console.error(`\n!!! ${r.name} LOST ${r.lost} OUTCOME(S): the store dropped writes under contention !!!`)
  if (failed.length > 0) console.error(`\n${failed.length} benchmark(s) failed: ${failed.join(", ")}`)
  if (losing.length > 0 || failed.length > 0) process.exitCode = 1
}

// Explicit exit: a benchmark that failed half-way may leave servers or timers behind.
main().then(
  () => process.exit(process.exitCode ?? 0),
  (e) => {
    console.error(e)
    process.exit(1)
  }
)
