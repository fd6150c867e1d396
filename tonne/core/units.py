"""Credit units: 1 credit = 1 tonne CO2e = 1000 token units (one unit is one kilogram).

Conversions are exact. Tonnes come in as ``Decimal``, ``int`` or a decimal string, never as ``float``
(a float such as 0.1 cannot be represented exactly and would silently round).
"""

from __future__ import annotations

import re
from decimal import Decimal, Inexact, InvalidOperation, localcontext

UNITS_PER_TONNE = 1000


class UnitError(ValueError):
    """A quantity that cannot be expressed in whole kilograms."""


class TooManyDecimalsError(UnitError):
    """An amount with a non-zero digit finer than the base unit (``parse_amount``): refused, never rounded."""


# The one grammar of every amount typed by a user (tonnes, money, prices), the one ``issue`` enforces: ASCII digits,
# optionally one point and more ASCII digits. No sign, exponent, separators (``,`` ``_``), spaces or other scripts'
# digits: "12,50" is refused, never read as 1250.
PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)
MAX_DIGITS = 40  # digits before the point: more than any uint256 amount we handle needs; refuses absurd inputs early
MAX_FRACTION_DIGITS = 40  # digits after the point (trailing zeros included): more than any token's decimals


def _exact_units(digits: str, exponent: int, decimals: int) -> int | None:
    """``int(digits) * 10**exponent`` in base units of ``decimals``, exactly (integer arithmetic, no Decimal
    context and so no rounding at 28 digits); None when the value has a non-zero digit finer than a base unit.
    The callers bound ``len(digits)`` and ``exponent`` first."""
    value = int(digits)
    shift = exponent + decimals
    if shift >= 0:
        return value * 10**shift
    units, rest = divmod(value, 10**-shift)
    return None if rest else units


def parse_amount(
    text: str, decimals: int, unit: str = "", *, allow_zero: bool = False, maximum: int | None = None
) -> int:
    """A plain decimal (``PLAIN_DECIMAL``) with at most ``decimals`` decimals -> integer base units, exactly.

    Refuses (``UnitError``, a message the caller prefixes with the field or option name) anything else: ``12,50``,
    ``1_000``, ``1e3``, ``-1``, `` 12``, ``""``, Arabic-Indic digits, a non-zero digit after the ``decimals``-th
    decimal (never rounded away), more than ``MAX_DIGITS`` digits before the point or ``MAX_FRACTION_DIGITS``
    after it, zero (unless ``allow_zero``), and more than ``maximum`` base units when given."""
    if not isinstance(text, str):
        raise UnitError(f"expected text, not {text!r}")
    example = "e.g. 12.5"
    if not text:
        raise UnitError(f"empty: expected a plain decimal number ({example})")
    if not PLAIN_DECIMAL.fullmatch(text):
        raise UnitError(
            f"{text[:40]!r} is not a plain decimal number ({example}): digits 0-9 and at most one '.', "
            "no spaces, signs, exponents or thousands separators"
        )
    whole, _, fraction = text.partition(".")
    if len(whole) > MAX_DIGITS:
        raise UnitError(f"{text[:12]}... has {len(whole)} digits before the point; at most {MAX_DIGITS}")
    if len(fraction) > MAX_FRACTION_DIGITS:
        raise UnitError(
            f"{text[:12]}... has {len(fraction)} digits after the point; at most {MAX_FRACTION_DIGITS} "
            f"(and at most {decimals} decimals)"
        )
    units = _exact_units(whole + fraction, -len(fraction), decimals)
    if units is None:
        raise TooManyDecimalsError(f"{text} has more than {decimals} decimals")
    if units == 0 and not allow_zero:
        raise UnitError(f"{text}: must be above zero")
    if maximum is not None and units > maximum:
        raise UnitError(f"{text}{' ' + unit if unit else ''} is too large")
    return units


def parse_tonnes_amount(text: str, *, allow_zero: bool = False) -> int:
    """A user-typed number of tonnes (``parse_amount`` grammar, at most 3 decimals) -> units (kg)."""
    return parse_amount(text, 3, "t", allow_zero=allow_zero)


def tonnes_to_units(tonnes: Decimal | int | str) -> int:
    """Convert tonnes (up to three decimals) to token units, exactly; refuse anything finer than a kilogram.

    (A string is read as ``Decimal`` reads it, surrounding spaces dropped; user input goes through
    ``parse_tonnes_amount``, whose grammar is strict.)"""
    if isinstance(tonnes, float):
        raise UnitError(f"tonnes must be Decimal, int or str, not float ({tonnes!r})")
    if isinstance(tonnes, bool):
        raise UnitError(f"tonnes must be a number, not {tonnes!r}")
    if isinstance(tonnes, int):
        return tonnes * UNITS_PER_TONNE
    try:
        value = Decimal(str(tonnes).strip()) if isinstance(tonnes, str) else Decimal(tonnes)
    except InvalidOperation as exc:
        raise UnitError(f"not a number of tonnes: {tonnes!r}") from exc
    if not value.is_finite():
        raise UnitError(f"not a finite number of tonnes: {tonnes!r}")
    sign, digit_tuple, exponent = value.as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    exponent += len(digit_tuple) - len(digits)  # trailing zeros moved into the exponent: 3.250 is 325e-2
    if not digits:
        return 0
    if len(digits) + exponent > MAX_DIGITS:
        raise UnitError(f"{tonnes} t has more than {MAX_DIGITS} digits before the point; far too large")
    if -exponent > 3:  # the last digit is not zero: finer than a kilogram, never rounded
        raise UnitError(f"{tonnes} t is finer than 1 kg (at most 3 decimals)")
    units = _exact_units(digits, exponent, 3)
    assert units is not None
    return -units if sign else units


def units_to_tonnes(units: int) -> Decimal:
    """Convert token units to tonnes, exactly."""
    if isinstance(units, bool) or not isinstance(units, int):
        raise UnitError(f"units must be an int, not {units!r}")
    with localcontext() as context:  # enough digits for any size: the default 28 would round
        context.prec = max(28, len(str(abs(units))) + 4)
        context.traps[Inexact] = True
        return Decimal(units) / UNITS_PER_TONNE


def format_tonnes(units: int) -> str:
    """Human form of an amount of units, e.g. ``1234567`` -> ``'1,234.567 t'``."""
    whole, frac = divmod(abs(units), UNITS_PER_TONNE)
    sign = "-" if units < 0 else ""
    text = f"{sign}{whole:,}"
    if frac:
        text += f".{frac:03d}".rstrip("0")
    return f"{text} t"


def format_ether(wei: int) -> str:
    """Wei as ether, exactly, without trailing zeros: ``1_500_000_000_000_000`` -> ``'0.0015'``."""
    whole, frac = divmod(abs(wei), 10**18)
    text = f"{'-' if wei < 0 else ''}{whole:,}"
    if frac:
        text += f".{frac:018d}".rstrip("0")
    return text
