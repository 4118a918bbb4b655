/**
 * Test Layers of this library's own services, for the unit tests of a node that is built on it: an
 * in-memory {@link cacheStoreMemory `CacheStore`}, a {@link dialerScripted scripted `Dialer`} and a
 * {@link contactsFetcherStatic static `ContactsFetcher`}. None touches the disk or the network, and
 * every delay is an `Effect.sleep` on Effect's `Clock`, so a test runs under `TestClock` (fork,
 * `TestClock.adjust`, join) in microseconds.
 *
 * Each Layer also provides a companion service to look at what happened ({@link MemoryCacheFile},
 * {@link DialLog}, {@link ContactsLog}); build the program's Layer with `Layer.provideMerge` to keep
 * them in the test's context:
 *
 * ```ts
 * const TestEnv = Bootstrap.layer({ target: 3, contacts: true, protection: false }).pipe(Layer.provideMerge(Layer.mergeAll(
 *   TestLayers.cacheStoreMemory(warmTable),
 *   TestLayers.dialerScripted({ "/ip4/1.2.3.4/tcp/4001": { ok: 20 } }),
 *   TestLayers.contactsFetcherStatic(["/ip4/5.6.7.8/tcp/4001"])
 * )))
 * ```
 *
 * @since 0.1.0
 */
import { PeerAddress, PeerTable } from "@bootstrap-cache/core"
import { CacheStore, ContactsFetcher, Dialer } from "@bootstrap-cache/node"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

// ---------------------------------------------------------------------------------------------------
// CacheStore in memory
// ---------------------------------------------------------------------------------------------------

/**
 * The in-memory file behind {@link cacheStoreMemory}: `CacheStore.MemoryCacheFile`.
 *
 * @since 0.1.0
 */
export const MemoryCacheFile = CacheStore.MemoryCacheFile

/**
 * @since 0.1.0
 */
export type MemoryCacheFile = CacheStore.MemoryCacheFile

/**
 * @since 0.1.0
 */
export type MemoryFileContents = CacheStore.MemoryFileContents

/**
 * Options of {@link cacheStoreMemory}: `CacheStore.MemoryOptions` without `initial`.
 *
 * @since 0.1.0
 */
export type CacheStoreMemoryOptions = Omit<CacheStore.MemoryOptions, "initial">

/**
 * Builds the in-memory store and its file: `CacheStore.makeMemory`.
 *
 * @since 0.1.0
 */
export const makeCacheStoreMemory = (initial?: PeerTable.PeerTable, options: CacheStoreMemoryOptions = {}) =>
  CacheStore.makeMemory(initial === undefined ? options : { ...options, initial })

/**
 * The full `CacheStore` service in memory, plus its {@link MemoryCacheFile}: `CacheStore.layerMemory`
 * with the initial table as first argument.
 *
 * @since 0.1.0
 */
export const cacheStoreMemory = (
  initial?: PeerTable.PeerTable,
  options: CacheStoreMemoryOptions = {}
): Layer.Layer<CacheStore.CacheStore | CacheStore.MemoryCacheFile> =>
  CacheStore.layerMemory(initial === undefined ? options : { ...options, initial })

// ---------------------------------------------------------------------------------------------------
// Scripted Dialer
// ---------------------------------------------------------------------------------------------------

/**
 * What one dial of a scripted address does (delays in ms on Effect's `Clock`; `true` means at once):
 *
 * - `{ ok: rttMs }`: answers after `rttMs` and succeeds with it as the set-up time;
 * - `{ refuse }`: fails with `DialRefusedError` (`ECONNREFUSED`), as a closed port does;
 * - `{ unreachable, code? }`: fails with `DialUnreachableError` (`code`, default `EHOSTUNREACH`);
 * - `{ timeout: true }`: never answers: the dial timeout (`Dialer.make`'s and the bootstrap's) applies
 *   and the dial fails with `DialTimeoutError`;
 * - `{ unsupported: true }`: the dialer does not speak this address (`supports` is false while this is
 *   the address's next outcome; a direct dial fails with `UnsupportedTransportError`).
 *
 * @since 0.1.0
 */
export type DialOutcome =
  | { readonly ok: number }
  | { readonly refuse: number | true }
  | { readonly unreachable: number | true; readonly code?: string }
  | { readonly timeout: true }
  | { readonly unsupported: true }

