/**
 * `npm start`: the main job. Until the bootstrap lands this prints the stats of a real bootstrap list
 * from ../shared/fixtures loaded into a peer table.
 */
import { PeerAddress, PeerTable } from "@bootstrap-cache/core"
import * as Either from "effect/Either"
import { readFileSync } from "node:fs"

const file = new URL("../../../../shared/fixtures/polkadot-bootnodes.txt", import.meta.url)
let table = PeerTable.empty
let invalid = 0
for (const line of readFileSync(file, "utf8").split(/\r?\n/)) {
  if (line.trim() === "") continue
  const parsed = PeerAddress.parse(line)
  if (Either.isLeft(parsed)) invalid++
  else table = PeerTable.add(table, parsed.right, { now: Date.now(), source: { _tag: "import", from: file.pathname } })
}
console.log(JSON.stringify({ file: file.pathname, invalid, ...PeerTable.stats(table) }, null, 2))
