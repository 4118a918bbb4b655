import { assert, describe, it } from "@effect/vitest"
import { Polyfill } from "../src/index.js"

describe("Promise.withResolvers polyfill", () => {
  it("installs the ES2024 method only where it is missing, and it resolves and rejects", async () => {
    const P = Promise as PromiseConstructor & { withResolvers?: unknown }
    const before = Object.getOwnPropertyDescriptor(Promise, "withResolvers")
    try {
      delete P.withResolvers
      assert.isTrue(Polyfill.installPromiseWithResolvers())
      assert.isFalse(Polyfill.installPromiseWithResolvers(), "idempotent")
      assert.isFalse(Object.getOwnPropertyDescriptor(Promise, "withResolvers")!.enumerable)
      const make = P.withResolvers as <T>() => Polyfill.Resolvers<T>
      const ok = make.call(Promise) as Polyfill.Resolvers<number>
      ok.resolve(7)
      assert.strictEqual(await ok.promise, 7)
      const ko = make.call(Promise) as Polyfill.Resolvers<number>
      ko.reject(new Error("no"))
      await ko.promise.then(() => assert.fail("rejected"), (e: Error) => assert.strictEqual(e.message, "no"))
    } finally {
      if (before !== undefined) Object.defineProperty(Promise, "withResolvers", before)
    }
  })
})
