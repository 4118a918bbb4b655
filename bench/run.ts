/**
 * `npm run bench [-- --quick] [-- --only name,name]`: runs every benchmark, prints a table and writes
 * `bench/results.json` (an array of `{ name, value, unit, baseline, ratio, … }`).
 *
 * Every figure is a ratio against a baseline measured in the same run; absolute values are printed
 * beside it. `--quick` runs fewer samples (used in CI to keep the benchmarks from rotting).
 */
import { writeFileSync } from "node:fs"
import { cpus, totalmem } from "node:os"
import type { Result } from "./harness.js"
import * as breakerOverhead from "./breakerOverhead.js"
import * as heapPerPeer from "./heapPerPeer.js"
import * as recordOutcome from "./recordOutcome.js"

const args = process.argv.slice(2)
const quick = args.includes("--quick")
const onlyAt = args.indexOf("--only")
const only = onlyAt >= 0 ? new Set((args[onlyAt + 1] ?? "").split(",")) : undefined

const benches: Array<{ readonly name: string; readonly run: (quick: boolean) => Array<Result> | Promise<Array<Result>> }> = [
  { name: "record-outcome", run: recordOutcome.run },
  { name: "breaker-overhead", run: breakerOverhead.run },
  { name: "heap-per-peer", run: heapPerPeer.run }
]

const fmt = (x: number | null | undefined, digits = 2) =>
  x === null || x === undefined || Number.isNaN(x) ? "-" : Math.abs(x) >= 1000 ? Math.round(x).toLocaleString("en-US") : x.toFixed(digits)

const main = async () => {
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`
  console.log(`bootstrap-cache benchmarks${quick ? " (quick)" : ""} — ${machine}\n`)
  const results: Array<Result> = []
  for (const bench of benches) {
    if (only !== undefined && !only.has(bench.name)) continue
    try {
      results.push(...(await bench.run(quick)))
    } catch (e) {
      console.error(`${bench.name} failed:`, e)
      process.exitCode = 1
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
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ")
  console.log(line(header))
  console.log(widths.map((w) => "-".repeat(w)).join("  "))
  for (const row of rows) console.log(line(row))
  for (const r of results) if (r.note !== undefined) console.log(`  ${r.name}: ${r.note}`)
  writeFileSync(new URL("./results.json", import.meta.url), JSON.stringify(results, null, 2) + "\n")
  console.log(`\nwrote bench/results.json (${machine})`)
}

void main()
