"""Every script's --help shows an example, and amounts name their unit."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

SCRIPTS = sorted(p.stem for p in (Path(__file__).parents[2] / "scripts").glob("*.py") if p.stem != "__init__")


def _help(command: click.Command, *args: str) -> str:
    result = CliRunner().invoke(command, [*args, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_help__every_command__shows_an_example(script):
    cli = _load(script)
    assert "Example" in _help(cli)
    if isinstance(cli, click.Group):
        for name in cli.commands:
            assert f"ape run {script} {name}" in _help(cli, name), name


def _load(script: str):
    import importlib.util

    path = Path(__file__).parents[2] / "scripts" / f"{script}.py"
    spec = importlib.util.spec_from_file_location(script.replace("-", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.cli


@pytest.mark.parametrize(
    ("args", "unit"), [(["borrow"], "tUSD"), (["repay"], "tUSD"), (["supply"], "tUSD"), (["withdraw"], "t CO2e")]
)
def test_pledge_help__amounts__name_their_unit(args, unit):
    assert unit in _help(_load("pledge"), *args)


@pytest.mark.parametrize(
    ("script", "option", "words"), [("bridge_deploy", "--window", "seconds"), ("attest", "--confirmations", "Blocks")]
)
def test_bridge_help__window_and_confirmations__described(script, option, words):
    text = " ".join(_help(_load(script)).split())
    assert option in text and words in text


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["transfer-admin"], "seconds"),
        (["allow"], "Accounts per transaction"),
        (["freeze"], "--reason"),
    ],
)
def test_admin_help__delays_and_sizes__name_their_unit(args, words):
    text = " ".join(_help(_load("admin"), *args).split())
    assert words in text and "Examples:" in text


def test_pledge_help__faucet__example_unit_and_where_it_works():
    text = " ".join(_help(_load("pledge"), "faucet").split())
    assert "ape run pledge faucet 100000" in text and "tUSD" in text and "TestStablecoin" in text


def test_issue_help__exit_status_of_a_run_that_raced__documented():
    assert "3 done, but another run" in " ".join(_help(_load("issue")).split())


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["index"], ["Seconds between polls", "Blocks read per eth_getLogs call", "Blocks left below the head"]),
        (["watch"], ["Seconds between polls", "Blocks read per eth_getLogs call", "docs/supervise.toml"]),
        (["reconcile"], ["Blocks read per eth_getLogs call", "Exit 2 when anything differs"]),
        (["report"], ["unix seconds or a UTC date YYYY-MM-DD", "Decimals of a payment token", "e.g. 0x5FbD..=6"]),
    ],
)
def test_supervise_help__numbers__name_their_unit(args, words):
    text = " ".join(_help(_load("supervise"), *args).split())
    for word in words:
        assert word in text, word
    assert f"ape run supervise {args[0]} " in text


def test_deploy_help__admin_delay__seconds_with_an_example_and_its_bound():
    text = " ".join(_help(_load("deploy")).split())
    assert "Seconds the two-step admin transfer must wait (e.g. 86400: a day)" in text and "281474976710655" in text
