"""The monitor's config file: every default with its reason in docs/supervise.toml, and every bad file refused
with its line and key."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from tonne.supervise.config import SECTIONS, Config, ConfigError, example_toml, load, parse
from tonne.supervise.rules import RULE_NAMES, load_config

DOCS = Path(__file__).resolve().parents[2] / "docs" / "supervise.toml"
A1 = "0x00000000000000000000000000000000000000a1"
A2 = "0x00000000000000000000000000000000000000a2"


def test_docs_example__is_what_example_toml_writes__and_reads_back_as_the_defaults():
    assert DOCS.read_text(encoding="utf-8") == example_toml()
    assert load(DOCS) == Config() == load(None)


def test_every_setting__has_a_reason_and_a_key_in_the_example():
    text = example_toml()
    for section, kind in SECTIONS.items():
        assert f"[{section}]" in text
        for f in fields(kind):
            assert len(f.metadata["why"]) > 40, f"{section}.{f.name}"
            assert f"\n{f.name} = " in text


def test_a_file_naming_some_keys__changes_those__keeps_the_rest():
    config = parse(
        f"""
disabled = ["concentration"]
[round-trip]
window_hours = 1.5
[price-outlier]
min_trades = 5
[identities]
"Acme Ltd" = ["{A1}", "{A2.upper().replace("0X", "0x")}"]
""",
        "s.toml",
        RULE_NAMES,
    )
    assert config.round_trip.window_hours == 1.5 and config.price_outlier.min_trades == 5
    assert config.price_outlier.ratio == Config().price_outlier.ratio
    assert config.disabled == ("concentration",)
    assert config.identity_of(A2) == "Acme Ltd" and config.party(A1) == config.party(A2) == "identity:Acme Ltd"
    assert config.party("0x00000000000000000000000000000000000000a3") != config.party(A1)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[round-trip]\nwindow_hours = -1\n", "s.toml:2: round-trip.window_hours: must not be negative"),
        (
            "\n[round-trip]\nwindow_hour = 1\n",
            "s.toml:3: round-trip.window_hour: unknown setting (known: window_hours)",
        ),
        ("[round-trips]\n", "s.toml:1: round-trips: unknown setting"),
        ("[price-outlier]\n\nratio = 'two'\n", "s.toml:3: price-outlier.ratio: must be a number, not a string 'two'"),
        ("[price-outlier]\nmin_trades = 2.5\n", "s.toml:2: price-outlier.min_trades: must be a whole number"),
        ("[price-outlier]\nratio = 1\n", "s.toml:2: price-outlier.ratio: a ratio above 1"),
        ("[concentration]\nshare = 25\n", "s.toml:2: concentration.share: a share of the whole"),
        ("[concentration]\ninclude_issued = 1\n", "s.toml:2: concentration.include_issued: must be true or false"),
        ("[near-liquidation]\nhealth = nan\n", "s.toml:2: near-liquidation.health: must be a finite number"),
        ("[near-liquidation]\nhealth = true\n", "s.toml:2: near-liquidation.health: must be a number, not a boolean"),
        ("round-trip = 3\n", "s.toml:1: round-trip: must be a table"),
        ("[round-trip\n", "s.toml:1:12: not valid TOML"),
        ("a = = 1\n", "s.toml:1:5: not valid TOML"),
        ("disabled = ['nope']\n", "s.toml:1: disabled: nope: no such rule"),
        ("[identities]\nacme = ['0x12']\n", "s.toml:2: identities.acme: '0x12' is not an account address"),
        ("[identities]\nacme = []\n", "s.toml:2: identities.acme: must be a non-empty list"),
        (
            f"[identities]\na = ['{A1}']\nb = ['{A1}']\n",
            "s.toml:3: identities.b: 0x00000000000000000000000000000000000000A1",
        ),
    ],
)
def test_a_bad_file__refused_with_its_line_and_key(text, message):
    with pytest.raises(ConfigError) as raised:
        parse(text, "s.toml", RULE_NAMES)
    assert str(raised.value).startswith(message), str(raised.value)


def test_load__a_missing_file__named(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.toml: cannot read the config file"):
        load_config(str(tmp_path / "nope.toml"))
    good = tmp_path / "good.toml"
    good.write_text("[obligation-short]\nwarning_days = 7\n", encoding="utf-8")
    assert load_config(str(good)).obligation_short.warning_days == 7.0
