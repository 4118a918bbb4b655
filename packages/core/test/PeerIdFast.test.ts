/**
 * The fast check of a base58btc peer id (`internal/peerIdFast`) against the definition
 * (`canonicalPeerId`, multiformats' base58 and multihash decoders): every id it accepts, the
 * definition accepts as it is; and it accepts the usual shapes (sha2-256 `Qm…`, identity `12D3KooW…`),
 * so that the fast path is taken. Near-misses: other multihash codes and sizes, two-byte varints,
 * leading `1`s, digits outside the alphabet, truncations.
 */
import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { base58btc } from "multiformats/bases/base58"
import { Arbitraries } from "@bootstrap-cache/testkit"
import { canonicalPeerId } from "../src/internal/peerId.js"
import { isUsualBase58PeerId } from "../src/internal/peerIdFast.js"

/** The fast answer is a yes only where the definition says yes, with the id unchanged. */
const agrees = (id: string): boolean => {
  const fast = isUsualBase58PeerId(id)
  if (fast) {
    const checked = canonicalPeerId(id)
    expect(checked, id).toStrictEqual({ ok: true, id })
  }
  return fast
}

const bytes = (min: number, max: number) => FastCheck.uint8Array({ minLength: min, maxLength: max })

/** Multihash-like byte strings: the usual two shapes, and each of their parts varied. */
const multihash = FastCheck.oneof(
  bytes(32, 32).map((d) => [0x12, 0x20, ...d]),
  bytes(1, 127).map((d) => [0x00, d.length, ...d]),
  FastCheck.tuple(FastCheck.integer({ min: 0, max: 0x13 }), FastCheck.integer({ min: 0, max: 0x90 }), bytes(0, 140))
    .map(([code, size, d]) => [code, size, ...d]),
  FastCheck.tuple(bytes(0, 3), bytes(0, 60)).map(([zeros, d]) => [...zeros.map(() => 0), ...d]),
  bytes(30, 34).map((d) => [0x12, 0x20, ...d]),
  // Consistent lengths but another code, or a size that is a two-byte varint.
  FastCheck.tuple(FastCheck.integer({ min: 0, max: 0xff }), bytes(32, 32)).map(([code, d]) => [code, 0x20, ...d]),
  FastCheck.integer({ min: 0x70, max: 0xff }).chain((size) => bytes(size, size).map((d) => [0x00, size, ...d])),
  bytes(0, 3).chain((p) => bytes(0, 40).map((d) => [...p, 0x80, 0x01, ...d]))
)

const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

/** Text near a base58 id: an encoding as is, cut, with a character changed, or a foreign one inserted. */
const idText = FastCheck.oneof(
  multihash.map((b) => base58btc.baseEncode(Uint8Array.from(b))),
  FastCheck.tuple(multihash, FastCheck.nat(), FastCheck.constantFrom("0", "O", "I", "l", " ", "é", "\u{1F600}", ...ALPHABET))
    .map(([b, at, c]) => {
      const s = base58btc.baseEncode(Uint8Array.from(b))
      const i = s.length === 0 ? 0 : at % s.length
      return s.slice(0, i) + c + s.slice(i + 1)
    }),
  FastCheck.tuple(multihash, FastCheck.nat()).map(([b, cut]) => {
    const s = base58btc.baseEncode(Uint8Array.from(b))
    return s.slice(0, s.length === 0 ? 0 : cut % s.length)
  }),
  FastCheck.string({ unit: FastCheck.constantFrom(...ALPHABET), maxLength: 60 }).map((s) => `Q${s}`),
  FastCheck.string({ unit: FastCheck.constantFrom(...ALPHABET), maxLength: 60 }).map((s) => `1${s}`)
)

describe("peerIdFast.isUsualBase58PeerId", () => {
  it("accepts the real peer ids the testkit holds, as the definition does", () => {
    for (const id of Arbitraries.PEER_IDS) {
      if (id.startsWith("Q") || id.startsWith("1")) expect(agrees(id), id).toBe(true)
    }
  })

  it.prop("accepts every sha2-256 and short identity multihash in base58", [
    FastCheck.oneof(bytes(32, 32).map((d) => [0x12, 0x20, ...d]), bytes(1, 127).map((d) => [0x00, d.length, ...d]))
  ], ([b]) => {
    expect(agrees(base58btc.baseEncode(Uint8Array.from(b)))).toBe(true)
  }, { fastCheck: { seed: 58, numRuns: 2000 } })

  it.prop("says yes only where canonicalPeerId does, with the id unchanged (near-misses included)", [idText], ([id]) => {
    agrees(id)
  }, { fastCheck: { seed: 59, numRuns: 5000 } })

  it("refuses what the definition refuses: another code, a wrong size, a second leading 1, a foreign digit", () => {
    const digest = Array.from({ length: 32 }, (_, i) => i + 1)
    const long = Array.from({ length: 0x85 }, (_, i) => i)
    for (
      const b of [[0x13, 0x20, ...digest], [0x11, 0x20, ...digest], [0x12, 0x1f, ...digest], [0x12, 0x20, ...digest, 7], [0x00, 0x00], [0x00, 0x00, 0x05], [0x00, 0x85, ...long]]
    ) {
      const id = base58btc.baseEncode(Uint8Array.from(b))
      expect(isUsualBase58PeerId(id), id).toBe(false)
    }
    expect(isUsualBase58PeerId("QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJ0")).toBe(false)
    expect(isUsualBase58PeerId("")).toBe(false)
  })
})
