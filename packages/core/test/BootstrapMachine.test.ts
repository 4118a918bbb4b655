import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as BootstrapMachine from "../src/BootstrapMachine.js"
import * as PeerAddress from "../src/PeerAddress.js"
import * as PeerRecord from "../src/PeerRecord.js"
import * as PeerTable from "../src/PeerTable.js"

// ---------------------------------------------------------------------------------------------------
// A driver: peers with fates, events delivered in time order or in a generated order.
// ---------------------------------------------------------------------------------------------------

/** What dialling a peer does: answer after `ms`, fail after `ms`, or never answer. */
type Fate = { readonly _tag: "ok"; readonly ms: number } | { readonly _tag: "fail"; readonly ms: number } | {
  readonly _tag: "hang"
}

/** Peer i: one public address per /16. */
const peer = (i: number) => PeerAddress.unsafeParse(`/ip4/${20 + (i % 200)}.${Math.floor(i / 200) + i % 7}.0.${1 + (i % 250)}/tcp/4001`)

const DAY = 24 * 60 * 60 * 1000
const T0 = 10 * DAY

interface Scenario {
  readonly config: BootstrapMachine.Config
  readonly table: PeerTable.PeerTable
  readonly stale: boolean
  readonly fates: ReadonlyMap<string, Fate>
  /** What the endpoints list (their fates are in `fates`), after `delayMs`; none: they fail. */
  readonly endpoints: { readonly addresses: ReadonlyArray<PeerAddress.PeerAddress>; readonly delayMs: number }
  /** Choices of the next event (index into the possible events); once used up, time order. */
  readonly order: ReadonlyArray<number>
  readonly draws: ReadonlyArray<number>
  /** The run starts on `head` (the file's head) while `table` loads; `TableLoaded` comes at `at`. */
  readonly load?: { readonly head: PeerTable.PeerTable; readonly at: number }
}

interface Open {
  readonly id: number
  readonly key: string
  readonly at: number
  cancelled: boolean
}

interface Trace {
  readonly final: BootstrapMachine.State
  readonly started: Array<BootstrapMachine.Command & { _tag: "StartDial" }>
  readonly asked: Array<BootstrapMachine.EndpointReason>
  readonly outcomes: Map<number, number>
  readonly violations: Array<string>
}

const mergeInto = (table: PeerTable.PeerTable, addresses: ReadonlyArray<PeerAddress.PeerAddress>, now: number) =>
  addresses.reduce((t, a) => PeerTable.add(t, a, { now, source: { _tag: "endpoint", url: "u" } }), table)

