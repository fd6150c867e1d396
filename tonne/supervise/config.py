"""The monitor's thresholds and windows (``tonne.supervise.rules``), in one TOML file, each default with its reason.

A file names only what it changes; every other setting keeps its default. ``docs/supervise.toml`` lists every key
with its default and why (``example_toml()`` writes it, and a test keeps the two equal). A file is read with
``tomllib`` and checked whole before any rule runs: a syntax error is reported at its line and column, an unknown
section or key, a value of the wrong type, a negative window or a share outside 0..1 by ``file:line: key:
message``, never a traceback.

Identity groups (the ``[identities]`` table). The issue asks for trades between "accounts the compliance role linked
to one KYC identity". The chain does not record such links: the token's only per-account compliance events are
``AllowlistSet(account, allowed, by)`` and ``AccountFreezeSet(account, frozen, reason, by)``, neither of which names
an identity, and no other Tonne contract keeps one. So the links come from the compliance desk, here::

    [identities]
    "Acme Trading Ltd" = ["0xAb..01", "0xAb..02"]

Every account of a group is one party for ``self-trade``, ``round-trip`` and ``concentration`` (whose holdings are
summed per group); an account may belong to one group only.

Switching a rule off is the ``disabled`` list's work. Some accepted values stop a rule in effect, and are allowed
only because they are the far end of a range: ``concentration.share = 1`` (nothing holds more than the whole), a
huge ``concentration.min_supply_tonnes``, ``price-outlier.window_days = 0`` or a huge ``min_trades`` or ``ratio``,
``round-trip.window_hours = 0`` (only moves in one block), ``collateral-price-spike.window_hours = 0`` (only the
price in force at the pledge) or a huge ``rise``, ``obligation-short.warning_days = 0`` (critical after the
deadline only). ``near-liquidation.health`` cannot hide a liquidatable position: below 1.0 is always critical, and
a threshold below 1.0 is refused.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

import tomllib
from eth_utils import is_hex_address, to_checksum_address


class ConfigError(ValueError):
    """A config file that cannot be used; the message starts with ``file:line:``."""


def setting(default: Any, why: str) -> Any:
    """A field with its default and the reason for it (written into the example file)."""
    return field(default=default, metadata={"why": why})


@dataclass(frozen=True)
class RoundTrip:
    window_hours: float = setting(
        24.0,
        "A sells to B and B sells the same id back within a trading day: the pair ends where it started, moved no "
        "risk, and printed volume and a price, the classic wash pattern. Longer holds are ordinary repositioning.",
    )


@dataclass(frozen=True)
class PriceOutlier:
    window_days: float = setting(
        7.0,
        "The rolling median is of the id's trades (in one payment token) of the week before: credits of one batch "
        "trade rarely, and a week holds enough fills for a median without reaching into another market.",
    )
    ratio: float = setting(
        2.0,
        "A fill at more than twice, or less than half, the median is flagged: the price of one batch does not halve "
        "or double within a week of ordinary trading; a fill that far off is a mistake or someone marking the price.",
    )
    min_trades: int = setting(
        3,
        "No median below three earlier fills in the window: one or two earlier prices are not a market.",
    )


@dataclass(frozen=True)
class CollateralPriceSpike:
    rise: float = setting(
        0.25,
        "A pledge to the credit facility is flagged when the oracle price of the credit's class stands 25% or more "
        "above its lowest value of the window: more than one update may move it (the oracle's default cap is 20%), "
        "more than credit prices move in days, and enough to lift a borrow limit by a quarter.",
    )
    window_hours: float = setting(
        72.0,
        "Shortly before is three days: long enough to catch a price walked up by several capped updates, short "
        "enough that the rise and the pledge are one move.",
    )


@dataclass(frozen=True)
class ObligationShort:
    warning_days: float = setting(
        30.0,
        "An entity short of its obligation is warned from thirty days before the deadline: time to buy and "
        "surrender credits on the market; after the deadline it is critical.",
    )


@dataclass(frozen=True)
class NearLiquidation:
    health: float = setting(
        1.10,
        "Positions whose health factor (liquidation limit / debt) is below 1.10 are flagged: a 10% fall of the "
        "collateral's price makes them liquidatable. Below 1.0 they are liquidatable now: critical whatever this "
        "threshold, which must be at least 1.0 (to stop the rule, name it in `disabled`).",
    )


@dataclass(frozen=True)
class Concentration:
    share: float = setting(
        0.25,
        "One account holding more than a quarter of an id's circulating supply: the baseline of MiFID II's "
        "position limits on commodity derivatives (25% of deliverable supply).",
    )
    min_supply_tonnes: float = setting(
        100.0,
        "Ids with less than 100 t in circulation are not measured: a few small holders of a tiny batch are not a "
        "cornered market.",
    )
    include_issued: bool = setting(
        False,
        "A holding (of an account, or of an identity group's accounts together) counts what it received from "
        "others, by transfers and trades (not issuances; units back from escrow up to what it put in are its own), "
        "capped at what it holds: a developer holding the batch it was issued is the primary market, not a "
        "cornered one; buying up an id, even one's own batch back, is what this rule watches. True: count every "
        "unit held.",
    )


SECTIONS: dict[str, type] = {
    "round-trip": RoundTrip,
    "price-outlier": PriceOutlier,
    "collateral-price-spike": CollateralPriceSpike,
    "obligation-short": ObligationShort,
    "near-liquidation": NearLiquidation,
    "concentration": Concentration,
}
# Settings that are shares of a whole (0..1); every other number must only be non-negative.
SHARES = {("collateral-price-spike", "rise"), ("concentration", "share")}
ABOVE_ONE = {("price-outlier", "ratio")}
# Thresholds that cannot be below 1 (a health factor below 1.0 is liquidatable: the warning level starts there).
AT_LEAST_ONE = {("near-liquidation", "health")}


@dataclass(frozen=True)
class Config:
    """Every setting of the monitor. ``identities``: group name -> its accounts (checksummed); ``disabled``: rule
    names that do not run."""

    round_trip: RoundTrip = field(default_factory=RoundTrip)
    price_outlier: PriceOutlier = field(default_factory=PriceOutlier)
    collateral_price_spike: CollateralPriceSpike = field(default_factory=CollateralPriceSpike)
    obligation_short: ObligationShort = field(default_factory=ObligationShort)
    near_liquidation: NearLiquidation = field(default_factory=NearLiquidation)
    concentration: Concentration = field(default_factory=Concentration)
    identities: dict[str, tuple[str, ...]] = field(default_factory=dict)
    disabled: tuple[str, ...] = ()

    def identity_of(self, account: str) -> str | None:
        """The identity group of ``account``, or None."""
        return self._groups().get(account.lower())

    def _groups(self) -> dict[str, str]:
        cached = self.__dict__.get("_group_of")
        if cached is None:
            cached = {a.lower(): name for name, accounts in self.identities.items() for a in accounts}
            object.__setattr__(self, "_group_of", cached)
        return cached

    def party(self, account: str) -> str:
        """The party ``account`` trades as: its identity group, or itself."""
        group = self.identity_of(account)
        return f"identity:{group}" if group is not None else account.lower()


def _attr(section: str) -> str:
    return section.replace("-", "_")


# ------------------------------------------------------------------------------------------------ reading


def load(path: str | Path | None, rule_names: tuple[str, ...] | None = None) -> Config:
    """The config of ``path`` (None: every default). ``rule_names``: the rules ``disabled`` may name."""
    if path is None:
        return Config()
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8-sig")  # a byte order mark (Windows editors write one) is not part of the text
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse(text, str(path), rule_names)


def parse(text: str, source: str = "<config>", rule_names: tuple[str, ...] | None = None) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends "(at line L, column C)"; put the position first, as every other message has it.
        match = re.search(r"\(at line (\d+), column (\d+)\)$", str(exc))
        if match:
            what = str(exc)[: match.start()].strip()
            raise ConfigError(f"{source}:{match[1]}:{match[2]}: not valid TOML: {what}") from None
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    where = _Locator(text, source)
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "identities":
            values["identities"] = _identities(value, where)
        elif key == "disabled":
            values["disabled"] = _disabled(value, where, rule_names)
        elif key in SECTIONS:
            values[_attr(key)] = _section(key, value, where)
        else:
            known = ", ".join([*SECTIONS, "identities", "disabled"])
            raise ConfigError(f"{where.at(None, key)}: {key}: unknown setting (known: {known})")
    return Config(**values)


class _Locator:
    """Finds the line of a key in the text (tomllib keeps no positions for values)."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source

    def at(self, section: str | None, key: str | None = None) -> str:
        start = 0
        if section is not None:
            header = re.compile(r"^\s*\[\s*" + _key_pattern(section) + r"\s*\]")
            found = next((i for i, line in enumerate(self.lines) if header.match(line)), None)
            if found is None:  # a dotted key (section.key = ...) or an inline table (section = {...})
                dotted = _key_pattern(section) + (r"\s*\.\s*" + _key_pattern(key) if key is not None else "")
                for pattern in (
                    re.compile(r"^\s*" + dotted + r"\s*="),
                    re.compile(r"^\s*" + _key_pattern(section) + r"\s*[.=]"),
                ):
                    line = next((i for i, text in enumerate(self.lines) if pattern.match(text)), None)
                    if line is not None:
                        return f"{self.source}:{line + 1}"
                key = key if key is not None else section
            else:
                start = found + 1 if key is not None else found
                if key is None:
                    return f"{self.source}:{start + 1}"
        if key is not None:
            pattern = re.compile(r"^\s*(\[\s*)?" + _key_pattern(key) + r"\s*(=|\]|\.)")
            for i in range(start, len(self.lines)):
                if pattern.match(self.lines[i]):
                    return f"{self.source}:{i + 1}"
        return f"{self.source}:{start + 1}" if start else self.source


