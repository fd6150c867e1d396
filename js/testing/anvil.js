// A real chain for the tests: Anvil on a free port, the Tonne suite deployed on it by `ape run deploy` exactly as a
// developer runs it, and viem clients for Anvil's default accounts.
import { spawn, execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { createPublicClient, createWalletClient, http } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { foundry } from 'viem/chains'
import { readDeployment } from '../src/deployment.js'

// The checkout this package lives in: its toolchain (`make install` puts the virtualenv and Anvil there).
const ROOT = resolve(import.meta.dirname, '../..')
const ANVIL = `${ROOT}/toolchain/bin/anvil`

/** Anvil's default accounts (mnemonic "test test ... junk"): 0 deployed the suite and holds every role. */
export const KEYS = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
]

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => done(port))
    })
    server.on('error', fail)
  })
}

async function waitForRpc(url, process) {
  for (let i = 0; i < 100; i++) {
    if (process.exitCode !== null) throw new Error(`anvil exited with ${process.exitCode}`)
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      })
      if (response.ok) return
    } catch {}
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`anvil did not answer at ${url}`)
}

/**
 * Starts Anvil, deploys the suite (with the market and pledge modules), and returns clients and the record.
 * @param {{ permissioned?: boolean }} [options] `permissioned`: holders must be on the KYC allowlist
 */
export async function startChain({ permissioned = false } = {}) {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const anvil = spawn(ANVIL, ['--port', String(port), '--silent'], { stdio: 'ignore' })
  const dir = mkdtempSync(join(tmpdir(), 'tonne-js-'))
  const stop = () => {
    anvil.kill()
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await waitForRpc(url, anvil)
    const env = {
      ...process.env,
      APE_DATA_FOLDER: process.env.APE_DATA_FOLDER ?? `${ROOT}/.ape-data`,
      SOLCX_BINARY_PATH: process.env.SOLCX_BINARY_PATH ?? `${ROOT}/toolchain/solcx`,
      PATH: `${ROOT}/.venv/bin:${ROOT}/toolchain/bin:${process.env.PATH}`,
      TONNE_DEPLOYMENTS_DIR: dir,
    }
    const args = ['run', 'deploy', '--dev-roles', '--market', '--pledge', '--network', url, '--account', 'TEST::0']
    if (permissioned) args.push('--permissioned')
    await promisify(execFile)('ape', args, { cwd: ROOT, env, timeout: 300_000 })
    const deployment = await readDeployment(join(dir, '31337.json'), { chainId: 31337 })
    const transport = http(url)
    const client = createPublicClient({ chain: foundry, transport, pollingInterval: 50 })
    const accounts = KEYS.map((key) => privateKeyToAccount(key))
    const wallets = accounts.map((account) => createWalletClient({ account, chain: foundry, transport }))
    return { url, deployment, client, accounts, wallets, stop }
  } catch (error) {
    stop()
    throw error
  }
}

/** Sends a contract write from `wallet` and waits for its receipt; throws when it reverted. */
export async function send(client, wallet, contract, functionName, args) {
  const hash = await wallet.writeContract({ ...contract, functionName, args })
  const receipt = await client.waitForTransactionReceipt({ hash })
  if (receipt.status !== 'success') throw new Error(`${functionName} reverted in ${hash}`)
  return receipt
}

/** Registers an approved project with one verified batch of serials 1-1000 and returns the batch's id. */
export async function verifiedBatch({ client, deployment, wallets, accounts }) {
  const registry = deployment.contracts.CarbonRegistry
  const project = { standard: 'GS', externalId: `GS-${Date.now()}`, name: 'Cookstoves', methodology: 'TPDDTEC',
    projectType: 'cookstoves', country: '0x4b45', region: 'Nairobi', owner: accounts[0].address,
    metadataURI: 'ipfs://project', metadataHash: `0x${'22'.repeat(32)}` } // prettier-ignore
  await send(client, wallets[0], registry, 'registerProject', [project])
  const projectId = await client.readContract({ ...registry, functionName: 'projectCount' })
  await send(client, wallets[0], registry, 'setProjectStatus', [projectId, 2, 'validated'])
  await send(client, wallets[0], registry, 'setProjectIssuer', [projectId, accounts[0].address, true])
  const batch = { serialFirst: 1n, serialLast: 1000n, periodStart: 1_609_459_200, periodEnd: 1_640_995_199,
    issuanceReference: `ISS-${projectId}`, metadataURI: 'ipfs://batch' } // prettier-ignore
  await send(client, wallets[0], registry, 'addBatch', [projectId, batch, 0n])
  const id = (projectId << 64n) | 1n
  await send(client, wallets[0], registry, 'verifyBatch', [id])
  return id
}
