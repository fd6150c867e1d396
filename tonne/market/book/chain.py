"""The one interface between the book and the chain (``ExchangeView``), and its web3 implementation.

The book never talks to a node except through an ``ExchangeView``: the service's chain id and exchange address,
EIP-1271 signature checks, the exchange's ``fillable`` view, a token id's batch data (for criteria queries), the
head and block hashes (for confirmations and reorgs), and the events from a block range.

INTEGRATION (CreditExchange, issue 12): every name that must be checked against the contract when it lands is in
``EXCHANGE_ABI`` / ``REGISTRY_ABI`` / ``FILLABLE_REASONS`` below and marked ``# CHECK``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol

from eth_abi import decode
from eth_utils import keccak, to_checksum_address

from tonne.market.book._order import Order, digest

# CHECK: the `reason` codes of `fillable(Order,uint256) returns (uint256 units, uint8 reason)`. Codes 1-3 are final
# (the book moves the order to that state); every other non-zero code makes the order "unfillable" until a re-check
# (a balance or approval can come back).
FILLABLE_REASONS: dict[int, str] = {
    0: "fillable",
    1: "expired",
    2: "cancelled",
    3: "filled",
    4: "maker balance short",
    5: "maker approval short",
    6: "maker frozen",
    7: "not allowlisted",
    8: "project restricted",
    9: "paused",
    10: "criteria not met",
    11: "bad signature",
}
FINAL_REASONS = {1: "expired", 2: "cancelled", 3: "filled"}

ORDER_COMPONENTS = [
    {"name": n, "type": t}
    for n, t in (
        ("maker", "address"),
        ("side", "uint8"),
        ("tokenId", "uint256"),
        ("projectId", "uint64"),
        ("standardHash", "bytes32"),
        ("vintageFrom", "uint16"),
        ("vintageTo", "uint16"),
        ("country", "bytes2"),
        ("amount", "uint256"),
        ("pricePerUnit", "uint256"),
        ("paymentToken", "address"),
        ("minFill", "uint256"),
        ("listedAt", "uint64"),
        ("expiry", "uint64"),
        ("taker", "address"),
        ("nonce", "uint256"),
        ("counter", "uint256"),
    )
]
_ORDER_ARG = {"name": "order", "type": "tuple", "components": ORDER_COMPONENTS}


def _event(name: str, inputs: list[tuple[str, str, bool]]) -> dict:
    return {
        "type": "event",
        "name": name,
        "anonymous": False,
        "inputs": [{"name": n, "type": t, "indexed": i} for n, t, i in inputs],
    }


def _view(name: str, inputs: list[dict], outputs: list[str]) -> dict:
    return {
        "type": "function",
        "name": name,
        "stateMutability": "view",
        "inputs": inputs,
        "outputs": [{"name": "", "type": t} for t in outputs],
    }


# CHECK: the exchange's ABI as the book uses it (names, argument order, indexed flags). When the contract lands,
# take its ABI from the deployment record instead and keep only the assertions of tests/python/test_market_book_*.
EXCHANGE_ABI: list[dict] = [
    _view("fillable", [_ORDER_ARG, {"name": "id", "type": "uint256"}], ["uint256", "uint8"]),  # CHECK
    _view("hashOrder", [_ORDER_ARG], ["bytes32"]),  # CHECK
    _view("counterOf", [{"name": "maker", "type": "address"}], ["uint256"]),  # CHECK
    _event(  # CHECK
        "OrderFilled",
        [
            ("orderHash", "bytes32", True),
            ("maker", "address", True),
            ("taker", "address", True),
            ("id", "uint256", False),
            ("units", "uint256", False),
            ("pricePerUnit", "uint256", False),
            ("paymentToken", "address", False),
            ("fee", "uint256", False),
            ("filledTotal", "uint256", False),
        ],
    ),
    _event("OrderCancelled", [("orderHash", "bytes32", True), ("maker", "address", True)]),  # CHECK
    _event("CounterIncremented", [("maker", "address", True), ("newCounter", "uint256", False)]),  # CHECK
]
# The registry's views (contracts/interfaces/ICarbonRegistry.sol) behind `batch_info`.
REGISTRY_ABI: list[dict] = [
    _view("batchPeriod", [{"name": "id", "type": "uint256"}], ["uint40", "uint40"]),
    _view("projectStandard", [{"name": "projectId", "type": "uint64"}], ["string"]),
]
ERC1271_ABI = [
    _view("isValidSignature", [{"name": "hash", "type": "bytes32"}, {"name": "signature", "type": "bytes"}], ["bytes4"])
]
ERC1271_MAGIC = bytes.fromhex("1626ba7e")

FILLED_TOPIC = keccak(text="OrderFilled(bytes32,address,address,uint256,uint256,uint256,address,uint256,uint256)")
CANCELLED_TOPIC = keccak(text="OrderCancelled(bytes32,address)")
COUNTER_TOPIC = keccak(text="CounterIncremented(address,uint256)")
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

    def fillable(self, order: Order, token_id: int) -> tuple[int, int]:
        """The exchange's ``fillable(order, id)``: (units fillable now, reason code; see FILLABLE_REASONS)."""
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