/** Runs a scenario to its `Finish`, checking the invariants after every transition. */
const drive = (s: Scenario): Trace => {
  const c = s.config
  const violations: Array<string> = []
  const started: Trace["started"] = []
  const asked: Array<BootstrapMachine.EndpointReason> = []
  const outcomes = new Map<number, number>()
  const open = new Map<number, Open>()
  const dialledKeys = new Set<string>()
  const dialledPeers = new Set<string>()
  let fetchAt: number | undefined
  let now = T0
  let drawIndex = 0
  const draws = () => {
    const n = BootstrapMachine.drawsNeeded(c)
    const out = Array.from({ length: n }, (_, i) => s.draws[(drawIndex + i) % Math.max(1, s.draws.length)] ?? 0.5)
    drawIndex += n
    return out
  }
  let state: BootstrapMachine.State
  let finished = false
  let loaded = s.load === undefined
  let answered: ReadonlyArray<PeerAddress.PeerAddress> = []

  const run = (t: BootstrapMachine.Transition, before: BootstrapMachine.State | undefined) => {
    state = t.state
    for (const command of t.commands) {
      switch (command._tag) {
        case "StartDial":
          if (dialledKeys.has(command.address.key)) violations.push(`address dialled twice: ${command.address.multiaddr}`)
          if (dialledPeers.has(command.peerKey)) violations.push(`peer dialled twice: ${command.peerKey}`)
          dialledKeys.add(command.address.key)
          dialledPeers.add(command.peerKey)
          started.push(command)
          open.set(command.id, { id: command.id, key: command.address.key, at: now, cancelled: false })
          break
        case "CancelDial": {
          const o = open.get(command.id)
          if (o === undefined) violations.push(`cancel of a dial not in flight: ${command.id}`)
          else o.cancelled = true
          break
        }
        case "AskEndpoints":
          asked.push(command.reason)
          fetchAt = now + s.endpoints.delayMs
          if (command.reason === "cache-failing") {
            const failures = state.tally.cachedAttempts - state.tally.cachedSuccesses
            if (failures < c.fallbackFailures) violations.push(`cache-failing after ${failures} failures`)
          }
          if (command.reason === "cache-slow" && now < state.fallbackAt) violations.push(`cache-slow before fallbackAt`)
          if (command.reason === "fallback" && state.inFlight.size > 0) violations.push(`fallback with dials in flight`)
          if (command.reason === "fallback" && state.loading) violations.push(`fallback while the table is loading`)
          if (["empty", "too-few"].includes(command.reason) && state.loading) violations.push(`${command.reason} on the head alone`)
          if (["empty", "too-few", "stale"].includes(command.reason) && before !== undefined && before.phase !== "loading") {
            violations.push(`${command.reason} asked after the start`)
          }
          break
        case "CancelEndpoints":
          fetchAt = undefined
          break
        case "RecordOutcome":
          outcomes.set(command.id, (outcomes.get(command.id) ?? 0) + 1)
          open.delete(command.id)
          break
        case "Finish":
          finished = true
          break
        case "TargetReached":
          break
      }
    }
    if (state.inFlight.size > c.concurrency) violations.push(`${state.inFlight.size} dials in flight`)
    if (open.size !== state.inFlight.size) violations.push(`driver sees ${open.size} open, machine ${state.inFlight.size}`)
    if (asked.length > 1) violations.push(`endpoints asked ${asked.length} times`)
    if (state.phase === "dialing" && c.canAskEndpoints && !state.endpoints.asked) {
      if (state.tally.cachedAttempts - state.tally.cachedSuccesses >= c.fallbackFailures) violations.push("cache failing, not asked")
      if (now >= state.fallbackAt) violations.push("cache slow, not asked")
    }
  }

  run(BootstrapMachine.start(c, { table: s.load?.head ?? s.table, stale: s.stale, loading: !loaded }, now, draws()), undefined)
  let choice = 0
  for (let steps = 0; !finished && steps < 20_000; steps++) {
    // The possible next events, each with the time it happens.
    const possible: Array<{ readonly at: number; readonly event: BootstrapMachine.Event }> = []
    for (const o of open.values()) {
      const fate = s.fates.get(o.key) ?? { _tag: "hang" }
      const outcome = fate._tag === "ok"
        ? BootstrapMachine.DialOutcome.Succeeded({ rttMs: fate.ms })
        : fate._tag === "fail"
        ? BootstrapMachine.DialOutcome.Failed({ reason: "refused" })
        : undefined
      // The shell's own timeout ends a silent dial as a timeout failure.
      const ends = fate._tag === "hang" ? o.at + c.timeoutMs : o.at + fate.ms
      const event = BootstrapMachine.Event.DialEnded({
        id: o.id,
        outcome: outcome ?? BootstrapMachine.DialOutcome.Failed({ reason: "timeout" })
      })
      possible.push({ at: Math.min(ends, o.at + c.timeoutMs), event })
      if (o.cancelled) {
        possible.push({ at: now, event: BootstrapMachine.Event.DialEnded({ id: o.id, outcome: BootstrapMachine.DialOutcome.Interrupted() }) })
      }
    }
    if (fetchAt !== undefined) {
      const event = s.endpoints.addresses.length === 0
        ? BootstrapMachine.Event.EndpointsFailed({ message: "HTTP 503" })
        : BootstrapMachine.Event.EndpointsAnswered({
          table: mergeInto(state!.table, s.endpoints.addresses, now),
          addresses: s.endpoints.addresses.map((address) => ({ address, url: "u" }))
        })
      possible.push({ at: fetchAt, event })
    }
    if (!loaded) {
      // The store's view when the load lands: the file plus what the endpoints added.
      const table = mergeInto(s.table, answered, now)
      possible.push({ at: Math.max(now, T0 + s.load!.at), event: BootstrapMachine.Event.TableLoaded({ table }) })
    }
    const wake = BootstrapMachine.wakeAt(state!)
    if (wake !== undefined) possible.push({ at: wake, event: BootstrapMachine.Event.Tick() })
    if (possible.length === 0) {
      violations.push(`stuck in ${state!.phase}`)
      break
    }
    const next = choice < s.order.length
      ? possible[s.order[choice++]! % possible.length]!
      : possible.reduce((a, b) => (b.at < a.at ? b : a))
    now = Math.max(now, next.at)
    if (next.event._tag === "EndpointsAnswered" || next.event._tag === "EndpointsFailed") fetchAt = undefined
    if (next.event._tag === "EndpointsAnswered") answered = s.endpoints.addresses
    if (next.event._tag === "TableLoaded") loaded = true
    const o = next.event._tag === "DialEnded" ? open.get(next.event.id) : undefined
    if (o !== undefined) open.delete(o.id)
    const before = state!
    run(BootstrapMachine.step(before, next.event, now, draws()), before)
    // A dial the machine no longer tracks is closed in the driver too (it reported its end).
    if (o !== undefined && state!.inFlight.has(o.id)) violations.push(`dial ${o.id} still in flight after its end`)
  }
  if (!finished) violations.push("never finished")
  for (const d of started) {
    const n = outcomes.get(d.id) ?? 0
    if (n !== 1) violations.push(`dial ${d.id} booked ${n} times`)
  }
  return { final: state!, started, asked, outcomes, violations }
}

