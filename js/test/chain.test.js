// Against a real Anvil with a real deployment (test/anvil.js): every call goes to the deployed contracts.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { decodeErrorResult, domainSeparator, stringToHex, zeroHash } from 'viem'
import {
  batchHint, certificatesFromReceipt, certificatesOf, contractOf, decodeError, deploymentForClient, encodeId,
  errorTable, errorWords, exchangeDomain, explainError, getCertificate, hashOrder, holdingsOf, makeOrder, prevBatchHint,
  projectRanges, SELL, SerialOverlapError, signOrder, tonnesToUnits, verifyOrder, LIMITS,
} from '../src/index.js' // prettier-ignore
import { send, startChain } from '../testing/anvil.js'

let chain, c, registry, credit, retirement, exchange, stablecoin, table, projectId
const PERIOD = [1_609_459_200, 1_640_995_199] // 2021

before(async () => {
  chain = await startChain()
  c = chain.client
  const d = chain.deployment
  ;[registry, credit, retirement, exchange, stablecoin] = ['CarbonRegistry', 'CarbonCredit', 'CarbonRetirement',
    'CreditExchange', 'TestStablecoin'].map((name) => contractOf(d, name)) // prettier-ignore
  table = errorTable(d)
})
after(() => chain?.stop())

const admin = () => chain.wallets[0]
const addr = (i) => chain.accounts[i].address
const retirementInput = (beneficiary, extra = {}) => ({
  beneficiary, beneficiaryName: 'Acme GmbH', reason: 'Scope 1 emissions FY2025', jurisdiction: 'FR-75',
  periodStart: PERIOD[0], periodEnd: PERIOD[1], retirementRef: zeroHash, ...extra,
}) // prettier-ignore

async function addBatch(first, last, hint) {
  const input = { serialFirst: first, serialLast: last, periodStart: PERIOD[0], periodEnd: PERIOD[1],
    issuanceReference: `ISS-${first}`, metadataURI: `ipfs://batch-${first}` } // prettier-ignore
  return send(c, admin(), registry, 'addBatch', [projectId, input, hint])
}

test('the record is refused on a chain it is not of, and accepted on its own', async () => {
  const record = chain.deployment.record
  await assert.rejects(deploymentForClient({ ...record, chainId: 11155111 }, c), /chain 11155111.*chain 31337/)
  assert.equal((await deploymentForClient(record, c)).contracts.CarbonRegistry.address, registry.address)
})

test('the addBatch hint computed from the chain is the one the registry accepts', async () => {
  const project = ['VCS', 'VCS-981', 'Mata Viva', 'VM0015', 'REDD+', stringToHex('BR', { size: 2 }), 'Para',
    addr(0), 'ipfs://project', `0x${'11'.repeat(32)}`] // prettier-ignore
  const projectInput = Object.fromEntries(['standard', 'externalId', 'name', 'methodology', 'projectType',
    'country', 'region', 'owner', 'metadataURI', 'metadataHash'].map((k, i) => [k, project[i]])) // prettier-ignore
  await send(c, admin(), registry, 'registerProject', [projectInput])
  projectId = await c.readContract({ ...registry, functionName: 'projectCount' })
  await send(c, admin(), registry, 'setProjectStatus', [projectId, 2, 'validated'])
  await send(c, admin(), registry, 'setProjectIssuer', [projectId, addr(0), true])

  // Batches added out of serial order: first, before it, after it, between the two.
  const expected = [[1001n, 2000n, 0n], [1n, 500n, 0n], [3001n, 4000n, 1n], [2001n, 3000n, 1n]]
  for (const [first, last, hint] of expected) {
    const computed = await batchHint(c, chain.deployment, projectId, first, last)
    assert.equal(computed, hint, `hint for ${first}-${last}`)
    await addBatch(first, last, computed)
  }
  // The registry's list, walked through its views, is in serial order: the hints put each batch in place.
  let number = await c.readContract({ ...registry, functionName: 'firstBatchNumber', args: [projectId] })
  const walked = []
  while (number !== 0n) {
    const batch = await c.readContract({ ...registry, functionName: 'batch', args: [encodeId(projectId, number)] })
    walked.push(batch.serialFirst)
    number = batch.nextBatchNumber
  }
  assert.deepEqual(walked, [1n, 1001n, 2001n, 3001n])
  const ranges = await projectRanges(c, chain.deployment, projectId)
  assert.deepEqual(ranges.map((r) => r.batchNumber), [2n, 1n, 4n, 3n])

  // A wrong hint reverts RegistryBadPositionHint, decoded; an overlap is refused before anything is sent.
  const wrong = await addBatch(5001n, 6000n, 1n).catch((error) => error)
  const decoded = decodeError(table, wrong)
  assert.equal(decoded?.name, 'RegistryBadPositionHint')
  assert.deepEqual(decoded.values, { projectId, prevBatchNumberHint: 1n, serialFirst: 5001n })
  assert.throws(() => prevBatchHint(ranges, 1500n, 1600n), SerialOverlapError)
  assert.throws(() => prevBatchHint(ranges, 400n, 1000n), /overlap batch 2 \(1-500\)/)
  assert.equal(await batchHint(c, chain.deployment, projectId, 5001n, 6000n), 3n)
})

