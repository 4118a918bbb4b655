/**
 * The body of `Protection.make`: a {@link KeyTable} of pure `KeyProtection` states, driven with the
 * calling fiber's `Clock` and `Random`, counted with per-instance metrics, announced on a `PubSub`.
 * The call path lives in `calls.ts`; this module builds an instance and its status and manual steps.
 */
import { KeyProtection, ProtectionStatus } from "@bootstrap-cache/core"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as PubSub from "effect/PubSub"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import {
  defaults,
  type KeyStatus,
  metrics,
  type OverallStatus,
  Protection,
  type ProtectionOptions,
  type StateChange
} from "../../Protection.js"
import { announce, Calls } from "./calls.js"
import { InstanceMetrics } from "./metrics.js"
import { KeyTable } from "./table.js"

/** Instances made without a `name` are labelled `protection-1`, `protection-2`, … in creation order. */
let unnamed = 0

const toMs = (input: Duration.DurationInput) => Duration.toMillis(Duration.decode(input))

/** What the status and manual steps of one instance read and write. */
interface Instance {
  readonly config: KeyProtection.Config<unknown>
  readonly table: KeyTable
  readonly meter: InstanceMetrics
  readonly hub: PubSub.PubSub<StateChange>
}

/** The key protection config, idle timeout and key bound from `options`, with the defaults filled in. */
const settingsOf = (options: ProtectionOptions) => ({
  config: KeyProtection.makeConfig<unknown>({
    breaker: options.breaker ?? defaults.breaker,
    health: options.health,
    recovery: options.recovery
  }),
  idleMs: options.idleTimeout === undefined ? defaults.idleTimeoutMs : Math.max(0, toMs(options.idleTimeout)),
  maxKeys: Math.max(1, Math.floor(options.maxKeys ?? defaults.maxKeys))
})

/** The status of `key` now; a key not in the table reports a fresh state. */
const status = (instance: Instance, key: string) =>
  Effect.map(Clock.currentTimeMillis, (now): KeyStatus => {
    const entry = instance.table.entries.get(key)
    const report = ProtectionStatus.report(entry?.state ?? KeyProtection.make(instance.config, now), now)
    return { key, tracked: entry !== undefined, ...report, summary: ProtectionStatus.summary(key, report) }
  })

const overall = (instance: Instance) =>
  Effect.map(Clock.currentTimeMillis, (now): OverallStatus => {
    const reports = Array.from(instance.table.entries.values(), (entry) => ProtectionStatus.report(entry.state, now))
    const o = ProtectionStatus.overall(reports)
    return { ...o, summary: ProtectionStatus.overallSummary(o) }
  })

const snapshot = (instance: Instance) =>
  Effect.map(
    Clock.currentTimeMillis,
    (now) => Array.from(instance.table.entries, ([key, entry]) => [key, KeyProtection.toSnapshot(entry.state, now)] as const)
  )

/** Updates the not-closed gauge under the fiber's labels, then announces `changes` if there are some. */
const publishNow = (instance: Instance, changes: ReadonlyArray<StateChange>) =>
  Effect.withFiberRuntime<void>((fiber) => {
    const { meter, table } = instance
    meter.gauge(table.notClosedCount, meter.labels(fiber.getFiberRef(FiberRef.currentMetricLabels)))
    return changes.length === 0 ? Effect.void : announce(instance.hub, changes)
  })

/** Applies the manual step `f` (reset, trip) to the state of `key`, with the current time and a draw. */
const manual = (
  instance: Instance,
  key: string,
  f: (s: KeyProtection.KeyProtection, now: number, draw: number) => KeyProtection.KeyProtection
) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const draw = yield* Random.next
    const changes: Array<StateChange> = []
    const entry = instance.table.touch(key, now)
    instance.table.step(key, entry, f(entry.state, now, draw), now, changes)
    yield* publishNow(instance, changes)
  })

const restoreAll = (instance: Instance, list: Iterable<readonly [string, KeyProtection.Snapshot]>) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const changes: Array<StateChange> = []
    for (const [key, snap] of list) {
      const entry = instance.table.touch(key, now)
      instance.table.step(key, entry, KeyProtection.fromSnapshot(instance.config, snap, now), now, changes)
    }
    yield* publishNow(instance, changes)
  })

/** See `Protection.make`. */
export const make = (options: ProtectionOptions = {}): Effect.Effect<Protection["Type"], never, Scope.Scope> =>
  makeWith(options, true)

/**
 * `Protection.make`, where `countSteady` false sends every call through the full pure steps (the
 * reference of the tests of the steady path).
 */
export const makeWith = (options: ProtectionOptions, countSteady: boolean): Effect.Effect<Protection["Type"], never, Scope.Scope> =>
  Effect.gen(function*() {
    const { config, idleMs, maxKeys } = settingsOf(options)
    const table = new KeyTable(config, idleMs, maxKeys, countSteady)
    const meter = new InstanceMetrics(metrics, options.name ?? `protection-${++unnamed}`)
    const hub = yield* Effect.acquireRelease(
      PubSub.sliding<StateChange>(Math.max(1, options.changesCapacity ?? defaults.changesCapacity)),
      PubSub.shutdown
    )
    const instance: Instance = { config, table, meter, hub }
    const calls = new Calls(table, meter, hub)
    return Protection.of({
      name: meter.name,
      execute: (key, effect) => calls.execute(key, effect),
      status: (key) => status(instance, key),
      overall: overall(instance),
      changes: Stream.fromPubSub(hub),
      subscribe: PubSub.subscribe(hub),
      reset: (key) => manual(instance, key, (s, now) => KeyProtection.reset(s, now)),
      trip: (key) => manual(instance, key, (s, now, draw) => KeyProtection.trip(s, now, draw)),
      snapshot: snapshot(instance),
      restore: (list) => restoreAll(instance, list)
    })
  })
