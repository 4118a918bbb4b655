/**
 * Durations given as `Duration.DurationInput` options, in milliseconds.
 */
import * as Duration from "effect/Duration"

/** `input` in ms, or `fallback` (ms) when the option is not set. */
export const millisOr = (input: Duration.DurationInput | undefined, fallback: number): number =>
  input === undefined ? fallback : Duration.toMillis(Duration.decode(input))
