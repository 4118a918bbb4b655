/**
 * The Node DNS resolver behind `DnsResolver.make`: `node:dns`'s `Resolver`, one per service, with
 * its servers, timeout and tries; and the in-memory zone behind `DnsResolver.layerTest`.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { lookup, Resolver } from "node:dns"
import * as DnsResolver from "../../DnsResolver.js"

const DEFAULT_TIMEOUT_MS = 2_000
const DEFAULT_TRIES = 2

const lookupError = (name: string, error: Error): DnsResolver.DnsLookupError => {
  const code = typeof (error as NodeJS.ErrnoException).code === "string" ? (error as NodeJS.ErrnoException).code! : "EUNKNOWN"
  return new DnsResolver.DnsLookupError({ name, code, detail: error.message.slice(0, 200) })
}

/** A typed failure for a malformed server address (`setServers` throws), never a defect. */
const badServer = (name: string, e: unknown) =>
  Effect.fail(new DnsResolver.DnsLookupError({ name, code: "EBADSERVER", detail: e instanceof Error ? e.message.slice(0, 200) : String(e) }))

/** A and AAAA records of `name` from `resolver`; one family answering is enough. */
const resolveBoth = (resolver: Resolver, name: string) =>
  Effect.async<ReadonlyArray<string>, DnsResolver.DnsLookupError>((resume) => {
    const found: Array<string> = []
    let pending = 2
    let firstError: Error | undefined
    const done = (error: Error | null, addresses: ReadonlyArray<string>) => {
      if (error === null) found.push(...addresses)
      else firstError ??= error
      if (--pending > 0) return
      resume(found.length > 0 || firstError === undefined ? Effect.succeed(found) : Effect.fail(lookupError(name, firstError)))
    }
    resolver.resolve4(name, (error, addresses) => done(error, addresses ?? []))
    resolver.resolve6(name, (error, addresses) => done(error, addresses ?? []))
    return Effect.sync(() => resolver.cancel())
  })

/** The system's lookup of a host name (getaddrinfo), every address of both families. */
const systemLookup = (name: string) =>
  Effect.async<ReadonlyArray<string>, DnsResolver.DnsLookupError>((resume) => {
    lookup(name, { all: true, verbatim: true }, (error, addresses) => {
      resume(error === null ? Effect.succeed(addresses.map((a) => a.address)) : Effect.fail(lookupError(name, error)))
    })
  })

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
          resume(badServer(name, e))
          return
        }
        resolver.resolveTxt(name, (error, records) => {
          resume(error === null ? Effect.succeed(records) : Effect.fail(lookupError(name, error)))
        })
        return Effect.sync(() => resolver.cancel())
      }),
    resolveHost: (name) =>
      options.servers === undefined || options.servers.length === 0
        ? systemLookup(name)
        : Effect.suspend(() => {
          try {
            return resolveBoth(newResolver(), name)
          } catch (e) {
            return badServer(name, e)
          }
        })
  }
}

const inZone = <A>(zone: Readonly<Record<string, A>>, name: string, query: string): Effect.Effect<A, DnsResolver.DnsLookupError> => {
  const found = zone[name.toLowerCase().replace(/\.$/, "")]
  return found === undefined
    ? Effect.fail(new DnsResolver.DnsLookupError({ name, code: "ENOTFOUND", detail: `${query} ENOTFOUND ${name}` }))
    : Effect.succeed(found)
}

export const fromZone = (
  zone: Readonly<Record<string, ReadonlyArray<string>>>,
  hosts: Readonly<Record<string, ReadonlyArray<string>>>
): DnsResolver.DnsResolver["Type"] => ({
  resolveTxt: (name) => Effect.map(inZone(zone, name, "queryTxt"), (records) => records.map((r) => [r])),
  resolveHost: (name) => inZone(hosts, name, "getaddrinfo")
})
