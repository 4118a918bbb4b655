/**
 * Spawning `fixtures/cache-worker.ts` as real child processes (`node --import tsx`), with bounded
 * waits on their output and exit.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { type ChildProcess, spawn } from "node:child_process"

const WORKER = new URL("./fixtures/cache-worker.ts", import.meta.url).pathname

export interface Worker {
  readonly child: ChildProcess
  /** Waits (real time, bounded) until the worker printed a line matching `pattern`. */
  readonly waitFor: (pattern: RegExp, timeout?: Duration.DurationInput) => Effect.Effect<string, Error>
  /** Waits (bounded) for the exit; the exit code, or the signal name. */
  readonly exit: (timeout?: Duration.DurationInput) => Effect.Effect<number | string, Error>
  readonly output: () => string
}

export const startWorker = (args: ReadonlyArray<string>): Effect.Effect<Worker> =>
  Effect.sync(() => {
    const child = spawn(process.execPath, ["--conditions=@bootstrap-cache/source", "--import", "tsx", WORKER, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let err = ""
    const listeners = new Set<() => void>()
    child.stdout!.on("data", (chunk) => {
      out += String(chunk)
      for (const l of listeners) l()
    })
    child.stderr!.on("data", (chunk) => {
      err += String(chunk)
    })
    const exited = new Promise<number | string>((resolve) =>
      child.on("exit", (code, signal) => resolve(code ?? signal ?? -1))
    )
    const waitFor = (pattern: RegExp, timeout: Duration.DurationInput = "30 seconds") =>
      Effect.async<string>((resume) => {
        const check = () => {
          const line = out.split("\n").find((l) => pattern.test(l))
          if (line !== undefined) {
            listeners.delete(check)
            resume(Effect.succeed(line))
          }
        }
        listeners.add(check)
        check()
        return Effect.sync(() => listeners.delete(check))
      }).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new Error(`worker ${args.join(" ")} did not print ${pattern} in time; stdout: ${out}; stderr: ${err}`)
        })
      )
    const exit = (timeout: Duration.DurationInput = "60 seconds") =>
      Effect.promise(() => exited).pipe(
        Effect.timeoutFail({ duration: timeout, onTimeout: () => new Error(`worker ${args.join(" ")} did not exit; stderr: ${err}`) })
      )
    return { child, waitFor, exit, output: () => `${out}\n${err}` }
  })
