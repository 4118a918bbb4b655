/**
 * `Option.some` for the options a decoded table holds by the tens of thousands (a peer's timestamps,
 * RTT, port and peer id, and the persistent map's entry): the same value as `Option.some` gives —
 * same prototype, same single own field `value`, so `_tag`, `Equal`, `Hash`, `toJSON` and every
 * `Option` function see no difference — made by a constructor, so V8 sizes the object to its one
 * field (32 bytes on x64, against 56 for the `Object.create` of `Option.some`).
 */
import * as Option from "effect/Option"

/** A constructor of `Some` values over the prototype `Option.some` gives its values. */
const Some = (() => {
  function Some(this: { value: unknown }, value: unknown) {
    this.value = value
  }
  Some.prototype = Object.getPrototypeOf(Option.some(undefined)) as object
  return Some as unknown as new(value: unknown) => Option.Option<never>
})()

/** `Option.some(value)`, in one field's worth of memory (see the module docs). */
export const some = <A>(value: A): Option.Option<A> => new Some(value) as Option.Option<A>
