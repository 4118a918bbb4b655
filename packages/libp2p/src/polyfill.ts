/**
 * `Promise.withResolvers` (ES2024) for Node 20.
 *
 * js-libp2p 3 (`@libp2p/utils`, `@chainsafe/libp2p-yamux`, `it-queue`) calls `Promise.withResolvers`,
 * which Node ships from version 22. On Node 20 every libp2p connection fails without it (the first
 * stream upgrade throws `TypeError: Promise.withResolvers is not a function`, seen by the dialer as
 * `ECONNRESET`). Importing this package installs the standard definition (TC39 proposal
 * "Promise.withResolvers", ES2024 §27.2.4.8) on `Promise`, and only where it is missing: on Node 22
 * and later nothing changes.
 *
 * @since 0.1.0
 */

/**
 * What `Promise.withResolvers()` returns.
 *
 * @since 0.1.0
 */
export interface Resolvers<T> {
  readonly promise: Promise<T>
  readonly resolve: (value: T | PromiseLike<T>) => void
  readonly reject: (reason?: unknown) => void
}

type WithResolvers = <T>(this: PromiseConstructor) => Resolvers<T>

/**
 * The ES2024 algorithm: a new promise of the receiver's constructor and its two resolving functions.
 */
function withResolvers<T>(this: PromiseConstructor): Resolvers<T> {
  let resolve!: (value: T | PromiseLike<T>) => void
  let reject!: (reason?: unknown) => void
  const promise = new this<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/**
 * Installs `Promise.withResolvers` when the runtime lacks it (Node < 22), as a non-enumerable,
 * writable, configurable method like the built-in. Returns `true` when it installed the polyfill,
 * `false` when the runtime already had one. Idempotent.
 *
 * @since 0.1.0
 */
export const installPromiseWithResolvers = (): boolean => {
  const target = Promise as PromiseConstructor & { withResolvers?: WithResolvers }
  if (typeof target.withResolvers === "function") return false
  Object.defineProperty(target, "withResolvers", {
    value: withResolvers,
    writable: true,
    enumerable: false,
    configurable: true
  })
  return true
}

installPromiseWithResolvers()
