/**
 * The transitions of the bootstrap machine (see `BootstrapMachine` for the model). Each transition
 * copies the state into a {@link Draft} once, applies the rules to it and freezes it again.
 */
import * as Option from "effect/Option"
import type * as M from "../BootstrapMachine.js"
import * as PeerTable from "../PeerTable.js"
import * as Selection from "../Selection.js"
import { CachedKeys, isCached } from "./bootstrapCached.js"
import * as Candidates from "./bootstrapCandidates.js"
import { Booked, Command, type Draft, draft, eligibility, freeze, initialState } from "./bootstrapDraft.js"

// ---------------------------------------------------------------------------------------------------
// Candidates and dials
// ---------------------------------------------------------------------------------------------------

/** Picks a new batch when the pending candidates are used up; false when none is left. */
const refill = (d: Draft): boolean => {
  const c = d.config
  while (d.pending.length === 0 && !d.exhausted) {
    // Bitcoin Core: one outbound connection per netgroup. Peers connected or being dialled count
    // against their netgroup, so a refill cannot hand a flooding /16 a second slot.
    const netgroupsInUse = [
      ...d.tally.connected.map((p) => p.address.netgroup),
      ...Array.from(d.inFlight.values(), (f) => f.address.netgroup)
    ]
    const source = Option.getOrElse(d.fresh, () => d.table)
    // Peers the dialer cannot dial at all never take a pick (`supports`: the selection's pool leaves
    // them out), so on a table where few peers are dialable one selection serves every batch.
    const exclude = d.avoid.size === 0 ? d.attempted : new Set([...d.attempted, ...d.avoid])
    if (!c.reconnect) d.usedDraws = true
    const picks: ReadonlyArray<Selection.Candidate> = c.reconnect
      ? Selection.reconnectOrder(source, { now: d.selectAt, dialPolicy: c.dialPolicy, supports: c.supports, exclude, limit: c.batchSize })
      : Selection.select(source, {
        now: d.selectAt,
        dialPolicy: c.dialPolicy,
        supports: c.supports,
        exclude,
        count: c.batchSize,
        epsilon: c.epsilon,
        netgroupsInUse,
        draws: d.draws
      })
    if (picks.length === 0) {
      if (Option.isSome(d.fresh)) d.fresh = Option.none() // the endpoints' new peers are used up
      else if (d.avoid.size > 0) d.avoid = new Set() // the known-good peers are used up
      else d.exhausted = true
      continue
    }
    for (const pick of picks) {
      d.attempted.add(pick.peerKey)
      const candidate = Candidates.toCandidate(pick, eligibility(c), d.selectAt)
      if (candidate !== undefined) d.pending.push(candidate)
    }
  }
  return d.pending.length > 0
}

/** Starts up to `n` dials, never more than `concurrency` in flight. */
const launch = (d: Draft, n: number, trigger: M.DialTrigger): void => {
  for (let i = 0; i < n && d.inFlight.size < d.config.concurrency; i++) {
    if (!refill(d)) return
    const candidate = d.pending.shift()!
    const id = d.nextId++
    const origin: M.Origin = isCached(d.cachedKeys, candidate.address, candidate.peerKey) ? "cache" : "endpoints"
    d.inFlight.set(id, { ...candidate, id, origin, startedAt: d.now, cancelling: false })
    d.tally.dials++
    d.tally.peakInFlight = Math.max(d.tally.peakInFlight, d.inFlight.size)
    d.lastProgressAt = d.now
    d.commands.push(Command.StartDial({
      id,
      peerKey: candidate.peerKey,
      address: candidate.address,
      origin,
      trigger,
      inFlight: d.inFlight.size
    }))
  }
}

const needed = (d: Draft): number => d.config.target - d.tally.connected.length - d.inFlight.size

/** The Connection Attempt Delay for `flights` (see `BootstrapMachine.staggerDelay`). */
export const staggerDelay = (c: M.Config, flights: Iterable<M.Flight>): number => {
  if (!c.measuredStagger) return c.staggerMs
  let largest = -1
  for (const f of flights) {
    if (f.expectedMs === undefined) return c.staggerMs
    largest = Math.max(largest, f.expectedMs)
  }
  if (largest < 0) return c.staggerMs
  return Math.min(c.maxStaggerMs, Math.max(c.minStaggerMs, largest * c.staggerFactor))
}