// ---------------------------------------------------------------------------------------------------
// Generated scenarios
// ---------------------------------------------------------------------------------------------------

const fateArb: FastCheck.Arbitrary<Fate> = FastCheck.oneof(
  FastCheck.record({ _tag: FastCheck.constant("ok" as const), ms: FastCheck.integer({ min: 0, max: 3_000 }) }),
  FastCheck.record({ _tag: FastCheck.constant("fail" as const), ms: FastCheck.integer({ min: 0, max: 3_000 }) }),
  FastCheck.constant({ _tag: "hang" as const })
)

/** Uniform draws in [0,1) for the selections. */
const drawsArb = FastCheck.array(FastCheck.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 40 })

const scenarioArb: FastCheck.Arbitrary<Scenario> = FastCheck.record({
  target: FastCheck.integer({ min: 0, max: 6 }),
  concurrency: FastCheck.integer({ min: 1, max: 8 }),
  cached: FastCheck.array(FastCheck.record({
    fate: fateArb,
    measuredMs: FastCheck.option(FastCheck.integer({ min: 1, max: 1_500 })),
    failedRecently: FastCheck.boolean()
  }), {
    maxLength: 25
  }),
  listed: FastCheck.array(fateArb, { maxLength: 10 }),
  endpointsDelayMs: FastCheck.integer({ min: 0, max: 20_000 }),
  canAskEndpoints: FastCheck.boolean(),
  stale: FastCheck.boolean(),
  epsilon: FastCheck.constantFrom(0, 0.1, 0.5, 1),
  reconnect: FastCheck.boolean(),
  fallbackFailures: FastCheck.integer({ min: 1, max: 6 }),
  order: FastCheck.array(FastCheck.nat(30), { maxLength: 60 }),
  draws: drawsArb,
  load: FastCheck.option(FastCheck.record({ head: FastCheck.nat(25), at: FastCheck.integer({ min: 0, max: 20_000 }) }), { freq: 2 })
}).map((g): Scenario => {
  const fates = new Map<string, Fate>()
  let table = PeerTable.empty
  g.cached.forEach(({ failedRecently, fate, measuredMs }, i) => {
    const a = peer(i)
    fates.set(a.key, fate)
    table = PeerTable.add(table, a, { now: 0, source: { _tag: "user" } })
    if (measuredMs !== null) table = PeerTable.recordSuccess(table, a, T0 - DAY, { rttMs: measuredMs })
    if (failedRecently) table = PeerTable.recordFailure(table, a, T0 - 60_000)
  })
  const listed = g.listed.map((fate, i) => {
    const a = peer(100 + i)
    fates.set(a.key, fate)
    return a
  })
  // One cached address is listed again: the endpoints' answer is not all new.
  if (g.cached.length > 0) listed.push(peer(0))
  return {
    config: BootstrapMachine.makeConfig({
      target: g.target,
      concurrency: g.concurrency,
      timeoutMs: 5_000,
      fallbackFailures: g.fallbackFailures,
      epsilon: g.epsilon,
      reconnect: g.reconnect,
      canAskEndpoints: g.canAskEndpoints
    }),
    table,
    stale: g.stale,
    fates,
    endpoints: { addresses: g.listed.length === 0 && g.cached.length % 2 === 0 ? [] : listed, delayMs: g.endpointsDelayMs },
    order: g.order,
    draws: g.draws,
    ...(g.load === null ? {} : { load: { head: headOf(table, g.load.head), at: g.load.at } })
  }
})

