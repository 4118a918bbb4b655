/**
 * A real DNS server for tests and demos: UDP and TCP on 127.0.0.1, one OS-chosen port, answering TXT
 * queries from a zone held in memory (packets encoded and decoded with `dns-packet`). Point a
 * `DnsResolver` at `server.address` to resolve `/dnsaddr` names without the internet.
 *
 * Names not in the zone answer NXDOMAIN; names listed in `silent` never answer (a resolver timeout).
 * A UDP answer larger than 1 232 bytes (the EDNS buffer size DNS flag day 2020 settled on) is sent
 * truncated (TC set, no records), so the resolver retries over TCP as real servers make it; a TCP
 * answer is cut to the records that fit in one 65 535-byte message.
 *
 * The server is a scoped resource, closed when the scope closes.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as DnsPacket from "dns-packet"
import * as Dgram from "node:dgram"
import * as Net from "node:net"

/**
 * The zone: TXT name (without trailing dot, e.g. `_dnsaddr.bootstrap.libp2p.io`) → its TXT records,
 * one string each.
 *
 * @since 0.1.0
 */
export type Zone = Readonly<Record<string, ReadonlyArray<string>>>

/**
 * A running DNS server.
 *
 * - `address`: `127.0.0.1:<port>`, as `node:dns` `Resolver.setServers` takes it.
 * - `set(name, records)`: (re)places a name's TXT records.
 * - `queries(name)`: queries received for a name (UDP and TCP).
 *
 * @since 0.1.0
 */
export interface DnsServer {
  readonly address: string
  readonly port: number
  readonly set: (name: string, records: ReadonlyArray<string>) => Effect.Effect<void>
  readonly queries: (name: string) => Effect.Effect<number>
}

/**
 * The server could not listen on 127.0.0.1.
 *
 * @since 0.1.0
 */
export class DnsServerError extends Data.TaggedError("DnsServerError")<{ readonly reason: string }> {
  override get message(): string {
    return `DNS server failed to start: ${this.reason}`
  }
}

/**
 * Options of {@link make}: the `zone` (TXT), `hosts` (host name → IP addresses, answered as A and
 * AAAA records by family), and `silent` names the server never answers.
 */
export interface Options {
  readonly zone: Zone
  readonly hosts?: Readonly<Record<string, ReadonlyArray<string>>>
  readonly silent?: ReadonlyArray<string>
}

const UDP_MAX = 1232
const TCP_MAX = 65535

const normalise = (name: string) => name.toLowerCase().replace(/\.$/, "")

const txtAnswers = (name: string, records: ReadonlyArray<string>): Array<DnsPacket.Answer> =>
  records.map((text) => ({
    type: "TXT" as const,
    name,
    ttl: 60,
    class: "IN" as const,
    // A TXT character-string holds at most 255 bytes: longer records are split, as zone files do.
    data: text.match(/[\s\S]{1,255}/g) ?? [""]
  }))

/** The A or AAAA records of `name` among `ips` (IPv6 addresses contain a colon). */
const hostAnswers = (name: string, type: string, ips: ReadonlyArray<string>): Array<DnsPacket.Answer> =>
  type === "A" || type === "AAAA"
    ? ips.filter((ip) => ip.includes(":") === (type === "AAAA")).map((data) => ({ type, name, ttl: 60, class: "IN" as const, data }))
    : []

/** The server's state: the zone, the hosts, the silent names and the queries counted per name. */
interface State {
  readonly zone: Map<string, ReadonlyArray<string>>
  readonly hosts: Map<string, ReadonlyArray<string>>
  readonly silent: Set<string>
  readonly counts: Map<string, number>
}

/**
 * The answer to one query, encoded, at most `max` bytes; `undefined` for no answer (a malformed
 * query, or a silent name). Over UDP an answer that does not fit is sent truncated (TC, no records);
 * over TCP it keeps the records that fit.
 */
const respond = (state: State, query: Buffer, max: number): Buffer | undefined => {
  let packet: DnsPacket.Packet
  try {
    packet = DnsPacket.decode(query)
  } catch {
    return undefined
  }
  const question = packet.questions?.[0]
  if (question === undefined) return undefined
  const name = normalise(question.name)
  state.counts.set(name, (state.counts.get(name) ?? 0) + 1)
  if (state.silent.has(name)) return undefined
  const records = state.zone.get(name)
  const ips = state.hosts.get(name)
  const base = {
    type: "response" as const,
    id: packet.id ?? 0,
    flags: DnsPacket.AUTHORITATIVE_ANSWER | (packet.flags ?? 0) & DnsPacket.RECURSION_DESIRED,
    questions: [question]
  }
  // The response code is the low 4 bits of the flags: 3 = NXDOMAIN.
  if (records === undefined && ips === undefined) return DnsPacket.encode({ ...base, flags: base.flags | 3 })
  let answers = question.type === "TXT"
    ? txtAnswers(question.name, records ?? [])
    : hostAnswers(question.name, question.type, ips ?? [])
  const encoded = DnsPacket.encode({ ...base, answers })
  if (encoded.length <= max) return encoded
  if (max === UDP_MAX) return DnsPacket.encode({ ...base, flags: base.flags | DnsPacket.TRUNCATED_RESPONSE, answers: [] })
  // TCP: keep the records that fit in one message.
  let lo = 0
  let hi = answers.length
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    if (DnsPacket.encode({ ...base, answers: answers.slice(0, mid) }).length <= max) lo = mid
    else hi = mid - 1
  }
  answers = answers.slice(0, lo)
  return DnsPacket.encode({ ...base, answers })
}

