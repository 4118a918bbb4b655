/**
 * The README's js-libp2p example ("Use with js-libp2p"), type-checked with the rest (`npm run
 * typecheck`) and not run here: its list and contacts name hosts on the internet. The loopback tests
 * of the same wiring are `packages/libp2p/test/CacheDiscovery.test.ts`; test/ReadmeSnippets.test.ts
 * checks that the README's block is this file's text.
 */
import { CacheDiscovery } from "@bootstrap-cache/libp2p" // first: installs Promise.withResolvers on Node 20
import { createLibp2p } from "libp2p"

const node = await createLibp2p({
  // transports, connectionEncrypters, streamMuxers, services: { identify: identify() } as usual
  peerDiscovery: [
    CacheDiscovery.peerDiscovery({
      path: "./peers.json",                 // default: the CacheStore location (BOOTSTRAP_CACHE_PATH, …)
      list: ["/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN"],
      contacts: ["https://example.org/peers"], // optional: asked only when the cache cannot do it
      target: 5                             // connected peers wanted
    })
  ]
})

export { node }
