"""Source verification of a deployment: the standard-JSON compiler input of each deployed contract, written at
deploy time, and the offline check that the code at each recorded address is exactly what that input compiles to.

Input. ``deploy`` writes ``<dir>/<chainId>/<Contract>.input.json`` beside the record (its path is the entry's
``standardJsonInput``, relative to the record's folder): language, the settings the project was compiled with
(optimizer, runs, viaIR, evmVersion, remappings; ``outputSelection`` names only the contract) and, as ``content``,
every source the contract is built from, under the source unit names solc gave them: ``contracts/...`` and
OpenZeppelin's ``node_modules/@openzeppelin/contracts/...`` (the project's remapping). The set of sources is the
contract's import closure, found by reading the import statements and resolving them as solc does (relative paths
against the importing unit's name, then the remappings): the metadata solc embeds in the bytecode hashes exactly
that set, so the input reproduces the deployed bytecode byte for byte, metadata hash included. This is the file
Etherscan ("Solidity (Standard-Json-Input)") and Sourcify accept. The constructor arguments, ABI-encoded, are the
entry's ``constructorArguments``: the deploy transaction's input after the creation code.

Check. ``verify_record`` runs the recorded solc version (``solc-v<version>`` in ``SOLCX_BINARY_PATH``, as ape
finds it, or a given binary) on each stored input, in an empty folder so that nothing outside the input can be
read, and compares:
- runtime: the code at the address with the compiled ``evm.deployedBytecode``, after blanking the immutables
  (``immutableReferences``: the compiler leaves zeros there, the constructor writes values) in both; the rest must
  be equal byte for byte. A difference inside the trailing CBOR metadata only is named so (a "partial match" in
  Sourcify's words: same code, other sources' hash: comments or file names differ);
- creation: the deploy transaction's input with the compiled ``evm.bytecode`` followed by the recorded constructor
  arguments, and the transaction's receipt with the recorded address.
Nothing here signs or sends; compiling needs no network.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUTPUTS = [
    "abi",
    "metadata",
    "evm.bytecode.object",
    "evm.deployedBytecode.object",
    "evm.deployedBytecode.immutableReferences",
]
SETTINGS_KEPT = ("optimizer", "evmVersion", "viaIR", "remappings", "libraries", "metadata")


class VerificationError(RuntimeError):
    """An input cannot be built, read or compiled (the message names the file at fault)."""


# ------------------------------------------------------------------------------------------------- the input


def import_paths(source: str) -> list[str]:
    """The paths of ``source``'s import directives, in order (comments and other strings skipped)."""
    found: list[str] = []
    i, n = 0, len(source)
    in_import = False
    while i < n:
        c = source[i]
        if source.startswith("//", i):
            i = source.find("\n", i)
            i = n if i < 0 else i
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif c in "\"'":
            end = i + 1
            while end < n and source[end] != c:
                end += 2 if source[end] == "\\" else 1
            if in_import:
                found.append(source[i + 1 : end])
                in_import = False
            i = end + 1
        elif c.isalpha() or c == "_":
            end = i
            while end < n and (source[end].isalnum() or source[end] in "_$"):
                end += 1
            word = source[i:end]
            prev = source[i - 1] if i else " "
            if word == "import" and not (prev.isalnum() or prev in "_$."):
                in_import = True
            i = end
        elif c == ";":
            in_import = False
            i += 1
        else:
            i += 1
    return found


def resolve_import(importer: str, path: str, remappings: list[str]) -> str:
    """The source unit name solc gives ``path`` imported from the unit ``importer``: a relative path (``./``,
    ``../``) against the importer's folder, then the longest matching remapping (``[context:]prefix=target``)."""
    if path.startswith(("./", "../")):
        unit = posixpath.normpath(posixpath.join(posixpath.dirname(importer), path))
    else:
        unit = path
    best: tuple[int, int, str, str] | None = None
    for remapping in remappings:
        head, _, target = remapping.partition("=")
        context, _, prefix = head.rpartition(":")
        if importer.startswith(context) and unit.startswith(prefix):
            key = (len(context), len(prefix), prefix, target)
            if best is None or key[:2] > best[:2]:
                best = key
    if best is not None:
        unit = best[3] + unit[len(best[2]) :]
    return unit


