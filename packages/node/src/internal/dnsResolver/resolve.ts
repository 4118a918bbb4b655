/**
 * Runs `core/Dnsaddr`'s resolution against the `DnsResolver` service: asks each name the core says
 * to ask, feeds the answer back, stops at the core's bounds or at the deadline, and logs the warnings.
 */
import { Dnsaddr, type PeerAddress } from "@bootstrap-cache/core"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as DnsResolver from "../../DnsResolver.js"

const DEFAULT_DEADLINE_MS = 10_000
/** Warnings logged per resolution (all are returned). */
const MAX_LOGGED = 5

type Warning = DnsResolver.Resolution["warnings"][number]

const logWarnings = (address: PeerAddress.PeerAddress, warnings: ReadonlyArray<Warning>) =>
  Effect.gen(function*() {
    for (const w of warnings.slice(0, MAX_LOGGED)) {
      yield* Effect.logWarning(`dnsaddr ${w.kind}: ${w.detail}`).pipe(Effect.annotateLogs({ dnsaddr: address.multiaddr, name: w.name }))
    }
    if (warnings.length > MAX_LOGGED) {
      yield* Effect.logWarning(`dnsaddr: ${warnings.length - MAX_LOGGED} more warnings not logged`).pipe(
        Effect.annotateLogs({ dnsaddr: address.multiaddr })
      )
    }
  })

export const resolve = (
  address: PeerAddress.PeerAddress,
  options: DnsResolver.ResolveOptions = {}
): Effect.Effect<DnsResolver.Resolution, never, DnsResolver.DnsResolver> =>
  Effect.gen(function*() {
    if (!Dnsaddr.needsResolution(address)) return { addresses: [address], filtered: 0, warnings: [] }
    const resolver = yield* DnsResolver.DnsResolver
    const deadlineMs = options.deadline === undefined ? DEFAULT_DEADLINE_MS : Duration.toMillis(Duration.decode(options.deadline))
    const started = yield* Clock.currentTimeMillis
    const extra: Array<Warning> = []
    let state = Dnsaddr.start(address, options)
    for (let step = Dnsaddr.next(state); Option.isSome(step); step = Dnsaddr.next(state)) {
      const [lookup, asked] = step.value
      const left = deadlineMs - ((yield* Clock.currentTimeMillis) - started)
      const records = left <= 0
        ? Option.none()
        : yield* resolver.resolveTxt(lookup.name).pipe(Effect.timeout(Duration.millis(left)), Effect.either, Effect.map(Option.some))
      if (Option.isNone(records) || (records.value._tag === "Left" && records.value.left._tag === "TimeoutException")) {
        extra.push({ kind: "deadline", name: lookup.name, detail: `resolution took longer than ${deadlineMs} ms; ${state.pending.length} name(s) not resolved` })
        state = { ...state, pending: [] }
        break
      }
      const result = records.value
      state = result._tag === "Right"
        ? Dnsaddr.answer(asked, lookup, result.right)
        : Dnsaddr.failed(asked, lookup, (result.left as DnsResolver.DnsLookupError).code)
    }
    const done = Dnsaddr.finish(state)
    const warnings = [...done.warnings, ...extra]
    yield* logWarnings(address, warnings)
    return { addresses: done.addresses, filtered: done.filtered, warnings }
  })

export const resolveAll = (
  addresses: ReadonlyArray<PeerAddress.PeerAddress>,
  options: DnsResolver.ResolveOptions = {}
): Effect.Effect<DnsResolver.Resolution, never, DnsResolver.DnsResolver> =>
  Effect.gen(function*() {
    const out: Array<PeerAddress.PeerAddress> = []
    const keys = new Set<string>()
    const warnings: Array<Warning> = []
    let filtered = 0
    const resolutions = yield* Effect.forEach(addresses, (a) => resolve(a, options), { concurrency: 4 })
    for (const r of resolutions) {
      filtered += r.filtered
      warnings.push(...r.warnings)
      for (const a of r.addresses) {
        if (keys.has(a.key)) continue
        keys.add(a.key)
        out.push(a)
      }
    }
    return { addresses: out, filtered, warnings }
  })
