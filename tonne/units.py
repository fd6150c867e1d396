"""Credit units: 1 credit = 1 tonne CO2e = 1000 token units (one unit is one kilogram).

Conversions are exact. Tonnes come in as ``Decimal``, ``int`` or a decimal string, never as ``float``
(a float such as 0.1 cannot be represented exactly and would silently round).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

UNITS_PER_TONNE = 1000


class UnitError(ValueError):
    """A quantity that cannot be expressed in whole kilograms."""


# The one grammar of every amount typed by a user (tonnes, money, prices), the one ``issue`` enforces: ASCII digits,
# optionally one point and more ASCII digits. No sign, exponent, separators (``,`` ``_``), spaces or other scripts'
# digits: "12,50" is refused, never read as 1250.
PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)
MAX_DIGITS = 40  # more than any uint256 amount we handle needs in its whole part; refuses absurd inputs early


def parse_amount(
    text: str, decimals: int, unit: str = "", *, allow_zero: bool = False, maximum: int | None = None
) -> int:
    """A plain decimal (``PLAIN_DECIMAL``) with at most ``decimals`` decimals -> integer base units.

    Refuses (``UnitError``, a message the caller prefixes with the field or option name) anything else: ``12,50``,
    ``1_000``, ``1e3``, ``-1``, `` 12``, ``""``, Arabic-Indic digits, zero (unless ``allow_zero``), and more than
    ``maximum`` base units when given."""
    if not isinstance(text, str):
        raise UnitError(f"expected text, not {text!r}")
    example = "e.g. 12.5"
    if not text:
        raise UnitError(f"empty: expected a plain decimal number ({example})")
    if not PLAIN_DECIMAL.fullmatch(text):
        raise UnitError(
            f"{text!r} is not a plain decimal number ({example}): digits 0-9 and at most one '.', "
            "no spaces, signs, exponents or thousands separators"
        )
    if len(text.split(".")[0]) > MAX_DIGITS:
        raise UnitError(f"{text[:12]}... has {len(text.split('.')[0])} digits before the point; far too large")
    value = Decimal(text)
    scaled = value * (10**decimals)
    if scaled != scaled.to_integral_value():
        raise UnitError(f"{text} has more than {decimals} decimals")
    units = int(scaled)
    if units == 0 and not allow_zero:
        raise UnitError(f"{text}: must be above zero")
    if maximum is not None and units > maximum:
        raise UnitError(f"{text}{' ' + unit if unit else ''} is too large")
    return units


def parse_tonnes_amount(text: str, *, allow_zero: bool = False) -> int:
    """A user-typed number of tonnes (``parse_amount`` grammar, at most 3 decimals) -> units (kg)."""
    return parse_amount(text, 3, "t", allow_zero=allow_zero)


def tonnes_to_units(tonnes: Decimal | int | str) -> int:
    """Convert tonnes (up to three decimals) to token units; refuse anything finer than a kilogram."""
    if isinstance(tonnes, float):
        raise UnitError(f"tonnes must be Decimal, int or str, not float ({tonnes!r})")
    if isinstance(tonnes, bool):
        raise UnitError(f"tonnes must be a number, not {tonnes!r}")
    try:
        value = Decimal(str(tonnes).strip()) if isinstance(tonnes, str) else Decimal(tonnes)
    except InvalidOperation as exc:
        raise UnitError(f"not a number of tonnes: {tonnes!r}") from exc
    if not value.is_finite():
        raise UnitError(f"not a finite number of tonnes: {tonnes!r}")
    units = value * UNITS_PER_TONNE
    if units != units.to_integral_value():
        raise UnitError(f"{tonnes} t is finer than 1 kg (at most 3 decimals)")
    return int(units)


def units_to_tonnes(units: int) -> Decimal:
    """Convert token units to tonnes, exactly."""
    if isinstance(units, bool) or not isinstance(units, int):
        raise UnitError(f"units must be an int, not {units!r}")
    return Decimal(units) / UNITS_PER_TONNE


def format_tonnes(units: int) -> str:
    """Human form of an amount of units, e.g. ``1234567`` -> ``'1,234.567 t'``."""
    whole, frac = divmod(abs(units), UNITS_PER_TONNE)
    sign = "-" if units < 0 else ""
    text = f"{sign}{whole:,}"
    if frac:
        text += f".{frac:03d}".rstrip("0")
    return f"{text} t"
