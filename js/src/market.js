/**
 * The CreditExchange's orders (tonne/market/orders.py is the reference): the EIP-712 type field for field as
 * `ICreditExchange.Order`, the domain ("Tonne CreditExchange", "1", the chain, the exchange), the digest (the
 * contract's `hashOrder`, the `orderHash` of its events) and the maker's signature, checked as the exchange checks
 * it (OpenZeppelin's `tryRecover`: 65 bytes, v 27 or 28, s in the lower half, recovering the maker).
 *
 * Amounts are in token units (1,000 per tonne); `pricePerUnit` is in the payment token's smallest units per unit,
 * so a fill of `units` costs `units * pricePerUnit` exactly.
 */

import { getAddress, hashTypedData, recoverAddress, zeroAddress, zeroHash } from 'viem'
import { contractOf } from './deployment.js'

export const DOMAIN_NAME = 'Tonne CreditExchange'
export const DOMAIN_VERSION = '1'
export const SELL = 0
export const BUY = 1
const SECP256K1_HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n

/** The EIP-712 type: the order of the fields is the hash's. */
export const ORDER_TYPE = /** @type {const} */ ([
  { name: 'maker', type: 'address' },
  { name: 'side', type: 'uint8' },
  { name: 'tokenId', type: 'uint256' },
  { name: 'projectId', type: 'uint64' },
  { name: 'standardHash', type: 'bytes32' },
  { name: 'vintageFrom', type: 'uint16' },
  { name: 'vintageTo', type: 'uint16' },
  { name: 'country', type: 'bytes2' },
  { name: 'amount', type: 'uint256' },
  { name: 'pricePerUnit', type: 'uint256' },
  { name: 'paymentToken', type: 'address' },
  { name: 'minFill', type: 'uint256' },
  { name: 'listedAt', type: 'uint64' },
  { name: 'expiry', type: 'uint64' },
  { name: 'taker', type: 'address' },
  { name: 'nonce', type: 'uint256' },
  { name: 'counter', type: 'uint256' },
])

/**
 * @typedef {object} Order the contract's struct
 * @property {`0x${string}`} maker
 * @property {number} side SELL (0) or BUY (1)
 * @property {bigint} tokenId
 * @property {bigint} projectId
 * @property {`0x${string}`} standardHash
 * @property {number} vintageFrom
 * @property {number} vintageTo
 * @property {`0x${string}`} country bytes2
 * @property {bigint} amount
 * @property {bigint} pricePerUnit
 * @property {`0x${string}`} paymentToken
 * @property {bigint} minFill
 * @property {bigint} listedAt
 * @property {bigint} expiry
 * @property {`0x${string}`} taker
 * @property {bigint} nonce
 * @property {bigint} counter the maker's `counterOf` on the exchange
 */

/**
 * An order with the unset fields zero (no criteria, no taker, no minimum, listed at once), checked as
 * orders.py checks it.
 * @param {Partial<Order> & Pick<Order, 'maker' | 'side' | 'amount' | 'pricePerUnit' | 'paymentToken' | 'expiry'>} fields
 * @returns {Order}
 */
export function makeOrder(fields) {
  const order = {
    tokenId: 0n, projectId: 0n, standardHash: zeroHash, vintageFrom: 0, vintageTo: 0, country: '0x0000',
    minFill: 0n, listedAt: 0n, taker: zeroAddress, nonce: 0n, counter: 0n, ...fields,
  } // prettier-ignore
  if (order.side !== SELL && order.side !== BUY) throw new RangeError(`side: ${order.side}; expected 0 (sell) or 1 (buy)`)
  const criteria = order.projectId || order.standardHash !== zeroHash || order.vintageFrom || order.vintageTo ||
    order.country !== '0x0000' // prettier-ignore
  if (order.side === SELL && criteria) {
    throw new RangeError('a sell order offers one tokenId: project, standard, vintage and country must be unset')
  }
  if (order.tokenId && criteria) throw new RangeError('a buy order for one id sets no criterion (the exchange refuses it)')
  for (const name of ['maker', 'paymentToken', 'taker']) order[name] = getAddress(order[name])
  return /** @type {Order} */ (Object.fromEntries(ORDER_TYPE.map(({ name }) => [name, order[name]])))
}

