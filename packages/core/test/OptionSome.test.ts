/**
 * `optionSome.some` (the small `Some` a decoded table holds) against `Option.some`: for any value,
 * the two are the same value to every reader — tag, prototype, own keys, equality both ways, hash,
 * JSON, the `Option` functions, and the `Schema` encoding of a record holding them.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Equal from "effect/Equal"
import * as FastCheck from "effect/FastCheck"
import * as Hash from "effect/Hash"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { PeerAddress, PeerRecord } from "@bootstrap-cache/core"
import { some } from "../src/internal/optionSome.js"

const sameOption = (value: unknown) => {
  const small = some(value)
  const plain = Option.some(value)
  expect(Object.getPrototypeOf(small)).toBe(Object.getPrototypeOf(plain))
  expect(Object.keys(small)).toEqual(Object.keys(plain))
  expect(small._tag).toBe("Some")
  expect(Option.isOption(small)).toBe(true)
  expect(Option.isSome(small)).toBe(true)
  expect(Option.getOrThrow(small)).toBe(value)
  expect(Equal.equals(small, plain)).toBe(true)
  expect(Equal.equals(plain, small)).toBe(true)
  expect(Hash.hash(small)).toBe(Hash.hash(plain))
  expect(JSON.stringify(small)).toBe(JSON.stringify(plain))
  expect(String(small)).toBe(String(plain))
  expect(small).toStrictEqual(plain)
  expect({ ...small }).toStrictEqual({ ...plain })
}

describe("optionSome.some", () => {
  it.prop("is the value Option.some gives, to every reader", [FastCheck.anything()], ([value]) => {
    sameOption(value)
  }, { fastCheck: { seed: 16_3, numRuns: 300 } })

  it("differs from Option.some of another value and from none", () => {
    expect(Equal.equals(some(1), Option.some(2))).toBe(false)
    expect(Equal.equals(some(1), Option.none())).toBe(false)
    expect(Option.isNone(some(undefined))).toBe(false)
  })

  it("encodes through the Schema as Option.some does, in an address record", () => {
    const address = PeerAddress.unsafeParse("/ip4/1.2.3.4/tcp/4001")
    const record = (s: <A>(a: A) => Option.Option<A>): PeerRecord.AddressRecord => ({
      address,
      successes: 2,
      failures: 1,
      consecutiveFailures: 0,
      lastSuccess: s(1_700_000_000_000),
      lastFailure: s(1_699_000_000_000),
      lastSeen: s(1_700_000_000_000),
      rttMs: s(42.5),
      bytesTransferred: 0
    })
    const encode = Schema.encodeSync(PeerRecord.AddressRecord)
    expect(encode(record(some))).toStrictEqual(encode(record(Option.some)))
  })
})
