import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatTonnes, parseTonnes, tonnesToUnits, UnitError, unitsToTonnes } from '../src/units.js'
import { batchNumberOf, decodeId, encodeId, idLabel, parseIdLabel, projectOf } from '../src/ids.js'

test('tonnes to units: exact decimals, BigInt and safe integers', () => {
  assert.equal(tonnesToUnits('12.5'), 12_500n)
  assert.equal(tonnesToUnits('0.001'), 1n)
  assert.equal(tonnesToUnits('3.250'), 3_250n)
  assert.equal(tonnesToUnits('1.2000000'), 1_200n) // trailing zeros are not finer than a kilogram
  assert.equal(tonnesToUnits(7n), 7_000n)
  assert.equal(tonnesToUnits(7), 7_000n)
  assert.equal(tonnesToUnits('123456789012345678901234567890'), 123456789012345678901234567890000n)
})

test('tonnes to units: floats, exponents, separators and sub-kilogram digits are refused', () => {
  for (const bad of ['1e3', '1,5', '1_000', ' 12', '-1', '', '.5', '5.', '١٢', '0x10', '1.0001']) {
    assert.throws(() => tonnesToUnits(bad), UnitError, bad)
  }
  assert.throws(() => tonnesToUnits(0.1), UnitError)
  assert.throws(() => tonnesToUnits(2 ** 60), UnitError) // not a safe integer: already rounded
  assert.throws(() => tonnesToUnits(null), UnitError)
  assert.throws(() => tonnesToUnits('0', { allowZero: false }), /above zero/)
  assert.throws(() => parseTonnes('1.0001'), /finer than 1 kg/)
})

test('units to tonnes and back is the identity', () => {
  for (const units of [0n, 1n, 10n, 999n, 1_000n, 1_001n, 12_500n, 10n ** 40n + 7n]) {
    assert.equal(tonnesToUnits(unitsToTonnes(units)), units)
  }
  assert.equal(unitsToTonnes(12_500n), '12.5')
  assert.equal(unitsToTonnes(-1n), '-0.001')
  assert.equal(formatTonnes(1_234_567n), '1,234.567 t')
  assert.equal(formatTonnes(1_000_000_000n), '1,000,000 t')
  assert.throws(() => unitsToTonnes(5), UnitError)
})

test('ids: projectId << 64 | batch, decoded and labelled', () => {
  const id = encodeId(3, 2)
  assert.equal(id, (3n << 64n) | 2n)
  assert.deepEqual(decodeId(id), { projectId: 3n, batchNumber: 2n })
  assert.equal(projectOf(id), 3n)
  assert.equal(batchNumberOf(id), 2n)
  assert.equal(idLabel(id), 'P3/B2')
  assert.equal(parseIdLabel('P3/B2'), id)
  const max = (1n << 64n) - 1n
  assert.equal(parseIdLabel(idLabel(encodeId(max, max))), encodeId(max, max))
  assert.throws(() => encodeId(0, 1), RangeError)
  assert.throws(() => encodeId(1, 1n << 64n), RangeError)
  assert.throws(() => parseIdLabel('P3-B2'), RangeError)
})
