// The README's functional-core snippet, verbatim (inside a test): if this breaks, the README is wrong.
import { PeerAddress, PeerTable, Selection } from "@bootstrap-cache/core"
import { expect, it } from "@effect/vitest"

it("the README's core snippet selects the one peer it recorded", () => {
  // --- README ---
  const addr = PeerAddress.unsafeParse("/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx")
  const table = PeerTable.empty.pipe(PeerTable.recordSuccess(addr, Date.now(), { rttMs: 40 }))
  const picks = Selection.select(table, { now: Date.now(), count: 1, draws: [Math.random(), Math.random()] })
  // --- end ---
  expect(picks.map((p) => p.address.multiaddr)).toEqual([addr.multiaddr])
})