def source_closure(source_id: str, root: Path, remappings: list[str]) -> dict[str, str]:
    """Every source unit ``source_id`` is built from (itself and its imports, transitively), name -> content read
    from ``root``."""
    sources: dict[str, str] = {}
    pending = [source_id]
    while pending:
        unit = pending.pop()
        if unit in sources:
            continue
        path = root / unit
        try:
            sources[unit] = path.read_text(encoding="utf8")
        except OSError as exc:
            raise VerificationError(f"{path}: cannot read source {unit!r} ({exc.strerror or exc})") from exc
        pending += [resolve_import(unit, p, remappings) for p in import_paths(sources[unit])]
    return dict(sorted(sources.items()))


def standard_input(source_id: str, contract: str, settings: dict[str, Any], root: Path) -> dict[str, Any]:
    """The standard-JSON input that builds ``contract`` of ``source_id`` with the project's ``settings``."""
    kept = {key: settings[key] for key in SETTINGS_KEPT if key in settings}
    sources = source_closure(source_id, root, list(kept.get("remappings", [])))
    return {
        "language": "Solidity",
        "sources": {unit: {"content": content} for unit, content in sources.items()},
        "settings": {**kept, "outputSelection": {source_id: {contract: OUTPUTS}}},
    }


def write_inputs(record: dict[str, Any], record_dir: Path, root: Path) -> Path:
    """Write each recorded contract's input to ``<record_dir>/<chainId>/<Name>.input.json`` (a fresh folder, swapped
    in whole once every input is built), set the entries' ``standardJsonInput``, and return the folder. On an error
    nothing is changed: no entry names an input."""
    folder = record_dir / str(record["chainId"])
    settings = record["compiler"]["settings"]
    built = {
        name: standard_input(entry["sourceId"], name, settings, root)
        for name, entry in record["contracts"].items()
        if entry.get("sourceId")
    }
    fresh = record_dir / f".{record['chainId']}.inputs.tmp"
    _remove_tree(fresh)
    fresh.mkdir(parents=True)
    for name, data in built.items():
        (fresh / f"{name}.input.json").write_text(json.dumps(data, indent=1) + "\n")
    _remove_tree(folder)
    fresh.rename(folder)
    for name in built:
        record["contracts"][name]["standardJsonInput"] = f"{folder.name}/{name}.input.json"
    return folder


def _remove_tree(folder: Path) -> None:
    if folder.is_dir():
        for path in sorted(folder.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        folder.rmdir()


def constructor_arguments(creation_code: bytes, tx_input: bytes) -> str | None:
    """The ABI-encoded constructor arguments (hex) of a deploy transaction: its input after the creation code, or
    None when the input does not start with that code (not a plain creation)."""
    if not creation_code or not tx_input.startswith(creation_code):
        return None
    return "0x" + tx_input[len(creation_code) :].hex()


# ------------------------------------------------------------------------------------------------- the check


def load_input(path: Path) -> dict[str, Any]:
    """A stored standard-JSON input, refused with ``file:line: message`` when missing or malformed."""
    if not path.exists():
        raise VerificationError(f"{path}: missing (written by `ape run deploy`; was the folder moved?)")
    if path.is_dir():
        raise VerificationError(f"{path}: is a directory, not a standard-JSON input")
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))  # a byte order mark is not part of the JSON
    except UnicodeDecodeError as exc:
        raise VerificationError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise VerificationError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})") from exc
    if not isinstance(data, dict) or data.get("language") != "Solidity":
        raise VerificationError(f"{path}: language: expected 'Solidity' in a standard-JSON input")
    sources = data.get("sources")
    if not isinstance(sources, dict) or not sources:
        raise VerificationError(f"{path}: sources: missing or empty")
    for unit, source in sources.items():
        if not isinstance(source, dict) or not isinstance(source.get("content"), str):
            raise VerificationError(f"{path}: sources.{unit}: has no content")
    if not isinstance(data.get("settings"), dict) or not isinstance(data["settings"].get("outputSelection"), dict):
        raise VerificationError(f"{path}: settings.outputSelection: missing")
    return data


