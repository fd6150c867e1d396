/**
 * Deployment records (`deployments/<chainId>.json`, schema `tonne.deployment/1`, see deployments/README.md):
 * the one source of addresses and ABIs. A record is read once and checked against the chain it will be used on,
 * so a frontend pointed at the wrong network fails at once, with both chain ids named, rather than calling
 * addresses that hold other code.
 */

import { getAddress } from 'viem'

export const SCHEMA = 'tonne.deployment/1'

/**
 * One contract of a deployment, ready to spread into viem's `readContract`, `writeContract` and
 * `getContractEvents` (`{ ...descriptor, functionName, args }`).
 * @template {import('viem').Abi} [A=import('viem').Abi]
 * @typedef {object} ContractDescriptor
 * @property {string} name the contract's name in the record, e.g. "CarbonRegistry"
 * @property {`0x${string}`} address checksummed
 * @property {A} abi the record's ABI, typed as the client's sources (src/abis.js) have it
 * @property {bigint} deployBlock the block of its deploy transaction: where event queries start
 */

/**
 * The recorded contracts by name, each typed with its ABI (src/abis.js, generated `as const`).
 * @typedef {{ [K in keyof import('./abis.js') as K extends `${infer Name}Abi` ? Name : never]:
 *   ContractDescriptor<import('./abis.js')[K]> }} TonneContracts
 */

/**
 * @typedef {object} Deployment
 * @property {number} chainId
 * @property {any} record the record as read
 * @property {Partial<TonneContracts>} contracts by name (the optional modules may be absent)
 */

/** A record that is malformed, or of another chain than the client's. */
export class DeploymentError extends Error {
  name = 'DeploymentError'
}

/**
 * Checks a parsed record and gives its contract descriptors.
 * @param {any} record the parsed JSON of `<chainId>.json`
 * @param {{ chainId?: number, source?: string }} [options] `chainId`: the chain it must be of; `source`: for messages
 * @returns {Deployment}
 */
export function deploymentFromRecord(record, { chainId, source = 'deployment record' } = {}) {
  if (record?.schema !== SCHEMA) {
    throw new DeploymentError(`${source}: schema ${JSON.stringify(record?.schema)}; expected ${SCHEMA}`)
  }
  if (!Number.isInteger(record.chainId)) throw new DeploymentError(`${source}: chainId: not an integer`)
  if (chainId !== undefined && record.chainId !== Number(chainId)) {
    throw new DeploymentError(
      `${source} is of chain ${record.chainId}, but the client is on chain ${chainId}: load deployments/${chainId}.json`,
    )
  }
  /** @type {Record<string, ContractDescriptor>} */
  const contracts = {}
  for (const [name, entry] of Object.entries(record.contracts ?? {})) {
    if (!Array.isArray(entry.abi)) throw new DeploymentError(`${source}: contracts.${name}.abi: not a list`)
    contracts[name] = {
      name,
      address: getAddress(entry.address),
      abi: entry.abi,
      deployBlock: BigInt(entry.blockNumber ?? 0),
    }
  }
  return { chainId: record.chainId, record, contracts: /** @type {Partial<TonneContracts>} */ (contracts) }
}

/**
 * Reads `<dir>/<chainId>.json` (Node only; a browser fetches the JSON and calls `deploymentFromRecord`).
 * @param {string} path the record's file
 * @param {{ chainId?: number }} [options]
 * @returns {Promise<Deployment>}
 */
export async function readDeployment(path, { chainId } = {}) {
  const { readFile } = await import('node:fs/promises')
  let record
  try {
    record = JSON.parse(await readFile(path, 'utf8'))
  } catch (error) {
    throw new DeploymentError(`${path}: ${/** @type {Error} */ (error).message}`)
  }
  return deploymentFromRecord(record, { chainId, source: path })
}

/**
 * The record, checked against the chain a viem client is connected to.
 * @param {any} record
 * @param {{ request: Function }} client any viem client (or EIP-1193 provider)
 * @returns {Promise<Deployment>}
 */
export async function deploymentForClient(record, client) {
  const chainId = await client.request({ method: 'eth_chainId' })
  return deploymentFromRecord(record, { chainId: Number(chainId) })
}

/**
 * One contract of a deployment, or an error naming those it has.
 * @template {keyof TonneContracts} N
 * @param {Deployment} deployment
 * @param {N} name
 * @returns {TonneContracts[N]}
 */
export function contractOf(deployment, name) {
  const found = deployment.contracts[name]
  if (!found) {
    const names = Object.keys(deployment.contracts).join(', ')
    throw new DeploymentError(`the deployment of chain ${deployment.chainId} has no ${name} (it has ${names})`)
  }
  return found
}
