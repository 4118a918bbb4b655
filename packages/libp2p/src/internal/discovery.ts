/**
 * The body of `CacheDiscovery`: a libp2p `PeerDiscovery` + `Startable` class that owns an Effect
 * runtime (the cache store, protection, contacts fetcher, a libp2p dialer and the bootstrap) and a
 * loop that runs the bootstrap whenever the node is short of connections. The class keeps the
 * libp2p-facing state (listeners, the runtime, the dials in flight); the policy stays in the
 * `Bootstrap` of `@bootstrap-cache/node`.
 */
import { PeerAddress, type PeerRecord, PeerTable } from "@bootstrap-cache/core"
import { Bootstrap, CacheStore, ContactsFetcher, Dialer, Protection } from "@bootstrap-cache/node"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import {
  type Connection,
  type IdentifyResult,
  type Logger as Libp2pLogger,
  peerDiscoverySymbol,
  type PeerDiscoveryEvents,
  serviceCapabilities,
  TypedEventEmitter
} from "@libp2p/interface"
import { multiaddr, type Multiaddr } from "@multiformats/multiaddr"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import type { CacheDiscovery, CacheDiscoveryComponents, CacheDiscoveryInit } from "../CacheDiscovery.js"
import * as Libp2pDialer from "../Libp2pDialer.js"
import { canonicalPeerId, hasOpenConnection } from "./dial.js"

export const defaults = {
  target: Bootstrap.defaults.target,
  recheckIntervalMs: 30_000,
  maxIdentifyAddresses: 16
} as const

type Services = Bootstrap.Bootstrap | CacheStore.CacheStore

/** The dedupe key of an address string (`PeerAddress.key`), or the string itself when unparseable. */
const keyOf = (address: string): string => Either.match(PeerAddress.parse(address), { onLeft: () => address, onRight: (a) => a.key })

/** `address` with `/p2p/<peerId>` appended when it names no peer. */
const withPeer = (address: Multiaddr, peerId: string): string => {
  const text = address.toString()
  return text.includes("/p2p/") ? text : `${text}/p2p/${peerId}`
}

/** Effect's logs into the libp2p component logger (`DEBUG=bootstrap-cache*` shows them). */
const loggerLayer = (log: Libp2pLogger) =>
  Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ logLevel, message }) => {
      const text = (Array.isArray(message) ? message : [message]).map(String).join(" ")
      if (LogLevel.greaterThanEqual(logLevel, LogLevel.Warning)) log.error(text)
      else log(text)
    })
  )

export class CacheDiscoveryService extends TypedEventEmitter<PeerDiscoveryEvents> implements CacheDiscovery {
  readonly [peerDiscoverySymbol] = this
  readonly [Symbol.toStringTag] = "@bootstrap-cache/libp2p"
  readonly [serviceCapabilities]: Array<string> = ["@libp2p/peer-discovery"]

  readonly #components: CacheDiscoveryComponents
  readonly #init: CacheDiscoveryInit
  readonly #log: Libp2pLogger
  readonly #target: number
  /** Dedupe keys of the addresses this module is dialing: their `connection:open` is its own. */
  readonly #dialing = new Set<string>()
  #runtime: ManagedRuntime.ManagedRuntime<Services, unknown> | undefined
  #wake: Queue.Queue<void> | undefined
  #loop: Fiber.RuntimeFiber<void, unknown> | undefined
  /** Store updates from libp2p events still running. */
  readonly #recording = new Set<Fiber.RuntimeFiber<void, unknown>>()
  #stopping = false
  #runs = 0

  constructor(components: CacheDiscoveryComponents, init: CacheDiscoveryInit) {
    super()
    this.#components = components
    this.#init = init
    this.#log = components.logger.forComponent("bootstrap-cache:discovery")
    this.#target = Math.max(1, Math.floor(init.target ?? defaults.target))
  }

  get runs(): number {
    return this.#runs
  }

