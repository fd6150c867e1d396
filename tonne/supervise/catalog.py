"""What the indexer follows: every event of every contract of a deployment record, decoded from the record's ABIs.

Nothing here is written by hand per contract: a record's ``contracts.<Name>.abi`` lists each event with its
indexed and data fields, so a new event, or a new module's contracts in the record, is indexed without a change
here, and a changed event decodes by its new shape. A log is decoded into its event name and a dict of its fields,
JSON-safe: integers stay exact Python ints, addresses are checksummed, bytes are ``0x`` hex, structs are dicts by
component name; an indexed dynamic field (a string, bytes or an array) is its keccak topic, since that is all a log
holds of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from eth_abi import decode
from eth_utils import keccak, to_checksum_address


class CatalogError(ValueError):
    """A deployment record cannot be followed (no contracts, no ABI, an address that is not one)."""


def canonical_type(param: dict) -> str:
    """``tuple`` parameters spelled out as ``(t1,t2)[]``, as in an event's signature."""
    kind = param["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(canonical_type(c) for c in param["components"]) + ")" + kind[len("tuple") :]
    return kind


@lru_cache(maxsize=1 << 16)
def checksummed(address: str) -> str:
    """EIP-55 (a keccak per call: the same few holders recur in every log, so they are cached)."""
    return to_checksum_address(address)


_WORD = re.compile(r"(uint|int)(\d*)|address|bool|bytes(\d+)")


def _word_reader(kind: str):
    """A reader of one 32-byte word (as 64 hex digits) of a static elementary type, or None for any other type:
    eth_abi's general decoder costs ten times more per field, and most event fields are such words."""
    match = _WORD.fullmatch(kind)
    if match is None:
        return None
    if kind == "address":
        return lambda word: checksummed("0x" + word[24:])
    if kind == "bool":
        return lambda word: int(word, 16) != 0
    if kind.startswith("bytes"):
        size = int(match.group(3))
        return lambda word: "0x" + word[: 2 * size]
    if kind.startswith("uint"):
        return lambda word: int(word, 16)
    bits = int(match.group(2) or 256)

    def signed(word: str) -> int:
        value = int(word, 16) & ((1 << bits) - 1)
        return value - (1 << bits) if value >> (bits - 1) else value

    return signed


def as_bytes(kind: str) -> str:
    """``kind`` with every ``string`` read as ``bytes``: the two share one ABI encoding, and a contract stores any
    bytes a caller sends as a string (a beneficiary name of 0xff 0xfe is accepted), which eth_abi's strict UTF-8
    would refuse, stopping the index at that log for ever (SUPERVISE-AUDIT-1). ``plain`` decodes them with
    replacement characters."""
    return re.sub(r"\bstring\b", "bytes", kind)


def plain(value: Any, param: dict | None = None) -> Any:
    """An ABI-decoded value as JSON-safe data (see the module docstring)."""
    kind = param["type"] if param else ""
    if isinstance(value, bytes) and kind == "string":
        return value.decode("utf-8", errors="replace")
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str) and kind.startswith("address"):
        return checksummed(value)
    if isinstance(value, tuple | list):
        if kind.startswith("tuple") and not kind.endswith("]"):
            components = param["components"]
            return {c["name"] or str(i): plain(v, c) for i, (c, v) in enumerate(zip(components, value, strict=True))}
        inner = dict(param, type=kind[: kind.rindex("[")]) if kind.endswith("]") else None
        return [plain(v, inner) for v in value]
    return value


@dataclass(frozen=True)
class EventShape:
    """One event of one contract: its name, topic, and the ABI of its indexed and data fields, in order."""

    contract: str
    name: str
    topic: str
    indexed: tuple[dict, ...]
    data: tuple[dict, ...]

    @property
    def data_types(self) -> list[str]:
        return [as_bytes(canonical_type(p)) for p in self.data]

    def __post_init__(self) -> None:
        # Per field, a fast reader of its word, or None (a dynamic or composite type: eth_abi decodes those).
        object.__setattr__(self, "_topic_readers", [_word_reader(canonical_type(p)) for p in self.indexed])
        readers = [_word_reader(canonical_type(p)) for p in self.data]
        object.__setattr__(self, "_data_readers", readers if all(readers) else None)

    def decode(self, topics: list[str], data: str) -> dict[str, Any]:
        """The fields of one log of this event, by name, in ABI order of declaration per kind."""
        if len(topics) != len(self.indexed) + 1:
            raise ValueError(
                f"{self.contract}.{self.name}: {len(topics) - 1} indexed topics, expected {len(self.indexed)}"
            )
        fields: dict[str, Any] = {}
        for param, reader, topic in zip(self.indexed, self._topic_readers, topics[1:], strict=True):
            # a dynamic indexed field is the keccak of its value: all a log keeps of it
            fields[param["name"]] = reader(topic[2:].lower()) if reader else topic.lower()
        if not self.data:
            return fields
        if self._data_readers is not None:
            words = data[2:]
            if len(words) != 64 * len(self.data):
                raise ValueError(
                    f"{self.contract}.{self.name}: {len(words) // 2} data bytes, expected {32 * len(self.data)}"
                )
            for i, (param, reader) in enumerate(zip(self.data, self._data_readers, strict=True)):
                fields[param["name"]] = reader(words[64 * i : 64 * i + 64])
            return fields
        values = decode(self.data_types, bytes.fromhex(data[2:]))
        for param, value in zip(self.data, values, strict=True):
            fields[param["name"]] = plain(value, param)
        return fields


