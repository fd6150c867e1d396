"""Naming credits and price classes on the command line and in price files."""

from __future__ import annotations

import re
import unicodedata

from tonne.core.ids import encode_id

CLASS_FLAG = 1 << 255
# ASCII digits only (``re.ASCII``): ``\d`` alone also matches Arabic-Indic or fullwidth digits, which ``int()`` reads.
_BATCH = re.compile(r"^P(\d+)/B(\d+)$", re.IGNORECASE | re.ASCII)
_VINTAGE = re.compile(r"^vintage:(\d+):(\d{4})$", re.IGNORECASE | re.ASCII)
_ID = re.compile(r"[0-9]+")


def vintage_class(project_id: int, year: int) -> int:
    """The project/vintage price class (CreditClasses.vintageClass)."""
    if not (0 < project_id < 2**64 and 0 < year < 2**16):
        raise ValueError(f"project {project_id} / vintage {year} out of range")
    return CLASS_FLAG | (project_id << 64) | year


def parse_token_id(text: str) -> int:
    """A credit id: a number, or ``P<project>/B<batch>``."""
    text = text.strip()
    match = _BATCH.match(text)
    if match:
        return encode_id(int(match[1]), int(match[2]))
    if _ID.fullmatch(text):
        if len(text) > 78 or int(text) >= 2**256:  # 2^256 has 78 digits
            raise ValueError(f"credit id {text[:20]}{'...' * (len(text) > 20)} is out of range (1..2^256-1)")
        if int(text) > 0:
            return int(text)
    odd = next((i for i, c in enumerate(text) if c.isdigit() and not c.isascii()), None)
    if odd is not None:  # int() would read it: refused, as the amounts are
        char = text[odd]
        what = f"{unicodedata.name(char, 'a digit')} (U+{ord(char):04X})"
        raise ValueError(f"{text!r}: character {odd + 1} is {what}, not one of the digits 0-9; retype it")
    raise ValueError(f"not a credit id: {text!r} (a number, or P<project>/B<batch>)")


def parse_class(text: str) -> int:
    """A price class: a credit id (its own class), or ``vintage:<project>:<year>``."""
    match = _VINTAGE.match(text.strip())
    if match:
        return vintage_class(int(match[1]), int(match[2]))
    return parse_token_id(text)


def describe_class(class_id: int) -> str:
    if class_id & CLASS_FLAG:
        return f"vintage:{(class_id >> 64) & (2**64 - 1)}:{class_id & 0xFFFF}"
    return f"P{class_id >> 64}/B{class_id & (2**64 - 1)}"