def solc_binary(version: str, given: Path | str | None = None) -> Path:
    """The solc of ``version`` (e.g. ``0.8.28+commit.7893614a``): ``given``, else ``solc-v0.8.28`` in
    ``SOLCX_BINARY_PATH`` (default ``~/.solcx``), checked by its ``--version``."""
    base = version.split("+")[0]
    if given is not None:
        binary = Path(given)
    else:
        folder = Path(os.environ.get("SOLCX_BINARY_PATH") or Path.home() / ".solcx")
        binary = folder / f"solc-v{base}"
    if not binary.is_file():
        raise VerificationError(
            f"{binary}: no solc {base} there (the record was compiled with {version}); set SOLCX_BINARY_PATH or "
            "give --solc"
        )
    try:
        said = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60).stdout
    except OSError as exc:
        raise VerificationError(f"{binary}: cannot run ({exc.strerror or exc})") from exc
    if f"Version: {version}" not in said:
        shown = said.strip().splitlines()[-1] if said.strip() else "nothing"
        raise VerificationError(f"{binary}: says {shown!r}, but the record was compiled with {version}")
    return binary


def compile_input(data: dict[str, Any], binary: Path, label: str) -> dict[str, Any]:
    """``solc --standard-json`` on ``data``, run in an empty folder (the input must hold every source)."""
    with tempfile.TemporaryDirectory(prefix="tonne-verify-") as tmp:
        source, out = Path(tmp) / "input.json", Path(tmp) / "output.json"
        source.write_text(json.dumps(data))
        with source.open() as stdin, out.open("w") as stdout:
            done = subprocess.run([str(binary), "--standard-json"], stdin=stdin, stdout=stdout, cwd=tmp)
        text = out.read_text()
    start = text.find("{")
    try:
        output = json.loads(text[start:]) if start >= 0 else None
    except json.JSONDecodeError:
        output = None
    if done.returncode != 0 or output is None:
        raise VerificationError(f"{label}: solc failed (exit {done.returncode}): {text[:300].strip()}")
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        first = errors[0].get("formattedMessage") or errors[0].get("message")
        raise VerificationError(f"{label}: does not compile: {first.strip().splitlines()[0]}")
    return output


def blank_immutables(code: bytes, references: dict[str, list[dict[str, int]]]) -> bytes:
    """``code`` with every immutable's bytes zeroed."""
    out = bytearray(code)
    for ranges in references.values():
        for r in ranges:
            out[r["start"] : r["start"] + r["length"]] = bytes(r["length"])
    return bytes(out)