/** Answers length-prefixed DNS messages on a TCP connection (RFC 1035 §4.2.2). */
const serveTcp = (state: State) => (socket: Net.Socket): void => {
  let buffered = Buffer.alloc(0)
  socket.on("error", () => socket.destroy())
  socket.on("data", (chunk) => {
    buffered = Buffer.concat([buffered, chunk])
    while (buffered.length >= 2) {
      const length = buffered.readUInt16BE(0)
      if (buffered.length < 2 + length) break
      const answer = respond(state, buffered.subarray(2, 2 + length), TCP_MAX)
      buffered = buffered.subarray(2 + length)
      if (answer !== undefined) {
        const prefix = Buffer.alloc(2)
        prefix.writeUInt16BE(answer.length)
        socket.write(Buffer.concat([prefix, answer]))
      }
    }
  })
}

/** Binds UDP on `port` (0: any) and TCP on the same port, both on 127.0.0.1. */
const listen = (state: State, port: number) =>
  Effect.async<{ udp: Dgram.Socket; tcp: Net.Server }, DnsServerError>((resume) => {
    const udp = Dgram.createSocket("udp4")
    udp.once("error", (e) => resume(Effect.fail(new DnsServerError({ reason: e.message }))))
    udp.bind(port, "127.0.0.1", () => {
      const bound = udp.address().port
      const tcp = Net.createServer(serveTcp(state))
      tcp.once("error", (e) => {
        udp.close()
        resume(Effect.fail(new DnsServerError({ reason: `tcp ${bound}: ${e.message}` })))
      })
      tcp.listen(bound, "127.0.0.1", () => resume(Effect.succeed({ udp, tcp })))
    })
  })

/**
 * Starts the server on 127.0.0.1 (UDP and TCP on the same OS-chosen port). Fails with
 * {@link DnsServerError} when no port could be bound.
 *
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<DnsServer, DnsServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const state: State = {
      zone: new Map(Object.entries(options.zone).map(([k, v]) => [normalise(k), v])),
      hosts: new Map(Object.entries(options.hosts ?? {}).map(([k, v]) => [normalise(k), v])),
      silent: new Set((options.silent ?? []).map(normalise)),
      counts: new Map()
    }
    // UDP and TCP share a port; if TCP finds the UDP port taken, try another.
    const { tcp, udp } = yield* listen(state, 0).pipe(Effect.retry({ times: 5 }))
    udp.on("message", (message, remote) => {
      const answer = respond(state, message, UDP_MAX)
      if (answer !== undefined) udp.send(answer, remote.port, remote.address)
    })
    yield* Effect.addFinalizer(() =>
      Effect.async<void>((resume) => {
        udp.close()
        tcp.close(() => resume(Effect.void))
        // Open connections would hold `close` forever.
        ;(tcp as Net.Server & { closeAllConnections?: () => void }).closeAllConnections?.()
      }).pipe(Effect.timeout("1 second"), Effect.ignore)
    )
    const port = udp.address().port
    return {
      address: `127.0.0.1:${port}`,
      port,
      set: (name, records) => Effect.sync(() => void state.zone.set(normalise(name), records)),
      queries: (name) => Effect.sync(() => state.counts.get(normalise(name)) ?? 0)
    }
  })

// Peer ids of kubo's bootstrap list (kubo `config/bootstrap_peers.go`; the repository's `fixtures/kubo-bootstrap.txt`).
const SV15 = "QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN"
const NY5 = "QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa"
const AM6 = "QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb"
const SG1 = "QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt"
const VA1 = "12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc8"

const site = (host: string, id: string, ip4: string, ip6: string): Record<string, ReadonlyArray<string>> => ({
  [`_dnsaddr.${host}`]: [
    `dnsaddr=/ip4/${ip4}/tcp/4001/p2p/${id}`,
    `dnsaddr=/ip4/${ip4}/udp/4001/quic-v1/p2p/${id}`,
    `dnsaddr=/ip6/${ip6}/tcp/4001/p2p/${id}`,
    `dnsaddr=/ip6/${ip6}/udp/4001/quic-v1/p2p/${id}`,
    `dnsaddr=/dns4/${host}/tcp/443/wss/p2p/${id}`
  ]
})

/**
 * A zone shaped like the one behind kubo's bootstrap list (`bootstrap.libp2p.io`: one name listing
 * four sites by `/dnsaddr`, each site listing TCP, QUIC and secure WebSocket addresses of its peer;
 * `va1` its own name). The addresses are in the public ranges the real sites use, written for these
 * tests: they are resolved, never dialled.
 *
 * @since 0.1.0
 */
export const kuboZone: Zone = {
  "_dnsaddr.bootstrap.libp2p.io": [
    `dnsaddr=/dnsaddr/sv15.bootstrap.libp2p.io/p2p/${SV15}`,
    `dnsaddr=/dnsaddr/ny5.bootstrap.libp2p.io/p2p/${NY5}`,
    `dnsaddr=/dnsaddr/am6.bootstrap.libp2p.io/p2p/${AM6}`,
    `dnsaddr=/dnsaddr/sg1.bootstrap.libp2p.io/p2p/${SG1}`
  ],
  ...site("sv15.bootstrap.libp2p.io", SV15, "145.40.118.135", "2604:1380:40e1:9c00::1"),
  ...site("ny5.bootstrap.libp2p.io", NY5, "147.75.109.213", "2604:1380:45e1:2700::d"),
  ...site("am6.bootstrap.libp2p.io", AM6, "147.75.87.27", "2604:1380:4602:5c00::3"),
  ...site("sg1.bootstrap.libp2p.io", SG1, "139.178.91.71", "2604:1380:40e1:4c00::1"),
  ...site("va1.bootstrap.libp2p.io", VA1, "86.109.7.123", "2604:1380:1000:6000::1")
}
