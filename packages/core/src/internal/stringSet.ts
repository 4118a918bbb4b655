/**
 * A set of strings for one bulk load (the address keys of a table decoded from a file, to tell a
 * repeated address): open addressing over a table sized at creation for the expected number of keys
 * (grown if passed), their hashes in a typed array. A native `Set` grown key by key to 30,000 keys
 * rehashes a dozen times, each time storing every key again through the garbage collector's write
 * barrier while the decode keeps the collector busy; this one stores each key once.
 */

/** FNV-1a over the UTF-16 code units of `s`. */
const hashOf = (s: string): number => {
  let h = 0x811c9dc5 | 0
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619)
  return h
}

/** The table size (a power of two) that holds `count` keys at most half full. */
const capacityFor = (count: number): number => {
  let capacity = 16
  while (capacity < count * 2) capacity *= 2
  return capacity
}

/** A mutable set of strings, owned by one build (see the module docs). */
export class StringSet {
  private keys: Array<string | undefined>
  private hashes: Int32Array
  size = 0

  /** An empty set with room for `expected` keys before it grows. */
  constructor(expected: number) {
    const capacity = capacityFor(expected)
    this.keys = new Array<string | undefined>(capacity).fill(undefined)
    this.hashes = new Int32Array(capacity)
  }

  /** Whether `key` is in the set. */
  has(key: string): boolean {
    const keys = this.keys
    const mask = keys.length - 1
    const h = hashOf(key)
    for (let at = h & mask;; at = (at + 1) & mask) {
      const k = keys[at]
      if (k === undefined) return false
      if (this.hashes[at] === h && k === key) return true
    }
  }

  /** Adds `key`; false (and the set unchanged) when it is already in it. */
  add(key: string): boolean {
    if ((this.size + 1) * 2 > this.keys.length) this.grow()
    const keys = this.keys
    const mask = keys.length - 1
    const h = hashOf(key)
    for (let at = h & mask;; at = (at + 1) & mask) {
      const k = keys[at]
      if (k === undefined) {
        keys[at] = key
        this.hashes[at] = h
        this.size++
        return true
      }
      if (this.hashes[at] === h && k === key) return false
    }
  }

  private grow(): void {
    const keys = this.keys
    this.keys = new Array<string | undefined>(keys.length * 2).fill(undefined)
    this.hashes = new Int32Array(keys.length * 2)
    this.size = 0
    for (let i = 0; i < keys.length; i++) if (keys[i] !== undefined) this.add(keys[i]!)
  }
}