// ---------------------------------------------------------------------------------------------------
// Booking outcomes
// ---------------------------------------------------------------------------------------------------

/** What an outcome is booked as; a dial interrupted after the whole timeout is a timeout failure. */
const bookedAs = (d: Draft, f: M.Flight, outcome: M.DialOutcome): M.Booked => {
  switch (outcome._tag) {
    case "Succeeded":
      return Booked.Success({ rttMs: outcome.rttMs })
    case "Failed":
      return Booked.Failure({ reason: outcome.reason })
    case "NotPeerFault":
      return Booked.Unsupported()
    case "Rejected":
      return Booked.Rejected()
    case "Interrupted":
      return d.now - f.startedAt >= d.config.timeoutMs ? Booked.Failure({ reason: "timeout" }) : Booked.Cancelled()
  }
}

const book = (d: Draft, f: M.Flight, booked: M.Booked): void => {
  const t = d.tally
  const cached = f.origin === "cache"
  switch (booked._tag) {
    case "Success":
      t.successes++
      if (cached) {
        t.cachedAttempts++
        t.cachedSuccesses++
      }
      t.connected.push({ peerKey: f.peerKey, address: f.address, rttMs: booked.rttMs, origin: f.origin })
      if (Option.isNone(t.timeToFirstPeerMs)) t.timeToFirstPeerMs = Option.some(d.now - d.startedAt)
      break
    case "Failure":
      t.failures++
      t.failuresByReason[booked.reason]++
      if (cached) t.cachedAttempts++
      break
    case "Unsupported":
      t.unsupported++
      break
    case "Cancelled":
      t.cancelled++
      break
    case "Rejected":
      t.dials--
      t.rejected++
      break
  }
  d.commands.push(Command.RecordOutcome({
    id: f.id,
    peerKey: f.peerKey,
    address: f.address,
    origin: f.origin,
    booked,
    elapsedMs: d.now - f.startedAt,
    connected: t.connected.length,
    inFlight: d.inFlight.size
  }))
  if (booked._tag === "Success" && t.connected.length >= d.config.target && Option.isNone(t.timeToTargetMs)) {
    t.timeToTargetMs = Option.some(d.now - d.startedAt)
    d.commands.push(Command.TargetReached({ connected: t.connected.length, elapsedMs: d.now - d.startedAt }))
  }
}

// ---------------------------------------------------------------------------------------------------
// Phases
// ---------------------------------------------------------------------------------------------------

const ask = (d: Draft, reason: M.EndpointReason): boolean => {
  if (!d.config.canAskEndpoints || d.endpoints.asked) return false
  d.endpoints.asked = true
  d.endpoints.fetching = true
  d.endpoints.reason = Option.some(reason)
  d.commands.push(Command.AskEndpoints({ reason }))
  return true
}

const finish = (d: Draft): void => {
  d.phase = "done"
  d.commands.push(Command.Finish({ targetReached: d.tally.connected.length >= d.config.target }))
}

/** Target reached or nothing left: cancel the fetch and the dials in flight, finish once they ended. */
const drain = (d: Draft): void => {
  d.phase = "draining"
  if (d.endpoints.fetching) {
    d.endpoints.fetching = false
    d.commands.push(Command.CancelEndpoints())
  }
  for (const [id, f] of d.inFlight) {
    if (f.cancelling) continue
    d.inFlight.set(id, { ...f, cancelling: true })
    d.commands.push(Command.CancelDial({ id }))
  }
  if (d.inFlight.size === 0) finish(d)
}

const beginDialing = (d: Draft): void => {
  d.phase = "dialing"
  d.selectAt = d.now
  d.fallbackAt = d.now + d.config.fallbackAfterMs
  d.lastProgressAt = d.now
  d.avoid = d.config.avoidFailedWithinMs > 0
    ? Candidates.recentlyFailed(d.table, eligibility(d.config), d.config.target, d.now, d.config.avoidFailedWithinMs)
    : new Set()
  launch(d, Math.max(1, needed(d)), "needed")
}

/**
 * While dialing: ask the endpoints once the cache is evidently not working (module docs of the node
 * `Bootstrap`, "Fallback"), and when nothing is in flight and nothing awaited, start new candidates,
 * else ask the endpoints, else finish.
 */