def _key_pattern(key: str) -> str:
    escaped = re.escape(key)
    return rf"(?:{escaped}|\"{escaped}\"|'{escaped}')"


def _section(name: str, value: Any, where: _Locator) -> Any:
    kind = SECTIONS[name]
    if not isinstance(value, dict):
        raise ConfigError(f"{where.at(None, name)}: {name}: must be a table ([{name}]), not {_type(value)}")
    known = {f.name: f for f in fields(kind)}
    out = {}
    for key, raw in value.items():
        attr = _attr(key)
        if attr not in known:
            raise ConfigError(f"{where.at(name, key)}: {name}.{key}: unknown setting (known: {', '.join(known)})")
        default = known[attr].default
        if default is MISSING:  # pragma: no cover - every setting has a default
            raise AssertionError(attr)
        if isinstance(default, bool):
            if not isinstance(raw, bool):
                here = f"{where.at(name, key)}: {name}.{key}"
                raise ConfigError(f"{here}: must be true or false, not {_type(raw)} {raw!r}")
            out[attr] = raw
        else:
            out[attr] = _number(name, key, raw, type(default), where)
    return kind(**out)


def _number(section: str, key: str, raw: Any, kind: type, where: _Locator) -> int | float:
    here = f"{where.at(section, key)}: {section}.{key}"
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ConfigError(f"{here}: must be a number, not {_type(raw)} {raw!r}")
    if kind is int and not isinstance(raw, int):
        raise ConfigError(f"{here}: must be a whole number, not {raw!r}")
    if raw != raw or raw in (float("inf"), float("-inf")):
        raise ConfigError(f"{here}: must be a finite number, not {raw!r}")
    if raw < 0:
        raise ConfigError(f"{here}: must not be negative ({raw!r}): a window or threshold below zero means nothing")
    if (section, key) in SHARES and not 0 < raw <= 1:
        raise ConfigError(f"{here}: a share of the whole, above 0 and at most 1 (0.25 is 25%), not {raw!r}")
    if (section, key) in ABOVE_ONE and raw <= 1:
        raise ConfigError(f"{here}: a ratio above 1 (2 flags prices above twice or below half the median), not {raw!r}")
    if (section, key) in AT_LEAST_ONE and raw < 1:
        raise ConfigError(
            f"{here}: at least 1.0, not {raw!r}: below 1.0 a position is liquidatable now and always flagged "
            "critical; a lower threshold would only hide warnings (to stop the rule, name it in `disabled`)"
        )
    return kind(raw)


