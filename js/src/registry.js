/**
 * The position hint of `CarbonRegistry.addBatch`, ported from tonne/registry/ops.py.
 *
 * A project's batches form a list sorted by first serial, and `addBatch` checks a new range only against the
 * batch the caller names as its predecessor and that batch's successor (two reads, whatever the number of
 * batches), reverting `RegistryBadPositionHint` otherwise. The predecessor is computed here from the project's
 * `BatchAdded` logs, one query, and an overlap is reported before any transaction is sent.
 */

import { contractOf } from './deployment.js'
import { batchNumberOf } from './ids.js'

/** The range overlaps a batch already in the project: the contract would revert `RegistrySerialOverlap`. */
export class SerialOverlapError extends RangeError {
  name = 'SerialOverlapError'
}

/**
 * @typedef {{ batchNumber: bigint, first: bigint, last: bigint }} SerialRange
 */

/**
 * Every batch range of `projectId`, sorted by first serial, from the registry's logs.
 * @param {import('viem').PublicClient} client
 * @param {import('./deployment.js').Deployment} deployment
 * @param {bigint} projectId
 * @returns {Promise<SerialRange[]>}
 */
export async function projectRanges(client, deployment, projectId) {
  const registry = contractOf(deployment, 'CarbonRegistry')
  const logs = await client.getContractEvents({
    ...registry,
    eventName: 'BatchAdded',
    args: { projectId: BigInt(projectId) },
    fromBlock: registry.deployBlock,
    strict: true,
  })
  const ranges = logs.map((log) => ({
    batchNumber: batchNumberOf(log.args.id),
    first: BigInt(log.args.serialFirst),
    last: BigInt(log.args.serialLast),
  }))
  return ranges.sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0))
}

/**
 * The batch number right before `[first, last]` in `ranges` (0n: it comes first), as `addBatch` wants it.
 * @param {SerialRange[]} ranges sorted by first serial (`projectRanges`)
 * @param {bigint} first
 * @param {bigint} last
 * @returns {bigint}
 * @throws {SerialOverlapError} naming the batch the range overlaps
 */
export function prevBatchHint(ranges, first, last) {
  const position = ranges.findIndex((r) => r.first > first) // bisect_right on the first serials
  const after = position === -1 ? ranges.length : position
  const prev = after > 0 ? ranges[after - 1] : undefined
  const next = ranges[after]
  for (const neighbour of [prev, next]) {
    if (neighbour && neighbour.first <= last && first <= neighbour.last) {
      throw new SerialOverlapError(
        `serials ${first}-${last} overlap batch ${neighbour.batchNumber} (${neighbour.first}-${neighbour.last}) ` +
          'of this project',
      )
    }
  }
  return prev ? prev.batchNumber : 0n
}

/**
 * The hint for adding serials `[first, last]` to `projectId` now.
 * @param {import('viem').PublicClient} client
 * @param {import('./deployment.js').Deployment} deployment
 * @param {bigint} projectId
 * @param {bigint} first
 * @param {bigint} last
 * @returns {Promise<bigint>}
 */
export async function batchHint(client, deployment, projectId, first, last) {
  return prevBatchHint(await projectRanges(client, deployment, projectId), BigInt(first), BigInt(last))
}