/**
 * A dial script: per address, one outcome for every dial, or a sequence (the n-th dial gets the n-th
 * outcome; the last repeats). An address is named by a multiaddr string or a `PeerAddress` (matched by
 * its dedupe key `PeerAddress.key`, so `/ip4/1.2.3.4/tcp/4001` scripts that endpoint whatever peer id
 * the dialled address carries), or by a dedupe key itself. Either a record or pairs (e.g. a `Map`).
 *
 * @since 0.1.0
 */
export type DialScript =
  | Readonly<Record<string, DialOutcome | ReadonlyArray<DialOutcome>>>
  | Iterable<readonly [string | PeerAddress.PeerAddress, DialOutcome | ReadonlyArray<DialOutcome>]>

/**
 * One dial seen by {@link dialerScripted}: the address, when it started (epoch ms, Effect's Clock),
 * which dial of that address it was (1 = first) and the outcome the script gave it.
 *
 * @since 0.1.0
 */
export interface DialRecord {
  readonly address: PeerAddress.PeerAddress
  readonly at: number
  readonly attempt: number
  readonly outcome: DialOutcome
}

/**
 * The dials made through {@link dialerScripted}, in order of start.
 *
 * @since 0.1.0
 */
export class DialLog extends Context.Tag("@bootstrap-cache/testkit/DialLog")<DialLog, {
  readonly dials: Effect.Effect<ReadonlyArray<DialRecord>>
}>() {}

const keyOf = (name: string | PeerAddress.PeerAddress): string => {
  if (typeof name !== "string") return name.key
  return Either.match(PeerAddress.parse(name), { onLeft: () => name, onRight: (a) => a.key })
}

const delayOf = (d: number | true) => (d === true ? Effect.void : Effect.sleep(Duration.millis(d)))

/**
 * A `Dialer` (built with `Dialer.make`, so the dial timeout is enforced as in production) whose outcome
 * per address is scripted (see {@link DialScript}, {@link DialOutcome}); every delay is an
 * `Effect.sleep` on Effect's `Clock`, so a test runs under `TestClock`. Addresses not in the script get
 * `otherwise` (default `{ refuse: true }`: nothing listens). Every dial is logged in the
 * {@link DialLog} provided alongside.
 *
 * Dies (a defect, at Layer build) when two entries of the script name the same dedupe key.
 *
 * @since 0.1.0
 */
export const dialerScripted = (
  script: DialScript,
  options: { readonly otherwise?: DialOutcome } = {}
): Layer.Layer<Dialer.Dialer | DialLog> =>
  Layer.effectContext(Effect.gen(function*() {
    const clock = yield* Effect.clock
    const entries: Iterable<readonly [string | PeerAddress.PeerAddress, DialOutcome | ReadonlyArray<DialOutcome>]> =
      Symbol.iterator in script ? script as Iterable<readonly [string, DialOutcome]> : Object.entries(script)
    const outcomes = new Map<string, { readonly name: string; readonly steps: ReadonlyArray<DialOutcome> }>()
    for (const [name, value] of entries) {
      const key = keyOf(name)
      const label = typeof name === "string" ? name : name.multiaddr
      const previous = outcomes.get(key)
      if (previous !== undefined) {
        return yield* Effect.dieMessage(`dialerScripted: ${previous.name} and ${label} name the same address (dedupe key ${key})`)
      }
      const steps = Array.isArray(value) ? value as ReadonlyArray<DialOutcome> : [value as DialOutcome]
      if (steps.length === 0) return yield* Effect.dieMessage(`dialerScripted: ${label} has an empty sequence of outcomes`)
      outcomes.set(key, { name: label, steps })
    }
    const otherwise = options.otherwise ?? { refuse: true }
    const calls = new Map<string, number>()
    const log: Array<DialRecord> = []

    const peek = (address: PeerAddress.PeerAddress): DialOutcome => {
      const steps = outcomes.get(address.key)?.steps
      if (steps === undefined) return otherwise
      return steps[Math.min(calls.get(address.key) ?? 0, steps.length - 1)]!
    }

    const dial: Dialer.Dial = (address) =>
      Effect.suspend((): Effect.Effect<number, Dialer.DialError> => {
        const outcome = peek(address)
        const attempt = (calls.get(address.key) ?? 0) + 1
        calls.set(address.key, attempt)
        log.push({ address, at: clock.unsafeCurrentTimeMillis(), attempt, outcome })
        const at = address.multiaddr
        if ("ok" in outcome) return Effect.as(Effect.sleep(Duration.millis(outcome.ok)), outcome.ok)
        if ("refuse" in outcome) {
          return Effect.zipRight(delayOf(outcome.refuse), Effect.fail(new Dialer.DialRefusedError({ address: at, code: "ECONNREFUSED" })))
        }
        if ("unreachable" in outcome) {
          const code = outcome.code ?? "EHOSTUNREACH"
          return Effect.zipRight(
            delayOf(outcome.unreachable),
            Effect.fail(new Dialer.DialUnreachableError({ address: at, code, detail: `scripted ${code}` }))
          )
        }
        if ("timeout" in outcome) return Effect.never
        return Effect.fail(new Dialer.UnsupportedTransportError({ address: at, transport: address.transport }))
      })

    return Context.make(Dialer.Dialer, Dialer.make(dial, (address) => !("unsupported" in peek(address)))).pipe(
      Context.add(DialLog, { dials: Effect.sync(() => log.slice()) })
    )
  }))

