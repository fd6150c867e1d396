"""The bridge's tools as a user runs them, each its own process on two Anvil chains: `bridge_deploy`, three
`attest` validators (2 of 3 needed), `relay` (killed with SIGKILL mid-batch, then started again) and
`bridge-audit`. Every message is delivered exactly once and the books balance."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_keys import keys as eth_keys
from eth_utils import keccak
from web3 import Web3

from e2e_support import ROOT, Anvil, Deployment, deploy, script_env
from tonne.bridge.attest import attest_once, key_signer
from tonne.bridge.deploy import contract_at, load_pair
from tonne.bridge.messages import interop_address
from tonne.bridge.relay import Relayer
from tonne.bridge.store import Store
from tonne.core.localchain import plain_anvil, stop_process

HOME_ID, REMOTE_ID = 7_201, 7_202
KEYS = [keccak(text=f"tonne-e2e-validator-{i}") for i in range(3)]
MESSAGES = 60


def run(script: str, *args: str, directory: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / ".venv/bin/ape"), "run", script, *args],
        cwd=ROOT,
        env=script_env(directory),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(script: str, *args: str, directory: Path, out: Path) -> subprocess.Popen:
    with out.open("w") as fh:
        return subprocess.Popen(
            [str(ROOT / ".venv/bin/ape"), "run", script, *args],
            cwd=ROOT,
            env=script_env(directory),
            stdout=fh,
            stderr=subprocess.STDOUT,
            text=True,
        )


@pytest.fixture(scope="module")
def two() -> Iterator[tuple[Anvil, Anvil]]:
    with plain_anvil(chain_id=HOME_ID) as (home_url, hp), plain_anvil(chain_id=REMOTE_ID) as (remote_url, rp):
        yield (
            Anvil(hp, home_url, Web3(Web3.HTTPProvider(home_url, request_kwargs={"timeout": 30}))),
            Anvil(rp, remote_url, Web3(Web3.HTTPProvider(remote_url, request_kwargs={"timeout": 30}))),
        )


@pytest.fixture(scope="module")
def setup(two, tmp_path_factory):
    home, remote = two
    directory = tmp_path_factory.mktemp("bridge-deployments")
    suite: Deployment = deploy(home, directory)
    admin = suite.admin
    validators = [_address(k) for k in KEYS]
    args = ["--home", home.url, "--remote", remote.url, "--sender", admin, "--threshold", "2"]
    for v in validators:
        args += ["--validator", v]
    result = run("bridge_deploy", *args, directory=directory)
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads((directory / f"bridge-{HOME_ID}-{REMOTE_ID}.json").read_text())
    pair = load_pair(record, home.w3, remote.w3)
    key_files = []
    for i, key in enumerate(KEYS):
        path = directory / f"validator{i}.key"
        path.write_text(key.hex())
        key_files.append(path)
    return suite, pair, directory, key_files


def _address(key: bytes) -> str:
    return eth_keys.PrivateKey(key).public_key.to_checksum_address()


def test_attest_relay_killed_mid_batch_audit(two, setup, tmp_path):
    home, remote = two
    suite, pair, directory, key_files = setup
    holder = home.w3.eth.accounts[6]
    relayer_account = home.w3.eth.accounts[7]
    chains = ["--home", home.url, "--remote", remote.url]
    db = tmp_path / "attestations.sqlite"

    # Credits for the holder, approved to the bridge, then 60 locks of 10 units each.
    project_id, _ = suite.project()
    token_id, _ = suite.batch(project_id, 1_000)
    suite.transact(suite.credit.functions.issue(token_id, holder, 1_000_000, b"\x00" * 32))
    credit = contract_at(home.w3, "CarbonCredit", suite.credit.address)
    home.w3.eth.wait_for_transaction_receipt(
        credit.functions.setApprovalForAll(pair.home.bridge.address, True).transact({"from": holder})
    )
    to = interop_address(REMOTE_ID, holder)
    ids = []
    for _ in range(MESSAGES):
        receipt = home.w3.eth.wait_for_transaction_receipt(
            pair.home.bridge.functions.send(token_id, 10, to).transact({"from": holder})
        )
        assert receipt["status"] == 1
        (log,) = pair.home.bridge.events.CreditsLocked().process_receipt(receipt)
        ids.append(bytes(log["args"]["messageId"]))

    attesters = [
        start("attest", *chains, "--key-file", str(k), "--db", str(db), directory=directory, out=tmp_path / f"a{i}.log")
        for i, k in enumerate(key_files)
    ]
    relay = None
    try:
        # Two messages per delivery: 30 transactions, so the kill lands between them rather than after a
        # batch of 50 that carries almost everything at once; the rerun uses the default batch. The remote
        # chain mines a block a second while the first relayer runs (it waits for each receipt): at full speed
        # it delivered all 60 before the polling below could kill it, about one run in two.
        remote.w3.provider.make_request("evm_setIntervalMining", [1])
        relay = start(
            "relay",
            *chains,
            "--db",
            str(db),
            "--sender",
            relayer_account,
            "--batch",
            "2",
            directory=directory,
            out=tmp_path / "r1.log",
        )
        gateway = pair.remote.gateway.functions
        deadline = time.monotonic() + 120
        while sum(gateway.isProcessed(i).call() for i in ids[:10]) < 5:
            assert time.monotonic() < deadline, (tmp_path / "r1.log").read_text()
            assert relay.poll() is None, (tmp_path / "r1.log").read_text()
            time.sleep(0.02)
        os.kill(relay.pid, signal.SIGKILL)  # mid-batch: no chance to record anything
        relay.wait()
        remote.w3.provider.make_request("evm_setAutomine", [True])  # back to a block per transaction
        remote.w3.provider.make_request("evm_mine", [])  # what the killed relayer left pending lands now
        done_at_kill = sum(gateway.isProcessed(i).call() for i in ids)
        assert 0 < done_at_kill < MESSAGES, f"the relayer was not killed mid-batch ({done_at_kill} delivered)"

        second = run(
            "relay", *chains, "--db", str(db), "--sender", relayer_account, "--until-idle", "2", directory=directory
        )
        assert second.returncode == 0, second.stdout + second.stderr
        assert f"home->remote: {MESSAGES}/{MESSAGES} delivered" in second.stdout
    finally:
        remote.w3.provider.make_request("evm_setAutomine", [True])  # the shared chain as the next test expects it
        for p in attesters + ([relay] if relay else []):
            stop_process(p)

    delivered = {}
    for log in pair.remote.gateway.events.MessageDelivered.get_logs(from_block=pair.remote.start_block):
        mid = bytes(log["args"]["messageId"])
        delivered[mid] = delivered.get(mid, 0) + 1
    assert [delivered.get(i) for i in ids] == [1] * MESSAGES
    assert pair.remote.token.functions.balanceOf(holder, token_id).call() == 10 * MESSAGES

    audit = run("bridge-audit", *chains, "--db", str(db), directory=directory)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "books balance for every id" in audit.stdout
    assert audit.stdout.count("delivered") >= MESSAGES


def test_sync_rules__freeze_at_home__reaches_mirror_through_attest_and_relay(two, setup, tmp_path):
    """`sync-rules` sends the holder's freeze; two validators attest it, the relayer delivers it, and the mirror
    refuses the holder's transfer. The delay from the sync's block to the mirror's rule is measured (here the
    validators run with 0 confirmations: the delay is attestation and relay only)."""
    home, remote = two
    suite, pair, directory, key_files = setup
    holder, other = home.w3.eth.accounts[6], home.w3.eth.accounts[8]
    chains = ["--home", home.url, "--remote", remote.url]
    credit = contract_at(home.w3, "CarbonCredit", suite.credit.address)
    if not credit.functions.isFrozen(holder).call():
        suite.transact(credit.functions.setFrozen(holder, True, "e2e"))
    result = run("sync-rules", *chains, "--sender", suite.admin, "--account", holder, directory=directory)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sent rules message 0x" in result.stdout and "1 key(s)" in result.stdout, result.stdout
    again = run("sync-rules", *chains, "--sender", suite.admin, "--account", holder, directory=directory)
    assert again.returncode == 0 and "in sync: nothing to send" in again.stdout, again.stdout + again.stderr

    started = time.monotonic()
    store = Store(str(tmp_path / "rules.sqlite"))
    for key in KEYS[:2]:
        attest_once(pair, key_signer(key), store)
    Relayer(pair, store, home.w3.eth.accounts[7], log=lambda _: None).run(once=True)
    delay = time.monotonic() - started
    mirror = pair.remote.token.functions
    assert mirror.isFrozen(holder).call(), "the freeze did not reach the mirror"
    print(f"rules delay (attest x2 + relay, 0 confirmations): {delay:.2f} s")
    assert delay < 60
    minted = pair.remote.bridge.events.CreditsMinted.get_logs(from_block=pair.remote.start_block)
    held = [log["args"]["id"] for log in minted if mirror.balanceOf(holder, log["args"]["id"]).call()]
    if held:  # the first test of this file bridged credits to the holder: they cannot move now
        call = pair.remote.token.functions.safeTransferFrom(holder, other, held[0], 1, b"")
        selector = keccak(text="MirrorAccountFrozen(address)")[:4].hex()
        with pytest.raises(Exception, match=selector):  # MirrorAccountFrozen(holder), as raw revert data
            call.call({"from": holder})
    # The audit lists the rules message beside the transfers and still balances.
    audit = run("bridge-audit", *chains, directory=directory)
    assert audit.returncode == 0 and "books balance for every id" in audit.stdout, audit.stdout + audit.stderr


def test_bridge_audit__record_of_other_chains__names_the_field(two, setup, tmp_path):
    home, remote = two
    _, pair, directory, _ = setup
    wrong = tmp_path / "wrong.json"
    record = json.loads((directory / f"bridge-{HOME_ID}-{REMOTE_ID}.json").read_text())
    record["remote"]["chainId"] = 1
    wrong.write_text(json.dumps(record))
    result = run(
        "bridge-audit", "--home", home.url, "--remote", remote.url, "--record", str(wrong), directory=directory
    )
    assert result.returncode != 0
    assert "record field remote.chainId is 1, but that RPC serves chain 7202" in result.stdout + result.stderr


def test_bridge_audit__rpc_down__one_line_error_naming_the_url(two, setup):
    home, _ = two
    _, _, directory, _ = setup
    down = "http://127.0.0.1:9"
    result = run("bridge-audit", "--home", home.url, "--remote", down, directory=directory)
    assert result.returncode != 0 and f"cannot reach the --remote RPC at {down}" in result.stderr
    assert "Traceback" not in result.stderr


def test_bridge_deploy__again_over_a_live_record__refused_and_force_archives(two, setup, tmp_path):
    # Last in the file: the forced run replaces the record the tests above use.
    home, remote = two
    suite, pair, directory, _ = setup
    path = directory / f"bridge-{HOME_ID}-{REMOTE_ID}.json"
    before = path.read_text()
    args = ["--home", home.url, "--remote", remote.url, "--sender", suite.admin, "--threshold", "1"]
    args += ["--validator", suite.admin]
    refused = run("bridge_deploy", *args, directory=directory)
    assert refused.returncode != 0 and "records a live bridge" in refused.stderr and "--force" in refused.stderr
    assert path.read_text() == before
    forced = run("bridge_deploy", *args, "--force", directory=directory)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    archived = directory / f"bridge-{HOME_ID}-{REMOTE_ID}.{pair.home.start_block}.json"
    assert archived.read_text() == before and path.read_text() != before
    # --record names a file: written there, no folder of that name.
    target = tmp_path / "x.json"
    ok = run("bridge_deploy", *args, "--record", str(target), directory=directory)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert target.is_file() and json.loads(target.read_text())["home"]["chainId"] == HOME_ID


def test_relay__gas_per_message_beyond_a_block__refused_at_start_naming_the_option(two, setup, tmp_path):
    # Both Anvils run 30M-gas blocks: a 40M share per message could never be delivered, so the relayer refuses to
    # start rather than retry forever (hostile-input pass, H-05); the option itself only bounds absurd values.
    home, remote = two
    _, _, directory, _ = setup
    relayer_account = home.w3.eth.accounts[7]
    chains = ["--home", home.url, "--remote", remote.url]
    db = tmp_path / "attestations.sqlite"
    args = ["relay", *chains, "--db", str(db), "--sender", relayer_account, "--once"]
    refused = run(*args, "--gas-per-message", "40000000", directory=directory)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "--gas-per-message" in refused.stderr and "block gas limit of 30,000,000" in refused.stderr
    assert "Traceback" not in refused.stderr
    accepted = run(*args, "--gas-per-message", "400000", directory=directory)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