/** The first `n` peers of `table` (any subset will do as the file's head for these rules). */
const headOf = (table: PeerTable.PeerTable, n: number): PeerTable.PeerTable =>
  PeerTable.fromRecords(Array.from(PeerTable.peers(table)).slice(0, n))

/** Every peer of `table` with a dialable address is in `attempted`. */
const nothingLeft = (table: PeerTable.PeerTable, attempted: ReadonlySet<string>) =>
  Array.from(PeerTable.peers(table)).every((p) => {
    const first = p.addresses[0]!
    return attempted.has(PeerRecord.peerKey(p.peerId, first.address)) ||
      !p.addresses.some((r) => PeerAddress.isDialable(r.address, {}))
  })

describe("BootstrapMachine (generated outcome sequences and event orders)", () => {
  it("never more dials in flight than `concurrency`, endpoints asked at most once, no address dialled twice, every dial booked once, fallback rules hold", () => {
    FastCheck.assert(
      FastCheck.property(scenarioArb, (s) => {
        const trace = drive(s)
        assert.deepStrictEqual(trace.violations, [])
      }),
      { seed: 1105, numRuns: 400 }
    )
  }, 60_000)

  it("finishes at the target, or when nothing is left to try (every candidate dialled, the endpoints asked if there are any)", () => {
    FastCheck.assert(
      FastCheck.property(scenarioArb, (s) => {
        const { final } = drive(s)
        const reached = final.tally.connected.length >= s.config.target
        if (reached) return
        assert.isTrue(nothingLeft(final.table, final.attempted), "a candidate was left undialled")
        assert.strictEqual(final.endpoints.asked, s.config.canAskEndpoints)
      }),
      { seed: 1106, numRuns: 400 }
    )
  }, 60_000)

  it("asks the endpoints before dialing exactly when the cache is empty, too small or stale", () => {
    FastCheck.assert(
      FastCheck.property(scenarioArb, (s) => {
        const { state, commands } = BootstrapMachine.start(s.config, { table: s.table, stale: s.stale }, T0)
        const first = commands.find((c) => c._tag === "AskEndpoints")
        const due = s.config.target > 0 && s.config.canAskEndpoints &&
          (PeerTable.size(s.table) === 0 || state.usable < s.config.minCachedPeers || s.stale)
        assert.strictEqual(first !== undefined, due)
        const dials = commands.some((c) => c._tag === "StartDial")
        if (due) assert.isFalse(dials)
        else if (s.config.target > 0 && PeerTable.size(s.table) > 0) assert.isTrue(dials)
      }),
      { seed: 1107, numRuns: 300 }
    )
  }, 60_000)

  it("a transition that reports no use of its draws gives the same result with any draws", () => {
    FastCheck.assert(
      FastCheck.property(scenarioArb, (s) => {
        const input = { table: s.table, stale: s.stale }
        const without = BootstrapMachine.start(s.config, input, T0, [])
        const withDraws = BootstrapMachine.start(s.config, input, T0, s.draws)
        if (!without.usedDraws) assert.deepStrictEqual(withDraws.commands, without.commands)
        else assert.isTrue(withDraws.usedDraws)
      }),
      { seed: 1108, numRuns: 200 }
    )
  }, 60_000)

  it("`starting` is `start` split at its selection: `usesDraws` is start's `usedDraws`, and `start(draws)` gives start's transition (any draws, twice)", () => {
    FastCheck.assert(
      FastCheck.property(scenarioArb, FastCheck.boolean(), (s, reconnect) => {
        const config = reconnect ? { ...s.config, reconnect } : s.config
        const input = { table: s.load?.head ?? s.table, stale: s.stale, loading: s.load !== undefined }
        const prepared = BootstrapMachine.starting(config, input, T0)
        assert.strictEqual(prepared.usesDraws, BootstrapMachine.start(config, input, T0, []).usedDraws)
        for (const draws of [s.draws, [], s.draws]) {
          assert.deepStrictEqual(prepared.start(draws), BootstrapMachine.start(config, input, T0, draws))
        }
      }),
      { seed: 1112, numRuns: 300 }
    )
  }, 60_000)

  it("a warm cache whose picks answer within their measured set-up time costs exactly `target` dials, also beside recently failed peers and with exploration", () => {
    const arb = FastCheck.record({
      target: FastCheck.integer({ min: 1, max: 6 }),
      extraGood: FastCheck.integer({ min: 0, max: 10 }),
      dead: FastCheck.integer({ min: 0, max: 12 }),
      setups: FastCheck.array(FastCheck.record({ measured: FastCheck.integer({ min: 1, max: 1_000 }), share: FastCheck.double({ min: 0, max: 1, noNaN: true }) }), { minLength: 16, maxLength: 16 }),
      epsilon: FastCheck.constantFrom(0, 0.1, 0.5, 1),
      draws: drawsArb
    })
    FastCheck.assert(
      FastCheck.property(arb, (g) => {
        const fates = new Map<string, Fate>()
        let table = PeerTable.empty
        for (let i = 0; i < g.target + g.extraGood; i++) {
          const a = peer(i)
          const { measured, share } = g.setups[i % 16]!
          table = PeerTable.recordSuccess(PeerTable.add(table, a, { now: 0, source: { _tag: "user" } }), a, T0 - DAY, { rttMs: measured })
          fates.set(a.key, { _tag: "ok", ms: Math.floor(measured * share) })
        }
        for (let i = 0; i < g.dead; i++) {
          const a = peer(50 + i)
          table = PeerTable.recordFailure(PeerTable.add(table, a, { now: 0, source: { _tag: "user" } }), a, T0 - 60_000)
          fates.set(a.key, { _tag: "fail", ms: 10 })
        }
        const trace = drive({
          config: BootstrapMachine.makeConfig({ target: g.target, epsilon: g.epsilon, canAskEndpoints: true }),
          table,
          stale: false,
          fates,
          endpoints: { addresses: [], delayMs: 0 },
          order: [],
          draws: g.draws
        })
        assert.deepStrictEqual(trace.violations, [])
        assert.strictEqual(trace.final.tally.dials, g.target)
        assert.strictEqual(trace.final.tally.cancelled, 0)
        assert.strictEqual(trace.final.tally.failures, 0)
        assert.deepStrictEqual(trace.asked, [])
      }),
      { seed: 1113, numRuns: 300 }
    )
  }, 60_000)
})

