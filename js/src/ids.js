/**
 * Token ids of the credit token: `projectId << 64 | batchNumber` (contracts/libraries/CreditIds.sol,
 * tonne/core/ids.py), and their label `P<project>/B<batch>`.
 */

const MASK64 = (1n << 64n) - 1n

/**
 * Token id of batch `batchNumber` (from 1) of project `projectId` (from 1).
 * @param {bigint | number} projectId
 * @param {bigint | number} batchNumber
 * @returns {bigint}
 */
export function encodeId(projectId, batchNumber) {
  const p = BigInt(projectId)
  const b = BigInt(batchNumber)
  if (p <= 0n || p > MASK64 || b <= 0n || b > MASK64) {
    throw new RangeError(`project id and batch number must be in 1..2^64-1, got ${p}, ${b}`)
  }
  return (p << 64n) | b
}

/**
 * @param {bigint} id
 * @returns {{ projectId: bigint, batchNumber: bigint }}
 */
export function decodeId(id) {
  return { projectId: (BigInt(id) >> 64n) & MASK64, batchNumber: BigInt(id) & MASK64 }
}

/** @param {bigint} id */
export const projectOf = (id) => decodeId(id).projectId

/** @param {bigint} id */
export const batchNumberOf = (id) => decodeId(id).batchNumber

/**
 * Readable form, e.g. `"P3/B2"`.
 * @param {bigint} id
 * @returns {string}
 */
export function idLabel(id) {
  const { projectId, batchNumber } = decodeId(id)
  return `P${projectId}/B${batchNumber}`
}

/**
 * The inverse of `idLabel`: `"P3/B2"` -> the token id.
 * @param {string} label
 * @returns {bigint}
 */
export function parseIdLabel(label) {
  const match = /^P([0-9]+)\/B([0-9]+)$/.exec(label)
  if (!match) throw new RangeError(`${JSON.stringify(label)} is not a credit label such as P3/B2`)
  return encodeId(BigInt(match[1]), BigInt(match[2]))
}
