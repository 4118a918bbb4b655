/**
 * The fast path of a base58btc peer id's check (`peerId.canonicalPeerId`): the two multihash shapes
 * every libp2p peer id in base58 has — sha2-256 of the key (`Qm…`: `0x12 0x20` + 32 bytes) and the
 * identity of a short key (`12D3KooW…`, `16Uiu2…`: `0x00 L` + L bytes, L < 128) — recognised by
 * decoding the base58 number in 24-bit limbs, four digits at a time, without the byte-by-byte
 * decoder's array per id (~10× faster). It only ever says yes: any other text (another alphabet,
 * more leading `1`s, another multihash) is left to `canonicalPeerId`, which stays the arbiter. A
 * differential test checks that every id it accepts `canonicalPeerId` accepts unchanged.
 */

const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

/** Each ASCII code's base58btc digit, -1 for a character outside the alphabet. */
const DIGITS: ReadonlyArray<number> = Array.from({ length: 128 }, (_, c) => ALPHABET.indexOf(String.fromCharCode(c)))

const LIMB = 0x1000000

/** Base58 digits per step: 58⁴ < 2²⁴, so a limb times it plus a carry stays an exact integer. */
const STEP = 4

/** Longest id the fast path reads: an identity multihash of 127 bytes takes at most 176 digits. */
const MAX_LENGTH = 180

/**
 * The base58btc number written in `id` from `from` on, as little-endian 24-bit limbs (the top one
 * not 0), or undefined when a character is not a base58btc digit.
 */
const numberLimbs = (id: string, from: number): Array<number> | undefined => {
  const limbs: Array<number> = []
  for (let at = from; at < id.length; at += STEP) {
    const end = Math.min(id.length, at + STEP)
    let value = 0
    let scale = 1
    for (let i = at; i < end; i++) {
      const c = id.charCodeAt(i)
      const digit = c < 128 ? DIGITS[c]! : -1
      if (digit < 0) return undefined
      value = value * 58 + digit
      scale *= 58
    }
    let carry = value
    for (let j = 0; j < limbs.length; j++) {
      const x = limbs[j]! * scale + carry
      carry = Math.floor(x / LIMB)
      limbs[j] = x - carry * LIMB
    }
    while (carry > 0) {
      const next = Math.floor(carry / LIMB)
      limbs.push(carry - next * LIMB)
      carry = next
    }
  }
  return limbs
}

/** How many bytes the number of `limbs` takes, big-endian without a leading zero byte. */
const byteLength = (limbs: ReadonlyArray<number>): number => {
  if (limbs.length === 0) return 0
  const top = limbs[limbs.length - 1]!
  return 3 * (limbs.length - 1) + (top >= 0x10000 ? 3 : top >= 0x100 ? 2 : 1)
}

/** Byte `k` (big-endian, 0 first) of the number of `limbs`, which takes `length` bytes. */
const byteAt = (limbs: ReadonlyArray<number>, length: number, k: number): number => {
  const fromEnd = length - 1 - k
  return (limbs[Math.floor(fromEnd / 3)]! >>> (8 * (fromEnd % 3))) & 0xff
}

/**
 * Whether `id` is a base58btc peer id of one of the two usual shapes (see the module docs): true
 * only when `peerId.canonicalPeerId` accepts it as it is; false means "not known here" (ask it).
 */
export const isUsualBase58PeerId = (id: string): boolean => {
  if (id.length < 2 || id.length > MAX_LENGTH) return false
  // `canonicalPeerId` reads as base58 only an id starting with `Q` (sha2-256) or `1`. A leading `1`
  // is a zero byte, the identity multihash's code; a second would be a size of 0.
  const first = id.charCodeAt(0)
  if (first !== 81 /* Q */ && first !== 49 /* 1 */) return false
  const zeroes = first === 49 ? 1 : 0
  if (zeroes === 1 && id.charCodeAt(1) === 49) return false
  const limbs = numberLimbs(id, zeroes)
  if (limbs === undefined) return false
  const length = byteLength(limbs)
  if (zeroes === 0) return length === 34 && byteAt(limbs, length, 0) === 0x12 && byteAt(limbs, length, 1) === 0x20
  // Identity: the size (one varint byte) and exactly that many bytes of key.
  const size = byteAt(limbs, length, 0)
  return size < 0x80 && length === 1 + size
}