let id1, id2
test('holdings from events follow issues and single and batch transfers, with the batch data', async () => {
  id1 = encodeId(projectId, 1) // serials 1001-2000
  id2 = encodeId(projectId, 2) // serials 1-500
  for (const id of [id1, id2]) await send(c, admin(), registry, 'verifyBatch', [id])
  await send(c, admin(), credit, 'issue', [id1, addr(1), tonnesToUnits('10'), zeroHash])
  await send(c, admin(), credit, 'issue', [id2, addr(1), tonnesToUnits('5'), zeroHash])
  const holder = chain.wallets[1]
  await send(c, holder, credit, 'safeTransferFrom', [addr(1), addr(2), id1, tonnesToUnits('2.5'), '0x'])
  await send(c, holder, credit, 'safeBatchTransferFrom',
    [addr(1), addr(2), [id1, id2], [tonnesToUnits('0.5'), tonnesToUnits('5')], '0x']) // prettier-ignore

  const one = await holdingsOf(c, chain.deployment, addr(1))
  assert.deepEqual(one.map((h) => [h.label, h.units]), [['P1/B1', 7_000n]]) // id2 all sent: left out
  const two = await holdingsOf(c, chain.deployment, addr(2))
  assert.deepEqual(two.map((h) => [h.label, h.units]), [['P1/B1', 3_000n], ['P1/B2', 5_000n]])
  const onChain = await c.readContract({ ...credit, functionName: 'balanceOfBatch',
    args: [[addr(2), addr(2)], [id1, id2]] }) // prettier-ignore
  assert.deepEqual(two.map((h) => h.units), onChain)
  const [h] = two
  assert.deepEqual(h.project, { standard: 'VCS', externalId: 'VCS-981', name: 'Mata Viva', country: 'BR', status: 'Approved' })
  assert.deepEqual([h.serialFirst, h.serialLast, h.periodStart, h.periodEnd, h.verified],
    [1001n, 2000n, BigInt(PERIOD[0]), BigInt(PERIOD[1]), true]) // prettier-ignore
})

test('a retire of more than held is decoded from the credit token, which CarbonRetirement\'s ABI does not know', async () => {
  const request = { ...retirement, account: chain.accounts[2], functionName: 'retire',
    args: [[id1], [tonnesToUnits('4')], retirementInput(addr(3))] } // prettier-ignore
  const error = await c.simulateContract(request).catch((e) => e)
  assert.ok(error instanceof Error)
  const decoded = decodeError(table, error)
  assert.equal(decoded?.name, 'ERC1155InsufficientBalance')
  assert.deepEqual(decoded.values, { sender: addr(2), balance: 3_000n, needed: 4_000n, tokenId: id1 })
  assert.ok(!decoded.contracts.includes('CarbonRetirement'))
  assert.throws(() => decodeErrorResult({ abi: retirement.abi, data: error.cause.raw }), /not found/)
  assert.equal(errorWords(decoded),
    `ERC1155InsufficientBalance(sender=${addr(2)}, balance=3000, needed=4000, tokenId=${id1} (P1/B1)): ` +
    'the sender holds fewer units of the token id than the amount asked for') // prettier-ignore

  // Zero units: the token's CreditZeroAmount, through a sent transaction this time.
  const zero = await send(c, chain.wallets[2], retirement, 'retire', [[id1], [0n], retirementInput(addr(3))])
    .catch((e) => e)
  assert.match(explainError(table, zero), /^CreditZeroAmount\(id=\d+ \(P1\/B1\)\): /)
  const empty = await send(c, chain.wallets[2], retirement, 'retire',
    [[id1], [1n], retirementInput(addr(3), { reason: '' })]).catch((e) => e) // prettier-ignore
  assert.equal(explainError(table, empty), 'RetirementEmptyField(field=reason): a required text field is empty; field names it.')

  // CarbonCredit.issue bubbles the registry's RegistryIssuerNotAuthorized, absent from CarbonCredit's ABI.
  await send(c, admin(), registry, 'setProjectIssuer', [projectId, addr(0), false])
  const issue = await send(c, admin(), credit, 'issue', [id1, addr(1), 1_000n, zeroHash]).catch((e) => e)
  await send(c, admin(), registry, 'setProjectIssuer', [projectId, addr(0), true])
  const refused = decodeError(table, issue)
  assert.deepEqual([refused?.name, refused?.values, refused?.contracts.includes('CarbonCredit')],
    ['RegistryIssuerNotAuthorized', { projectId, account: addr(0) }, false]) // prettier-ignore
})

