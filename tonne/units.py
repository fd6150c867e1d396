"""Credit units: 1 credit = 1 tonne CO2e = 1000 token units (one unit is one kilogram).

Conversions are exact. Tonnes come in as ``Decimal``, ``int`` or a decimal string, never as ``float``
(a float such as 0.1 cannot be represented exactly and would silently round).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

UNITS_PER_TONNE = 1000


class UnitError(ValueError):
    """A quantity that cannot be expressed in whole kilograms."""


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