class Web3ExchangeView:
    """``ExchangeView`` over a web3 provider: the exchange, the registry (batch data) and the credit token (its
    transfers and approvals re-check the makers involved). Reads are raw ``eth_call`` / ``eth_getLogs``."""

    def __init__(self, w3, exchange: str, registry: str, credit_token: str, *, chain_id: int | None = None):
        self.w3 = w3
        self.chain_id = chain_id if chain_id is not None else w3.eth.chain_id
        self.exchange_address = to_checksum_address(exchange)
        self.exchange = w3.eth.contract(address=self.exchange_address, abi=EXCHANGE_ABI)
        self.registry = w3.eth.contract(address=to_checksum_address(registry), abi=REGISTRY_ABI)
        self.credit_token = to_checksum_address(credit_token)
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
            answer = wallet.functions.isValidSignature(
                digest(order, self.chain_id, self.exchange_address), signature
            ).call()
        except Exception:  # a wallet that reverts refuses the signature
            return False
        return bytes(answer) == ERC1271_MAGIC

    def fillable(self, order: Order, token_id: int) -> tuple[int, int]:
        units, reason = self.exchange.functions.fillable(order.as_tuple(), token_id).call()
        return int(units), int(reason)

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
        logs = self._logs(self.exchange_address, [FILLED_TOPIC, CANCELLED_TOPIC, COUNTER_TOPIC], from_block, to_block)
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
            yield decode_log(log, stamps[block_hash])


def _address(topic: str) -> str:
    return to_checksum_address("0x" + topic[-40:])


def decode_log(log: dict, timestamp: int = 0) -> ChainEvent:
    """One raw log of the exchange or of the credit token -> ChainEvent."""
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
    if topic0 == FILLED_TOPIC:
        token_id, units, price, payment, fee, total = decode(
            ["uint256", "uint256", "uint256", "address", "uint256", "uint256"], data
        )
        return ChainEvent(
            "filled",
            order_hash=topics[1].lower(),
            maker=_address(topics[2]),
            taker=_address(topics[3]),
            token_id=token_id,
            units=units,
            price_per_unit=price,
            payment_token=to_checksum_address(payment),
            fee=fee,
            filled_total=total,
            **base,
        )
    if topic0 == CANCELLED_TOPIC:
        return ChainEvent("cancelled", order_hash=topics[1].lower(), maker=_address(topics[2]), **base)
    if topic0 == COUNTER_TOPIC:
        (counter,) = decode(["uint256"], data)
        return ChainEvent("counter", maker=_address(topics[1]), counter=counter, **base)
    if topic0 in (TRANSFER_SINGLE_TOPIC, TRANSFER_BATCH_TOPIC):
        # (operator, from, to): the holders whose balances moved; an operator moving credits changes nothing of its
        # own orders, but costs one more re-check at most.
        return ChainEvent("touched", makers=(_address(topics[2]), _address(topics[3])), **base)
    if topic0 == APPROVAL_FOR_ALL_TOPIC:
        return ChainEvent("touched", makers=(_address(topics[1]),), **base)
    raise ValueError(f"log {base['tx_hash']}:{base['log_index']}: not an exchange or credit-token event")
