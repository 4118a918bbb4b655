/**
 * The keys whose values differ between two versions of one persistent `HashMap`, found by walking
 * both tries together and skipping every subtree they share. A table updated by a few outcomes
 * shares all but a few paths with its predecessor, so this costs O(changes × depth) where a fresh
 * pass over 30 000 entries costs milliseconds. It reads the trie of Effect's `HashMap` (nodes tagged
 * `LeafNode`, `CollisionNode`, `IndexedNode`, `ArrayNode`, `EmptyNode`), which is not public API:
 * anything it does not recognise, and any change of shape (a key added or removed), answers
 * `undefined`, and the caller takes the plain path. A differential test checks it against a full
 * comparison.
 *
 * @internal
 */
import type * as HashMap from "effect/HashMap"

interface Node {
  readonly _tag?: string
  readonly key?: unknown
  readonly value?: unknown
  readonly mask?: number
  readonly children?: ReadonlyArray<Node | undefined>
}

const rootOf = (map: HashMap.HashMap<unknown, unknown>): Node | undefined => (map as unknown as { readonly _root?: Node })._root

const walk = (a: Node | undefined, b: Node | undefined, out: Array<unknown>, max: number): boolean => {
  if (a === b) return true
  if (a === undefined || b === undefined || a._tag !== b._tag) return false
  if (a._tag === "IndexedNode" && a.mask !== b.mask) return false
  switch (a._tag) {
    case "LeafNode":
      if (a.key !== b.key) return false
      if (a.value !== b.value) out.push(a.key)
      return out.length <= max
    case "IndexedNode":
    case "ArrayNode":
    case "CollisionNode": {
      const ca = a.children
      const cb = b.children
      if (ca === undefined || cb === undefined || ca.length !== cb.length) return false
      for (let i = 0; i < ca.length; i++) if (!walk(ca[i], cb[i], out, max)) return false
      return true
    }
    case "EmptyNode":
      return true
    default:
      return false
  }
}

/**
 * The keys (compared by identity in the leaves, as strings are) whose entries differ between `a`
 * and `b` when both hold the same keys in the same trie shape and at most `max` differ; otherwise
 * `undefined`.
 */
export const changedKeys = <K, V>(a: HashMap.HashMap<K, V>, b: HashMap.HashMap<K, V>, max: number): Array<K> | undefined => {
  const out: Array<unknown> = []
  return walk(rootOf(a), rootOf(b), out, max) ? (out as Array<K>) : undefined
}
