import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { PeerRecord } from "@bootstrap-cache/core"

const VIA = "12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx"

describe("PeerRecord sources", () => {
  it("groups a source by endpoint host, import file, telling peer's netgroup or id", () => {
    expect(PeerRecord.sourceGroup({ _tag: "endpoint", url: "https://Contacts.Example:8443/peers?x=1" })).toBe("endpoint:contacts.example")
    expect(PeerRecord.sourceGroup({ _tag: "endpoint", url: "http://user@[2001:db8::1]:80/p" })).toBe("endpoint:[2001:db8::1]")
    expect(PeerRecord.sourceGroup({ _tag: "endpoint", url: "not a url" })).toBe("endpoint:not a url")
    expect(PeerRecord.sourceGroup({ _tag: "import", from: "/tmp/crawl.txt" })).toBe("import:/tmp/crawl.txt")
    expect(PeerRecord.sourceGroup({ _tag: "user" })).toBe("user")
    expect(PeerRecord.sourceGroup({ _tag: "connection" })).toBe("connection")
    expect(PeerRecord.sourceGroup({ _tag: "connection", via: VIA })).toBe(`connection:${VIA}`)
    expect(PeerRecord.sourceGroup({ _tag: "connection", via: VIA, viaNetgroup: "ip4:1.2" })).toBe("connection:ip4:1.2")
  })

  it("decodes a connection source written without the telling peer, and round-trips one with it", () => {
    const decode = Schema.decodeUnknownEither(PeerRecord.Source)
    expect(decode({ _tag: "connection" })).toEqual(Either.right({ _tag: "connection" }))
    const full = { _tag: "connection", via: VIA, viaNetgroup: "ip4:1.2" }
    expect(decode(full)).toEqual(Either.right(full))
    expect(Schema.encodeSync(PeerRecord.Source)({ _tag: "connection", via: VIA })).toEqual({ _tag: "connection", via: VIA })
  })

  it("keeps connection sources from different telling peers apart, and one source once", () => {
    const a: PeerRecord.Source = { _tag: "connection", via: VIA }
    const b: PeerRecord.Source = { _tag: "connection", via: VIA, viaNetgroup: "ip4:1.2" }
    expect(PeerRecord.addSource([a], b)).toEqual([a, b])
    expect(PeerRecord.addSource([a, b], { _tag: "connection", via: VIA })).toEqual([b, a])
    expect(PeerRecord.sameSource({ _tag: "endpoint", url: "u" }, { _tag: "import", from: "u" })).toBe(false)
  })
})

describe("PeerRecord.AddressRecord", () => {
  const decode = Schema.decodeUnknownEither(PeerRecord.AddressRecord)
  const base = { multiaddr: "/ip4/1.2.3.4/tcp/4001", successes: 1, failures: 0, consecutiveFailures: 0 }

  it("keeps a finite RTT and refuses one JSON could not store, naming the field", () => {
    const kept = decode({ ...base, rttMs: 12.5 })
    expect(Either.isRight(kept) && Option.getOrUndefined(kept.right.rttMs)).toBe(12.5)
    for (const rttMs of [Infinity, -1, NaN]) {
      const refused = decode({ ...base, rttMs })
      expect(Either.isLeft(refused)).toBe(true)
      if (Either.isLeft(refused)) expect(String(refused.left)).toContain("rttMs")
    }
  })
})
