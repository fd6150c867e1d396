"""What the bridge's scripts share: connecting to both chains, finding the bridge record, loading keys.

The bridge spans two chains while an ape network option names one, so the bridge scripts are plain click
commands run by `ape run`, with `--home` and `--remote` RPC URLs (or TONNE_HOME_RPC / TONNE_REMOTE_RPC).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import click
from eth_account import Account
from web3 import Web3
from web3.middleware import SignAndSendRawMiddlewareBuilder

from tonne.bridge.attest import ape_signer, key_signer
from tonne.bridge.deploy import BridgeDeployError, BridgePair, load_pair, record_path
from tonne.bridge.store import Store
from tonne.bridge.watch import connect
from tonne.core.deployments import deployments_dir


def chain_options(func):
    func = click.option("--remote", envvar="TONNE_REMOTE_RPC", required=True, help="RPC URL of the remote chain.")(func)
    func = click.option("--home", envvar="TONNE_HOME_RPC", required=True, help="RPC URL of the home chain.")(func)
    return click.option(
        "--record",
        type=click.Path(dir_okay=False),
        default=None,
        help="Bridge record (default: <deployments>/bridge-<home>-<remote>.json).",
    )(func)


def db_option(func):
    """``--db``: the attestation store the validators and the relayer share (passed as ``db``)."""
    store = click.Path(dir_okay=False)
    return click.option("--db", type=store, required=True, help="The shared attestation store.")(func)


def key_file_option(who: str):
    """``--key-file``: the private key (hex) file of ``who`` (the validator, the relayer, the admin)."""
    key_file = click.Path(exists=True, dir_okay=False)
    return click.option("--key-file", type=key_file, help=f"{who} private key (hex) file.")


def sender_options(who: str):
    """``--sender`` (an account both nodes hold unlocked) and ``--key-file``, for ``sending_account``."""

    def decorate(func):
        func = key_file_option(who)(func)
        return click.option("--sender", help=f"{who} account, unlocked on both nodes.")(func)

    return decorate


def connect_checked(url: str, option: str) -> Web3:
    """A web3 connection to ``url`` that answers (its chain id is read), or a one-line error naming the URL."""
    w3 = connect(url)
    try:
        w3.eth.chain_id  # noqa: B018 - the first request: fails here, not mid-run, when the node is down
    except Exception as exc:  # noqa: BLE001 - requests' ConnectionError, timeouts, a non-RPC answer
        reason = type(exc).__name__
        raise click.ClickException(f"cannot reach the {option} RPC at {url} ({reason}); is the node running?") from exc
    return w3


def connect_both(home: str, remote: str) -> tuple[Web3, Web3]:
    return connect_checked(home, "--home"), connect_checked(remote, "--remote")


def open_store(path: str) -> Store:
    """The attestation store at ``path``, or a one-line error (a missing folder, an unwritable or non-SQLite file)."""
    try:
        return Store(path)
    except sqlite3.Error as exc:
        where = Path(path).parent
        hint = f"; the folder {where} does not exist" if not where.exists() else ""
        raise click.ClickException(f"--db {path}: cannot open the attestation store ({exc}){hint}") from exc


def connect_pair(home: str, remote: str, record: str | None) -> BridgePair:
    home_w3, remote_w3 = connect_both(home, remote)
    path = Path(record) if record else record_path(deployments_dir(), home_w3.eth.chain_id, remote_w3.eth.chain_id)
    if not path.exists():
        raise click.ClickException(f"no bridge record at {path}; run `ape run bridge_deploy` first")
    try:
        return load_pair(json.loads(path.read_text()), home_w3, remote_w3)
    except (BridgeDeployError, KeyError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{path}: {exc}") from exc


def read_key(path: str) -> bytes:
    """A private key from a file holding its hex (with or without 0x)."""
    try:
        text = Path(path).read_text(encoding="utf-8").strip().removeprefix("0x")
        key = bytes.fromhex(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise click.ClickException(f"{path}: not a hex private key") from exc
    if len(key) != 32:
        raise click.ClickException(f"{path}: a private key is 32 bytes, found {len(key)}")
    return key


def sending_account(w3s: list[Web3], sender: str | None, key_file: str | None) -> str:
    """The address transactions come from: a key file's (signed locally on every chain), or ``sender``, an
    account the nodes hold unlocked (Anvil's dev accounts)."""
    if key_file:
        account: Any = Account.from_key(read_key(key_file))
        for w3 in w3s:
            w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(account), layer=0)
        return account.address
    if not sender:
        raise click.ClickException("give --key-file, or --sender with an account the node holds unlocked")
    if not Web3.is_address(sender.strip()) or not sender.strip().isascii():
        raise click.ClickException(f"--sender: {sender!r} is not an account address (0x and 40 hex digits)")
    return Web3.to_checksum_address(sender.strip())


def validator_signer(key_file: str | None, ape_account: str | None):
    """The attester's signer: a key file's key, or an ape account (an alias, or ``TEST::n`` for a test account);
    exactly one of them, else a one-line error."""
    if bool(key_file) == bool(ape_account):
        raise click.ClickException("give exactly one of --key-file and --ape-account")
    if key_file:
        return key_signer(read_key(key_file))
    from ape import accounts

    if "::" not in ape_account:
        return ape_signer(accounts.load(ape_account))
    index = ape_account.split("::", 1)[1]
    if not index.isascii() or not index.isdigit():
        raise click.ClickException(f"--ape-account: {ape_account!r} is not an alias or TEST::<number>")
    return ape_signer(accounts.test_accounts[int(index)])
