"""The one interface between the book and the chain (``ExchangeView``), and its web3 implementation.

The book never talks to a node except through an ``ExchangeView``: the service's chain id and exchange address,
EIP-1271 signature checks, the exchange's ``fillable`` view, a token id's batch data (for criteria queries), the
head and block hashes (for confirmations and reorgs), and the events from a block range.

The exchange's ABI is the compiled CreditExchange's (the deployment record's, or ape's build manifest), never
written by hand here: the events' topics and data types are read from it, so a changed event fails loudly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from eth_abi import decode
from eth_utils import keccak, to_checksum_address

from tonne.market.orders import ORDER_TYPE, Domain, Limit, Order, abi_words, order_hash

# The `fillable` reasons (ICreditExchange.Limit) as the book shows them: "maker balance short", ...
FILLABLE_REASONS: dict[int, str] = {int(limit): limit.name.lower().replace("_", " ") for limit in Limit}
FILLABLE_REASONS[int(Limit.NONE)] = "fillable"
# Reasons that end an order for good: the book moves it to that state. Every other one makes it "unfillable" until
# a re-check (a balance, an approval, a pause or a listing time can come back or arrive).
FINAL_REASONS: dict[int, str] = {
    int(Limit.EXPIRED): "expired",
    int(Limit.CANCELLED): "cancelled",
    int(Limit.FILLED): "filled",
    int(Limit.STALE_COUNTER): "cancelled",
}
BUILD_MANIFEST = Path(__file__).resolve().parents[3] / ".build" / "__local__.json"


@lru_cache(maxsize=1)
def compiled_exchange_abi() -> tuple:
    """CreditExchange's ABI from ape's build manifest (``ape compile``)."""
    try:
        manifest = json.loads(BUILD_MANIFEST.read_text())
        return tuple(manifest["contractTypes"]["CreditExchange"]["abi"])
    except (OSError, KeyError, json.JSONDecodeError) as exc:
        raise RuntimeError(f"{BUILD_MANIFEST}: no compiled CreditExchange ({exc}); run `ape compile`") from exc


def _abi_item(abi, kind: str, name: str) -> dict:
    for item in abi:
        if item.get("type") == kind and item.get("name") == name:
            return item
    raise RuntimeError(f"the exchange ABI has no {kind} {name}")


def _canonical(param: dict) -> str:
    if param["type"].startswith("tuple"):
        return "(" + ",".join(_canonical(c) for c in param["components"]) + ")" + param["type"][5:]
    return param["type"]


@dataclass(frozen=True)
class EventShape:
    """One event of the ABI: its topic and the types of its indexed and data fields, in order."""

    name: str
    topic: bytes
    indexed: tuple[str, ...]
    data_names: tuple[str, ...]
    data_types: tuple[str, ...]


def event_shape(abi, name: str) -> EventShape:
    item = _abi_item(abi, "event", name)
    signature = f"{name}({','.join(_canonical(i) for i in item['inputs'])})"
    return EventShape(
        name,
        keccak(text=signature),
        tuple(i["name"] for i in item["inputs"] if i.get("indexed")),
        tuple(i["name"] for i in item["inputs"] if not i.get("indexed")),
        tuple(_canonical(i) for i in item["inputs"] if not i.get("indexed")),
    )


def _view(name: str, inputs: list[dict], outputs: list[str]) -> dict:
    return {
        "type": "function",
        "name": name,
        "stateMutability": "view",
        "inputs": inputs,
        "outputs": [{"name": "", "type": t} for t in outputs],
    }


# The registry's views (contracts/interfaces/ICarbonRegistry.sol) behind `batch_info`.
REGISTRY_ABI: list[dict] = [
    _view("batchPeriod", [{"name": "id", "type": "uint256"}], ["uint40", "uint40"]),
    _view("projectStandard", [{"name": "projectId", "type": "uint64"}], ["string"]),
]
ERC1271_ABI = [
    _view("isValidSignature", [{"name": "hash", "type": "bytes32"}, {"name": "signature", "type": "bytes"}], ["bytes4"])
]
ERC1271_MAGIC = bytes.fromhex("1626ba7e")

TRANSFER_SINGLE_TOPIC = keccak(text="TransferSingle(address,address,address,uint256,uint256)")
TRANSFER_BATCH_TOPIC = keccak(text="TransferBatch(address,address,address,uint256[],uint256[])")
APPROVAL_FOR_ALL_TOPIC = keccak(text="ApprovalForAll(address,address,bool)")


@dataclass(frozen=True)
class BatchInfo:
    """What a buy order's criteria are checked against: the batch's project, standard (keccak of its code),
    vintage (the UTC years of its monitoring period's start and end) and country (bytes2)."""

    token_id: int
    project_id: int
    standard_hash: bytes
    vintage_start: int
    vintage_end: int
    country: bytes


@dataclass(frozen=True)
class ChainEvent:
    """One log the follower applies. ``kind``: "filled", "cancelled", "counter" (the exchange's events) or
    "touched" (a credit-token transfer or approval involving ``makers``: their orders are re-checked)."""

    kind: str
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    timestamp: int = 0
    order_hash: str | None = None
    maker: str | None = None
    taker: str | None = None
    token_id: int | None = None
    units: int | None = None
    price_per_unit: int | None = None
    payment_token: str | None = None
    fee: int | None = None
    filled_total: int | None = None
    counter: int | None = None
    makers: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Head:
    number: int
    hash: str
    timestamp: int


class ExchangeView(Protocol):
    """The chain as the book sees it. The web3 implementation is ``Web3ExchangeView``."""

    chain_id: int
    exchange_address: str

    def is_valid_signature(self, order: Order, signature: bytes) -> bool:
        """EIP-1271: the maker is a contract whose ``isValidSignature(digest, signature)`` returns the magic value
        (False for a maker without code)."""
        ...

    def fillable(self, order: Order, signature: bytes, token_id: int) -> tuple[int, int]:
        """The exchange's ``fillable(order, signature, id)``: (units fillable now, reason: ``Limit``)."""
        ...

    def batch_info(self, token_id: int) -> BatchInfo | None:
        """The batch data of ``token_id``, or None for an unknown id."""
        ...

    def head(self) -> Head:
        """The latest block."""
        ...

    def block_hash(self, number: int) -> str | None:
        """The hash of block ``number`` on the chain as it is now (None when there is no such block)."""
        ...

    def events(self, from_block: int, to_block: int) -> Iterable[ChainEvent]:
        """The exchange's fills, cancels and counter raises, and the credit token's transfers and approvals, in
        blocks ``from_block..to_block``, in log order."""
        ...


def _year(timestamp: int) -> int:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).year


