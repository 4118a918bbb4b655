/**
 * Helpers for the services' ready-made `config`s (internal: not exported from the package).
 *
 * A ready-made config reads each option under its own name (nested options under a nested name:
 * `lock.timeoutMs`, `breaker.minOpen`), every one optional: what the provider does not set is left
 * out, so the service's documented default applies. A value that is set but malformed or out of range
 * fails with a `ConfigError` naming its path.
 */
import * as Config from "effect/Config"
import * as Option from "effect/Option"

/** `config`, or `undefined` when the provider has no value for it (a malformed value still fails). */
export const optional = <A>(config: Config.Config<A>): Config.Config<A | undefined> =>
  Config.map(Config.option(config), Option.getOrUndefined)

/** The fields of `o` that are set (so the result fits options declared `field?: A` under exactOptionalPropertyTypes). */
export const compact = <T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v
  return out as { [K in keyof T]?: Exclude<T[K], undefined> }
}

/** The config's fields that are set, as a struct; none set → undefined (so a nested option is left out too). */
export const struct = <T extends Record<string, Config.Config<unknown>>>(
  fields: T
): Config.Config<{ [K in keyof T]?: Exclude<Config.Config.Success<T[K]>, undefined> } | undefined> =>
  Config.map(Config.all(fields), (o) => {
    const c = compact(o as Record<string, unknown>)
    return Object.keys(c).length === 0 ? undefined : c as { [K in keyof T]?: Exclude<Config.Config.Success<T[K]>, undefined> }
  })

/** An integer ≥ `min`. */
export const integerAtLeast = (name: string, min: number): Config.Config<number> =>
  Config.integer(name).pipe(Config.validate({ message: `must be an integer ≥ ${min}`, validation: (n) => n >= min }))

/** A number in [0, 1]. */
export const ratio = (name: string): Config.Config<number> =>
  Config.number(name).pipe(Config.validate({ message: "must be a number in [0, 1]", validation: (n) => n >= 0 && n <= 1 }))
