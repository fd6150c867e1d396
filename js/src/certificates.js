/**
 * Retirement certificates as one object: the `RetirementRecorded` event holds everything a retirement says (texts,
 * every id and amount, the reference), and its log gives the block and transaction; `CarbonRetirement.certificate`
 * adds the timestamp and the packed country. A beneficiary's certificates are one event query on the indexed
 * `beneficiary`.
 */

import { parseEventLogs } from 'viem'
import { contractOf } from './deployment.js'
import { idLabel } from './ids.js'

/** ICarbonRetirement.Purpose, by its uint8. */
export const PURPOSES = /** @type {const} */ (['Voluntary', 'Compliance'])

/**
 * @typedef {object} Certificate
 * @property {bigint} certificateId
 * @property {`0x${string}`} beneficiary
 * @property {`0x${string}`} retiringAccount
 * @property {string} beneficiaryName
 * @property {string} reason
 * @property {string} jurisdiction full, e.g. "FR-75"
 * @property {{ id: bigint, label: string, units: bigint }[]} credits every id retired, with its units
 * @property {bigint} totalUnits
 * @property {bigint} periodStart unix seconds
 * @property {bigint} periodEnd unix seconds
 * @property {'Voluntary' | 'Compliance'} purpose
 * @property {`0x${string}`} retirementRef zero for none
 * @property {bigint} blockNumber
 * @property {`0x${string}`} transactionHash
 * @property {bigint} [timestamp] unix seconds (from the contract's view, when read)
 */

/**
 * One certificate from a decoded `RetirementRecorded` log.
 * @param {any} log a log decoded by viem (`args`, `blockNumber`, `transactionHash`)
 * @returns {Certificate}
 */
export function certificateFromLog(log) {
  const a = log.args
  const credits = a.ids.map((id, i) => ({ id, label: idLabel(id), units: a.amounts[i] }))
  return {
    certificateId: a.certificateId,
    beneficiary: a.beneficiary,
    retiringAccount: a.retiringAccount,
    beneficiaryName: a.beneficiaryName,
    reason: a.reason,
    jurisdiction: a.jurisdiction,
    credits,
    totalUnits: credits.reduce((sum, c) => sum + c.units, 0n),
    periodStart: BigInt(a.periodStart),
    periodEnd: BigInt(a.periodEnd),
    purpose: PURPOSES[a.purpose],
    retirementRef: a.retirementRef,
    blockNumber: log.blockNumber,
    transactionHash: log.transactionHash,
  }
}

/**
 * The certificates a transaction minted (e.g. the receipt of `retire` or `retireBatch`).
 * @param {import('./deployment.js').Deployment} deployment
 * @param {import('viem').TransactionReceipt} receipt
 * @returns {Certificate[]}
 */
export function certificatesFromReceipt(deployment, receipt) {
  const { abi, address } = contractOf(deployment, 'CarbonRetirement')
  const logs = parseEventLogs({ abi, logs: receipt.logs, eventName: 'RetirementRecorded' })
  return logs.filter((log) => log.address.toLowerCase() === address.toLowerCase()).map(certificateFromLog)
}

/**
 * One certificate by id, from its event and the contract's view (which also refuses an unknown id with
 * `CertificateUnknown`).
 * @param {import('viem').PublicClient} client
 * @param {import('./deployment.js').Deployment} deployment
 * @param {bigint} certificateId
 * @returns {Promise<Certificate>}
 */
export async function getCertificate(client, deployment, certificateId) {
  const retirement = contractOf(deployment, 'CarbonRetirement')
  const stored = await client.readContract({ ...retirement, functionName: 'certificate', args: [certificateId] })
  const logs = await client.getContractEvents({
    ...retirement,
    eventName: 'RetirementRecorded',
    args: { certificateId },
    fromBlock: retirement.deployBlock,
    strict: true,
  })
  if (logs.length !== 1) throw new Error(`certificate ${certificateId}: ${logs.length} RetirementRecorded events`)
  return { ...certificateFromLog(logs[0]), timestamp: BigInt(stored.timestamp) }
}

/**
 * Every certificate of `beneficiary`, oldest first, from events alone.
 * @param {import('viem').PublicClient} client
 * @param {import('./deployment.js').Deployment} deployment
 * @param {`0x${string}`} beneficiary
 * @returns {Promise<Certificate[]>}
 */
export async function certificatesOf(client, deployment, beneficiary) {
  const retirement = contractOf(deployment, 'CarbonRetirement')
  const logs = await client.getContractEvents({
    ...retirement,
    eventName: 'RetirementRecorded',
    args: { beneficiary },
    fromBlock: retirement.deployBlock,
    strict: true,
  })
  return logs.map(certificateFromLog)
}
