/**
 * `bootstrap-cache bootstrap`: one bootstrap on the real network (dialer, contacts endpoints,
 * `/dnsaddr` resolution), with live progress on a terminal.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Bootstrap from "../../Bootstrap.js"
import * as CacheStore from "../../CacheStore.js"
import * as ContactsFetcher from "../../ContactsFetcher.js"
import * as Dialer from "../../Dialer.js"
import * as DnsResolver from "../../DnsResolver.js"
import * as Render from "../../cli/Render.js"
import { globalOptions, globals, invalid, parseDuration, positiveInt, print, quote, storeLayer } from "./shared.js"

/** Live progress on a terminal (stderr): one line rewritten in place. */
const progressReporter = (target: number) => {
  const tty = process.stderr.isTTY === true
  let dials = 0
  let failed = 0
  let inFlight = 0
  let connected = 0
  let phase = "cache"
  const draw = () => {
    if (!tty) return
    process.stderr.write(
      `\r\x1b[K${phase}: ${dials} dials, ${inFlight} in flight, ${failed} failed, ${connected}/${target} connected`
    )
  }
  const onEvent = (e: Bootstrap.BootstrapEvent): Effect.Effect<void> =>
    Effect.sync(() => {
      switch (e._tag) {
        case "EndpointsFetching":
          phase = `endpoints (${e.reason})`
          break
        case "EndpointsFetched":
          phase = `${e.addresses} addresses from endpoints`
          break
        case "DialStarted":
          dials++
          inFlight = e.inFlight
          break
        case "DialSucceeded":
          connected = e.connected
          inFlight = e.inFlight
          break
        case "DialFailed":
          failed++
          inFlight = e.inFlight
          break
        case "DialCancelled":
        case "DialRejected":
          inFlight = e.inFlight
          break
      }
      draw()
    })
  const done = Effect.sync(() => void (tty && process.stderr.write("\r\x1b[K")))
  return { onEvent, done }
}

export const bootstrapCommand = Command.make(
  "bootstrap",
  {
    ...globalOptions,
    endpoint: Options.text("endpoint").pipe(
      Options.withDescription("contacts endpoint URL (http/https) to ask when the cache cannot do it; repeatable"),
      Options.repeated
    ),
    target: positiveInt("target", Bootstrap.defaults.target, "live peers wanted"),
    concurrency: positiveInt("concurrency", Bootstrap.defaults.concurrency, "dials in flight at once"),
    timeout: Options.text("timeout").pipe(
      Options.withDefault("5s"),
      Options.withDescription("per-dial timeout: 500ms, 5s, 1m (a bare number is ms)"),
      Options.mapEffect((t) => {
        const d = parseDuration(t)
        return d === undefined || Duration.toMillis(d) <= 0
          ? Effect.fail(invalid(`--timeout ${quote(t)} is not a duration (e.g. 500ms, 5s, 1m)`))
          : Effect.succeed(d)
      })
    ),
    allowLoopback: Options.boolean("allow-loopback").pipe(Options.withDescription("dial and accept 127.0.0.0/8 and ::1 peers")),
    allowPrivate: Options.boolean("allow-private").pipe(Options.withDescription("dial and accept private and link-local peers")),
    reconnect: Options.boolean("reconnect").pipe(Options.withDescription("redial known peers relay-first instead of epsilon-greedy")),
    dnsServer: Options.text("dns-server").pipe(
      Options.withDescription("DNS server for /dnsaddr names, e.g. 1.1.1.1 or 127.0.0.1:5353 (default: the system's); repeatable"),
      Options.repeated
    )
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* globals(o)
      const progress = progressReporter(o.target)
      const dnsOptions = o.dnsServer.length === 0 ? {} : { servers: o.dnsServer }
      const fetcher = o.endpoint.length === 0
        ? Layer.empty
        : ContactsFetcher.layerNode({
          endpoints: o.endpoint,
          filter: { allowLoopback: o.allowLoopback, allowPrivate: o.allowPrivate },
          dnsResolver: DnsResolver.make(dnsOptions)
        })
      const dialer = DnsResolver.layerDialer(Dialer.layer).pipe(Layer.provide(DnsResolver.layer(dnsOptions)))
      const outcome = yield* Effect.gen(function*() {
        const store = yield* CacheStore.CacheStore
        const contacts = Option.getOrUndefined(yield* Effect.serviceOption(ContactsFetcher.ContactsFetcher))
        return yield* Bootstrap.run(store, {
          contacts,
          target: o.target,
          concurrency: o.concurrency,
          timeout: o.timeout,
          dialPolicy: { allowLoopback: o.allowLoopback, allowPrivate: o.allowPrivate },
          reconnect: o.reconnect,
          ...(g.json ? {} : { onEvent: progress.onEvent })
        })
      }).pipe(
        Effect.either,
        Effect.ensuring(progress.done),
        Effect.provide(Layer.mergeAll(storeLayer(g), dialer, fetcher))
      )
      const result = Either.match(outcome, { onLeft: (e) => e.result, onRight: (r) => r })
      yield* print(g.json ? Render.json(Render.resultJson(result)) : Render.resultText(result))
      if (Either.isLeft(outcome)) return yield* Effect.fail(outcome.left)
    })
).pipe(Command.withDescription("join the network: cache first, endpoints when needed; records every dial"))

