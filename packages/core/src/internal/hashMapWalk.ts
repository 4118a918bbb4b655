/**
 * The entries of a persistent `HashMap` in the order `HashMap.reduce` visits them, a slice at a time:
 * a walk that can stop after any entry and go on later. A selection's pool is in that order (its tie
 * draw and explore ranks depend on it), so a pool built in slices must visit the peers exactly so.
 * It reads the trie of Effect's `HashMap` (`_root`; nodes tagged `LeafNode`, `CollisionNode`,
 * `IndexedNode`, `ArrayNode`, `EmptyNode`), which is not public API, as `hashMapDiff` does: a node it
 * does not recognise ends the walk with `"unknown"`, and the caller takes the plain path
 * (`HashMap.reduce`, whole). A differential test checks the order against `HashMap.reduce`.
 *
 * @internal
 */
import type * as HashMap from "effect/HashMap"

interface Node {
  readonly _tag?: string
  readonly key?: unknown
  readonly value?: { readonly _tag: string; readonly value?: unknown }
  readonly children?: ReadonlyArray<Node | undefined>
}

/** Whether `tag` is an inner node's (one holding `children`). */
const inner = (tag: string | undefined): boolean => tag === "CollisionNode" || tag === "IndexedNode" || tag === "ArrayNode"

/** Whether `node` is a trie node this walk knows how to read. */
const known = (node: Node | undefined): boolean =>
  node === undefined || node._tag === "EmptyNode" || node._tag === "LeafNode" || (inner(node._tag) && Array.isArray(node.children))

/** A walk over a map's entries in `HashMap.reduce`'s order. */
export class ReduceOrder<K, V> {
  /** The children arrays still to visit (`reduce`'s stack), the one being visited and where in it. */
  private readonly stack: Array<ReadonlyArray<Node | undefined>> = []
  private children: ReadonlyArray<Node | undefined> | undefined = undefined
  private i = 0
  private unknown = false

  constructor(map: HashMap.HashMap<K, V>) {
    const root = (map as unknown as { readonly _root?: Node })._root
    if (root === undefined || !known(root)) this.unknown = true
    else if (root._tag === "LeafNode") this.children = [root]
    else if (root._tag !== "EmptyNode") this.children = root.children!
  }

  /**
   * Calls `f` on the next `count` entries at most, in order: `"more"` when entries are left, `"done"`
   * once every entry was visited, `"unknown"` (at any point) when the map's shape is not recognised.
   */
  take(count: number, f: (value: V, key: K) => void): "more" | "done" | "unknown" {
    if (this.unknown) return "unknown"
    let taken = 0
    let children = this.children
    let i = this.i
    while (children !== undefined) {
      while (i < children.length) {
        if (taken === count) {
          this.children = children
          this.i = i
          return "more"
        }
        const child = children[i++]
        if (child === undefined || child._tag === "EmptyNode") continue
        if (child._tag === "LeafNode") {
          if (child.value?._tag === "Some") {
            f(child.value.value as V, child.key as K)
            taken++
          }
        } else if (known(child)) {
          this.stack.push(child.children!)
        } else {
          this.unknown = true
          return "unknown"
        }
      }
      children = this.stack.pop()
      i = 0
    }
    this.children = undefined
    this.i = 0
    return "done"
  }
}