const settle = (d: Draft): void => {
  if (d.phase !== "dialing") return
  if (d.tally.connected.length >= d.config.target) return drain(d)
  const cachedFailures = d.tally.cachedAttempts - d.tally.cachedSuccesses
  if (cachedFailures >= d.config.fallbackFailures) ask(d, "cache-failing")
  else if (d.now >= d.fallbackAt) ask(d, "cache-slow")
  if (d.inFlight.size > 0 || d.endpoints.fetching) return
  launch(d, Math.max(1, needed(d)), "needed")
  // Only the head is in: the rest of the cache is coming, so it is not used up yet.
  if (d.inFlight.size > 0 || d.loading || ask(d, "fallback")) return
  drain(d)
}

/** The endpoints' answer to a fallback: their new peers are dialled next, making room if need be. */
const onFallbackAnswer = (d: Draft, addresses: ReadonlyArray<M.Answered>): void => {
  d.exhausted = false
  const fresh = Candidates.newPeers(addresses, d.cachedKeys, d.attempted, eligibility(d.config), d.now)
  if (fresh.usable === 0) return
  d.fresh = Option.some(fresh.table)
  // The cached candidates already picked go back: the new peers come first.
  for (const c of d.pending) d.attempted.delete(c.peerKey)
  d.pending = []
  // Room for as many new peers as the target still needs: cancel the oldest cached dials (booked as
  // cancelled when they end, not as failures of their peers); their replacements start as they end.
  const wanted = Math.min(fresh.usable, d.config.target - d.tally.connected.length)
  const active = Array.from(d.inFlight.values()).filter((f) => !f.cancelling)
  const victims = active
    .filter((f) => f.origin === "cache")
    .sort((x, y) => x.startedAt - y.startedAt || x.id - y.id)
    .slice(0, Math.max(0, wanted - (d.config.concurrency - d.inFlight.size)))
  for (const f of victims) {
    d.inFlight.set(f.id, { ...f, cancelling: true })
    d.commands.push(Command.CancelDial({ id: f.id }))
  }
  launch(d, wanted, "needed")
}

const onEndpoints = (d: Draft, event: Extract<M.Event, { _tag: "EndpointsAnswered" | "EndpointsFailed" }>): void => {
  if (!d.endpoints.fetching) return
  d.endpoints.fetching = false
  d.lastProgressAt = d.now
  if (event._tag === "EndpointsFailed") {
    d.endpoints.error = Option.some(event.message)
  } else {
    d.endpoints.used = true
    d.table = event.table
    const answered = event.addresses.map((a) => a.address.key).filter((key) => !d.cachedKeys.has(key))
    if (answered.length > 0) d.answered = new Set([...d.answered, ...answered])
  }
  if (d.phase === "prefetch") return beginDialing(d)
  if (event._tag === "EndpointsAnswered") onFallbackAnswer(d, event.addresses)
}

const onDialEnded = (d: Draft, id: number, outcome: M.DialOutcome): void => {
  const f = d.inFlight.get(id)
  if (f === undefined) return
  d.inFlight.delete(id)
  d.lastProgressAt = d.now
  const booked = bookedAs(d, f, outcome)
  book(d, f, booked)
  if (d.phase === "draining") {
    if (d.inFlight.size === 0) finish(d)
    return
  }
  if (d.phase !== "dialing" || d.tally.connected.length >= d.config.target) return
  if (booked._tag === "Success") launch(d, needed(d), "needed")
  else launch(d, Math.max(1, needed(d)), "failure")
}

/**
 * Whether to ask the endpoints before dialing (the cache is empty, too small or stale), or dial. A
 * head that is not a warm cache on its own waits for the whole table (phase `loading`); staleness is
 * the file's, known from the head already.
 */
const decide = (d: Draft): void => {
  if (decidesWithoutDialing(d)) return
  beginDialing(d)
  settle(d)
}

/** The part of {@link decide} before dialing: waits for the table or asks the endpoints first; false when it dials. */
const decidesWithoutDialing = (d: Draft): boolean => {
  const c = d.config
  const reason: M.EndpointReason | undefined = d.cachedPeers === 0
    ? "empty"
    : d.usable < c.minCachedPeers
    ? "too-few"
    : d.stale
    ? "stale"
    : undefined
  if (d.loading && (reason === "empty" || reason === "too-few")) d.phase = "loading"
  else if (reason !== undefined && ask(d, reason)) d.phase = "prefetch"
  else return false
  return true
}

