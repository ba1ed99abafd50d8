// Reads every golden proof (spec/vectors/proof-*.car) with npm @ipld/car, the JavaScript IPLD
// stack's CAR reader: one root, the envelope, which is the first block; every block present once.
// Run from a folder where `@ipld/car` is installed: node check_proofs.mjs <spec/vectors>
import { CarReader } from '@ipld/car'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'

const dir = process.argv[2]
const index = JSON.parse(await readFile(join(dir, 'proofs.json'), 'utf8'))
for (const entry of index.proofs) {
  const bytes = await readFile(join(dir, entry.file))
  const reader = await CarReader.fromBytes(bytes)
  const roots = await reader.getRoots()
  if (roots.length !== 1) throw new Error(`${entry.file}: ${roots.length} roots`)
  const cids = []
  for await (const block of reader.blocks()) cids.push(block.cid.toString())
  if (cids[0] !== roots[0].toString()) throw new Error(`${entry.file}: the envelope is not first`)
  if (new Set(cids).size !== cids.length) throw new Error(`${entry.file}: a repeated block`)
  if (cids.length !== entry.witness_blocks + 1) throw new Error(`${entry.file}: ${cids.length} blocks`)
  console.log(`ok   ${entry.file} (${cids.length} blocks)`)
}
