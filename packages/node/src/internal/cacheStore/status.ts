/**
 * What the store reports about itself: the file's version and age as last read or written, whether
 * it is read-only and why, the recent warnings, the last flush, and the "one warning per kind of
 * failure until a flush succeeds" rule.
 */
import { CacheFile } from "@bootstrap-cache/core"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type { CacheInfo, CacheWriteError, FlushResult } from "../../CacheStore.js"
import type * as CachePaths from "../../CachePaths.js"

interface State {
  readonly version: Option.Option<number>
  readonly lastUpdated: Option.Option<number>
  readonly readOnlyReason: Option.Option<string>
  readonly warnings: ReadonlyArray<string>
  readonly lastFlush: Option.Option<FlushResult>
}

/** How many warnings `info` keeps. */
const MAX_WARNINGS = 20

/** Which warning family a write failure belongs to ("one warning" per family until a success). */
const failureKind = (code: string | undefined): string => {
  switch (code) {
    case "EACCES":
    case "EPERM":
    case "EROFS":
    case "EREADONLY":
      return "read-only"
    case "ENOSPC":
    case "EDQUOT":
      return "disk-full"
    case "ELOCKED":
      return "lock"
    default:
      return `error:${code ?? "unknown"}`
  }
}

interface StatusOptions {
  readonly file: string
  readonly annotate: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  readonly readOnly: boolean
}

/** What the status functions share: the options, the reported state, the failure kinds already warned about. */
interface StatusContext {
  readonly o: StatusOptions
  readonly state: Ref.Ref<State>
  readonly warnedKinds: Set<string>
}

/** Records a warning in `info.warnings` without logging it. */
const note = (c: StatusContext, message: string) =>
  Ref.update(c.state, (s) => ({ ...s, warnings: [...s.warnings, message].slice(-MAX_WARNINGS) }))

/** Records a warning in `info.warnings` and logs it. */
const warn = (c: StatusContext, message: string) => note(c, message).pipe(Effect.zipRight(Effect.logWarning(message)), c.o.annotate)

/** Makes the store read-only for `reason`, with one warning; a store already read-only keeps its reason. */
const setReadOnly = (c: StatusContext, reason: string) =>
  Ref.modify(c.state, (s) => (Option.isSome(s.readOnlyReason) ? [false, s] : [true, { ...s, readOnlyReason: Option.some(reason) }])).pipe(
    Effect.flatMap((changed) => (changed ? warn(c, `read-only: ${reason}`) : Effect.void))
  )

/** A file was read (or found missing): its version and age; a newer format makes the store read-only. */
const installed = (c: StatusContext, decoded: Option.Option<CacheFile.Decoded>) =>
  Ref.update(c.state, (s) => ({
    ...s,
    version: Option.map(decoded, (d) => d.version),
    lastUpdated: Option.map(decoded, (d) => d.lastUpdated),
    readOnlyReason: Option.isSome(s.readOnlyReason)
      ? s.readOnlyReason
      : Option.isSome(decoded) && decoded.value.newer
      ? Option.some(`the file is format version ${decoded.value.version}, newer than ${CacheFile.VERSION}`)
      : Option.none()
  }))

/** The file's head was read: its version and age, until the whole file is installed. */
const headInstalled = (c: StatusContext, head: { readonly version: number; readonly lastUpdated: number }) =>
  Ref.update(c.state, (s) => ({ ...s, version: Option.some(head.version), lastUpdated: Option.some(head.lastUpdated) }))

const written = (c: StatusContext, now: number, result: FlushResult) =>
  Ref.update(c.state, (s) => ({
    ...s,
    version: Option.some(CacheFile.VERSION),
    lastUpdated: Option.some(now),
    lastFlush: Option.some(result)
  }))

/**
 * Reports a failed flush once per kind of failure (read-only, disk full, lock, each other errno)
 * until a flush succeeds; repeats go to the debug log. An explicit `flush` returns its error to
 * the caller, who decides what to say: it is recorded in `info.warnings` but not logged (`loud`
 * false). The background loop and the final flush, which nobody awaits, log it.
 */
const reportFailure = (c: StatusContext, loud: boolean, e: CacheWriteError) =>
  Effect.suspend(() => {
    const kind = failureKind(e.code)
    if (c.warnedKinds.has(kind)) return Effect.logDebug(e.message).pipe(c.o.annotate)
    c.warnedKinds.add(kind)
    const message = `${e.message}; changes are kept and the write retried on the next flush`
    return loud ? warn(c, message) : note(c, message)
  })

/** What `info` reports beyond the status itself. */
interface InfoInput {
  readonly origin: CachePaths.Origin
  readonly staleAfterMs: number
  readonly now: number
  readonly pendingOps: number
  readonly droppedOps: number
  readonly peers: number
  readonly addresses: number
}

const info = (c: StatusContext, i: InfoInput) =>
  Effect.map(Ref.get(c.state), (s): CacheInfo => ({
    path: c.o.file,
    origin: i.origin,
    version: s.version,
    lastUpdated: s.lastUpdated,
    stale: Option.match(s.lastUpdated, { onNone: () => true, onSome: (t) => i.now - t > i.staleAfterMs }),
    readOnly: Option.isSome(s.readOnlyReason),
    readOnlyReason: s.readOnlyReason,
    pendingOps: i.pendingOps,
    droppedOps: i.droppedOps,
    peers: i.peers,
    addresses: i.addresses,
    warnings: s.warnings,
    lastFlush: s.lastFlush
  }))

/** The store's status, made synchronously: nothing in it needs an effect to begin. */
export const makeStatus = (o: StatusOptions) => {
  const state = Ref.unsafeMake<State>({
    version: Option.none(),
    lastUpdated: Option.none(),
    readOnlyReason: o.readOnly ? Option.some("the readOnly option is set") : Option.none(),
    warnings: [],
    lastFlush: Option.none()
  })
  const c: StatusContext = { o, state, warnedKinds: new Set<string>() }
  return {
    warn: (message: string) => warn(c, message),
    note: (message: string) => note(c, message),
    setReadOnly: (reason: string) => setReadOnly(c, reason),
    installed: (decoded: Option.Option<CacheFile.Decoded>) => installed(c, decoded),
    headInstalled: (head: { readonly version: number; readonly lastUpdated: number }) => headInstalled(c, head),
    written: (now: number, result: FlushResult) => written(c, now, result),
    reportFailure: (loud: boolean) => (e: CacheWriteError) => reportFailure(c, loud, e),
    info: (i: InfoInput) => info(c, i),
    readOnlyReason: Effect.map(Ref.get(state), (s) => s.readOnlyReason),
    /** A flush succeeded: every kind of failure may be warned about again. */
    succeeded: () => c.warnedKinds.clear()
  }
}

/** The status {@link makeStatus} builds. */
export type Status = ReturnType<typeof makeStatus>
