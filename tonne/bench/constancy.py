"""Gas of the 1st, 2nd, ..., 10,000th batch registration, verification, issuance and retirement of one project.

No transaction path may loop over stored batches or certificates, so the 10,000th addBatch must cost what the 2nd
does (the 1st of a project takes the list-head branch instead of the append branch, and is reported as such), and
the 10,000th retirement what the 2nd does (the 1st writes the certificate counter and the holder's certificate
balance from zero, and is reported as such). Raw gas
also carries the calldata price, which grows by a few gas as serials and references get longer; the
*execution* gas (gas used minus the 21,000 base and the calldata price) is what must stay identical.

To run 30,000 transactions in seconds rather than minutes, they are signed locally (coincurve), sent as one
JSON-RPC batch per block with automine off, and mined in full blocks. Gas per transaction does not depend on
block packing: storage warmth (EIP-2929) is per transaction.
"""

from __future__ import annotations

from typing import Any

import requests
from eth_abi import encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector

from tonne.bench.gas import ZERO_REF, _batch, retirement_input

SAMPLE_POINTS = (1, 2, 10, 100, 1_000, 10_000)
TX_PER_BLOCK = 150
GAS_LIMIT_PER_TX = 1_000_000
BATCH_TUPLE = "(uint64,uint64,uint40,uint40,string,string)"
RETIREMENT_INPUT = "(address,string,string,string,uint40,uint40,bytes32)"
# Operations whose 1st call takes another branch than every later one (and is reported, not held to the rest).
FIRST_DIFFERS = ("add batch", "retire 1 id")
SELECTORS = {
    "addBatch": function_signature_to_4byte_selector(f"addBatch(uint64,{BATCH_TUPLE},uint64)"),
    "verifyBatch": function_signature_to_4byte_selector("verifyBatch(uint256)"),
    "issue": function_signature_to_4byte_selector("issue(uint256,address,uint256,bytes32)"),
    "retire": function_signature_to_4byte_selector(f"retire(uint256[],uint256[],{RETIREMENT_INPUT})"),
}


def calldata_gas(data: bytes) -> int:
    """EIP-2028 calldata price: 4 gas per zero byte, 16 per non-zero byte."""
    zeros = data.count(0)
    return 4 * zeros + 16 * (len(data) - zeros)


def execution_gas(gas_used: int, data: bytes) -> int:
    """Gas used minus the intrinsic cost of a plain call with ``data``."""
    return gas_used - 21_000 - calldata_gas(data)


class RawSender:
    """Signs one account's transactions with locally tracked nonces."""

    def __init__(self, w3: Any, account: Any) -> None:
        self.key = account.private_key
        self.chain_id = w3.eth.chain_id
        self.nonce = w3.eth.get_transaction_count(str(account.address), "pending")

    def sign(self, to: str, data: bytes) -> bytes:
        tx = {
            "to": to,
            "data": data,
            "gas": GAS_LIMIT_PER_TX,
            "maxFeePerGas": 100 * 10**9,
            "maxPriorityFeePerGas": 10**9,
            "nonce": self.nonce,
            "chainId": self.chain_id,
            "type": 2,
            "value": 0,
        }
        self.nonce += 1
        return bytes(Account.sign_transaction(tx, self.key).raw_transaction)


def _rpc(url: str, session: requests.Session, calls: list[tuple[str, list[Any]]]) -> list[Any]:
    payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
    answers = sorted(session.post(url, json=payload, timeout=120).json(), key=lambda a: a["id"])
    errors = [a["error"] for a in answers if "error" in a]
    if errors:
        raise RuntimeError(f"{len(errors)} of {len(calls)} RPC calls failed, first: {errors[0]}")
    return [a["result"] for a in answers]


def _send_mined(url: str, session: requests.Session, raw_txs: list[bytes]) -> list[str]:
    """Send raw transactions with automine off, one block per TX_PER_BLOCK; return their hashes."""
    _rpc(url, session, [("evm_setAutomine", [False])])
    hashes: list[str] = []
    try:
        for start in range(0, len(raw_txs), TX_PER_BLOCK):
            chunk = raw_txs[start : start + TX_PER_BLOCK]
            hashes += _rpc(url, session, [("eth_sendRawTransaction", ["0x" + raw.hex()]) for raw in chunk])
            _rpc(url, session, [("evm_mine", [])])
    finally:
        _rpc(url, session, [("evm_setAutomine", [True])])
    return hashes