  /** The distinct peers the node has an open connection to. */
  #connectedPeers(): number {
    const peers = new Set<string>()
    for (const c of this.#components.connectionManager.getConnections()) {
      if (c.status === "open") peers.add(c.remotePeer.toString())
    }
    return peers.size
  }

  #dialer(): Dialer.Dialer["Type"] {
    const cm = this.#components.connectionManager
    const tm = this.#components.transportManager
    const connected = (peerId: string) => hasOpenConnection(cm.getConnections(), peerId)
    const canDial = (a: PeerAddress.PeerAddress) =>
      // libp2p resolves `/dnsaddr` itself before choosing a transport.
      tm === undefined || a.hostKind === "dnsaddr" || tm.dialTransportForMultiaddr(multiaddrOf(a)) != null
    return Libp2pDialer.make(
      async (address, options) => {
        const key = keyOf(address.toString())
        this.#dialing.add(key)
        try {
          return await cm.openConnection(address, options)
        } finally {
          this.#dialing.delete(key)
        }
      },
      {
        isStopping: () => this.#stopping,
        isConnected: connected,
        // A peer already connected is no candidate: a re-run dials only the peers the node lacks.
        supports: (a) => canDial(a) && !Option.exists(a.peerId, connected),
        onConnection: (connection) =>
          void this.safeDispatchEvent("peer", { detail: { id: connection.remotePeer, multiaddrs: [connection.remoteAddr] } })
      }
    )
  }

  #layer(): Layer.Layer<Services, unknown> {
    const init = this.#init
    const store = init.store ??
      CacheStore.layer({ ...init.cache, ...(init.path === undefined ? {} : { path: init.path }) }).pipe(
        // FileSystem and Path only: NodeContext would also load the command executor, terminal and worker.
        Layer.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer))
      )
    const services = Layer.mergeAll(
      store,
      Protection.layer(Dialer.breakerDefaults(init.protection ?? {})),
      Layer.succeed(Dialer.Dialer, this.#dialer())
    )
    const options = { ...init.bootstrap, target: this.#target }
    const bootstrap = init.contacts === undefined || init.contacts.length === 0
      ? Bootstrap.layer({ ...options, contacts: false, protection: true }).pipe(Layer.provideMerge(services))
      : Bootstrap.layer({ ...options, contacts: true, protection: true }).pipe(
        Layer.provideMerge(Layer.merge(services, ContactsFetcher.layerNode({ endpoints: init.contacts })))
      )
    return bootstrap.pipe(Layer.provideMerge(loggerLayer(this.#log)))
  }

  /** Adds the `list` addresses `table` does not hold yet (source `user`). */
  #addList = (store: CacheStore.CacheStore["Type"], table: PeerTable.PeerTable) =>
    Effect.gen(this, function*() {
      for (const text of this.#init.list ?? []) {
        const parsed = PeerAddress.parse(text)
        if (Either.isLeft(parsed)) {
          yield* Effect.logWarning(`list entry ${JSON.stringify(text)} skipped: ${parsed.left.reason}`)
          continue
        }
        if (Option.isNone(PeerTable.lookupAddress(table, parsed.right))) yield* store.add(parsed.right, { source: { _tag: "user" } })
      }
    })

  /**
   * Opens the cache; adds the `list` addresses it lacks. A cache still decoding behind its head is a
   * warm one: the list waits for the whole table (in the background, awaited by `stop`), so the
   * node's start never waits for the decode. Returns whether the list is still to be added.
   */
  #seed = Effect.gen(this, function*() {
    const store = yield* CacheStore.CacheStore
    const head = yield* store.head
    if (!head.complete) return true
    yield* this.#addList(store, head.table)
    return false
  })

  /** Waits for a wake-up; runs the bootstrap for the missing peers when the node has too few. */
  #loopOnce = (wake: Queue.Queue<void>) =>
    Effect.gen(this, function*() {
      yield* Queue.take(wake)
      const missing = this.#target - this.#connectedPeers()
      if (missing <= 0) return
      const bootstrap = yield* Bootstrap.Bootstrap
      const result = yield* bootstrap.run({ target: missing }).pipe(
        Effect.catchTag("NoPeersError", (e) => Effect.as(Effect.logWarning(e.message), e.result))
      )
      this.#runs++
      yield* Effect.try(() => this.#init.onRun?.(result)).pipe(Effect.ignore)
    })

  async start(): Promise<void> {
    this.#stopping = false
    const runtime = ManagedRuntime.make(this.#layer())
    // Opens the cache here, so a cache that cannot be opened fails the node's start with its error.
    const opened = await runtime.runPromiseExit(this.#seed)
    if (Exit.isFailure(opened)) {
      await runtime.dispose()
      throw Cause.squash(opened.cause)
    }
    this.#runtime = runtime
    if (opened.value) this.#record((store) => Effect.flatMap(store.snapshot, (table) => this.#addList(store, table)))
    this.#wake = Effect.runSync(Queue.sliding<void>(1))
    this.#components.events.addEventListener("connection:open", this.#onOpen)
    this.#components.events.addEventListener("connection:close", this.#onClose)
    this.#components.events.addEventListener("peer:identify", this.#onIdentify)
  }

  afterStart(): void {
    const runtime = this.#runtime
    const wake = this.#wake
    if (runtime === undefined || wake === undefined) return
    const every = Duration.decode(this.#init.recheckInterval ?? Duration.millis(defaults.recheckIntervalMs))
    const program = Effect.gen(this, function*() {
      yield* Effect.forkScoped(Queue.offer(wake, undefined).pipe(Effect.repeat(Schedule.spaced(every))))
      return yield* Effect.forever(this.#loopOnce(wake))
    }).pipe(Effect.scoped)
    this.#loop = runtime.runFork(program)
  }

  beforeStop(): void {
    this.#stopping = true
  }

  async stop(): Promise<void> {
    this.#stopping = true
    this.#components.events.removeEventListener("connection:open", this.#onOpen)
    this.#components.events.removeEventListener("connection:close", this.#onClose)
    this.#components.events.removeEventListener("peer:identify", this.#onIdentify)
    const runtime = this.#runtime
    const loop = this.#loop
    const recording = [...this.#recording]
    this.#runtime = undefined
    this.#loop = undefined
    if (runtime === undefined) return
    await runtime.runPromise(
      Effect.gen(function*() {
        if (loop !== undefined) yield* Fiber.interrupt(loop)
        yield* Fiber.awaitAll(recording)
        const store = yield* CacheStore.CacheStore
        yield* store.flush.pipe(Effect.catchAll((e) => Effect.logWarning(`cache not saved on stop: ${e.message}`)))
      })
    )
    await runtime.dispose()
  }

  /** Runs a store update in the background (awaited by `stop` before its flush). */
  #record(f: (store: CacheStore.CacheStore["Type"]) => Effect.Effect<void>): void {
    if (this.#stopping || this.#runtime === undefined) return
    const fiber = this.#runtime.runFork(Effect.flatMap(CacheStore.CacheStore, f))
    this.#recording.add(fiber)
    fiber.addObserver(() => this.#recording.delete(fiber))
  }

  readonly #onOpen = (event: CustomEvent<Connection>): void => {
    const connection = event.detail
    if (connection.direction !== "outbound") return
    const text = withPeer(connection.remoteAddr, connection.remotePeer.toString())
    if (this.#dialing.has(keyOf(text))) return
    const parsed = PeerAddress.parse(text)
    if (Either.isLeft(parsed)) return
    const address = parsed.right
    this.#record((store) =>
      Effect.zipRight(store.add(address, { source: { _tag: "connection" } }), store.recordSuccess(address))
    )
  }

  readonly #onClose = (): void => {
    const wake = this.#wake
    if (this.#stopping || wake === undefined) return
    Effect.runFork(Queue.offer(wake, undefined))
  }

  /**
   * A peer's own listen addresses from identify, filed under the peer that told them (`via`, and
   * `viaNetgroup`, the netgroup of the connection's remote address): addrman's source of an address,
   * so a crowd of peers from one network counts as one source in selection and capacity.
   */
  readonly #onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    const { connection, listenAddrs, peerId } = event.detail
    const id = canonicalPeerId(peerId.toString())
    const max = this.#init.maxIdentifyAddresses ?? defaults.maxIdentifyAddresses
    const addresses = listenAddrs.slice(0, max).flatMap((ma) =>
      Either.match(PeerAddress.parse(withPeer(ma, id)), { onLeft: () => [], onRight: (a) => [a] })
    )
    if (addresses.length === 0) return
    const remote = connection === undefined ? undefined : Either.getOrUndefined(PeerAddress.parse(withPeer(connection.remoteAddr, id)))
    const source: PeerRecord.Source = { _tag: "connection", via: id, ...(remote === undefined ? {} : { viaNetgroup: remote.netgroup }) }
    this.#record((store) => Effect.forEach(addresses, (a) => store.add(a, { source }), { discard: true }))
  }
}

const multiaddrOf = (a: PeerAddress.PeerAddress): Multiaddr => multiaddr(a.multiaddr)
