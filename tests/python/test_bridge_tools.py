"""Pure Python of the bridge tools' error paths: an RPC that is down, a store in a missing folder, uncompiled
contracts, and a bridge record deployed over."""

from __future__ import annotations

import json
from types import SimpleNamespace

import click
import pytest

from tonne.bridge import deploy as bridge_deploy
from tonne.bridge.cli import connect_checked, open_store


def test_connect_checked__rpc_down__one_line_error_naming_the_url():
    url = "http://127.0.0.1:9"  # the discard port: nothing listens
    with pytest.raises(click.ClickException) as info:
        connect_checked(url, "--home")
    assert f"cannot reach the --home RPC at {url}" in info.value.message and "\n" not in info.value.message


def test_open_store__missing_folder__clear_error(tmp_path):
    path = tmp_path / "no-such-folder" / "a.sqlite"
    with pytest.raises(click.ClickException) as info:
        open_store(str(path))
    assert f"--db {path}" in info.value.message and "does not exist" in info.value.message


def test_require_artifacts__not_compiled__says_to_compile(tmp_path, monkeypatch):
    monkeypatch.setattr(bridge_deploy, "ARTIFACTS", tmp_path / "__local__.json")
    bridge_deploy._artifacts.cache_clear()
    try:
        with pytest.raises(bridge_deploy.BridgeDeployError, match="ape compile"):
            bridge_deploy.require_artifacts()
    finally:
        bridge_deploy._artifacts.cache_clear()


def _w3(chain_id, code):
    return SimpleNamespace(eth=SimpleNamespace(chain_id=chain_id, get_code=lambda address: code))


def _record(path, start=7):
    address = "0x" + "11" * 20
    path.write_text(
        json.dumps(
            {
                "home": {"chainId": 1, "startBlock": start, "contracts": {"HomeBridge": {"address": address}}},
                "remote": {"chainId": 2, "contracts": {"RemoteBridge": {"address": address}}},
            }
        )
    )


def test_live_record__bridges_with_code__live_else_not(tmp_path):
    path = tmp_path / "x.json"
    assert bridge_deploy.live_record(path, _w3(1, b"\x01"), _w3(2, b"\x01")) is None  # no record
    _record(path)
    assert "HomeBridge" in bridge_deploy.live_record(path, _w3(1, b"\x01"), _w3(2, b"\x01"))
    assert bridge_deploy.live_record(path, _w3(1, b""), _w3(2, b"\x01")) is None  # chain reset
    assert bridge_deploy.live_record(path, _w3(5, b"\x01"), _w3(2, b"\x01")) is None  # other chains


def test_archive_record__kept_beside_under_its_start_block(tmp_path):
    path = tmp_path / "bridge-1-2.json"
    _record(path, start=42)
    archived = bridge_deploy.archive_record(path)
    assert archived == tmp_path / "bridge-1-2.42.json" and archived.read_text() == path.read_text()
    assert bridge_deploy.archive_record(path) == tmp_path / "bridge-1-2.42-1.json"


def test_write_record__record_option_is_a_file_path__no_folder_created(tmp_path):
    pair = SimpleNamespace(home=SimpleNamespace(chain_id=1), remote=SimpleNamespace(chain_id=2), record=lambda: {})
    path = bridge_deploy.write_record(pair, tmp_path, path=tmp_path / "x.json")
    assert path == tmp_path / "x.json" and path.is_file()


# ------------------------------------------------------------------ home rules messages


def test_rules_payload__round_trip__kind_first_and_not_a_transfer():
    from tonne.bridge.messages import LOCK, RULES, TOKEN_KEY, Rules, Transfer, account_key, kind_of, project_key

    rules = Rules(7, (TOKEN_KEY, account_key("0x" + "ab" * 20), project_key(3)), (2, 1, 1))
    payload = rules.encode()
    assert kind_of(payload) == RULES and Rules.decode(payload) == rules
    with pytest.raises(ValueError, match="rules"):
        Transfer.decode(payload)
    lock = Transfer(LOCK, 5, 10, "0x" + "11" * 20, "0x" + "22" * 20, None, rule_seq=9, token_rules=2, to_rules=1)
    assert kind_of(lock.encode()) == LOCK
    assert Transfer.decode(lock.encode()) == Transfer(
        LOCK, 5, 10, "0x" + "11" * 20, "0x" + "22" * 20, None, rule_seq=9, token_rules=2, to_rules=1
    )


def _rules_sent(payload_rules, message_id, bridge_address):
    log = {
        "address": bridge_address,
        "args": {
            "messageId": message_id,
            "seq": payload_rules.seq,
            "keys": list(payload_rules.keys),
            "flags": list(payload_rules.flags),
        },
    }
    # What the attester checks against: the source bridge's decoded logs of one transaction (bridge_receipts).
    return {"events": [{**log, "event": "RulesSent"}]}


def test_rules_refusal__payload_not_what_the_bridge_emitted__refused():
    from tonne.bridge.attest import rules_refusal
    from tonne.bridge.messages import TOKEN_KEY, Rules

    emitted = Rules(4, (TOKEN_KEY,), (0,))
    bridge = "0x" + "33" * 20
    source = SimpleNamespace(bridge=SimpleNamespace(address=bridge))
    receipt = _rules_sent(emitted, b"\x01" * 32, bridge)

    def sent(payload):
        return SimpleNamespace(message=SimpleNamespace(id=b"\x01" * 32, payload=payload), transaction_hash="0xabc")

    assert rules_refusal(source, sent(emitted.encode()), receipt) is None
    forged = Rules(4, (TOKEN_KEY,), (1,)).encode()  # "paused", where the bridge read "not paused"
    assert "no matching RulesSent" in rules_refusal(source, sent(forged), receipt)


def test_return_payload__round_trip__carries_the_returned_message_id():
    from tonne.bridge.messages import RETURN, Transfer, kind_of

    ret = Transfer(RETURN, 5, 10, "0x" + "11" * 20, "0x" + "22" * 20, returned=b"\x07" * 32)
    assert kind_of(ret.encode()) == RETURN and Transfer.decode(ret.encode()) == ret


def test_transfer_refusal__return_without_matching_transfer_returned__refused():
    from tonne.bridge.attest import transfer_refusal
    from tonne.bridge.messages import RETURN, Transfer

    bridge, a, b = "0x" + "33" * 20, "0x" + "11" * 20, "0x" + "22" * 20
    log = {
        "address": bridge,
        "args": {
            "messageId": b"\x01" * 32,
            "returnedMessageId": b"\x07" * 32,
            "id": 5,
            "amount": 10,
            "from": a,
            "to": b,
        },
    }
    receipt = {"events": [{**log, "event": "TransferReturned"}]}
    source = SimpleNamespace(bridge=SimpleNamespace(address=bridge))

    def check(transfer):
        sent = SimpleNamespace(
            message=SimpleNamespace(id=b"\x01" * 32, payload=transfer.encode()), transaction_hash="0xabc"
        )
        return transfer_refusal(source, sent, receipt, transfer, "TransferReturned")

    assert check(Transfer(RETURN, 5, 10, a, b, returned=b"\x07" * 32)) is None
    # Another message's return, or more units, or another beneficiary: the bridge did not emit that.
    assert "no matching TransferReturned" in check(Transfer(RETURN, 5, 10, a, b, returned=b"\x08" * 32))
    assert "no matching TransferReturned" in check(Transfer(RETURN, 5, 11, a, b, returned=b"\x07" * 32))
    assert "no matching TransferReturned" in check(Transfer(RETURN, 5, 10, a, a, returned=b"\x07" * 32))