// ---------------------------------------------------------------------------------------------------
// Static ContactsFetcher
// ---------------------------------------------------------------------------------------------------

/**
 * What one scripted endpoint answers: addresses (multiaddr strings or `PeerAddress`es, returned as given,
 * no filter), or a failure with its `ContactsFetcher.FailureReason` (and optional `detail`, HTTP
 * `status`).
 *
 * @since 0.1.0
 */
export type EndpointScript =
  | ReadonlyArray<string | PeerAddress.PeerAddress>
  | {
    readonly fail: ContactsFetcher.FailureReason
    readonly detail?: string
    readonly status?: number
  }

/**
 * The script of {@link contactsFetcherStatic}: the addresses of one endpoint (`endpoint` option), an
 * answer per endpoint URL (the configured endpoints, in key order), or a `ContactsUnavailable` every
 * fetch fails with.
 *
 * @since 0.1.0
 */
export type ContactsScript =
  | ReadonlyArray<string | PeerAddress.PeerAddress>
  | Readonly<Record<string, EndpointScript>>
  | ContactsFetcher.ContactsUnavailable

/**
 * The fetches made through {@link contactsFetcherStatic}: how many, and the endpoints each asked.
 *
 * @since 0.1.0
 */
export class ContactsLog extends Context.Tag("@bootstrap-cache/testkit/ContactsLog")<ContactsLog, {
  readonly calls: Effect.Effect<number>
  readonly requests: Effect.Effect<ReadonlyArray<ReadonlyArray<string>>>
}>() {}

const emptyReport = {
  format: Option.none(),
  invalid: 0,
  filtered: 0,
  duplicates: 0,
  overLimit: 0,
  issues: [],
  truncated: false,
  bytesRead: 0
} as const

/** What a scripted endpoint answers: its addresses, or the failure it reports. */
type Answer = ReadonlyArray<PeerAddress.PeerAddress> | { readonly fail: ContactsFetcher.EndpointFailure }

/** Each scripted endpoint's answer, its strings parsed (a defect on one that is not a multiaddr). */
const scriptedAnswers = (script: ContactsScript, endpoint: string | undefined): Effect.Effect<Map<string, Answer>> =>
  Effect.gen(function*() {
    const answers = new Map<string, Answer>()
    const parseAll = (url: string, list: ReadonlyArray<string | PeerAddress.PeerAddress>) =>
      Effect.forEach(list, (a) =>
        typeof a !== "string" ? Effect.succeed(a) : Either.match(PeerAddress.parse(a), {
          onLeft: (e) => Effect.dieMessage(`contactsFetcherStatic: ${url}: ${JSON.stringify(a)} is not a multiaddr (${e.message})`),
          onRight: Effect.succeed
        }))
    const perEndpoint: ReadonlyArray<readonly [string, EndpointScript]> = Array.isArray(script)
      ? [[endpoint ?? "http://contacts.test/", script as ReadonlyArray<string>]]
      : Object.entries(script as Readonly<Record<string, EndpointScript>>)
    for (const [url, answer] of perEndpoint) {
      answers.set(
        url,
        "fail" in answer
          ? {
            fail: new ContactsFetcher.EndpointFailure({
              endpoint: url,
              reason: answer.fail,
              detail: answer.detail ?? `scripted ${answer.fail}`,
              ...(answer.status === undefined ? {} : { status: answer.status })
            })
          }
          : yield* parseAll(url, answer)
      )
    }
    return answers
  })

