/**
 * Peer id validation (libp2p peer id spec), shared by the parser and the Schema of `PeerAddress`.
 */
import { base32 } from "multiformats/bases/base32"
import { base36 } from "multiformats/bases/base36"
import { base58btc } from "multiformats/bases/base58"
import { CID } from "multiformats/cid"
import type * as Digest from "multiformats/hashes/digest"
import { decode as decodeDigest } from "multiformats/hashes/digest"

/** Multihash codes a libp2p peer id uses: identity (keys of at most 42 bytes) and sha2-256 (longer keys). */
const IDENTITY = 0x00
const SHA2_256 = 0x12
/** The libp2p-key multicodec of a CIDv1 peer id. */
const LIBP2P_KEY = 0x72

/** Result of {@link canonicalPeerId}: the canonical text, or the reason the input is not a peer id. */
export type PeerIdCheck = { readonly ok: true; readonly id: string } | { readonly ok: false; readonly reason: string }

/**
 * Checks a peer id string and gives its canonical text form, as in the libp2p peer id spec: a
 * base58btc multihash (`Qm…`, `12D3KooW…`, `16Uiu2…`), kept as written, or a CIDv1 with the
 * libp2p-key codec (`bafz…` in base32, `k51…` in base36), rewritten as the base58btc multihash it
 * holds — the form go-libp2p, js-libp2p and rust-libp2p print — so one peer has one id whichever
 * form it was listed in. The multihash must be identity or sha2-256, the two a peer id uses.
 */
export const canonicalPeerId = (id: string): PeerIdCheck => {
  try {
    let hash: Digest.Digest<number, number>
    let canonical = id
    if (id.startsWith("Q") || id.startsWith("1")) {
      hash = decodeDigest(base58btc.baseDecode(id))
    } else {
      const decoder = id.startsWith("b") ? base32 : id.startsWith("k") ? base36 : undefined
      if (decoder === undefined) return { ok: false, reason: `peer id ${id} is neither base58btc nor a CIDv1` }
      const cid = CID.decode(decoder.decode(id))
      if (cid.version !== 1 || cid.code !== LIBP2P_KEY) {
        return { ok: false, reason: `peer id ${id} is a CID but not a CIDv1 of the libp2p-key codec` }
      }
      hash = cid.multihash
      canonical = base58btc.baseEncode(hash.bytes)
    }
    if (hash.code !== IDENTITY && hash.code !== SHA2_256) {
      return { ok: false, reason: `peer id ${id} is a multihash of code 0x${hash.code.toString(16)}, not identity or sha2-256` }
    }
    return { ok: true, id: canonical }
  } catch (e) {
    return { ok: false, reason: `peer id ${id} is not a valid multihash (${e instanceof Error ? e.message : String(e)})` }
  }
}
