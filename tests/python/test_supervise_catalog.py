"""The supervision catalog's decoding (tonne/supervise/catalog.py): the fast word readers give what eth_abi gives, for
every static elementary type and any value; the general path decodes strings, arrays and structs; a record that
cannot be followed is named."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import keccak, to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from tonne.supervise.catalog import CatalogError, catalog_of, catalogs_of_file, event_shapes, merged, plain

ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def _event(name: str, inputs: list[dict]) -> dict:
    return {"type": "event", "name": name, "anonymous": False, "inputs": inputs}


def _param(name: str, kind: str, indexed: bool = False, components=None) -> dict:
    p = {"name": name, "type": kind, "indexed": indexed}
    if components:
        p["components"] = components
    return p


STATIC = st.sampled_from(["uint256", "uint64", "uint8", "int256", "int40", "address", "bool", "bytes32", "bytes2"])


def _value(kind: str):
    if kind.startswith("uint"):
        return st.integers(0, (1 << int(kind[4:] or 256)) - 1)
    if kind.startswith("int"):
        bits = int(kind[3:] or 256)
        return st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    if kind == "address":
        return st.binary(min_size=20, max_size=20).map(lambda b: to_checksum_address(b))
    if kind == "bool":
        return st.booleans()
    return st.binary(min_size=int(kind[5:]), max_size=int(kind[5:]))


@st.composite
def fields(draw):
    kinds = draw(st.lists(STATIC, min_size=1, max_size=6))
    flags = draw(st.lists(st.booleans(), min_size=len(kinds), max_size=len(kinds)))
    values = [draw(_value(k)) for k in kinds]
    return kinds, flags[:3] + [False] * max(0, len(kinds) - 3), values  # at most 3 indexed fields


@settings(max_examples=300, deadline=None)
@given(fields())
def test_decode__static_fields__the_word_readers_equal_eth_abi(case):
    kinds, indexed, values = case
    params = [_param(f"f{i}", k, x) for i, (k, x) in enumerate(zip(kinds, indexed, strict=True))]
    [shape] = event_shapes("C", [_event("E", params)])
    topics = [shape.topic] + [
        "0x" + encode([k], [v]).hex() for k, x, v in zip(kinds, indexed, values, strict=True) if x
    ]
    data_kinds = [k for k, x in zip(kinds, indexed, strict=True) if not x]
    data_values = [v for v, x in zip(values, indexed, strict=True) if not x]
    data = "0x" + encode(data_kinds, data_values).hex()
    decoded = shape.decode(topics, data)
    for p, v in zip(params, values, strict=True):
        assert decoded[p["name"]] == plain(v, p), (p, v)


def test_decode__dynamic_data_and_structs__by_eth_abi_with_names():
    inputs = [
        _param("id", "uint256", True),
        _param("name", "string", True),  # indexed dynamic: only its keccak is in the log
        _param("ids", "uint256[]"),
        _param("note", "string"),
        _param("input", "tuple", components=[_param("who", "address"), _param("tag", "bytes2")]),
    ]
    [shape] = event_shapes("C", [_event("Rich", inputs)])
    assert shape.topic == "0x" + keccak(text="Rich(uint256,string,uint256[],string,(address,bytes2))").hex()
    name_topic = "0x" + keccak(text="Ann").hex()
    data = encode(["uint256[]", "string", "(address,bytes2)"], [[1, 2], "café", (ADDRESS, b"FR")])
    decoded = shape.decode([shape.topic, "0x" + encode(["uint256"], [7]).hex(), name_topic], "0x" + data.hex())
    assert decoded == {
        "id": 7,
        "name": name_topic,
        "ids": [1, 2],
        "note": "café",
        "input": {"who": ADDRESS, "tag": "0x4652"},
    }


def test_decode__wrong_topic_count_or_data_length__refused_naming_the_event():
    [shape] = event_shapes("Token", [_event("Moved", [_param("to", "address", True), _param("n", "uint256")])])
    with pytest.raises(ValueError, match=r"Token\.Moved: 0 indexed topics, expected 1"):
        shape.decode([shape.topic], "0x" + "00" * 32)
    with pytest.raises(ValueError, match=r"Token\.Moved: 31 data bytes, expected 32"):
        shape.decode([shape.topic, "0x" + "00" * 32], "0x" + "00" * 31)


def test_catalog__records_that_cannot_be_followed__named():
    with pytest.raises(CatalogError, match="not a Tonne deployment record"):
        catalog_of({"contracts": {}}, "r.json")
    with pytest.raises(CatalogError, match="lists no contracts"):
        catalog_of({"chainId": 1, "contracts": {}}, "r.json")
    with pytest.raises(CatalogError, match=r"contracts\.X: needs an address and an abi"):
        catalog_of({"chainId": 1, "contracts": {"X": {"address": ADDRESS}}}, "r.json")
    with pytest.raises(CatalogError, match=r"contracts\.X\.address: 'nope' is not an address"):
        catalog_of({"chainId": 1, "contracts": {"X": {"address": "nope", "abi": []}}}, "r.json")


def test_catalog__a_bridge_record__two_chains_merged_with_the_suite_s():
    abi = [_event("Locked", [_param("n", "uint256")])]
    other = "0x" + "12" * 20
    suite = {"chainId": 1, "contracts": {"CarbonCredit": {"address": ADDRESS, "abi": abi, "blockNumber": 9}}}
    bridge = {
        "home": {"chainId": 1, "startBlock": 4, "contracts": {"HomeBridge": {"address": other, "abi": abi}}},
        "remote": {"chainId": 2, "startBlock": 0, "contracts": {"MirrorCredit": {"address": ADDRESS, "abi": abi}}},
    }
    by_chain = merged(catalogs_of_file(suite, "s") + catalogs_of_file(bridge, "b"))
    assert sorted(by_chain) == [1, 2]
    assert set(by_chain[1].contracts.values()) == {"CarbonCredit", "HomeBridge"}
    assert by_chain[1].start_block == 4
    clash = {"chainId": 1, "contracts": {"CarbonRegistry": {"address": ADDRESS, "abi": abi}}}
    with pytest.raises(CatalogError, match="is CarbonCredit and CarbonRegistry"):
        merged(catalogs_of_file(suite, "s") + catalogs_of_file(clash, "c"))
