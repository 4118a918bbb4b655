/**
 * Main-thread listeners of the loopback network (`Accept`, `Flap`, `Handshake`) and refused ports:
 * listening and closing on a port, and ports reserved below the kernel's ephemeral range.
 */
import { readFileSync } from "node:fs"
import * as Net from "node:net"

/** Every listener of the loopback network binds this address. */
export const HOST = "127.0.0.1"


export interface Served {
  server: Net.Server | undefined
  accepted: number
  readonly sockets: Set<Net.Socket>
}

/** The greeting a `Handshake` listener writes once its set-up time has passed. */
const GREETING = "bootstrap-cache loopback handshake\n"

export const listen = (served: Served, port: number, greetAfterMs?: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer((socket) => {
      served.accepted++
      served.sockets.add(socket)
      socket.on("error", () => {})
      if (greetAfterMs === undefined) {
        socket.once("close", () => served.sockets.delete(socket))
        return socket.end()
      }
      const greet = setTimeout(() => socket.end(GREETING), greetAfterMs)
      socket.once("close", () => {
        clearTimeout(greet)
        served.sockets.delete(socket)
      })
    })
    server.once("error", reject)
    server.listen({ port, host: HOST }, () => {
      served.server = server
      resolve((server.address() as Net.AddressInfo).port)
    })
  })

export const unlisten = (served: Served): Promise<void> =>
  new Promise((resolve) => {
    const server = served.server
    served.server = undefined
    if (server === undefined) return resolve()
    for (const s of served.sockets) s.destroy()
    server.close(() => resolve())
  })

/**
 * Ports for listeners that are released while the network runs (`Refuse`, and `Flap` when down) come
 * from below the kernel's ephemeral range: a port the OS handed out for `listen(0)` and that was then
 * released could be handed to another process's `listen(0)` (another test file running at the same
 * time) before this network dials it. The scan starts at a per-process offset and never hands out a
 * port twice in one process.
 */
const ephemeralLow = ((): number => {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0])
    return Number.isInteger(low) && low > 2048 ? low : 32768
  } catch {
    return 32768 // the Linux default, and below the IANA dynamic range elsewhere
  }
})()
const RESERVED_LOW = 1024 + ((ephemeralLow - 1024) >> 1)
let nextReserved = RESERVED_LOW + ((process.pid * 7919) % Math.max(1, ephemeralLow - RESERVED_LOW))

/** Listens on (or just probes) the next free port below the ephemeral range. */
export const reservedPort = async (bind: (port: number) => Promise<number>): Promise<number> => {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = nextReserved
    nextReserved = nextReserved + 1 >= ephemeralLow ? RESERVED_LOW : nextReserved + 1
    try {
      return await bind(port)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE" && (e as NodeJS.ErrnoException).code !== "EACCES") throw e
    }
  }
  throw new Error(`no free port in ${RESERVED_LOW}-${ephemeralLow - 1} after 200 attempts`)
}

/** A port nothing listens on: free when probed, outside the ephemeral range, then left unbound. */
export const freePort = (): Promise<number> =>
  reservedPort((port) =>
    new Promise((resolve, reject) => {
      const server = Net.createServer()
      server.once("error", reject)
      server.listen({ port, host: HOST }, () => server.close(() => resolve(port)))
    })
  )
