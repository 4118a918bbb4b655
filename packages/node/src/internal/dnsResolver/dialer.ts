/**
 * A dialer that resolves `/dnsaddr` addresses before dialling them through another dialer (behind
 * `DnsResolver.dialer` / `DnsResolver.layerDialer`).
 */
import { Dnsaddr, type PeerAddress } from "@bootstrap-cache/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Dialer from "../../Dialer.js"
import type * as DnsResolver from "../../DnsResolver.js"
import { resolve } from "./resolve.js"

export const make = (
  inner: Dialer.Dialer["Type"],
  options: DnsResolver.ResolveOptions = {}
): Effect.Effect<Dialer.Dialer["Type"], never, DnsResolver.DnsResolver> =>
  Effect.map(Effect.context<DnsResolver.DnsResolver>(), (context) => {
    const dialResolved = (address: PeerAddress.PeerAddress, timeout: Parameters<Dialer.Dial>[1]) =>
      Effect.gen(function*() {
        const resolution = yield* resolve(address, options)
        const candidates = resolution.addresses.filter(inner.supports)
        if (candidates.length === 0) {
          const why = resolution.warnings.slice(0, 3).map((w) => `${w.kind} ${w.name}: ${w.detail}`).join("; ")
          return yield* new Dialer.DialUnreachableError({
            address: address.multiaddr,
            code: "ENODNSADDR",
            detail: `resolved to ${resolution.addresses.length} address(es), none dialable here${why === "" ? "" : ` (${why})`}`
          })
        }
        let last: Dialer.DialError | undefined
        for (const candidate of candidates) {
          const result = yield* Effect.either(inner.dial(candidate, timeout))
          if (result._tag === "Right") return result.right
          last = result.left
        }
        return yield* Effect.fail(last!)
      }).pipe(Effect.provide(context))
    return Dialer.make(
      (address, timeout) => Dnsaddr.needsResolution(address) ? dialResolved(address, timeout) : inner.dial(address, timeout),
      (address) => Dnsaddr.needsResolution(address) || inner.supports(address)
    )
  })

export const layer = (
  inner: Layer.Layer<Dialer.Dialer>,
  options?: DnsResolver.ResolveOptions
): Layer.Layer<Dialer.Dialer, never, DnsResolver.DnsResolver> =>
  Layer.effect(Dialer.Dialer, Effect.flatMap(Dialer.Dialer, (d) => make(d, options))).pipe(Layer.provide(inner))
