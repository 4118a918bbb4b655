/**
 * The bootstrap's cached address keys (`State.cachedKeys`) as a view over the table they come from,
 * not a copy: a set of every address key of a 30k table costs tens of ms to build, while the machine
 * asks it about a handful of keys (a dial's origin, the endpoints' answers).
 */
import * as HashMap from "effect/HashMap"
import type * as PeerAddress from "../PeerAddress.js"
import * as PeerTable from "../PeerTable.js"

const none: ReadonlySet<string> = new Set()

/**
 * The address keys of `table`, plus those of `before`, less those of `answered`: `(before ∪ keys of
 * table) \ answered`. A read-only `Set`: `has` looks the key
 * up in the table's address index (built at its first read), `holds` first in the record of the peer
 * the caller names; the size and the iteration list the keys once, at their first use.
 */
export class CachedKeys implements ReadonlySet<string> {
  #all: ReadonlySet<string> | undefined = undefined
  constructor(
    readonly table: PeerTable.PeerTable,
    readonly before: ReadonlySet<string> = none,
    readonly answered: ReadonlySet<string> = none
  ) {}

  has(key: string): boolean {
    return !this.answered.has(key) && (this.before.has(key) || HashMap.has(this.table.index, key))
  }

  /**
   * Whether `address` is cached, `peerKey` being the key of a peer that may hold it in the table (a
   * selection's pick): found in that peer's record without reading the table's index.
   */
  holds(address: PeerAddress.PeerAddress, peerKey: string): boolean {
    const key = address.key
    if (this.answered.has(key)) return false
    if (this.before instanceof CachedKeys ? this.before.holds(address, peerKey) : this.before.has(key)) return true
    const peer = HashMap.get(this.table.peers, peerKey)
    if (peer._tag === "Some") {
      const addresses = peer.value.addresses
      for (let i = 0; i < addresses.length; i++) if (addresses[i]!.address.key === key) return true
    }
    return HashMap.has(this.table.index, key)
  }

  get size(): number {
    return this.all().size
  }

  forEach(f: (value: string, key: string, set: ReadonlySet<string>) => void, thisArg?: unknown): void {
    for (const key of this.all()) f.call(thisArg, key, key, this)
  }

  entries(): IterableIterator<[string, string]> {
    return this.all().entries()
  }

  keys(): IterableIterator<string> {
    return this.all().keys()
  }

  values(): IterableIterator<string> {
    return this.all().values()
  }

  [Symbol.iterator](): IterableIterator<string> {
    return this.all()[Symbol.iterator]()
  }

  /** The keys, listed at the first call: what the machine held as a `Set`. */
  private all(): ReadonlySet<string> {
    if (this.#all === undefined) {
      const all = new Set(this.before)
      for (const peer of PeerTable.peers(this.table)) for (const r of peer.addresses) all.add(r.address.key)
      for (const key of this.answered) all.delete(key)
      this.#all = all
    }
    return this.#all
  }
}

/** Whether `address`, picked as peer `peerKey`, is among `cached` (see {@link CachedKeys.holds}). */
export const isCached = (cached: ReadonlySet<string>, address: PeerAddress.PeerAddress, peerKey: string): boolean =>
  cached instanceof CachedKeys ? cached.holds(address, peerKey) : cached.has(address.key)
