/**
 * `npm run simulate` — runs the bootstrap simulation ({@link SimulatedNetwork.runSimulation}) and
 * prints a table, or with `--json` an array of
 * `{ scenario, strategy, failedDialsPerBootstrap, attackerShare }`, each with three diagnostics
 * (`maxAttackerPerBootstrap`, `dialsPerBootstrap`, `incompleteBootstraps`; see
 * {@link SimulatedNetwork.SimulationResult}). Seeded: the same options print the same numbers.
 *
 * Options: `--peers N` (10000), `--rounds N` (200), `--seed N` (1), `--flood N` (10000),
 * `--churn RATIO` (0.02), `--scenario NAME` and `--strategy NAME` (repeatable; default all), `--json`.
 *
 * @since 0.1.0
 */
import { parseArgs } from "node:util"
import * as SimulatedNetwork from "./SimulatedNetwork.js"

const usage = `usage: npm run simulate -- [--json] [--peers N] [--rounds N] [--seed N] [--flood N] [--churn RATIO]
                            [--scenario static|churn|flood]... [--strategy random|greedy|epsilon-greedy|addrman|ucb1]...`

const fail = (message: string): never => {
  process.stderr.write(`simulate: ${message}\n${usage}\n`)
  process.exit(2)
}

const parsed = (() => {
  try {
    return parseArgs({
      options: {
        json: { type: "boolean", default: false },
        peers: { type: "string" },
        rounds: { type: "string" },
        seed: { type: "string" },
        flood: { type: "string" },
        churn: { type: "string" },
        scenario: { type: "string", multiple: true },
        strategy: { type: "string", multiple: true },
        help: { type: "boolean", short: "h", default: false }
      },
      strict: true
    }).values
  } catch (e) {
    return fail(e instanceof Error ? e.message : String(e))
  }
})()

if (parsed.help) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}

const integer = (name: string, text: string | undefined, min: number): number | undefined => {
  if (text === undefined) return undefined
  const n = Number(text)
  return Number.isInteger(n) && n >= min ? n : fail(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(text)}`)
}

const ratio = (name: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined
  const n = Number(text)
  return Number.isFinite(n) && n >= 0 && n <= 1 ? n : fail(`--${name} must be a number in [0,1], got ${JSON.stringify(text)}`)
}

const oneOf = <A extends string>(name: string, values: ReadonlyArray<string> | undefined, allowed: ReadonlyArray<A>): ReadonlyArray<A> | undefined => {
  if (values === undefined) return undefined
  for (const v of values) if (!allowed.includes(v as A)) fail(`--${name} ${JSON.stringify(v)} is not one of ${allowed.join(", ")}`)
  return values as ReadonlyArray<A>
}

const options: SimulatedNetwork.SimulationOptions = {
  ...(integer("peers", parsed.peers, 10) !== undefined ? { peers: integer("peers", parsed.peers, 10)! } : {}),
  ...(integer("rounds", parsed.rounds, 1) !== undefined ? { rounds: integer("rounds", parsed.rounds, 1)! } : {}),
  ...(integer("seed", parsed.seed, 0) !== undefined ? { seed: integer("seed", parsed.seed, 0)! } : {}),
  ...(integer("flood", parsed.flood, 0) !== undefined ? { floodSize: integer("flood", parsed.flood, 0)! } : {}),
  ...(ratio("churn", parsed.churn) !== undefined ? { churnRate: ratio("churn", parsed.churn)! } : {}),
  ...(oneOf("scenario", parsed.scenario, SimulatedNetwork.scenarios) !== undefined
    ? { scenarios: oneOf("scenario", parsed.scenario, SimulatedNetwork.scenarios)! }
    : {}),
  ...(oneOf("strategy", parsed.strategy, SimulatedNetwork.strategies) !== undefined
    ? { strategies: oneOf("strategy", parsed.strategy, SimulatedNetwork.strategies)! }
    : {}),
  ...(parsed.json
    ? {}
    : {
      onResult: (r: SimulatedNetwork.SimulationResult) =>
        process.stderr.write(`  ${r.scenario} / ${r.strategy}: ${r.failedDialsPerBootstrap.toFixed(2)} failed dials per bootstrap\n`)
    })
}

const started = performance.now()
const results = SimulatedNetwork.runSimulation(options)
if (parsed.json) {
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`)
} else {
  process.stdout.write(`${SimulatedNetwork.formatTable(results)}\n`)
  process.stdout.write(`\n${((performance.now() - started) / 1000).toFixed(1)} s\n`)
}
