import { defineProject } from "vitest/config"

/**
 * The Vitest project of one package (`packages/<name>/vitest.config.ts`): its tests (`include`; by
 * default every `.test.ts` file under `test/`), with workspace packages resolved to their TypeScript
 * sources through the exports' `@bootstrap-cache/source` condition, so tests run on the code as it
 * is, with no build. The other conditions are Vite's
 * defaults for server code (`ssr.resolve.conditions`).
 */
export const project = (name: string, include: ReadonlyArray<string> = ["test/**/*.test.ts"]) =>
  defineProject({
    ssr: { resolve: { conditions: ["@bootstrap-cache/source", "module", "node", "development|production"] } },
    test: {
      name,
      include: [...include]
    }
  })