/**
 * The exchange's EIP-712 domain on `deployment`'s chain.
 * @param {import('./deployment.js').Deployment} deployment
 */
export function exchangeDomain(deployment) {
  return {
    name: DOMAIN_NAME,
    version: DOMAIN_VERSION,
    chainId: deployment.chainId,
    verifyingContract: contractOf(deployment, 'CreditExchange').address,
  }
}

/**
 * The typed data a wallet signs (`eth_signTypedData_v4`).
 * @param {import('./deployment.js').Deployment} deployment
 * @param {Order} order
 */
export function orderTypedData(deployment, order) {
  const primaryType = /** @type {const} */ ('Order')
  return { domain: exchangeDomain(deployment), types: { Order: ORDER_TYPE }, primaryType, message: order }
}

/**
 * The order's EIP-712 digest: the contract's `hashOrder(order)`.
 * @param {import('./deployment.js').Deployment} deployment
 * @param {Order} order
 * @returns {`0x${string}`}
 */
export function hashOrder(deployment, order) {
  return hashTypedData(orderTypedData(deployment, order))
}

/**
 * The maker's 65-byte signature, by a viem account (`privateKeyToAccount`) or a wallet client (its account signs,
 * e.g. through MetaMask). The signer must be the maker.
 * @param {import('./deployment.js').Deployment} deployment
 * @param {Order} order
 * @param {{ signTypedData: Function, address?: string, account?: { address: string } }} signer
 * @returns {Promise<`0x${string}`>}
 */
export async function signOrder(deployment, order, signer) {
  const address = signer.address ?? signer.account?.address
  if (address && getAddress(address) !== order.maker) {
    throw new Error(`the signer ${address} is not the order's maker ${order.maker}`)
  }
  const typed = orderTypedData(deployment, order)
  return signer.account ? signer.signTypedData({ account: signer.account, ...typed }) : signer.signTypedData(typed)
}

/**
 * The EOA that signed the order under the exchange's ECDSA rules, or `null` when the signature breaks them
 * (length, v, high s, zero r or s) or recovers nothing. A contract wallet's (EIP-1271) signature is not checked here.
 * @param {import('./deployment.js').Deployment} deployment
 * @param {Order} order
 * @param {`0x${string}`} signature
 * @returns {Promise<`0x${string}` | null>}
 */
export async function recoverOrderSigner(deployment, order, signature) {
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) return null
  const r = BigInt(signature.slice(0, 66))
  const s = BigInt('0x' + signature.slice(66, 130))
  const v = parseInt(signature.slice(130, 132), 16)
  if ((v !== 27 && v !== 28) || s > SECP256K1_HALF_N || r === 0n || s === 0n) return null
  try {
    return await recoverAddress({ hash: hashOrder(deployment, order), signature })
  } catch {
    return null
  }
}

/**
 * Whether `signature` is the maker's, as the exchange checks an EOA's.
 * @param {import('./deployment.js').Deployment} deployment
 * @param {Order} order
 * @param {`0x${string}`} signature
 * @returns {Promise<boolean>}
 */
export async function verifyOrder(deployment, order, signature) {
  return (await recoverOrderSigner(deployment, order, signature)) === order.maker
}

/** ICreditExchange.Limit, by its uint8: why `fillable` gives fewer units than remain. */
export const LIMITS = [
  'None', 'NotYetListed', 'Expired', 'Cancelled', 'Filled', 'StaleCounter', 'BadSignature', 'InvalidOrder',
  'CriteriaNotMet', 'Paused', 'ProjectRestricted', 'MakerFrozen', 'MakerNotAllowed', 'MakerBalanceShort',
  'MakerApprovalShort', 'ExchangeFrozen', 'ExchangeNotAllowed',
] // prettier-ignore
