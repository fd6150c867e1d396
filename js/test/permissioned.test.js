// A permissioned deployment (holders must be on the KYC allowlist): the refusal a frontend shows most, in words.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { zeroHash } from 'viem'
import { decodeError, errorTable, explainError, tonnesToUnits } from '../src/index.js'
import { send, startChain, verifiedBatch } from '../testing/anvil.js'

let chain
before(async () => {
  chain = await startChain({ permissioned: true })
})
after(() => chain?.stop())

test('a transfer to an account off the allowlist is explained as CreditAccountNotAllowed', async () => {
  const { client, deployment, wallets, accounts } = chain
  const credit = deployment.contracts.CarbonCredit
  const table = errorTable(deployment)
  const id = await verifiedBatch(chain)
  const [admin, holder, stranger] = accounts.map((a) => a.address)
  await send(client, wallets[0], credit, 'setAllowed', [[admin, holder], true])
  await send(client, wallets[0], credit, 'issue', [id, holder, tonnesToUnits('3'), zeroHash])

  const error = await send(client, wallets[1], credit, 'safeTransferFrom', [holder, stranger, id, 1_000n, '0x'])
    .catch((e) => e)
  assert.deepEqual(decodeError(table, error)?.values, { account: stranger })
  assert.equal(explainError(table, error),
    `CreditAccountNotAllowed(account=${stranger}): the account is not on the KYC allowlist (permissioned mode)`) // prettier-ignore
  await send(client, wallets[0], credit, 'setAllowed', [[stranger], true])
  await send(client, wallets[1], credit, 'safeTransferFrom', [holder, stranger, id, 1_000n, '0x'])
  assert.equal(await client.readContract({ ...credit, functionName: 'balanceOf', args: [stranger, id] }), 1_000n)
})