def measure_constancy(
    url: str,
    w3: Any,
    registry: Any,
    credit: Any,
    project_id: int,
    roles: dict[str, Any],
    holder: Any,
    count: int = 10_000,
    retirement: Any = None,
) -> dict[str, dict[int, dict[str, int]]]:
    """Append ``count`` batches to ``project_id``, then verify each, then issue each to ``holder``, then (given the
    ``retirement`` contract) have ``holder`` retire from each, one certificate each, with fixed-width texts.

    ``roles`` maps "registrar", "verifier", "issuer" to accounts with private keys; ``holder`` has one too. Returns
    ``{operation: {n: {"gas": used, "execution": execution gas}}}`` for each sample point and the last
    operation, after checking that
    every sampled transaction succeeded and that the registry holds exactly the batches sent.
    """
    senders = {name: RawSender(w3, roles[name]) for name in ("registrar", "verifier", "issuer")}
    if retirement is not None:
        senders["holder"] = RawSender(w3, holder)
    existing = int(registry.project(project_id).batchCount)
    numbers = list(range(existing + 1, existing + count + 1))
    ids = [(project_id << 64) | n for n in numbers]
    reg, tok, to = str(registry.address), str(credit.address), str(holder.address)

    def add_data(n: int) -> bytes:
        # Fixed-width references: every batch stores strings of the same length, so a difference in gas can
        # only come from the contract (a 32-byte string would take an extra slot and hide that).
        b = _batch(n * 1_000 + 1, n * 1_000 + 1_000, f"K{n:06d}")
        batch = (
            b["serialFirst"],
            b["serialLast"],
            b["periodStart"],
            b["periodEnd"],
            b["issuanceReference"],
            b["metadataURI"],
        )
        return SELECTORS["addBatch"] + encode(["uint64", BATCH_TUPLE, "uint64"], [project_id, batch, n - 1])

    phases = {
        "add batch": ("registrar", reg, [add_data(n) for n in numbers]),
        "verify batch": ("verifier", reg, [SELECTORS["verifyBatch"] + encode(["uint256"], [i]) for i in ids]),
        "issue new id": (
            "issuer",
            tok,
            [
                SELECTORS["issue"] + encode(["uint256", "address", "uint256", "bytes32"], [i, to, 1_000, ZERO_REF])
                for i in ids
            ],
        ),
    }
    if retirement is not None:
        datas = [_retire_data(i, n) for i, n in zip(ids, numbers, strict=True)]
        phases["retire 1 id"] = ("holder", str(retirement.address), datas)
    result: dict[str, dict[int, dict[str, int]]] = {}
    with requests.Session() as session:
        for op, (role, target, datas) in phases.items():
            hashes = _send_mined(url, session, [senders[role].sign(target, d) for d in datas])
            result[op] = {}
            for point in sorted({p for p in SAMPLE_POINTS if p <= count} | {count}):
                receipt = w3.eth.get_transaction_receipt(hashes[point - 1])
                if receipt["status"] != 1:
                    raise RuntimeError(f"{op} #{point} reverted (tx {hashes[point - 1]})")
                used = int(receipt["gasUsed"])
                result[op][existing + point] = {"gas": used, "execution": execution_gas(used, datas[point - 1])}
    batch_count = int(registry.project(project_id).batchCount)
    if batch_count != existing + count:
        raise RuntimeError(f"expected {existing + count} batches, the registry holds {batch_count}")
    if int(credit.totalIssued(ids[-1])) != 1_000:
        raise RuntimeError("the last batch was not issued")
    if retirement is not None and int(credit.totalRetired(ids[-1])) != 1_000:
        raise RuntimeError("the last batch was not retired")
    return result


def _retire_data(token_id: int, n: int) -> bytes:
    """``retire([token_id], [1000], input)`` with reference ``n`` and texts of the same width for every n."""
    i = retirement_input(n)
    data = (
        i["beneficiary"],
        i["beneficiaryName"],
        i["reason"],
        i["jurisdiction"],
        i["periodStart"],
        i["periodEnd"],
        i["retirementRef"],
    )
    return SELECTORS["retire"] + encode(["uint256[]", "uint256[]", RETIREMENT_INPUT], [[token_id], [1_000], data])
