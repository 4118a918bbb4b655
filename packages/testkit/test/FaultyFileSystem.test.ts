import { describe, expect, it } from "@effect/vitest"
import * as FileSystem from "@effect/platform/FileSystem"
import { FaultyFileSystem } from "@bootstrap-cache/testkit"
import * as Effect from "effect/Effect"
import * as NodeFs from "node:fs"
import * as Path from "node:path"

const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "bc-faulty-" }))
const codeOf = (e: unknown) => ((e as { cause?: { code?: string } }).cause)?.code

describe("FaultyFileSystem", () => {
  it.scoped("fails matching calls with the errno, as the Node FileSystem would, and passes the rest through", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const faulty = yield* FaultyFileSystem.FaultyFileSystem
      const dir = yield* tempDir
      const file = Path.join(dir, "a.txt")
      yield* fs.writeFileString(file, "hello")
      yield* faulty.inject(FaultyFileSystem.readOnly(dir))
      const error = yield* Effect.flip(fs.writeFileString(file, "bye"))
      expect(error).toMatchObject({ _tag: "SystemError", reason: "Unknown", pathOrDescriptor: file })
      expect(codeOf(error)).toBe("EROFS")
      expect(codeOf(yield* Effect.flip(fs.rename(file, `${file}.2`)))).toBe("EROFS")
      expect(yield* fs.readFileString(file)).toBe("hello") // reads still work
      yield* faulty.clear
      yield* fs.writeFileString(file, "bye")
      expect(NodeFs.readFileSync(file, "utf8")).toBe("bye")
    }).pipe(Effect.provide(FaultyFileSystem.layerNode)))

  it.scoped("tears a write after the given bytes, fires only `times` times, and records every call", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const faulty = yield* FaultyFileSystem.FaultyFileSystem
      const file = Path.join(yield* tempDir, "b.txt")
      yield* faulty.inject({ ...FaultyFileSystem.diskFull(file, 4), times: 1 })
      const error = yield* Effect.flip(Effect.scoped(Effect.flatMap(fs.open(file, { flag: "w" }), (f) => f.writeAll(new TextEncoder().encode("0123456789")))))
      expect(codeOf(error)).toBe("ENOSPC")
      expect(NodeFs.readFileSync(file, "utf8")).toBe("0123")
      yield* fs.writeFileString(file, "fine")
      expect(NodeFs.readFileSync(file, "utf8")).toBe("fine")
      const calls = yield* faulty.calls
      expect(calls.filter((c) => c.failed).map((c) => c.method)).toEqual(["write"])
      expect(calls.map((c) => c.method)).toContain("writeFile")
    }).pipe(Effect.provide(FaultyFileSystem.layerNode)))

  it.scoped("refuses EACCES as PermissionDenied", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const faulty = yield* FaultyFileSystem.FaultyFileSystem
      const dir = yield* tempDir
      yield* faulty.inject(FaultyFileSystem.readOnly(dir, "EACCES"))
      const error = yield* Effect.flip(fs.makeDirectory(Path.join(dir, "sub")))
      expect(error).toMatchObject({ reason: "PermissionDenied" })
      expect(codeOf(error)).toBe("EACCES")
      // An existing directory answers first, as the kernel does: `mkdir -p` of it still succeeds.
      yield* fs.makeDirectory(dir, { recursive: true })
      expect((yield* Effect.flip(fs.makeDirectory(dir)))._tag).toBe("SystemError")
      expect(codeOf(yield* Effect.flip(fs.makeDirectory(dir)))).toBe("EEXIST")
    }).pipe(Effect.provide(FaultyFileSystem.layerNode)))
})
