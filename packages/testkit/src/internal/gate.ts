/**
 * Gated listeners of the loopback network (`Hang`, `Slow`): TCP listeners in a worker thread whose
 * event loop is blocked (`Atomics.wait`) while their kernel accept queues are held full by filler
 * connections, so further SYNs are dropped as by an overloaded peer; opening the gate drains them.
 */
import * as Net from "node:net"
import { Worker } from "node:worker_threads"
import { HOST } from "./served.js"

/** Backlog of gated listeners: Linux queues backlog + 1 connections, so two fillers fill it. */
const GATED_BACKLOG = 1
const FILLERS_PER_LISTENER = GATED_BACKLOG + 1

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads")
const net = require("node:net")
const flag = new Int32Array(workerData.sab)
const servers = []
let pending = workerData.count
const ports = new Array(workerData.count)
for (let i = 0; i < workerData.count; i++) {
  const server = net.createServer((socket) => { socket.on("error", () => {}); socket.destroy() })
  server.on("error", (e) => parentPort.postMessage({ type: "error", reason: String(e && e.message) }))
  server.listen({ port: 0, host: ${JSON.stringify(HOST)}, backlog: ${GATED_BACKLOG} }, () => {
    ports[i] = server.address().port
    if (--pending === 0) parentPort.postMessage({ type: "ports", ports })
  })
  servers.push(server)
}
parentPort.on("message", (m) => {
  if (m === "close-gate") {
    Atomics.store(flag, 0, 1)
    parentPort.postMessage({ type: "closed" })
    Atomics.wait(flag, 0, 1)
  }
})
`

export interface Gate {
  readonly ports: ReadonlyArray<number>
  /** Blocks the worker and fills every listener's queue; resolves once full. */
  readonly close: () => Promise<void>
  /** Unblocks the worker: it drains the queues and accepts from then on. */
  readonly open: () => void
  readonly isOpen: () => boolean
  readonly dispose: () => Promise<void>
}

export const startGate = (count: number): Promise<Gate> =>
  new Promise((resolve, reject) => {
    const sab = new SharedArrayBuffer(4)
    const flag = new Int32Array(sab)
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { sab, count } })
    const fillers = new Set<Net.Socket>()
    let open = true
    let closedWaiter: (() => void) | undefined
    worker.on("message", (m: { type: string; ports?: Array<number>; reason?: string }) => {
      if (m.type === "ports") resolve(gate(m.ports ?? []))
      else if (m.type === "closed") closedWaiter?.()
      else if (m.type === "error") reject(new Error(m.reason))
    })
    worker.once("error", reject)
    const fill = (port: number) =>
      new Promise<void>((ok, ko) => {
        const socket = Net.connect({ host: HOST, port })
        fillers.add(socket)
        socket.on("error", () => {})
        socket.once("close", () => fillers.delete(socket))
        socket.once("connect", () => ok())
        socket.once("error", (e) => ko(e))
      })
    const gate = (ports: ReadonlyArray<number>): Gate => ({
      ports,
      close: async () => {
        if (!open) return
        const blocked = new Promise<void>((ok) => (closedWaiter = ok))
        worker.postMessage("close-gate")
        await blocked
        open = false
        // Old fillers were drained by the worker; fill the queues anew.
        for (const s of fillers) s.destroy()
        for (const port of ports) {
          for (let i = 0; i < FILLERS_PER_LISTENER; i++) await fill(port)
        }
      },
      open: () => {
        if (open) return
        open = true
        Atomics.store(flag, 0, 0)
        Atomics.notify(flag, 0)
      },
      isOpen: () => open,
      dispose: async () => {
        for (const s of fillers) s.destroy()
        await worker.terminate()
      }
    })
  })