def first_difference(a: bytes, b: bytes) -> int | None:
    """The first offset at which ``a`` and ``b`` differ (the shorter one's length if one is a prefix), or None."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def metadata_start(code: bytes) -> int:
    """Where the trailing CBOR metadata begins (its length is the code's last two bytes)."""
    if len(code) < 2:
        return len(code)
    length = int.from_bytes(code[-2:], "big")
    return len(code) - length - 2 if length + 2 <= len(code) else len(code)


@dataclass
class Result:
    """One contract's verdict: ``runtime`` and ``creation`` are "match" or what differs."""

    name: str
    address: str
    runtime: str = "not checked"
    creation: str = "not checked"
    immutables: int = 0
    ok: bool = False
    notes: list[str] = field(default_factory=list)


def compare_runtime(compiled: bytes, onchain: bytes, references: dict[str, Any]) -> str:
    if not onchain:
        return "no code at the address"
    a, b = blank_immutables(compiled, references), blank_immutables(onchain, references)
    offset = first_difference(a, b)
    if offset is None:
        return "match"
    where = ""
    if offset >= metadata_start(a) and len(a) == len(b):
        where = ", in the metadata hash only: same code, other sources' hash (comments, names)"
    sizes = "" if len(a) == len(b) else f" ({len(b)} bytes on chain, {len(a)} compiled)"
    return f"MISMATCH at byte {offset}{sizes}{where}"


def compare_creation(compiled: bytes, arguments: str | None, tx: dict[str, Any] | None, address: str) -> str:
    if tx is None:
        return "deploy transaction not found"
    if tx.get("contractAddress") and tx["contractAddress"].lower() != address.lower():
        return f"MISMATCH: the deploy transaction created {tx['contractAddress']}"
    if arguments is None:
        return "no constructor arguments recorded"
    expected = compiled + bytes.fromhex(arguments.removeprefix("0x"))
    offset = first_difference(expected, tx["input"])
    if offset is None:
        return "match"
    part = "creation code" if offset < len(compiled) else "constructor arguments"
    return f"MISMATCH at byte {offset} (in the {part})"


def verify_contract(
    name: str, entry: dict[str, Any], data: dict[str, Any], binary: Path, chain: Any, label: str
) -> Result:
    """Compile one stored input and compare it with the chain (``chain``: ``code(address)`` and ``deploy_tx(hash)``,
    the latter the transaction's ``input`` bytes and its receipt's ``contractAddress``, or None)."""
    result = Result(name, entry["address"])
    onchain = chain.code(entry["address"])
    if not onchain:  # nothing to compare: no need to compile
        result.runtime = "no code at the address"
        result.creation = "not checked"
        return result
    output = compile_input(data, binary, label)
    selected = [(unit, c) for unit, names in data["settings"]["outputSelection"].items() for c in names]
    built = None
    for unit, contract in selected:
        built = output.get("contracts", {}).get(unit, {}).get(contract)
        if built is not None:
            break
    if built is None or contract != name:
        raise VerificationError(f"{label}: compiles no contract {name} (outputSelection names {selected})")
    runtime = bytes.fromhex(built["evm"]["deployedBytecode"]["object"])
    references = built["evm"]["deployedBytecode"].get("immutableReferences") or {}
    result.immutables = len(references)
    result.runtime = compare_runtime(runtime, onchain, references)
    creation = bytes.fromhex(built["evm"]["bytecode"]["object"])
    tx = chain.deploy_tx(entry["transactionHash"]) if entry.get("transactionHash") else None
    result.creation = compare_creation(creation, entry.get("constructorArguments"), tx, entry["address"])
    result.ok = result.runtime == "match" and not result.creation.startswith("MISMATCH")
    return result


def inputs_of(record: dict[str, Any], record_dir: Path, only: tuple[str, ...] = ()) -> dict[str, Path]:
    """The stored input of each recorded contract (``only``: these names), checked to exist in the record."""
    contracts = record["contracts"]
    unknown = [name for name in only if name not in contracts]
    if unknown:
        raise VerificationError(f"--contract {unknown[0]!r}: not in the record (it has {', '.join(contracts)})")
    compiler = record.get("compiler")
    if not isinstance(compiler, dict) or not isinstance(compiler.get("version"), str) or not compiler["version"]:
        shown = compiler.get("version") if isinstance(compiler, dict) else None
        raise VerificationError(f"compiler.version: a solc version such as '0.8.28+commit.7893614a', not {shown!r}")
    found: dict[str, Path] = {}
    for name in only or tuple(contracts):
        entry = contracts[name]
        relative = entry.get("standardJsonInput")
        if not relative:
            raise VerificationError(
                f"contracts.{name}: no standardJsonInput in the record (deployed before deploy wrote inputs?)"
            )
        if not isinstance(relative, str):
            raise VerificationError(
                f"contracts.{name}.standardJsonInput: a path relative to the record, not {relative!r}"
            )
        for key, pattern, what in _ENTRY_HEX:
            value = entry.get(key)
            if value is not None and not (isinstance(value, str) and re.fullmatch(pattern, value)):
                raise VerificationError(f"contracts.{name}.{key}: {what}, not {value!r:.80}")
        found[name] = record_dir / relative
    return found


# The hex fields of an entry that the check reads, as deploy writes them.
_ENTRY_HEX = (
    ("transactionHash", r"0x[0-9a-fA-F]{64}", "a transaction hash (0x and 64 hex digits)"),
    ("constructorArguments", r"0x(?:[0-9a-fA-F]{2})*", "ABI-encoded arguments (0x and pairs of hex digits)"),
)
