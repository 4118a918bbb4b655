/**
 * The Node DNS resolver behind `DnsResolver.make`: `node:dns`'s `Resolver`, one per service, with
 * its servers, timeout and tries; and the in-memory zone behind `DnsResolver.layerTest`.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { Resolver } from "node:dns"
import * as DnsResolver from "../../DnsResolver.js"

const DEFAULT_TIMEOUT_MS = 2_000
const DEFAULT_TRIES = 2

export const make = (options: DnsResolver.DnsResolverOptions = {}): DnsResolver.DnsResolver["Type"] => {
  const timeout = options.timeout === undefined ? DEFAULT_TIMEOUT_MS : Duration.toMillis(Duration.decode(options.timeout))
  const tries = Math.max(1, Math.floor(options.tries ?? DEFAULT_TRIES))
  const newResolver = () => {
    const resolver = new Resolver({ timeout: Math.max(1, Math.round(timeout)), tries })
    if (options.servers !== undefined && options.servers.length > 0) resolver.setServers([...options.servers])
    return resolver
  }
  return {
    resolveTxt: (name) =>
      Effect.async<ReadonlyArray<ReadonlyArray<string>>, DnsResolver.DnsLookupError>((resume) => {
        // One Resolver per lookup, so interrupting it (`cancel`) never cancels another fiber's query.
        let resolver: Resolver
        try {
          resolver = newResolver()
        } catch (e) {
          // setServers throws on a malformed server address: a typed failure, never a defect.
          resume(Effect.fail(new DnsResolver.DnsLookupError({ name, code: "EBADSERVER", detail: e instanceof Error ? e.message.slice(0, 200) : String(e) })))
          return
        }
        resolver.resolveTxt(name, (error, records) => {
          if (error === null) resume(Effect.succeed(records))
          else {
            const code = typeof (error as NodeJS.ErrnoException).code === "string" ? (error as NodeJS.ErrnoException).code! : "EUNKNOWN"
            resume(Effect.fail(new DnsResolver.DnsLookupError({ name, code, detail: error.message })))
          }
        })
        return Effect.sync(() => resolver.cancel())
      })
  }
}

export const fromZone = (zone: Readonly<Record<string, ReadonlyArray<string>>>): DnsResolver.DnsResolver["Type"] => ({
  resolveTxt: (name) => {
    const records = zone[name.toLowerCase().replace(/\.$/, "")]
    return records === undefined
      ? Effect.fail(new DnsResolver.DnsLookupError({ name, code: "ENOTFOUND", detail: `queryTxt ENOTFOUND ${name}` }))
      : Effect.succeed(records.map((r) => [r]))
  }
})
