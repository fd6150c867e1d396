"""The pure parts of source verification (tonne/core/verification.py): reading import directives, resolving them
as solc does, the project's real import closure, and the byte comparison with immutables and metadata. The
compile-and-compare against a chain is in tests/e2e/test_testnet_deploy.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tonne.core.verification import (
    VerificationError,
    blank_immutables,
    compare_creation,
    compare_runtime,
    constructor_arguments,
    first_difference,
    import_paths,
    load_input,
    metadata_start,
    resolve_import,
    source_closure,
)

ROOT = Path(__file__).resolve().parents[2]
OZ = "@openzeppelin/contracts=node_modules/@openzeppelin/contracts"


def test_import_paths__every_form_and_decoys__only_the_directives():
    source = """// import "commented.sol";
    /* import "block.sol"; */
    import "plain.sol";
    import "aliased.sol" as A;
    import * as B from 'star.sol';
    import {C, D as E} from
        "../multi/line.sol";
    string constant s = "import \\"no.sol\\";";
    contract importer { function f() external { x.import_("no2.sol"); } }
    """
    assert import_paths(source) == ["plain.sol", "aliased.sol", "star.sol", "../multi/line.sol"]


@pytest.mark.parametrize(
    ("importer", "path", "unit"),
    [
        ("contracts/token/A.sol", "../interfaces/I.sol", "contracts/interfaces/I.sol"),
        ("contracts/token/A.sol", "./B.sol", "contracts/token/B.sol"),
        ("contracts/A.sol", "@openzeppelin/contracts/utils/Context.sol",
         "node_modules/@openzeppelin/contracts/utils/Context.sol"),
        ("node_modules/@openzeppelin/contracts/token/ERC1155/ERC1155.sol", "../../utils/Context.sol",
         "node_modules/@openzeppelin/contracts/utils/Context.sol"),
        ("contracts/A.sol", "other/X.sol", "other/X.sol"),
    ],
)  # fmt: skip
def test_resolve_import__relative_then_remapped__as_solc_names_it(importer, path, unit):
    assert resolve_import(importer, path, [OZ]) == unit


def test_resolve_import__longest_context_then_prefix_wins():
    remappings = ["lib=generic", "lib/special=specific", "contracts/x:lib=contextual"]
    assert resolve_import("contracts/a/A.sol", "lib/special/S.sol", remappings) == "specific/S.sol"
    assert resolve_import("contracts/x/A.sol", "lib/special/S.sol", remappings) == "contextual/special/S.sol"


def test_source_closure__carbon_registry__its_files_and_openzeppelin_transitively():
    sources = source_closure("contracts/registry/CarbonRegistry.sol", ROOT, [OZ])
    assert "contracts/interfaces/ICarbonRegistry.sol" in sources
    assert "node_modules/@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol" in sources
    assert "node_modules/@openzeppelin/contracts/utils/math/SafeCast.sol" in sources  # imported by an OZ file
    assert not any("ERC1155" in unit for unit in sources)  # the token's files are not the registry's
    assert (
        sources["contracts/registry/CarbonRegistry.sol"] == (ROOT / "contracts/registry/CarbonRegistry.sol").read_text()
    )


def test_source_closure__unreadable_import__names_the_file(tmp_path):
    (tmp_path / "A.sol").write_text('import "./Missing.sol";')
    with pytest.raises(VerificationError, match="Missing.sol"):
        source_closure("A.sol", tmp_path, [])


def _code(body: bytes, metadata: bytes) -> bytes:
    return body + metadata + len(metadata).to_bytes(2, "big")


def test_compare_runtime__immutables_differ__match_other_byte__first_offset():
    compiled = _code(b"\x60\x80" + bytes(32) + b"\x56", b"\xa2" * 10)
    onchain = _code(b"\x60\x80" + b"\x11" * 32 + b"\x56", b"\xa2" * 10)
    refs = {"7": [{"start": 2, "length": 32}]}
    assert blank_immutables(onchain, refs) == compiled
    assert compare_runtime(compiled, onchain, refs) == "match"
    assert compare_runtime(compiled, onchain, {}) == "MISMATCH at byte 2"  # without the references: differs
    other = onchain[:34] + b"\x57" + onchain[35:]
    assert compare_runtime(compiled, other, refs) == "MISMATCH at byte 34"


def test_compare_runtime__only_the_metadata_hash_differs__said_so():
    compiled, onchain = _code(b"\x60\x80", b"\xa2" * 10), _code(b"\x60\x80", b"\xa2" * 9 + b"\xa3")
    assert metadata_start(compiled) == 2
    assert "metadata hash only" in compare_runtime(compiled, onchain, {})
    assert compare_runtime(compiled, b"", {}) == "no code at the address"
    assert "(3 bytes on chain, 14 compiled)" in compare_runtime(compiled, b"\x60\x80\x00", {})


def test_first_difference__prefix_and_equal():
    assert first_difference(b"abc", b"abc") is None
    assert first_difference(b"abc", b"abcd") == 3
    assert first_difference(b"abc", b"abd") == 2


def test_constructor_arguments_and_creation_check():
    code, args = b"\x60\x80\x60\x40", bytes(31) + b"\x05"
    assert constructor_arguments(code, code + args) == "0x" + args.hex()
    assert constructor_arguments(code, b"\x00" + code) is None
    tx = {"input": code + args, "contractAddress": "0xAbC0000000000000000000000000000000000001"}
    assert compare_creation(code, "0x" + args.hex(), tx, "0xabc0000000000000000000000000000000000001") == "match"
    assert "constructor arguments" in compare_creation(
        code, "0x" + (bytes(31) + b"\x06").hex(), tx, tx["contractAddress"]
    )
    assert "created 0xAbC0" in compare_creation(code, "0x", tx, "0x" + "11" * 20)
    assert compare_creation(code, "0x", None, "0x" + "11" * 20) == "deploy transaction not found"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"language": "Solidity",\n "sources": {\n', ":3: not valid JSON"),
        ('{"language": "Vyper"}', "language: expected 'Solidity'"),
        ('{"language": "Solidity", "sources": {}}', "sources: missing or empty"),
        ('{"language": "Solidity", "sources": {"a.sol": {"urls": []}}}', "sources.a.sol: has no content"),
        ('{"language": "Solidity", "sources": {"a.sol": {"content": ""}}, "settings": {}}',
         "settings.outputSelection: missing"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)  # fmt: skip
def test_load_input__malformed__names_the_file_and_field(tmp_path, content, message):
    path = tmp_path / "X.input.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(VerificationError, match=message) as raised:
        load_input(path)
    assert str(path) in str(raised.value)


def test_load_input__missing_or_a_folder__refused(tmp_path):
    with pytest.raises(VerificationError, match="missing"):
        load_input(tmp_path / "none.json")
    with pytest.raises(VerificationError, match="is a directory"):
        load_input(tmp_path)
    good = tmp_path / "ok.json"
    good.write_text(
        json.dumps({"language": "Solidity", "sources": {"a": {"content": ""}}, "settings": {"outputSelection": {}}})
    )
    assert load_input(good)["language"] == "Solidity"
