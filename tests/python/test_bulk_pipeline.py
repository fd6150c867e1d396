"""The bulk pipeline without a chain: the order failures reach the tool in, and a node lost while sending."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import requests

from tonne import bulk
from tonne.chain.errors import SendFailed
from tonne.chain.send import Sent


def test_send_windowed__submit_refused_while_earlier_in_flight__failures_reach_settle_in_sending_order():
    handed: list[list[int]] = []

    def submit(item: int) -> str:
        if item == 4:
            raise SendFailed("node refused")
        return f"0x{item:02x}"

    def wait(handle: str) -> Sent:
        if handle == "0x03":
            raise SendFailed("reverted")
        return Sent(handle, 1, 1, ())

    def settle(failures):
        handed.append([item for item, _ in failures])
        return []

    bulk.send_windowed(range(1, 7), submit, wait, lambda *_: None, settle, window=3)
    assert handed == [[3, 4]]  # 4 was refused before 3's receipt failed; handed over as 3, 4


@dataclass
class _Summary:
    elapsed: float = 0.0
    dry_run: bool = False


@pytest.mark.parametrize(
    "error", [requests.exceptions.ConnectionError("Connection refused"), ConnectionResetError(104, "reset by peer")]
)
def test_run__node_lost_while_sending__one_line_naming_the_rpc_and_the_rerun(error):
    def send(plan, bar):
        raise error

    with pytest.raises(bulk.RpcLost) as info:
        bulk.run(None, send, lambda *_: _Summary(), rows=3, done=0, pending=3, unit="row", desc="x", rpc="http://n:1")
    report = info.value.report()
    assert "\n" not in report
    assert report.startswith(f"lost the connection to the RPC http://n:1 while sending ({type(error).__name__}: ")
    assert report.endswith("run the same command again to resume (rows done on-chain are skipped)")


@pytest.mark.parametrize(
    "message",
    [
        "VirtualMachineError: (-32003) Nonce '742' is too low",  # Anvil, seen when two runs of one command race
        "nonce too low: next nonce 5, tx nonce 4",  # geth
        "Invalid nonce, will not publish",  # ape, before sending
        "already known",
        "replacement transaction underpriced",
    ],
)
def test_nonce_clash__each_node_and_ape_wording__is_a_clash(message):
    assert bulk.send.nonce_clash(RuntimeError(message))


@pytest.mark.parametrize("message", ["execution reverted: NotAllowed", "insufficient funds for gas * price + value"])
def test_nonce_clash__other_refusals__are_not(message):
    assert not bulk.send.nonce_clash(RuntimeError(message))