def _identities(value: Any, where: _Locator) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        here = f"{where.at(None, 'identities')}: identities"
        raise ConfigError(f"{here}: must be a table ([identities]), not {_type(value)}")
    groups: dict[str, tuple[str, ...]] = {}
    seen: dict[str, str] = {}
    composed: dict[str, str] = {}  # NFC form -> the name as written
    for name, accounts in value.items():
        here = f"{where.at('identities', name)}: identities.{name}"
        if not name.strip():
            raise ConfigError(f"{here}: an identity needs a name (it is printed in every alert of its accounts)")
        twin = composed.setdefault(unicodedata.normalize("NFC", name), name)
        if twin != name:  # two spellings that print alike would be two parties
            raise ConfigError(
                f"{here}: the same name as identity {twin!r} ({where.at('identities', twin)}) in another Unicode "
                "normal form (composed and decomposed accents print alike); write it once, composed (NFC)"
            )
        if not isinstance(accounts, list) or not accounts:
            raise ConfigError(f"{here}: must be a non-empty list of account addresses, not {_type(accounts)}")
        out = []
        for account in accounts:
            if not isinstance(account, str) or not is_hex_address(account):
                raise ConfigError(f"{here}: {account!r} is not an account address (0x and 40 hex digits)")
            checksummed = to_checksum_address(account)
            if checksummed in seen:
                raise ConfigError(
                    f"{here}: {checksummed} is already in identity {seen[checksummed]!r}: an account is one party"
                )
            seen[checksummed] = name
            out.append(checksummed)
        groups[name] = tuple(out)
    return groups