describe("BootstrapMachine (a run started on the file's head while the table loads)", () => {
  it("asks the endpoints before dialing only for a stale file: never because only the head is in", () => {
    FastCheck.assert(
      FastCheck.property(scenarioArb, (s) => {
        const head = s.load?.head ?? PeerTable.empty
        const { commands, state } = BootstrapMachine.start(s.config, { table: head, stale: s.stale, loading: true }, T0)
        const asked = commands.filter((c) => c._tag === "AskEndpoints").map((c) => c.reason)
        const warmHead = PeerTable.size(head) > 0 && state.usable >= s.config.minCachedPeers
        const due = s.config.target > 0 && s.config.canAskEndpoints && s.stale && warmHead
        assert.deepStrictEqual(asked, due ? ["stale"] : [])
        if (s.config.target > 0 && !warmHead) assert.strictEqual(state.phase, "loading")
        if (s.config.target > 0 && warmHead && !due) assert.isTrue(commands.some((c) => c._tag === "StartDial"))
      }),
      { seed: 1114, numRuns: 300 }
    )
  }, 60_000)

  it("a warm head costs exactly `target` dials wherever the table lands, and the table replaces the head", () => {
    const arb = FastCheck.record({
      target: FastCheck.integer({ min: 1, max: 6 }),
      extraHead: FastCheck.integer({ min: 0, max: 6 }),
      rest: FastCheck.integer({ min: 0, max: 20 }),
      loadAt: FastCheck.integer({ min: 0, max: 3_000 }),
      epsilon: FastCheck.constantFrom(0, 0.1, 0.5, 1),
      draws: drawsArb
    })
    FastCheck.assert(
      FastCheck.property(arb, (g) => {
        const fates = new Map<string, Fate>()
        let head = PeerTable.empty
        for (let i = 0; i < g.target + g.extraHead; i++) {
          const a = peer(i)
          head = PeerTable.recordSuccess(PeerTable.add(head, a, { now: 0, source: { _tag: "user" } }), a, T0 - DAY, { rttMs: 100 })
          fates.set(a.key, { _tag: "ok", ms: 50 })
        }
        let table = head
        for (let i = 0; i < g.rest; i++) {
          const a = peer(60 + i)
          table = PeerTable.add(table, a, { now: 0, source: { _tag: "user" } })
          fates.set(a.key, { _tag: "ok", ms: 50 })
        }
        const trace = drive({
          config: BootstrapMachine.makeConfig({ target: g.target, epsilon: g.epsilon, canAskEndpoints: true }),
          table,
          stale: false,
          fates,
          endpoints: { addresses: [], delayMs: 0 },
          order: [],
          draws: g.draws,
          load: { head, at: g.loadAt }
        })
        assert.deepStrictEqual(trace.violations, [])
        assert.strictEqual(trace.final.tally.dials, g.target)
        assert.deepStrictEqual(trace.asked, [])
        if (!trace.final.loading) assert.strictEqual(trace.final.cachedPeers, PeerTable.size(table))
      }),
      { seed: 1115, numRuns: 300 }
    )
  }, 60_000)

  it("a head used up before the table lands waits for it, then dials the rest of the cache", () => {
    const config = BootstrapMachine.makeConfig({ target: 2, epsilon: 0, canAskEndpoints: true })
    const head = PeerTable.add(PeerTable.empty, peer(0), { now: 0, source: { _tag: "user" } })
    const table = [1, 2, 3].reduce((t, i) => PeerTable.add(t, peer(i), { now: 0, source: { _tag: "user" } }), head)
    const warm = { ...config, minCachedPeers: 1 }
    const started = BootstrapMachine.start(warm, { table: head, stale: false, loading: true }, T0)
    assert.strictEqual(started.state.phase, "dialing")
    const id = Array.from(started.state.inFlight.keys())[0]!
    const failed = BootstrapMachine.step(started.state, BootstrapMachine.Event.DialEnded({ id, outcome: BootstrapMachine.DialOutcome.Failed({ reason: "refused" }) }), T0 + 10)
    assert.strictEqual(failed.state.phase, "dialing")
    assert.isFalse(failed.commands.some((c) => c._tag === "AskEndpoints" || c._tag === "Finish"))
    const landed = BootstrapMachine.step(failed.state, BootstrapMachine.Event.TableLoaded({ table }), T0 + 20)
    const dialled = landed.commands.flatMap((c) => (c._tag === "StartDial" ? [c] : []))
    assert.strictEqual(dialled.length, 2)
    assert.isTrue(dialled.every((c) => c.origin === "cache" && c.address.key !== peer(0).key))
    assert.strictEqual(landed.state.cachedPeers, 4)
  })

  it("an address the endpoints listed before the table landed is not counted as cached when it lands", () => {
    const config = BootstrapMachine.makeConfig({ target: 2, epsilon: 0, canAskEndpoints: true, minCachedPeers: 1 })
    const head = PeerTable.add(PeerTable.empty, peer(0), { now: 0, source: { _tag: "user" } })
    const table = [1, 2, 3].reduce((t, i) => PeerTable.add(t, peer(i), { now: 0, source: { _tag: "user" } }), head)
    const started = BootstrapMachine.start(config, { table: head, stale: true, loading: true }, T0)
    assert.isTrue(started.commands.some((c) => c._tag === "AskEndpoints"))
    const listed = [peer(0), peer(2)]
    const answered = BootstrapMachine.step(
      started.state,
      BootstrapMachine.Event.EndpointsAnswered({
        table: mergeInto(head, listed, T0),
        addresses: listed.map((address) => ({ address, url: "http://contacts.test/" }))
      }),
      T0 + 5
    )
    const landed = BootstrapMachine.step(answered.state, BootstrapMachine.Event.TableLoaded({ table }), T0 + 10)
    const cached = landed.state.cachedKeys
    assert.deepStrictEqual([0, 1, 2, 3].map((i) => cached.has(peer(i).key)), [true, true, false, true])
  })
})

