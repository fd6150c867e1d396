/**
 * Credit units: 1 credit = 1 tonne CO2e = 1,000 token units (one unit is one kilogram), as in tonne/core/units.py.
 *
 * Amounts are BigInt units. Tonnes come in as a plain decimal string ("12.5") or a BigInt, never as a float: a
 * JS number such as 0.1 is not exact, so only safe integers are taken as numbers. The grammar is the one the
 * Python tools enforce: ASCII digits, at most one point; no sign, exponent ("1e3"), separators ("1,5", "1_000")
 * or spaces. Digits finer than a kilogram are refused, never rounded.
 */

export const UNITS_PER_TONNE = 1000n

const PLAIN_DECIMAL = /^[0-9]+(\.[0-9]+)?$/
const MAX_DIGITS = 40

/** A quantity that cannot be expressed in whole kilograms, or is not a plain number. */
export class UnitError extends RangeError {
  name = 'UnitError'
}

/**
 * Tonnes -> units, exactly: `"12.5"` -> `12500n`, `3n` -> `3000n`.
 * @param {string | bigint | number} tonnes a plain decimal string, a BigInt, or a safe integer
 * @param {{ allowZero?: boolean }} [options] zero is refused unless `allowZero`
 * @returns {bigint}
 */
export function tonnesToUnits(tonnes, { allowZero = true } = {}) {
  let units
  if (typeof tonnes === 'bigint') units = tonnes * UNITS_PER_TONNE
  else if (typeof tonnes === 'number') {
    if (!Number.isSafeInteger(tonnes)) {
      throw new UnitError(`tonnes: ${tonnes} is not a whole safe integer; pass a decimal string such as "12.5"`)
    }
    units = BigInt(tonnes) * UNITS_PER_TONNE
  } else if (typeof tonnes === 'string') units = parseTonnes(tonnes)
  else throw new UnitError(`tonnes must be a string, bigint or integer, not ${typeof tonnes}`)
  if (units === 0n && !allowZero) throw new UnitError(`${tonnes}: must be above zero`)
  return units
}

/**
 * A typed number of tonnes (the strict grammar, at most 3 decimals) -> units.
 * @param {string} text
 * @returns {bigint}
 */
export function parseTonnes(text) {
  if (!PLAIN_DECIMAL.test(text)) {
    throw new UnitError(
      `${JSON.stringify(text.slice(0, 40))} is not a plain decimal number (e.g. 12.5): digits 0-9 and at most one ` +
        "'.', no spaces, signs, exponents or thousands separators",
    )
  }
  const [whole, fraction = ''] = text.split('.')
  if (whole.length > MAX_DIGITS) throw new UnitError(`${text.slice(0, 12)}... has more than ${MAX_DIGITS} digits`)
  const kept = fraction.replace(/0+$/, '')
  if (kept.length > 3) throw new UnitError(`${text} t is finer than 1 kg (at most 3 decimals)`)
  return BigInt(whole) * UNITS_PER_TONNE + BigInt(kept.padEnd(3, '0'))
}

/**
 * Units -> tonnes as an exact decimal string, without trailing zeros: `12500n` -> `"12.5"`.
 * @param {bigint} units
 * @returns {string}
 */
export function unitsToTonnes(units) {
  if (typeof units !== 'bigint') throw new UnitError(`units must be a bigint, not ${typeof units}`)
  const sign = units < 0n ? '-' : ''
  const abs = units < 0n ? -units : units
  const fraction = (abs % UNITS_PER_TONNE).toString().padStart(3, '0').replace(/0+$/, '')
  return `${sign}${abs / UNITS_PER_TONNE}${fraction ? '.' + fraction : ''}`
}

/**
 * Human form: `1234567n` -> `"1,234.567 t"` (as format_tonnes).
 * @param {bigint} units
 * @returns {string}
 */
export function formatTonnes(units) {
  const [whole, fraction] = unitsToTonnes(units).split('.')
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  return `${grouped}${fraction ? '.' + fraction : ''} t`
}