def _disabled(value: Any, where: _Locator, rule_names: tuple[str, ...] | None) -> tuple[str, ...]:
    here = f"{where.at(None, 'disabled')}: disabled"
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{here}: must be a list of rule names, not {_type(value)}")
    if rule_names is not None:
        unknown = [v for v in value if v not in rule_names]
        if unknown:
            raise ConfigError(f"{here}: {', '.join(unknown)}: no such rule (rules: {', '.join(rule_names)})")
    return tuple(value)


def _type(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)


# ------------------------------------------------------------------------------------------------ the example


def example_toml() -> str:
    """Every key with its default and its reason: the text of ``docs/supervise.toml``."""
    out = [
        "# The supervision monitor's thresholds and windows (tonne/supervise/config.py writes this file).",
        "# Every key is shown with its default; a config file names only what it changes.",
        "",
        '# Rules that do not run, by name, e.g. ["concentration"].',
        "disabled = []",
    ]
    for name, kind in SECTIONS.items():
        out += ["", f"[{name}]"]
        for f in fields(kind):
            out += [f"# {line}" for line in _wrap(f.metadata["why"], 116)]
            default = str(f.default).lower() if isinstance(f.default, bool) else repr(f.default)
            out.append(f"{f.name} = {default}")
    out += [
        "",
        "# Accounts the compliance desk linked to one KYC identity: one party for self-trade, round-trip and",
        "# concentration.",
        "# The chain does not record these links (the token's AllowlistSet names no identity); they come from here.",
        "[identities]",
        '# "Acme Trading Ltd" = [',
        '#     "0x00000000000000000000000000000000000000a1",',
        '#     "0x00000000000000000000000000000000000000a2",',
        "# ]",
        "",
    ]
    return "\n".join(out)


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line] if line else lines