FILLABLE_SELECTOR = keccak(text="fillable((" + ",".join(f["type"] for f in ORDER_TYPE) + "),bytes,uint256)")[:4]


def fillable_calldata(order: Order, signature: bytes, token_id: int) -> str:
    """``fillable(order, signature, id)`` ABI-encoded: the order's static words, the signature's offset (after the
    order and the two head words), the id, then the signature's length and its bytes padded to a word."""
    offset = (len(ORDER_TYPE) + 2) * 32
    padded = signature + bytes(-len(signature) % 32)
    data = (
        FILLABLE_SELECTOR
        + abi_words(order)
        + offset.to_bytes(32, "big")
        + token_id.to_bytes(32, "big")
        + len(signature).to_bytes(32, "big")
        + padded
    )
    return "0x" + data.hex()


class Web3ExchangeView:
    """``ExchangeView`` over a web3 provider: the exchange, the registry (batch data) and the credit token (its
    transfers and approvals re-check the makers involved). Reads are raw ``eth_call`` / ``eth_getLogs``."""

    def __init__(self, w3, exchange: str, registry: str, credit_token: str, *, chain_id: int | None = None, abi=None):
        self.w3 = w3
        self.chain_id = chain_id if chain_id is not None else w3.eth.chain_id
        self.exchange_address = to_checksum_address(exchange)
        self.abi = list(abi) if abi is not None else list(compiled_exchange_abi())
        self.exchange = w3.eth.contract(address=self.exchange_address, abi=self.abi)
        self.registry = w3.eth.contract(address=to_checksum_address(registry), abi=REGISTRY_ABI)
        self.credit_token = to_checksum_address(credit_token)
        self.domain = Domain(self.chain_id, self.exchange_address)
        self.shapes = {n: event_shape(self.abi, n) for n in ("OrderFilled", "OrderCancelled", "CounterIncremented")}
        self._code: dict[str, bool] = {}
        self._standards: dict[int, bytes] = {}

    # ---------------------------------------------------------------- checks

    def _has_code(self, address: str) -> bool:
        if address not in self._code:
            self._code[address] = len(self.w3.eth.get_code(address)) > 0
        return self._code[address]

    def is_valid_signature(self, order: Order, signature: bytes) -> bool:
        if not self._has_code(order.maker):
            return False
        wallet = self.w3.eth.contract(address=order.maker, abi=ERC1271_ABI)
        try:
            answer = wallet.functions.isValidSignature(order_hash(order, self.domain), signature).call()
        except Exception:  # a wallet that reverts refuses the signature
            return False
        return bytes(answer) == ERC1271_MAGIC

    def fillable(self, order: Order, signature: bytes, token_id: int) -> tuple[int, int]:
        # Encoded here and sent as one raw eth_call: web3's contract call costs ~30 ms of Python an order (ABI
        # mapping, validation, two eth_chainId requests); tests/python/test_market_book_chain.py checks this
        # encoding against web3's.
        answer = self.w3.provider.make_request(
            "eth_call", [{"to": self.exchange_address, "data": fillable_calldata(order, signature, token_id)}, "latest"]
        )
        if "error" in answer:
            raise RuntimeError(f"fillable({order_hash(order, self.domain).hex()}): {answer['error']}")
        result = bytes.fromhex(answer["result"].removeprefix("0x"))
        return int.from_bytes(result[:32], "big"), int.from_bytes(result[32:64], "big")

    def batch_info(self, token_id: int) -> BatchInfo | None:
        project_id = (token_id >> 64) & ((1 << 64) - 1)
        try:
            start, end = self.registry.functions.batchPeriod(token_id).call()
        except Exception:  # unknown id: the registry reverts
            return None
        if project_id not in self._standards:
            self._standards[project_id] = keccak(text=self.registry.functions.projectStandard(project_id).call())
        country = self._country(project_id)
        return BatchInfo(token_id, project_id, self._standards[project_id], _year(start), _year(end), country)

    def _country(self, project_id: int) -> bytes:
        # `project(uint64)` returns a struct of strings; its 6th field is the bytes2 country. Decoded by hand to
        # keep the ABI above small: the head of the returned tuple holds the static fields in order.
        selector = keccak(text="project(uint64)")[:4]
        data = self.w3.eth.call({"to": self.registry.address, "data": selector + project_id.to_bytes(32, "big")})
        offset = int.from_bytes(data[:32], "big")
        return bytes(data[offset + 5 * 32 : offset + 5 * 32 + 2])

    # ---------------------------------------------------------------- blocks and events

    def head(self) -> Head:
        block = self.w3.eth.get_block("latest")
        return Head(block["number"], "0x" + bytes(block["hash"]).hex(), block["timestamp"])

    def block_hash(self, number: int) -> str | None:
        try:
            block = self.w3.eth.get_block(number)
        except Exception:
            return None
        return "0x" + bytes(block["hash"]).hex()

    def _logs(self, address: str, topics: list[bytes], from_block: int, to_block: int) -> list[dict]:
        query = {
            "address": address,
            "fromBlock": hex(from_block),
            "toBlock": hex(to_block),
            "topics": [["0x" + t.hex() for t in topics]],
        }
        answer = self.w3.provider.make_request("eth_getLogs", [query])
        if "error" in answer:
            raise RuntimeError(f"eth_getLogs {address} {from_block}..{to_block}: {answer['error']}")
        return [log for log in answer["result"] if not log.get("removed")]

    def events(self, from_block: int, to_block: int) -> Iterator[ChainEvent]:
        logs = self._logs(self.exchange_address, [shape.topic for shape in self.shapes.values()], from_block, to_block)
        logs += self._logs(
            self.credit_token,
            [TRANSFER_SINGLE_TOPIC, TRANSFER_BATCH_TOPIC, APPROVAL_FOR_ALL_TOPIC],
            from_block,
            to_block,
        )
        logs.sort(key=lambda log: (int(log["blockNumber"], 16), int(log["logIndex"], 16)))
        stamps: dict[str, int] = {}
        for log in logs:
            block_hash = log["blockHash"]
            if block_hash not in stamps:
                stamps[block_hash] = int(log["blockTimestamp"], 16) if log.get("blockTimestamp") else 0
            yield decode_log(log, stamps[block_hash], self.shapes)


