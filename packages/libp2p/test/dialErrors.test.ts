import { Dialer } from "@bootstrap-cache/node"
import { assert, describe, it } from "@effect/vitest"
import { classify } from "../src/internal/dialErrors.js"

const named = (name: string, message: string, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(message), { name }, extra)

const context = {
  address: "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWExpected",
  expectedPeer: "12D3KooWExpected",
  timeoutMs: 1_000,
  stopping: false
}

describe("reading libp2p dial errors", () => {
  it("every libp2p failure maps to the Dialer error a real stack reports, peer failures apart from local ones", () => {
    const cases: ReadonlyArray<readonly [unknown, string, boolean]> = [
      [named("Error", "connection error 127.0.0.1:1: connect ECONNREFUSED", { code: "ECONNREFUSED" }), "DialRefusedError", true],
      [new AggregateError([named("Error", "connect ECONNREFUSED", { code: "ECONNREFUSED" })], "All multiaddr dials failed"), "DialRefusedError", true],
      [named("Error", "connect EHOSTUNREACH", { code: "EHOSTUNREACH" }), "DialUnreachableError", true],
      [named("TimeoutError", "The operation was aborted due to timeout"), "DialTimeoutError", true],
      [named("EncryptionFailedError", "Timed out"), "DialTimeoutError", true],
      [
        named("EncryptionFailedError", "Payload identity key 12D3KooWActual does not match expected remote identity key 12D3KooWExpected"),
        "DialWrongPeerError",
        true
      ],
      [named("UnexpectedPeerError", "unexpected peer"), "DialWrongPeerError", true],
      [named("NoValidAddressesError", "The dial request has no valid addresses"), "DialLocalError", false],
      [named("DialDeniedError", "The connection gater denied all addresses"), "DialLocalError", false],
      [named("NotStartedError", "not started"), "DialLocalError", false],
      [named("InvalidPeerIdError", "Can not dial self"), "DialLocalError", false],
      [named("Error", "something else"), "DialUnreachableError", true]
    ]
    for (const [error, tag, peerFailure] of cases) {
      const classified = classify(error, context)
      assert.strictEqual(classified._tag, tag, String((error as Error).message))
      assert.strictEqual(Dialer.isPeerFailure(classified), peerFailure, tag)
      assert.strictEqual(classified.address, context.address)
    }
  })

  it("the wrong peer names the id the remote proved", () => {
    const e = classify(
      named("EncryptionFailedError", "Payload identity key 12D3KooWActual does not match expected remote identity key 12D3KooWExpected"),
      context
    )
    assert.deepStrictEqual(e._tag === "DialWrongPeerError" && [e.expected, e.actual], ["12D3KooWExpected", "12D3KooWActual"])
  })

  it("any failure while the node stops is local, whatever libp2p reports", () => {
    for (const error of [named("AbortError", "aborted"), named("Error", "refused", { code: "ECONNREFUSED" })]) {
      const e = classify(error, { ...context, stopping: true })
      assert.deepStrictEqual(e._tag === "DialLocalError" && e.reason, "stopping")
    }
  })
})
