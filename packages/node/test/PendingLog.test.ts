import { describe, expect, it } from "@effect/vitest"
import { Journal, PeerAddress, PeerTable } from "@bootstrap-cache/core"
import { Arbitraries } from "@bootstrap-cache/testkit"
import * as Equal from "effect/Equal"
import * as FastCheck from "effect/FastCheck"
import { successOp, validBytes, validRtt } from "../src/internal/cacheStore/boundary.js"
import { PendingLog } from "../src/internal/cacheStore/pendingLog.js"

const T0 = 1_700_000_000_000

type Step =
  | { readonly _tag: "success"; readonly address: number; readonly rttMs: number | undefined; readonly bytes: number | undefined }
  | { readonly _tag: "failure"; readonly address: number }
  | { readonly _tag: "add"; readonly address: number }
  | { readonly _tag: "view" }
  | { readonly _tag: "pending" }
  | { readonly _tag: "flushed" }

const measurement = FastCheck.option(
  FastCheck.oneof(FastCheck.integer({ min: 0, max: 5000 }), FastCheck.constantFrom(-1, Number.NaN, Number.POSITIVE_INFINITY, 1e300, 10.7)),
  { nil: undefined }
)
const address = FastCheck.integer({ min: 0, max: 7 })
const step: FastCheck.Arbitrary<Step> = FastCheck.oneof(
  { weight: 6, arbitrary: FastCheck.record({ _tag: FastCheck.constant("success" as const), address, rttMs: measurement, bytes: measurement }) },
  { weight: 3, arbitrary: FastCheck.record({ _tag: FastCheck.constant("failure" as const), address }) },
  { weight: 1, arbitrary: FastCheck.record({ _tag: FastCheck.constant("add" as const), address }) },
  { weight: 1, arbitrary: FastCheck.constant({ _tag: "view" as const }) },
  { weight: 1, arbitrary: FastCheck.constant({ _tag: "pending" as const }) },
  { weight: 1, arbitrary: FastCheck.constant({ _tag: "flushed" as const }) }
)

describe("PendingLog", () => {
  it.prop(
    "outcomes appended as columns read back exactly as the journal operations appended one by one",
    {
      addresses: FastCheck.uniqueArray(Arbitraries.peerAddress, { minLength: 8, maxLength: 8, selector: (a) => a.key }),
      steps: FastCheck.array(step, { maxLength: 120 }),
      maxPendingOps: FastCheck.integer({ min: 1, max: 40 })
    },
    ({ addresses, maxPendingOps, steps }) => {
      // the reference appends built operations only; the log under test takes outcomes as columns
      const reference = new PendingLog(maxPendingOps)
      const columns = new PendingLog(maxPendingOps)
      const same = () => {
        expect(columns.size).toBe(reference.size)
        expect(columns.droppedOps).toBe(reference.droppedOps)
        expect(columns.headSeq).toBe(reference.headSeq)
      }
      steps.forEach((s, i) => {
        const at = T0 + i
        switch (s._tag) {
          case "success": {
            const a = addresses[s.address]!
            const o = { ...(s.rttMs === undefined ? {} : { rttMs: s.rttMs }), ...(s.bytes === undefined ? {} : { bytes: s.bytes }) }
            reference.append(successOp(a, at, o))
            columns.appendSuccess(a, at, validRtt(s.rttMs), validBytes(s.bytes))
            break
          }
          case "failure":
            reference.append(Journal.failure(addresses[s.address]!, at))
            columns.appendFailure(addresses[s.address]!, at)
            break
          case "add": {
            const op = Journal.Op.Add({ address: addresses[s.address]!, at, source: { _tag: "user" } })
            reference.append(op)
            columns.append(op)
            break
          }
          case "view":
            expect(PeerTable.toRecords(columns.view())).toEqual(PeerTable.toRecords(reference.view()))
            break
          case "pending": {
            const [want, got] = [reference.pending(), columns.pending()]
            expect(got.to).toBe(want.to)
            expect(got.ops.length).toBe(want.ops.length)
            got.ops.forEach((op, j) => expect(Equal.equals(op, want.ops[j]!)).toBe(true))
            break
          }
          case "flushed": {
            const [want, got] = [reference.pending(), columns.pending()]
            reference.rebase(reference.view(), want.to)
            columns.rebase(columns.view(), got.to)
          }
        }
        same()
      })
      expect(PeerTable.toRecords(columns.view())).toEqual(PeerTable.toRecords(reference.view()))
    },
    { fastCheck: { seed: 16, numRuns: 300 } }
  )

  it("thousands of outcomes (several column chunks) read back in order, as operations", () => {
    const addresses = Array.from({ length: 7 }, (_, i) => PeerAddress.unsafeParse(`/ip4/10.0.0.${i + 1}/tcp/4001`))
    const reference = new PendingLog(100_000)
    const columns = new PendingLog(100_000)
    for (let i = 0; i < 2_600; i++) {
      const a = addresses[i % addresses.length]!
      if (i % 3 === 0) {
        reference.append(Journal.failure(a, T0 + i))
        columns.appendFailure(a, T0 + i)
      } else {
        reference.append(Journal.success(a, T0 + i, i % 5, i % 2 === 0 ? undefined : i))
        columns.appendSuccess(a, T0 + i, i % 5, i % 2 === 0 ? undefined : i)
      }
    }
    expect(columns.size).toBe(2_600)
    const [want, got] = [reference.pending(), columns.pending()]
    expect(got.ops.length).toBe(2_600)
    got.ops.forEach((op, j) => expect(Equal.equals(op, want.ops[j]!)).toBe(true))
    expect(PeerTable.toRecords(columns.view())).toEqual(PeerTable.toRecords(reference.view()))
  })

  it("outcomes recorded after a read (the columns reused) read back in order, across chunk boundaries", () => {
    const addresses = Array.from({ length: 5 }, (_, i) => PeerAddress.unsafeParse(`/ip4/10.0.1.${i + 1}/tcp/4001`))
    const reference = new PendingLog(100_000)
    const columns = new PendingLog(100_000)
    let at = T0
    for (const run of [3, 1_500, 1_024, 1, 2_100]) {
      for (let i = 0; i < run; i++) {
        const a = addresses[at % addresses.length]!
        at++
        if (at % 4 === 0) {
          reference.append(Journal.failure(a, at))
          columns.appendFailure(a, at)
        } else {
          reference.append(Journal.success(a, at, at % 7, at % 3 === 0 ? undefined : at % 1000))
          columns.appendSuccess(a, at, at % 7, at % 3 === 0 ? undefined : at % 1000)
        }
      }
      const [want, got] = [reference.pending(), columns.pending()]
      expect(got.ops.length).toBe(want.ops.length)
      got.ops.forEach((op, j) => expect(Equal.equals(op, want.ops[j]!)).toBe(true))
    }
    expect(PeerTable.toRecords(columns.view())).toEqual(PeerTable.toRecords(reference.view()))
  })
})
