/**
 * A holder's credits per id, from the credit token's ERC-1155 events (`TransferSingle`, `TransferBatch`: mints,
 * transfers, burns), with each batch's data from the registry's views. Events alone give the balances, as the
 * house rule wants (an indexer rebuilds all state from events); credits pledged to a facility have left the holder
 * and so are not counted here.
 */

import { hexToString } from 'viem'
import { contractOf } from './deployment.js'
import { decodeId, idLabel } from './ids.js'

/** ICarbonRegistry.ProjectStatus, by its uint8. */
export const PROJECT_STATUSES = ['None', 'Pending', 'Approved', 'Suspended', 'Terminated']

/**
 * @typedef {object} Holding
 * @property {bigint} id
 * @property {string} label e.g. "P1/B2"
 * @property {bigint} units
 * @property {bigint} projectId
 * @property {bigint} batchNumber
 * @property {{ standard: string, externalId: string, name: string, country: string, status: string }} project
 * @property {bigint} serialFirst
 * @property {bigint} serialLast
 * @property {bigint} periodStart vintage start, unix seconds
 * @property {bigint} periodEnd vintage end, unix seconds
 * @property {boolean} verified
 */

/**
 * Units per id of `holder`, from events (ids whose balance is zero are left out).
 * @param {import('viem').PublicClient} client
 * @param {import('./deployment.js').Deployment} deployment
 * @param {`0x${string}`} holder
 * @returns {Promise<Map<bigint, bigint>>}
 */
export async function balancesFromEvents(client, deployment, holder) {
  const credit = contractOf(deployment, 'CarbonCredit')
  const since = { ...credit, fromBlock: credit.deployBlock, strict: /** @type {const} */ (true) }
  const [singleIn, singleOut, batchIn, batchOut] = await Promise.all([
    client.getContractEvents({ ...since, eventName: 'TransferSingle', args: { to: holder } }),
    client.getContractEvents({ ...since, eventName: 'TransferSingle', args: { from: holder } }),
    client.getContractEvents({ ...since, eventName: 'TransferBatch', args: { to: holder } }),
    client.getContractEvents({ ...since, eventName: 'TransferBatch', args: { from: holder } }),
  ])
  const units = new Map()
  const add = (id, value) => units.set(id, (units.get(id) ?? 0n) + value)
  for (const log of singleIn) add(log.args.id, log.args.value)
  for (const log of singleOut) add(log.args.id, -log.args.value)
  for (const log of batchIn) log.args.ids.forEach((id, i) => add(id, log.args.values[i]))
  for (const log of batchOut) log.args.ids.forEach((id, i) => add(id, -log.args.values[i]))
  for (const [id, value] of units) if (value === 0n) units.delete(id)
  return units
}

/**
 * A holder's credits per id with each batch's project, vintage, serial range and status, sorted by id.
 * @param {import('viem').PublicClient} client
 * @param {import('./deployment.js').Deployment} deployment
 * @param {`0x${string}`} holder
 * @returns {Promise<Holding[]>}
 */
export async function holdingsOf(client, deployment, holder) {
  const registry = contractOf(deployment, 'CarbonRegistry')
  const balances = await balancesFromEvents(client, deployment, holder)
  const ids = [...balances.keys()].sort((a, b) => (a < b ? -1 : 1))
  const projects = new Map()
  const readProject = (projectId) => {
    if (!projects.has(projectId)) {
      projects.set(projectId, client.readContract({ ...registry, functionName: 'project', args: [projectId] }))
    }
    return projects.get(projectId)
  }
  return Promise.all(
    ids.map(async (id) => {
      const { projectId, batchNumber } = decodeId(id)
      const [batch, project] = await Promise.all([
        client.readContract({ ...registry, functionName: 'batch', args: [id] }),
        readProject(projectId),
      ])
      return {
        id,
        label: idLabel(id),
        units: balances.get(id) ?? 0n,
        projectId,
        batchNumber,
        project: {
          standard: project.standard,
          externalId: project.externalId,
          name: project.name,
          country: hexToString(project.country),
          status: PROJECT_STATUSES[project.status],
        },
        serialFirst: BigInt(batch.serialFirst),
        serialLast: BigInt(batch.serialLast),
        periodStart: BigInt(batch.periodStart),
        periodEnd: BigInt(batch.periodEnd),
        verified: batch.verified,
      }
    }),
  )
}
