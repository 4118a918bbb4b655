import { describe, expect, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { createHash } from "node:crypto"
import { CacheFile, Journal, PeerAddress, PeerRecord, PeerTable } from "@bootstrap-cache/core"
import { Arbitraries } from "@bootstrap-cache/testkit"

const hash: CacheFile.Hash = (text) => createHash("sha256").update(text).digest("hex")
const T0 = 1_700_000_000_000
const ED = "12D3KooWAzucnC7yawvLbmVxv53ihhjbHFSVZCsPuuSzTg6A7wgx"
/** ED written as a CIDv1 (libp2p-key, base32). */
const ED_CID = Arbitraries.CIDV1_PEER_IDS[0]!
/** A CIDv1 of the dag-pb codec (an IPFS file), not a peer id. */
const DAG_PB_CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
const parse = PeerAddress.unsafeParse
const user: PeerRecord.Source = { _tag: "user" }

const encodeTable = Schema.encodeSync(PeerTable.PeerTableFromRecords)
const json = (table: PeerTable.PeerTable) => JSON.stringify(encodeTable(table))

const opsToJournal = (ops: ReadonlyArray<Arbitraries.TableOp>): Journal.Journal =>
  ops.reduce((j, op) => Journal.append(j, Arbitraries.journalOp(op, T0)), Journal.empty)

const sample = PeerTable.empty.pipe(
  PeerTable.add(parse(`/ip4/1.2.3.4/tcp/4001/p2p/${ED}`), { now: T0, source: user }),
  PeerTable.recordSuccess(parse(`/ip4/1.2.3.4/tcp/4001/p2p/${ED}`), T0 + 5, { rttMs: 42, bytes: 1000 }),
  PeerTable.add(parse("/dns4/boot.example.com/tcp/443/wss"), { now: T0, source: { _tag: "endpoint", url: "https://x.example/c" } }),
  PeerTable.recordFailure(parse("/dns4/boot.example.com/tcp/443/wss"), T0 + 9)
)

/** A version 2 text with its checksum recomputed (the text with the checksum's digits zeroed, hashed). */
const rechecksum = (text: string): string => {
  const zeroed = text.replace(/"checksum":"[0-9a-f]{64}"/, `"checksum":"${"0".repeat(64)}"`)
  return zeroed.replace(`"checksum":"${"0".repeat(64)}"`, `"checksum":"${hash(zeroed)}"`)
}

/** Rewrites a file's peers and recomputes its checksum, as a writer of another version would. */
const rewrite = (text: string, f: (doc: any) => void): string => {
  const doc = JSON.parse(text)
  f(doc)
  doc.checksum = hash(JSON.stringify(doc.peers))
  return JSON.stringify(doc, null, 2)
}

describe("CacheFile", () => {
  it.prop(
    "decode ∘ encode is the identity on tables built by any operation sequence",
    [Arbitraries.tableOps],
    ([ops]) => {
      const table = Journal.replay(PeerTable.empty, opsToJournal(ops))
      const decoded = Either.getOrThrow(CacheFile.decode(CacheFile.encode(table, { lastUpdated: T0, hash }), { hash }))
      expect(json(decoded.table)).toBe(json(table))
      expect(decoded.rejected).toEqual([])
      expect(decoded.newer).toBe(false)
    },
    { fastCheck: { seed: 5, numRuns: 60 } }
  )

  it("writes versioned, checksummed, one-peer-per-line JSON", () => {
    const text = CacheFile.encode(sample, { lastUpdated: T0, hash })
    const lines = text.split("\n")
    expect(lines.slice(0, 5)).toEqual([
      "{",
      "  \"version\": 1,",
      `  "lastUpdated": ${T0},`,
      `  "checksum": "${hash(CacheFile.canonicalPayload(sample))}",`,
      "  \"peers\": ["
    ])
    const doc = JSON.parse(text)
    expect(doc.peers).toHaveLength(2)
    expect(lines.filter((l) => l.startsWith("    {"))).toHaveLength(2)
    expect(doc.checksum).toBe(hash(JSON.stringify(doc.peers)))
    expect(CacheFile.encode(sample, { lastUpdated: T0, hash })).toBe(text)
    expect(CacheFile.encode(PeerTable.empty, { lastUpdated: T0, hash })).toContain("\"peers\": []")
  })

  it("ignores unknown fields at the top level and inside records", () => {
    const text = rewrite(CacheFile.encode(sample, { lastUpdated: T0, hash }), (doc) => {
      doc.writer = "bootstrap-cache 0.2"
      doc.peers[0].reputation = 0.7
      doc.peers[0].addresses[0].natType = "full-cone"
    })
    const decoded = Either.getOrThrow(CacheFile.decode(text, { hash }))
    expect(json(decoded.table)).toBe(json(sample))
    expect(decoded.warnings).toEqual([])
  })

  it("reads a newer version whose checksum holds as far as understood, and flags it", () => {
    const doc = JSON.parse(CacheFile.encodeCompact(sample, { lastUpdated: T0, hash }))
    doc.version = 3
    doc.peers.push([ED, T0, T0, "a v3 shape"])
    const text = rechecksum(JSON.stringify(doc))
    const decoded = Either.getOrThrow(CacheFile.decode(text, { hash }))
    expect(decoded.newer).toBe(true)
    expect(decoded.version).toBe(3)
    expect(PeerTable.size(decoded.table)).toBe(2)
    expect(decoded.rejected.map((r) => r.path)).toEqual(["peers[2].addresses"])
    expect(decoded.warnings.join("\n")).toMatch(/version 3, newer than this version \(2\)/)
    // The checksum rule holds for every version from 2 on: a newer file that does not hash is corrupt.
    const damaged = text.replace(`"lastUpdated":${T0}`, `"lastUpdated":${T0 + 1}`)
    expect(Either.getLeft(CacheFile.decode(damaged, { hash })).pipe(Option.map((e) => e.reason))).toEqual(Option.some("ChecksumMismatch"))
  })

  it("rejects a damaged current-version file by checksum", () => {
    const text = CacheFile.encode(sample, { lastUpdated: T0, hash }).replace("\"successes\":1", "\"successes\":7")
    const error = Either.getLeft(CacheFile.decode(text, { hash }))
    expect(error._tag === "Some" && error.value.reason).toBe("ChecksumMismatch")
    expect(error._tag === "Some" && error.value.field).toBe("checksum")
  })

  it("fails on every truncation of a file, with the line of the error, and never throws", () => {
    const text = CacheFile.encode(sample, { lastUpdated: T0, hash })
    const cut = text.trimEnd().length
    for (let n = 0; n < cut; n += 7) {
      const result = CacheFile.decode(text.slice(0, n), { hash })
      expect(Either.isLeft(result), `prefix of ${n} chars decoded`).toBe(true)
      if (Either.isLeft(result)) expect(["Empty", "MalformedJson"]).toContain(result.left.reason)
    }
    const broken = "{\n  \"version\": 1,\n  \"lastUpdated\": ,\n}"
    const error = Either.getLeft(CacheFile.decode(broken, { hash }))
    expect(error._tag === "Some" && error.value.line).toBe(3)
    const early = Either.getLeft(CacheFile.decode("{\"version\": x}", { hash }))
    expect(early._tag === "Some" && [early.value.line, early.value.column]).toEqual([1, 13])
  })

  it("names the field of a document that is not a cache file", () => {
    const reasons = ["[]", "{\"version\":1,\"lastUpdated\":1,\"checksum\":\"" + "a".repeat(64) + "\"}", "{\"version\":\"1\"}"].map(
      (t) => Either.getLeft(CacheFile.decode(t, { hash }))
    )
    expect(reasons.map((e) => e._tag === "Some" && e.value.reason)).toEqual(["NotACacheFile", "NotACacheFile", "NotACacheFile"])
    expect(reasons[1]!._tag === "Some" && reasons[1]!.value.field).toBe("peers")
    expect(reasons[2]!._tag === "Some" && reasons[2]!.value.field).toBe("version")
  })

  it("keeps the good records when one cannot be read, reporting its path", () => {
    const text = rewrite(CacheFile.encode(sample, { lastUpdated: T0, hash }), (doc) => {
      doc.peers[1].addresses[0].multiaddr = "/ip4/1.2.3.4/tcp/99999"
    })
    const decoded = Either.getOrThrow(CacheFile.decode(text, { hash }))
    expect(PeerTable.size(decoded.table)).toBe(1)
    expect(decoded.rejected).toHaveLength(1)
    expect(decoded.rejected[0]!.path).toBe("peers[1].addresses[0].multiaddr")
    expect(decoded.rejected[0]!.reason).toMatch(/99999/)
  })

  it("reports a record whose peer id is no peer id at peers[i].peerId with the reason, and loads every other record", () => {
    let table = sample
    for (let i = 1; i <= 3; i++) {
      table = PeerTable.add(table, parse(`/ip4/5.6.7.${i}/tcp/4001`), { now: T0, source: user })
    }
    const bad = ["x", "QmNotAPeerId", DAG_PB_CID]
    for (const id of bad) {
      const text = rewrite(CacheFile.encode(table, { lastUpdated: T0, hash }), (doc) => {
        const at = doc.peers.findIndex((p: { peerId?: string }) => p.peerId === ED)
        expect(at).toBeGreaterThanOrEqual(0)
        doc.peers[at].peerId = id
      })
      const doc = JSON.parse(text)
      const at = doc.peers.findIndex((p: { peerId?: string }) => p.peerId === id)
      const decoded = Either.getOrThrow(CacheFile.decode(text, { hash }))
      expect(PeerTable.size(decoded.table)).toBe(PeerTable.size(table) - 1)
      expect(Option.isNone(PeerTable.lookupPeer(decoded.table, ED))).toBe(true)
      for (let i = 1; i <= 3; i++) expect(Option.isSome(PeerTable.lookupAddress(decoded.table, parse(`/ip4/5.6.7.${i}/tcp/4001`)))).toBe(true)
      expect(decoded.rejected).toEqual([{ index: at, path: `peers[${at}].peerId`, reason: expect.stringContaining(`peer id ${id} `) }])
      expect(decoded.warnings.join("\n")).toContain(`peers[${at}].peerId: peer id ${id} `)
    }
    // The reason says why: not base58btc nor a CID, not a multihash, a CID of another codec.
    const reasons = bad.map((id) => {
      const text = rewrite(CacheFile.encode(sample, { lastUpdated: T0, hash }), (doc) => {
        doc.peers[0].peerId = id
      })
      return Either.getOrThrow(CacheFile.decode(text, { hash })).rejected[0]!.reason
    })
    expect(reasons[0]).toMatch(/neither base58btc nor a CIDv1/)
    expect(reasons[1]).toMatch(/not a valid multihash/)
    expect(reasons[2]).toMatch(/not a CIDv1 of the libp2p-key codec/)
  })

  it("reads a peer id written as a CIDv1 as its base58btc form, and writes it back so", () => {
    const text = rewrite(CacheFile.encode(sample, { lastUpdated: T0, hash }), (doc) => {
      const at = doc.peers.findIndex((p: { peerId?: string }) => p.peerId === ED)
      doc.peers[at].peerId = ED_CID
      doc.peers[at].addresses[0].multiaddr = `/ip4/1.2.3.4/tcp/4001/p2p/${ED_CID}`
    })
    const decoded = Either.getOrThrow(CacheFile.decode(text, { hash }))
    expect(decoded.rejected).toEqual([])
    expect(json(decoded.table)).toBe(json(sample))
    expect(Option.getOrThrow(PeerTable.lookupPeer(decoded.table, ED)).peerId).toEqual(Option.some(ED))
    expect(CacheFile.encode(decoded.table, { lastUpdated: T0, hash })).toBe(CacheFile.encode(sample, { lastUpdated: T0, hash }))
  })

  const peerRecord = Arbitrary.make(PeerRecord.PeerRecord)
  const encodePeer = Schema.encodeSync(PeerRecord.PeerRecord)
  const schemaDecode = Schema.decodeUnknownEither(PeerRecord.PeerRecord)
  const mutation = FastCheck.tuple(
    FastCheck.constantFrom("peerId", "firstSeen", "protocols", "capabilities", "sources", "addresses", "a.successes", "a.rttMs", "a.lastSeen", "a.multiaddr", "a.bytesTransferred", "c.relay", "s.0"),
    FastCheck.oneof(
      FastCheck.constant(undefined),
      FastCheck.jsonValue(),
      FastCheck.string(),
      FastCheck.constantFrom(-1, 1.5, 1e300, "x", "", "QmNotAPeerId", ED, ED_CID, DAG_PB_CID, null, true, { _tag: "user" })
    )
  )
  const firstIssue = (e: ParseResult.ParseError) => ParseResult.ArrayFormatter.formatErrorSync(e)[0]

  it.prop(
    "the fast record decoder agrees with the PeerRecord Schema, on records and on mutated ones",
    [peerRecord, mutation],
    ([record, [field, value]]) => {
      const encoded: any = JSON.parse(JSON.stringify(encodePeer(record)))
      const target = field.startsWith("a.") ? encoded.addresses[0] : field.startsWith("c.") ? encoded.capabilities : field.startsWith("s.") ? encoded.sources : encoded
      const key = field.includes(".") ? field.split(".")[1]! : field
      if (target !== undefined) {
        if (value === undefined) delete target[key]
        else target[key] = value
      }
      const fast = CacheFile.decodePeer(encoded)
      const slow = schemaDecode(encoded)
      expect(fast._tag).toBe(slow._tag)
      if (Either.isRight(fast) && Either.isRight(slow)) {
        expect(JSON.stringify(encodePeer(fast.right))).toBe(JSON.stringify(encodePeer(slow.right)))
      }
      if (Either.isLeft(fast) && Either.isLeft(slow)) {
        // The same reported bad entry: the same path and reason.
        expect(firstIssue(fast.left)).toEqual(firstIssue(slow.left))
      }
      if (field === "peerId" && typeof value === "string") {
        // Only the peer id was changed: the record decodes iff it is a peer id, normalised; else it is
        // reported at `peerId`, naming the id.
        const canonical = PeerAddress.normalizePeerId(value)
        if (Option.isSome(canonical)) {
          expect(Either.isRight(fast) && fast.right.peerId).toEqual(canonical)
        } else {
          expect(Either.isLeft(fast)).toBe(true)
          const issue = Either.isLeft(fast) ? firstIssue(fast.left) : undefined
          expect(issue?.path).toEqual(["peerId"])
          expect(issue?.message).toContain(`peer id ${value}`)
        }
      }
    },
    { fastCheck: { seed: 11, numRuns: 300 } }
  )

  it.prop(
    "the direct record encoder gives exactly the PeerRecord Schema's encoding",
    [peerRecord],
    ([record]) => {
      const direct = CacheFile.encodePeerDirect(record)
      expect(direct).toStrictEqual(encodePeer(record))
      expect(JSON.stringify(direct)).toBe(JSON.stringify(encodePeer(record)))
    },
    { fastCheck: { seed: 12, numRuns: 300 } }
  )

  it("checks the checksum over the canonical payload whatever the layout, and a layout change alone is no damage", () => {
    let table = PeerTable.empty
    for (let i = 1; i <= 3; i++) {
      table = PeerTable.recordSuccess(PeerTable.add(table, PeerAddress.unsafeParse(`/ip4/1.2.3.${i}/tcp/4001`), { now: T0, source: { _tag: "user" } }), PeerAddress.unsafeParse(`/ip4/1.2.3.${i}/tcp/4001`), T0 + i, { rttMs: 10 })
    }
    const text = CacheFile.encode(table, { lastUpdated: T0, hash })
    // As written: decodes, through the raw payload.
    expect(PeerTable.size(Either.getOrThrow(CacheFile.decode(text, { hash })).table)).toBe(3)
    // Re-laid out (CRLF line ends, re-indented): the same peers, the same checksum, still valid.
    const crlf = text.replaceAll("\n", "\r\n")
    expect(PeerTable.size(Either.getOrThrow(CacheFile.decode(crlf, { hash })).table)).toBe(3)
    const pretty = JSON.stringify(JSON.parse(text), null, 4)
    expect(PeerTable.size(Either.getOrThrow(CacheFile.decode(pretty, { hash })).table)).toBe(3)
    // A changed counter in the original layout is caught.
    const edited = text.replace("\"successes\":1,", "\"successes\":2,")
    expect(edited).not.toBe(text)
    const result = CacheFile.decode(edited, { hash })
    expect(Either.isLeft(result) && result.left.reason).toBe("ChecksumMismatch")
  })

  it("re-encodes only what changed: an unchanged record keeps its line, a changed one gets a new line", () => {
    const a = PeerAddress.unsafeParse("/ip4/1.2.3.4/tcp/4001")
    const b = PeerAddress.unsafeParse("/ip4/1.2.3.5/tcp/4001")
    const t1 = PeerTable.add(PeerTable.add(PeerTable.empty, a, { now: T0, source: { _tag: "user" } }), b, { now: T0, source: { _tag: "user" } })
    const first = CacheFile.encode(t1, { lastUpdated: T0, hash })
    const t2 = PeerTable.recordFailure(t1, a, T0 + 5)
    const second = CacheFile.encode(t2, { lastUpdated: T0, hash })
    expect(second).not.toBe(first)
    expect(second).toBe(CacheFile.encode(Schema.decodeSync(PeerTable.PeerTableFromRecords)(Schema.encodeSync(PeerTable.PeerTableFromRecords)(t2)), { lastUpdated: T0, hash }))
    expect(Either.getOrThrow(CacheFile.decode(second, { hash })).table.pipe(PeerTable.lookupAddress(a))).toMatchObject({ value: { record: { failures: 1 } } })
  })
})