@dataclass(frozen=True)
class Catalog:
    """The contracts of one chain that the indexer follows, and each one's events by topic."""

    chain_id: int
    contracts: dict[str, str]  # checksummed address -> contract name
    shapes: dict[tuple[str, str], EventShape]  # (lowercase address, topic) -> shape
    start_block: int

    @property
    def addresses(self) -> list[str]:
        return sorted(self.contracts)

    def shape(self, address: str, topic: str) -> EventShape | None:
        return self.shapes.get((address.lower(), topic.lower()))


def event_shapes(contract: str, abi: list[dict]) -> list[EventShape]:
    shapes = []
    for item in abi:
        if item.get("type") != "event" or item.get("anonymous"):
            continue
        inputs = item.get("inputs", [])
        signature = f"{item['name']}({','.join(canonical_type(i) for i in inputs)})"
        shapes.append(
            EventShape(
                contract,
                item["name"],
                "0x" + keccak(text=signature).hex(),
                tuple(i for i in inputs if i.get("indexed")),
                tuple(i for i in inputs if not i.get("indexed")),
            )
        )
    return shapes


def catalog_of(record: dict[str, Any], source: str = "the deployment record") -> Catalog:
    """The catalog of one deployment record (``deployments/<chainId>.json``, or a bridge side's record)."""
    if not isinstance(record, dict) or "chainId" not in record or not isinstance(record.get("contracts"), dict):
        raise CatalogError(f"{source}: not a Tonne deployment record (a JSON object with chainId and contracts)")
    chain_id = _whole(record["chainId"], f"{source}: chainId")
    entries = record["contracts"]
    contracts: dict[str, str] = {}
    shapes: dict[tuple[str, str], EventShape] = {}
    blocks = []
    for name, entry in entries.items():
        if not isinstance(entry, dict) or "address" not in entry or "abi" not in entry:
            raise CatalogError(f"{source}: contracts.{name}: needs an address and an abi")
        try:
            address = to_checksum_address(entry["address"])
        except (TypeError, ValueError) as exc:
            raise CatalogError(f"{source}: contracts.{name}.address: {entry['address']!r} is not an address") from exc
        contracts[address] = name
        abi = entry["abi"]
        if not isinstance(abi, list) or not all(isinstance(item, dict) for item in abi):
            raise CatalogError(f"{source}: contracts.{name}.abi: a list of ABI entries (JSON objects), not {abi!r:.60}")
        try:
            for shape in event_shapes(name, abi):
                shapes[(address.lower(), shape.topic)] = shape
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise CatalogError(
                f"{source}: contracts.{name}.abi: an event entry that is not an ABI event ({exc!r})"
            ) from exc
        if entry.get("blockNumber") is not None:
            blocks.append(_whole(entry["blockNumber"], f"{source}: contracts.{name}.blockNumber"))
    if not contracts:
        raise CatalogError(f"{source}: lists no contracts")
    if record.get("startBlock") is not None:
        blocks.append(_whole(record["startBlock"], f"{source}: startBlock"))
    return Catalog(chain_id, contracts, shapes, min(blocks) if blocks else 0)


def _whole(value: Any, where: str) -> int:
    """A record's chain id or block number: a JSON whole number, as deploy writes it (not a string, a float or a
    boolean, which ``int()`` would quietly turn into one)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CatalogError(f"{where}: a whole number (as `ape run deploy` writes it), not {value!r}")
    return value


def merged(catalogs: list[Catalog]) -> dict[int, Catalog]:
    """Catalogs of one chain (a suite's record and a bridge record's home side, say) as one per chain id."""
    by_chain: dict[int, Catalog] = {}
    for catalog in catalogs:
        known = by_chain.get(catalog.chain_id)
        if known is None:
            by_chain[catalog.chain_id] = catalog
            continue
        for address, name in catalog.contracts.items():
            if known.contracts.get(address, name) != name:
                raise CatalogError(f"chain {catalog.chain_id}: {address} is {known.contracts[address]} and {name}")
        by_chain[catalog.chain_id] = Catalog(
            catalog.chain_id,
            {**known.contracts, **catalog.contracts},
            {**known.shapes, **catalog.shapes},
            min(known.start_block, catalog.start_block),
        )
    return by_chain


def catalogs_of_file(record: dict[str, Any], source: str) -> list[Catalog]:
    """A suite record is one chain; a bridge record (``home`` and ``remote`` sides) is two."""
    if "home" in record and "remote" in record and "contracts" not in record:
        return [catalog_of(record["home"], f"{source}: home"), catalog_of(record["remote"], f"{source}: remote")]
    return [catalog_of(record, source)]
