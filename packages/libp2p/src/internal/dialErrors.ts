/**
 * Reads what went wrong in a js-libp2p dial into the `Dialer` error union: libp2p reports failures as
 * `Error`s told apart by `name` (`@libp2p/interface` errors), wrapping OS errors (`code`:
 * `ECONNREFUSED`, …) either directly, in `cause`, or in an `AggregateError`'s `errors` (one per
 * address tried).
 */
import { Dialer } from "@bootstrap-cache/node"

/** The errors of the chain, outermost first (`cause` and `AggregateError.errors`, bounded). */
const chain = (error: unknown): ReadonlyArray<Record<string, unknown>> => {
  const out: Array<Record<string, unknown>> = []
  const queue: Array<unknown> = [error]
  while (queue.length > 0 && out.length < 16) {
    const e = queue.shift()
    if (typeof e !== "object" || e === null || out.includes(e as Record<string, unknown>)) continue
    const r = e as Record<string, unknown>
    out.push(r)
    if (r.cause !== undefined) queue.push(r.cause)
    if (Array.isArray(r.errors)) queue.push(...r.errors)
  }
  return out
}

const text = (v: unknown): string => (typeof v === "string" ? v : "")

/** `name: message` of an error, for the `detail` of a typed error. */
export const describe = (error: unknown): string => {
  const [e] = chain(error)
  if (e === undefined) return String(error)
  const name = text(e.name)
  const message = text(e.message)
  return name.length > 0 ? `${name}: ${message}` : message
}

/**
 * The noise handshake's check of the remote identity (`@chainsafe/libp2p-noise`): "Payload identity
 * key <actual> does not match expected remote identity key <expected>".
 */
const IDENTITY_MISMATCH = /identity key (\S+) does not match expected remote identity key (\S+)/

/** libp2p error names of failures on this side (see `Dialer.DialLocalReason`). */
const LOCAL: Readonly<Record<string, Dialer.DialLocalReason>> = {
  NoValidAddressesError: "no-transport",
  TransportUnavailableError: "no-transport",
  UnsupportedProtocolError: "no-transport",
  DialDeniedError: "gated",
  ConnectionDeniedError: "gated",
  ConnectionInterceptedError: "gated",
  NotStartedError: "stopping",
  TooManyOutboundProtocolStreamsError: "limit"
}

/** OS errors that mean the peer actively refused the connection. */
const REFUSED = new Set(["ECONNREFUSED"])

/** What the dial was and what this side knows at the time of the failure. */
export interface Context {
  readonly address: string
  readonly expectedPeer: string | undefined
  readonly timeoutMs: number
  readonly stopping: boolean
}

/**
 * The `Dialer.DialError` of a failed libp2p dial. Order matters: a node that is stopping aborts its
 * dials (`AbortError`), which says nothing about the peer; an identity mismatch wraps an
 * `EncryptionFailedError`; an OS code anywhere in the chain names the network failure.
 */
export const classify = (error: unknown, context: Context): Dialer.DialError => {
  const { address } = context
  const errors = chain(error)
  const names = errors.map((e) => text(e.name))
  if (context.stopping) return new Dialer.DialLocalError({ address, reason: "stopping", detail: describe(error) })
  for (const e of errors) {
    const mismatch = IDENTITY_MISMATCH.exec(text(e.message))
    if (mismatch !== null || text(e.name) === "UnexpectedPeerError") {
      return new Dialer.DialWrongPeerError({
        address,
        expected: context.expectedPeer ?? mismatch?.[2] ?? "",
        actual: mismatch?.[1] ?? "unknown"
      })
    }
  }
  for (const name of names) {
    const reason = LOCAL[name]
    if (reason !== undefined) return new Dialer.DialLocalError({ address, reason, detail: describe(error) })
    if (name === "InvalidPeerIdError" && /self/i.test(describe(error))) {
      return new Dialer.DialLocalError({ address, reason: "self", detail: describe(error) })
    }
  }
  const coded = errors.find((e) => typeof e.code === "string" && text(e.code).startsWith("E"))
  if (coded !== undefined) {
    const code = text(coded.code)
    return REFUSED.has(code)
      ? new Dialer.DialRefusedError({ address, code })
      : new Dialer.DialUnreachableError({ address, code, detail: text(coded.message) })
  }
  if (names.some((n) => n === "TimeoutError" || n === "AbortError") || /timed out|timeout/i.test(describe(error))) {
    return new Dialer.DialTimeoutError({ address, timeoutMs: context.timeoutMs })
  }
  return new Dialer.DialUnreachableError({ address, code: names[0] || "EUNKNOWN", detail: describe(error) })
}