def _address(topic: str) -> str:
    return to_checksum_address("0x" + topic[-40:])


def exchange_shapes(abi=None) -> dict[str, EventShape]:
    """The three exchange events the book follows, from ``abi`` (default: the compiled contract's)."""
    abi = abi if abi is not None else compiled_exchange_abi()
    return {n: event_shape(abi, n) for n in ("OrderFilled", "OrderCancelled", "CounterIncremented")}


def decode_log(log: dict, timestamp: int = 0, shapes: dict[str, EventShape] | None = None) -> ChainEvent:
    """One raw log of the exchange or of the credit token -> ChainEvent."""
    shapes = shapes if shapes is not None else exchange_shapes()
    topics = log["topics"]
    topic0 = bytes.fromhex(topics[0][2:])
    data = bytes.fromhex(log["data"][2:])
    base = {
        "block_number": int(log["blockNumber"], 16),
        "block_hash": log["blockHash"].lower(),
        "tx_hash": log["transactionHash"].lower(),
        "log_index": int(log["logIndex"], 16),
        "timestamp": timestamp,
    }
    for shape in shapes.values():
        if topic0 != shape.topic:
            continue
        fields_ = dict(zip(shape.indexed, topics[1:], strict=True))
        fields_.update(zip(shape.data_names, decode(list(shape.data_types), data), strict=True))
        if shape.name == "OrderFilled":
            return ChainEvent(
                "filled",
                order_hash=fields_["orderHash"].lower(),
                maker=_address(fields_["maker"]),
                taker=_address(fields_["taker"]),
                token_id=fields_["id"],
                units=fields_["units"],
                price_per_unit=fields_["pricePerUnit"],
                payment_token=to_checksum_address(fields_["paymentToken"]),
                fee=fields_["fee"],
                filled_total=fields_["filledTotal"],
                **base,
            )
        if shape.name == "OrderCancelled":
            return ChainEvent(
                "cancelled", order_hash=fields_["orderHash"].lower(), maker=_address(fields_["maker"]), **base
            )
        return ChainEvent("counter", maker=_address(fields_["maker"]), counter=fields_["counter"], **base)
    if topic0 in (TRANSFER_SINGLE_TOPIC, TRANSFER_BATCH_TOPIC):
        # (operator, from, to): the holders whose balances moved; an operator moving credits changes nothing of its
        # own orders, but costs one more re-check at most.
        return ChainEvent("touched", makers=(_address(topics[2]), _address(topics[3])), **base)
    if topic0 == APPROVAL_FOR_ALL_TOPIC:
        return ChainEvent("touched", makers=(_address(topics[1]),), **base)
    raise ValueError(f"log {base['tx_hash']}:{base['log_index']}: not an exchange or credit-token event")
