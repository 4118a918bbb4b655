/**
 * The Node platform services this package's Layers need, each loaded only when a Layer needs it.
 *
 * - {@link layerFileSystem}: `FileSystem` and `Path`, all the cache store and the lock use. Narrower
 *   than `NodeContext.layer`, which also brings the command executor, terminal and worker modules
 *   that nothing here runs.
 * - {@link layerUndici}: `NodeHttpClient.layerUndici`, imported when the Layer is built: `undici`
 *   and the HTTP modules are most of this package's load time, and a process that never asks the
 *   endpoints never loads them.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Path from "@effect/platform/Path"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** `FileSystem` and `Path` on Node. */
export const layerFileSystem: Layer.Layer<FileSystem.FileSystem | Path.Path> = Layer.merge(
  NodeFileSystem.layer,
  NodePath.layer
)

/** Node's undici `HttpClient`, its modules imported when the Layer is built. */
export const layerUndici: Layer.Layer<HttpClient.HttpClient> = Layer.unwrapEffect(
  Effect.map(Effect.promise(() => import("@effect/platform-node/NodeHttpClient")), (m) => m.layerUndici)
)