/** A fetch of `endpoints` from scripted answers, merged and reported as the real fetcher does. */
const answerFrom = (
  answers: ReadonlyMap<string, Answer>,
  endpoints: ReadonlyArray<string>,
  delayMs: number
): Effect.Effect<ContactsFetcher.FetchResult, ContactsFetcher.ContactsUnavailable> => {
  const seen = new Map<string, number>()
  const addresses: Array<ContactsFetcher.SourcedAddress> = []
  const failures: Array<ContactsFetcher.EndpointFailure> = []
  const reports = endpoints.map((endpoint): ContactsFetcher.EndpointReport => {
    const a = answers.get(endpoint) ?? {
      fail: new ContactsFetcher.EndpointFailure({ endpoint, reason: "transport", detail: "not scripted in contactsFetcherStatic" })
    }
    const base = { endpoint, attempts: 1, requests: 1, durationMs: delayMs, ...emptyReport }
    if ("fail" in a) {
      failures.push(a.fail)
      return { ...base, outcome: "failed", failure: Option.some(a.fail), valid: 0 }
    }
    for (const address of a) {
      const at = seen.get(address.key)
      if (at === undefined) {
        seen.set(address.key, addresses.length)
        addresses.push({ address, source: endpoint })
      } else if (Option.isNone(addresses[at]!.address.peerId) && Option.isSome(address.peerId)) {
        addresses[at] = { address, source: endpoint }
      }
    }
    return { ...base, outcome: "ok", failure: Option.none(), valid: a.length }
  })
  return addresses.length === 0
    ? Effect.fail(new ContactsFetcher.ContactsUnavailable({ failures }))
    : Effect.succeed({ addresses, endpoints: reports })
}

/**
 * A `ContactsFetcher` returning fixed results without HTTP (see {@link ContactsScript}), after `delay`
 * (default 0; an `Effect.sleep` on Effect's `Clock`) on every fetch, and counting fetches in the
 * {@link ContactsLog} provided alongside.
 *
 * `fetch` asks the scripted endpoints (`endpoint`, default `"http://contacts.test/"`, for a bare list);
 * `fetchFrom(urls)` asks those URLs (an unscripted one fails with reason `transport`). As the real
 * fetcher: addresses are de-duplicated by dedupe key (the first endpoint wins, unless a later one gives
 * the peer id), each carries its endpoint URL as `source`, there is one `EndpointReport` per endpoint in
 * order, and a fetch where no endpoint gave an address fails with `ContactsUnavailable` listing each
 * endpoint's `EndpointFailure`. `breakers` is empty.
 *
 * Dies (a defect, at Layer build) on a string that is not a multiaddr.
 *
 * @since 0.1.0
 */
export const contactsFetcherStatic = (
  script: ContactsScript,
  options: { readonly delay?: Duration.DurationInput; readonly endpoint?: string } = {}
): Layer.Layer<ContactsFetcher.ContactsFetcher | ContactsLog> =>
  Layer.effectContext(Effect.gen(function*() {
    const unavailable = script instanceof ContactsFetcher.ContactsUnavailable ? script : undefined
    const answers = unavailable === undefined ? yield* scriptedAnswers(script, options.endpoint) : new Map<string, Answer>()
    const delay = Duration.decode(options.delay ?? 0)
    const requests: Array<ReadonlyArray<string>> = []
    const answer = (endpoints: ReadonlyArray<string>): Effect.Effect<ContactsFetcher.FetchResult, ContactsFetcher.ContactsUnavailable> =>
      Effect.suspend(() => unavailable !== undefined ? Effect.fail(unavailable) : answerFrom(answers, endpoints, Duration.toMillis(delay)))

    const fetchFrom = (endpoints: ReadonlyArray<string>) =>
      Effect.zipRight(
        Effect.zipRight(Effect.sync(() => void requests.push(endpoints.slice())), Effect.sleep(delay)),
        answer(endpoints)
      )
    const configured = Array.from(answers.keys())
    return Context.make(ContactsFetcher.ContactsFetcher, {
      fetch: Effect.suspend(() => fetchFrom(configured)),
      fetchFrom,
      breakers: Effect.succeed([])
    }).pipe(
      Context.add(ContactsLog, {
        calls: Effect.sync(() => requests.length),
        requests: Effect.sync(() => requests.slice())
      })
    )
  }))