test('a certificate is parsed from a real retire, by receipt, by id and by beneficiary', async () => {
  const receipt = await send(c, chain.wallets[2], retirement, 'retire',
    [[id1, id2], [tonnesToUnits('1.5'), tonnesToUnits('0.25')], retirementInput(addr(3))]) // prettier-ignore
  const [fromReceipt] = certificatesFromReceipt(chain.deployment, receipt)
  assert.equal(fromReceipt.certificateId, 1n)
  assert.deepEqual(
    { ...fromReceipt, credits: fromReceipt.credits.map((x) => [x.label, x.units]) },
    { certificateId: 1n, beneficiary: addr(3), retiringAccount: addr(2), beneficiaryName: 'Acme GmbH',
      reason: 'Scope 1 emissions FY2025', jurisdiction: 'FR-75', credits: [['P1/B1', 1_500n], ['P1/B2', 250n]],
      totalUnits: 1_750n, periodStart: BigInt(PERIOD[0]), periodEnd: BigInt(PERIOD[1]), purpose: 'Voluntary',
      retirementRef: zeroHash, blockNumber: receipt.blockNumber, transactionHash: receipt.transactionHash },
  ) // prettier-ignore
  const byId = await getCertificate(c, chain.deployment, 1n)
  const block = await c.getBlock({ blockNumber: receipt.blockNumber })
  assert.deepEqual(byId, { ...fromReceipt, timestamp: block.timestamp })
  assert.deepEqual(await certificatesOf(c, chain.deployment, addr(3)), [fromReceipt])
  assert.deepEqual(await certificatesOf(c, chain.deployment, addr(2)), [])
  const unknown = await getCertificate(c, chain.deployment, 99n).catch((e) => e)
  assert.equal(decodeError(table, unknown)?.name, 'CertificateUnknown')
  const holdings = await holdingsOf(c, chain.deployment, addr(2))
  assert.deepEqual(holdings.map((h) => h.units), [1_500n, 4_750n]) // the burn left the holder's events too
})

test('an order signed in JS hashes as the exchange hashes it and is filled by the real exchange', async () => {
  const maker = chain.accounts[2]
  const taker = chain.wallets[3]
  const now = (await c.getBlock()).timestamp
  const counter = await c.readContract({ ...exchange, functionName: 'counterOf', args: [maker.address] })
  const order = makeOrder({ maker: maker.address, side: SELL, tokenId: id2, amount: tonnesToUnits('2'),
    pricePerUnit: 10n ** 15n, paymentToken: stablecoin.address, expiry: now + 3600n, counter }) // prettier-ignore
  const signature = await signOrder(chain.deployment, order, maker)
  const hash = hashOrder(chain.deployment, order)
  assert.equal(hash, await c.readContract({ ...exchange, functionName: 'hashOrder', args: [order] }))
  assert.equal(domainSeparator({ domain: exchangeDomain(chain.deployment) }),
    await c.readContract({ ...exchange, functionName: 'domainSeparator' })) // prettier-ignore
  assert.equal(await verifyOrder(chain.deployment, order, signature), true)
  assert.equal(await verifyOrder(chain.deployment, { ...order, amount: 1n }, signature), false)
  const walletSignature = await signOrder(chain.deployment, order, chain.wallets[2]) // through a wallet client
  assert.equal(walletSignature, signature)

  const fillable = () => c.readContract({ ...exchange, functionName: 'fillable', args: [order, signature, id2] })
  const [, approvalShort] = await fillable()
  assert.equal(LIMITS[approvalShort], 'MakerApprovalShort')
  await send(c, chain.wallets[2], credit, 'setApprovalForAll', [exchange.address, true])
  assert.deepEqual(await fillable(), [2_000n, 0]) // Limit.None
  const [, bad] = await c.readContract({ ...exchange, functionName: 'fillable',
    args: [{ ...order, pricePerUnit: 1n }, signature, id2] }) // prettier-ignore
  assert.equal(LIMITS[bad], 'BadSignature')

  const cost = 400n * order.pricePerUnit
  await send(c, chain.wallets[0], stablecoin, 'mint', [addr(3), cost])
  await send(c, taker, stablecoin, 'approve', [exchange.address, cost])
  await send(c, taker, exchange, 'fill', [order, signature, 400n, id2])
  assert.equal(await c.readContract({ ...exchange, functionName: 'filledOf', args: [hash] }), 400n)
  assert.equal(await c.readContract({ ...credit, functionName: 'balanceOf', args: [addr(3), id2] }), 400n)
  assert.equal(await c.readContract({ ...stablecoin, functionName: 'balanceOf', args: [addr(2)] }), cost)
  // A fill is capped at what remains (1,600 units), and the payment token's own error comes back decoded.
  const again = await send(c, taker, exchange, 'fill', [order, signature, 2_000n, id2]).catch((e) => e)
  assert.equal(explainError(table, again), `ERC20InsufficientAllowance(spender=${exchange.address}, allowance=0, ` +
    `needed=${1_600n * order.pricePerUnit}): the spender is not allowed to move that much of the token`) // prettier-ignore
})