/**
 * The whole table arrived: it replaces the head (selections and refills use it from now on; what was
 * dialled stays excluded), its addresses count as cached unless the endpoints listed them first, and
 * a run waiting for it decides now.
 */
const onTableLoaded = (d: Draft, table: PeerTable.PeerTable): void => {
  if (!d.loading) return
  d.loading = false
  d.table = table
  // A view over the table's address index, not a copy of its keys (`CachedKeys`): the run asks it
  // about a handful of addresses.
  d.cachedKeys = new CachedKeys(table, d.cachedKeys, d.answered)
  d.cachedPeers = PeerTable.size(table)
  // Counted at the time the next selections score at, so that they find the pool this pass builds.
  d.usable = Candidates.countUsable(table, eligibility(d.config), d.phase === "dialing" ? d.selectAt : d.now)
  d.exhausted = false
  if (d.phase === "loading") return decide(d)
  if (d.phase === "dialing" && d.config.avoidFailedWithinMs > 0) {
    d.avoid = Candidates.recentlyFailed(table, eligibility(d.config), d.config.target, d.selectAt, d.config.avoidFailedWithinMs)
  }
}

// ---------------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------------

/** The draft a run starts from: the cache's keys and usable peers counted at `now`. */
const startDraft = (config: M.Config, input: M.StartInput, now: number, draws: ReadonlyArray<number>): Draft => {
  const usable = Candidates.countUsable(input.table, eligibility(config), now)
  return draft(initialState(config, input, new CachedKeys(input.table), usable, now), now, draws)
}

export const start = (config: M.Config, input: M.StartInput, now: number, draws: ReadonlyArray<number>): M.Transition => {
  const d = startDraft(config, input, now, draws)
  if (config.target === 0) finish(d)
  else decide(d)
  return freeze(d)
}

/**
 * {@link start} split at its selection. Everything up to the decision to dial is done once, here;
 * `start(draws)` dials from a fresh draft of that state, so it gives what `start` gives with the same
 * draws, and may be called again. `usesDraws` is what `start`'s `usedDraws` would say: a start that
 * dials always selects first, unless it reconnects (`Selection.reconnectOrder` draws nothing).
 */
export const starting = (config: M.Config, input: M.StartInput, now: number): M.Starting => {
  const d = startDraft(config, input, now, [])
  if (config.target === 0) finish(d)
  if (config.target === 0 || decidesWithoutDialing(d)) {
    const done = freeze(d)
    return { usesDraws: false, start: () => done }
  }
  const { commands, state } = freeze(d)
  return {
    usesDraws: !config.reconnect,
    start: (draws) => {
      const e = draft(state, now, draws)
      e.commands.push(...commands)
      beginDialing(e)
      settle(e)
      return freeze(e)
    }
  }
}

export const step = (state: M.State, event: M.Event, now: number, draws: ReadonlyArray<number>): M.Transition => {
  if (state.phase === "done") return { state, commands: [], usedDraws: false }
  const d = draft(state, Math.max(now, state.lastProgressAt), draws)
  switch (event._tag) {
    case "DialEnded":
      onDialEnded(d, event.id, event.outcome)
      break
    case "EndpointsAnswered":
    case "EndpointsFailed":
      onEndpoints(d, event)
      break
    case "TableLoaded":
      onTableLoaded(d, event.table)
      break
    case "Tick":
      if (d.phase === "dialing" && d.now >= d.lastProgressAt + staggerDelay(d.config, d.inFlight.values())) {
        d.lastProgressAt = d.now
        launch(d, 1, "stagger")
      }
      break
  }
  settle(d)
  return freeze(d)
}

/** `BootstrapMachine.tableLoadedSteps`: the pool and usage of `table` under the run's eligibility, in slices. */
export const tableLoadedSteps = (config: M.Config, table: PeerTable.PeerTable, now: number, peersPerStep: number): Generator<number, void, void> =>
  Candidates.usageStepsOf(table, eligibility(config), now, peersPerStep)

export const wakeAt = (state: M.State): number | undefined => {
  if (state.phase !== "dialing") return undefined
  const staggerAt = state.lastProgressAt + staggerDelay(state.config, state.inFlight.values())
  const canFallBack = state.config.canAskEndpoints && !state.endpoints.asked
  return canFallBack ? Math.min(staggerAt, state.fallbackAt) : staggerAt
}
