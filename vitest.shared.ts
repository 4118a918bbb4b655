import { defineProject } from "vitest/config"

/**
 * The Vitest project of one package (`packages/<name>/vitest.config.ts`): its tests (`include`; by
 * default every `.test.ts` file under `test/`), with workspace packages resolved to their TypeScript
 * sources through the exports' `@bootstrap-cache/source` condition, so tests run on the code as it
 * is, with no build. The other conditions are Vite's
 * defaults for server code (`ssr.resolve.conditions`).
 *
 * `testTimeout` is 30 s (Vitest's default is 5 s): many tests do real work — files fsynced under a
 * lock, child processes, sockets — and a loaded CI machine can stretch a 1 s test past 5 s. No test
 * asserts a time; the timeout only bounds a hang.
 */
export const project = (name: string, include: ReadonlyArray<string> = ["test/**/*.test.ts"]) =>
  defineProject({
    ssr: { resolve: { conditions: ["@bootstrap-cache/source", "module", "node", "development|production"] } },
    test: {
      name,
      include: [...include],
      testTimeout: 30_000
    }
  })