describe("BootstrapMachine (examples)", () => {
  const good = (n: number, rttMs: number | undefined) => {
    let table = PeerTable.empty
    for (let i = 0; i < n; i++) {
      const a = peer(i)
      table = PeerTable.add(table, a, { now: 0, source: { _tag: "user" } })
      table = PeerTable.recordSuccess(table, a, T0 - DAY, rttMs === undefined ? {} : { rttMs })
    }
    return table
  }

  it("staggers by the measured set-up time: 2 × 1 s with 1 s peers, 250 ms when unmeasured", () => {
    const config = BootstrapMachine.makeConfig({ target: 3, epsilon: 0 })
    const measured = BootstrapMachine.start(config, { table: good(8, 1_000), stale: false }, T0)
    assert.strictEqual(measured.commands.filter((c) => c._tag === "StartDial").length, 3)
    assert.strictEqual(BootstrapMachine.staggerDelay(measured.state), 2_000)
    assert.strictEqual(BootstrapMachine.wakeAt(measured.state), T0 + 2_000)
    const unmeasured = BootstrapMachine.start(config, { table: good(8, undefined), stale: false }, T0)
    assert.strictEqual(BootstrapMachine.staggerDelay(unmeasured.state), 250)
    const fixed = BootstrapMachine.start({ ...config, measuredStagger: false }, { table: good(8, 1_000), stale: false }, T0)
    assert.strictEqual(BootstrapMachine.staggerDelay(fixed.state), 250)
  })

  it("a fixed 250 ms stagger with 1 s set-ups starts extra dials that are then cancelled", () => {
    const table = good(8, 1_000)
    const fates = new Map<string, Fate>(Array.from({ length: 8 }, (_, i) => [peer(i).key, { _tag: "ok", ms: 1_000 }]))
    const base = { table, stale: false, fates, endpoints: { addresses: [], delayMs: 0 }, order: [], draws: [0.5] }
    const fixed = drive({ ...base, config: BootstrapMachine.makeConfig({ target: 3, epsilon: 0, measuredStagger: false }) })
    const measured = drive({ ...base, config: BootstrapMachine.makeConfig({ target: 3, epsilon: 0 }) })
    assert.isAbove(fixed.final.tally.dials, 3)
    assert.isAbove(fixed.final.tally.cancelled, 0)
    assert.strictEqual(measured.final.tally.dials, 3)
    assert.strictEqual(measured.final.tally.cancelled, 0)
  })

  it("ignores a dial end for an id not in flight (late or duplicate)", () => {
    const { state } = BootstrapMachine.start(BootstrapMachine.makeConfig({ target: 2 }), { table: good(4, 10), stale: false }, T0)
    const late = BootstrapMachine.step(state, BootstrapMachine.Event.DialEnded({ id: 99, outcome: BootstrapMachine.DialOutcome.Succeeded({ rttMs: 1 }) }), T0 + 1)
    assert.deepStrictEqual(late.commands, [])
    assert.strictEqual(late.state.tally.connected.length, 0)
  })

  it("a dial interrupted after the whole timeout is booked as a timeout failure, before it as cancelled", () => {
    const config = BootstrapMachine.makeConfig({ target: 1, timeoutMs: 1_000 })
    const { state } = BootstrapMachine.start(config, { table: good(2, 10), stale: false }, T0)
    const id = Array.from(state.inFlight.keys())[0]!
    const interrupted = BootstrapMachine.Event.DialEnded({ id, outcome: BootstrapMachine.DialOutcome.Interrupted() })
    const early = BootstrapMachine.step(state, interrupted, T0 + 999).state.tally
    const late = BootstrapMachine.step(state, interrupted, T0 + 1_000).state.tally
    assert.deepStrictEqual([early.cancelled, early.failures], [1, 0])
    assert.deepStrictEqual([late.cancelled, late.failuresByReason.timeout], [0, 1])
  })

  it("peers with no address the dialer supports never take a pick: the one dialable peer among 300 is dialled from the first batch", () => {
    let table = PeerTable.empty
    for (let i = 0; i < 300; i++) {
      const quic = PeerAddress.unsafeParse(`/ip4/${20 + (i % 200)}.${i >> 8}.${i & 255}.9/udp/4001/quic-v1`)
      table = PeerTable.recordSuccess(PeerTable.add(table, quic, { now: 0, source: { _tag: "user" } }), quic, T0 - DAY, { rttMs: 10 })
    }
    table = PeerTable.add(table, peer(0), { now: 0, source: { _tag: "user" } })
    const config = BootstrapMachine.makeConfig({ target: 1, epsilon: 0, minCachedPeers: 1, supports: (a) => a.transport === "tcp" })
    const { commands, state } = BootstrapMachine.start(config, { table, stale: false }, T0, [0.5])
    assert.deepStrictEqual(commands.flatMap((c) => (c._tag === "StartDial" ? [c.address.key] : [])), [peer(0).key])
    assert.strictEqual(state.attempted.size, 1)
  })

  it("without enough known-good peers, recently failed peers are still dialled", () => {
    let table = good(1, 10)
    for (let i = 1; i < 4; i++) {
      const a = peer(i)
      table = PeerTable.recordFailure(PeerTable.add(table, a, { now: 0, source: { _tag: "user" } }), a, T0 - 60_000)
    }
    const { state } = BootstrapMachine.start(BootstrapMachine.makeConfig({ target: 3, epsilon: 0 }), { table, stale: false }, T0)
    assert.strictEqual(state.avoid.size, 0)
    assert.strictEqual(state.inFlight.size, 3)
  })
})
