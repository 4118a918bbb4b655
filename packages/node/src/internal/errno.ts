/**
 * The OS error code (`ENOENT`, `EACCES`, `EROFS`, …) of a failure, whichever shape it arrives in:
 * an `@effect/platform` `PlatformError` (its Node cause, else its `reason`) or a Node `ErrnoException`.
 */
import type { PlatformError } from "@effect/platform/Error"

/** The errno of a failure, or undefined when it carries none. */
export const errnoOf = (error: PlatformError | unknown): string | undefined => {
  if (typeof error !== "object" || error === null) return undefined
  const tagged = error as { _tag?: unknown; reason?: unknown; cause?: unknown; code?: unknown }
  if (typeof tagged.code === "string") return tagged.code
  if (tagged._tag !== "SystemError") return undefined
  const code = (tagged.cause as { code?: unknown } | undefined)?.code
  if (typeof code === "string") return code
  switch (tagged.reason) {
    case "PermissionDenied":
      return "EACCES"
    case "NotFound":
      return "ENOENT"
    case "AlreadyExists":
      return "EEXIST"
    case "Busy":
      return "EBUSY"
    default:
      return undefined
  }
}
