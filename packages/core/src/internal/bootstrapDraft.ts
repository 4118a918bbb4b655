/**
 * The working copy of the bootstrap machine's state that one transition changes: copied from the
 * frozen `State` once ({@link draft}), changed in place by the rules, frozen again ({@link freeze}).
 */
import * as Data from "effect/Data"
import * as Option from "effect/Option"
import type * as M from "../BootstrapMachine.js"
import * as PeerTable from "../PeerTable.js"
import type * as Candidates from "./bootstrapCandidates.js"

export const Command = Data.taggedEnum<M.Command>()
export const Booked = Data.taggedEnum<M.Booked>()

export type Mutable<T> = { -readonly [K in keyof T]: T[K] }

interface DraftTally extends Omit<Mutable<M.Tally>, "connected" | "failuresByReason"> {
  readonly connected: Array<M.Connected>
  readonly failuresByReason: Mutable<M.Tally["failuresByReason"]>
}

/** A state being changed by one transition, with the commands it produced so far. */
export interface Draft extends Omit<Mutable<M.State>, "inFlight" | "attempted" | "pending" | "tally" | "endpoints"> {
  readonly inFlight: Map<number, M.Flight>
  readonly attempted: Set<string>
  pending: Array<Candidates.Candidate>
  readonly tally: DraftTally
  readonly endpoints: Mutable<M.Endpoints>
  readonly commands: Array<M.Command>
  /** Whether a selection used the draws (see `Transition.usedDraws`). */
  usedDraws: boolean
  readonly now: number
  readonly draws: ReadonlyArray<number>
}

export const draft = (s: M.State, now: number, draws: ReadonlyArray<number>): Draft => ({
  ...s,
  inFlight: new Map(s.inFlight),
  attempted: new Set(s.attempted),
  pending: [...s.pending],
  tally: { ...s.tally, connected: [...s.tally.connected], failuresByReason: { ...s.tally.failuresByReason } },
  endpoints: { ...s.endpoints },
  commands: [],
  usedDraws: false,
  now,
  draws
})

export const freeze = (d: Draft): M.Transition => {
  const { commands, draws: _draws, now: _now, usedDraws, ...state } = d
  return { state, commands, usedDraws }
}

export const eligibility = (c: M.Config): Candidates.Eligibility => ({ dialPolicy: c.dialPolicy, supports: c.supports })

export const emptyTally: M.Tally = {
  connected: [],
  dials: 0,
  successes: 0,
  failures: 0,
  failuresByReason: { refused: 0, timeout: 0, unreachable: 0 },
  unsupported: 0,
  cancelled: 0,
  rejected: 0,
  peakInFlight: 0,
  cachedAttempts: 0,
  cachedSuccesses: 0,
  timeToFirstPeerMs: Option.none(),
  timeToTargetMs: Option.none()
}

/** The state a run starts in, before its first decision (`cachedKeys`, `usable`: of `input.table`). */
export const initialState = (
  config: M.Config,
  input: M.StartInput,
  cachedKeys: ReadonlySet<string>,
  usable: number,
  now: number
): M.State => ({
  config,
  phase: "dialing",
  table: input.table,
  loading: input.loading === true,
  cachedKeys,
  answered: new Set(),
  cachedPeers: PeerTable.size(input.table),
  usable,
  stale: input.stale,
  startedAt: now,
  selectAt: now,
  fallbackAt: now + config.fallbackAfterMs,
  lastProgressAt: now,
  nextId: 0,
  inFlight: new Map(),
  pending: [],
  attempted: new Set(),
  avoid: new Set(),
  fresh: Option.none(),
  exhausted: false,
  endpoints: { asked: false, reason: Option.none(), fetching: false, used: false, error: Option.none() },
  tally: emptyTally
})
