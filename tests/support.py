"""Helpers shared by the contract tests: valid inputs, a state factory, and strict revert/event assertions.

Test modules import these as `from support import ...` (a name of its own: every conftest.py is loaded as the
module `conftest`, so importing from it is ambiguous once several folders have one).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import time
from types import SimpleNamespace

import ape
from ape.exceptions import CustomError
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account as EthAccount
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address
from eth_utils.abi import collapse_if_tuple

from tonne.chain.view import error_names

PROJECT_DEFAULTS = dict(
    standard="VCS",
    name="Rimba Raya Biodiversity Reserve",
    methodology="VM0004",
    projectType="REDD+",
    country=b"ID",
    region="Central Kalimantan",
    metadataURI="ipfs://bafy-project-docs",
    metadataHash=b"\x11" * 32,
)


_external_ids = itertools.count(1)


def project_input(**overrides):
    """A valid ProjectInput tuple-dict; every call gets a fresh external id unless one is given."""
    fields = dict(PROJECT_DEFAULTS)
    fields["externalId"] = f"VCS-{next(_external_ids)}"
    fields["owner"] = overrides.pop("owner", None)
    fields.update(overrides)
    return fields


def batch_input(first, last, ref=None, period=(1609459200, 1640995199), uri="ipfs://bafy-batch"):
    return dict(
        serialFirst=first,
        serialLast=last,
        periodStart=period[0],
        periodEnd=period[1],
        issuanceReference=ref or f"ISS-{first}-{last}",
        metadataURI=uri,
    )


class Factory:
    """Builds registry state in few lines: approved projects, verified batches, issued credits."""

    def __init__(self, registry, credit, registrar, verifier, issuer, owner):
        self.registry = registry
        self.credit = credit
        self.registrar = registrar
        self.verifier = verifier
        self.issuer = issuer
        self.owner = owner

    def project(self, approve=True, authorize_issuer=True, **overrides):
        overrides.setdefault("owner", self.owner)
        receipt = self.registry.registerProject(project_input(**overrides), sender=self.registrar)
        project_id = receipt.return_value
        if approve:
            self.registry.setProjectStatus(project_id, 2, "validated", sender=self.registrar)
        if authorize_issuer:
            self.registry.setProjectIssuer(project_id, self.issuer, True, sender=self.registrar)
        return project_id

    def batch(self, project_id, first=1, last=1000, prev=0, verify=True, ref=None):
        receipt = self.registry.addBatch(project_id, batch_input(first, last, ref), prev, sender=self.registrar)
        token_id = receipt.return_value
        if verify:
            self.registry.verifyBatch(token_id, sender=self.verifier)
        return token_id

    def issued(self, to, tonnes=100, first=1, last=1000):
        """A fresh project with one verified batch, and `tonnes` of it issued to `to`. Returns the id."""
        token_id = self.batch(self.project(), first, last)
        self.credit.issue(token_id, to, tonnes * 1000, b"\x00" * 32, sender=self.issuer)
        return token_id


ZERO_ADDRESS = "0x" + "00" * 20


def retirement_input(**overrides) -> dict:
    """A valid RetirementInput: certificate to the retiring account (beneficiary zero), jurisdiction "DE",
    consumption year 2025, no retirement reference."""
    fields = dict(
        beneficiary=ZERO_ADDRESS,
        beneficiaryName="Acme GmbH",
        reason="Scope 1 emissions FY2025",
        jurisdiction="DE",
        periodStart=1735689600,  # 2025-01-01
        periodEnd=1767225599,  # 2025-12-31 23:59:59
        retirementRef=b"\x00" * 32,
    )
    fields.update(overrides)
    return fields


FAR_DEADLINE = 4_102_444_799  # 2099-12-31 23:59:59 UTC


def compliance_period(**overrides) -> dict:
    """A valid CompliancePeriods PeriodInput: emissions year 2025 in "DE", deadline far in the future, any vintage
    and any standard."""
    fields = dict(
        name="EU ETS 2025 surrender",
        jurisdiction="DE",
        periodStart=1735689600,  # 2025-01-01
        periodEnd=1767225599,  # 2025-12-31 23:59:59
        deadline=FAR_DEADLINE,
        vintageFrom=0,
        vintageTo=0,
        eligibleStandards=[],
    )
    fields.update(overrides)
    return fields


# ---------------------------------------------------------------------------------------------------------------
# Unit-test helpers: strict revert and event assertions.
#
# `ape.reverts(SomeError, **inputs)` alone is too lenient for a security suite: it passes when the revert is not
# decoded as a custom error at all (every view call on Anvil), and it skips input names the error does not have.
# `reverts` below fails unless the revert is exactly `error` with exactly `inputs`.

ZERO_REF = b"\x00" * 32
PROJECT_FIELDS = (
    "standard",
    "externalId",
    "name",
    "methodology",
    "projectType",
    "country",
    "region",
    "owner",
    "metadataURI",
    "metadataHash",
)


def order_ref(n: int) -> bytes:
    """A non-zero bytes32 issuance order reference."""
    return n.to_bytes(32, "big")


def plain(value=None, /, **fields):
    """`value` (or the keyword fields as a dict) normalised for comparison: accounts and addresses become
    lower-case hex, bytes become `bytes`, tuples become lists, recursively."""
    if fields:
        return {name: plain(v) for name, v in fields.items()}
    if isinstance(value, dict):
        return {name: plain(v) for name, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if hasattr(value, "address"):
        return str(value.address).lower()
    if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
        return value.lower()
    return value


def project_struct(fields: dict) -> list:
    """A ProjectInput dict (from `project_input`) as the positional struct that events and views return."""
    return plain([fields[name] for name in PROJECT_FIELDS])


def events(receipt, contract, name: str) -> list[dict]:
    """The arguments of every `name` event that `contract` emitted in `receipt`, in order, normalised."""
    return [
        plain(dict(log.event_arguments))
        for log in receipt.events
        if log.event_name == name and log.contract_address == contract.address
    ]


@contextlib.contextmanager
def reverts(error, **inputs):
    """Expects the block to revert with the custom error `error` (e.g. `registry.RegistryUnknownProject`) and
    exactly the arguments `inputs` (all of them). For view functions, call `.transact(...)` inside the block:
    Anvil's eth_call revert data is not decoded into custom errors."""
    with ape.reverts() as info:
        yield info
    raised = info.value
    name = getattr(error, "__name__", str(error))
    if isinstance(raised, CustomError):
        got = raised.name, plain(dict(raised.inputs))
    else:
        got = _decode_bubbled(error, raised)
        assert got is not None, f"expected {name}, but the revert was not decoded: {raised!r}"
    assert got[0] == name, f"expected {name}{plain(**inputs)}, got {raised!r}"
    assert got[1] == plain(dict(inputs)), f"{name}: expected {plain(**inputs)}, got {raised!r}"


def _decode_bubbled(error, raised) -> tuple[str, dict] | None:
    """Ape decodes a revert with the called contract's errors, then with those of the last contract the trace
    touched; an error bubbling up from a contract in between (the token, below the retirement module, when the
    registry was the last one asked) stays raw. Decode such raw data with the expected error's own contract:
    its selector must still match exactly."""
    data = getattr(raised, "revert_message", None)
    contract = getattr(error, "contract", None)
    if contract is None or not isinstance(data, str) or not data.startswith("0x") or len(data) < 10:
        return None
    try:
        return decode_error(contract, bytes.fromhex(data[2:]))
    except (KeyError, ValueError):
        return None


def decode_error(contract, data: bytes) -> tuple[str, dict]:
    """Decodes raw revert data (e.g. a contract's recorded `lastRevertData`) with `contract`'s error ABI."""
    data = bytes(data)
    abi = contract.contract_type.errors[data[:4]]
    return abi.name, plain(dict(ape.chain.provider.network.ecosystem.decode_calldata(abi, data[4:])))


CREDIT_MOVES = ("issue", "safeTransferFrom", "safeBatchTransferFrom")


def move_credits(credit, how: str, *, sender, to, token_id: int, amount: int, ref: bytes = ZERO_REF):
    """Sends `amount` units of `token_id` to `to` in one of the `CREDIT_MOVES`: an issuance by `sender` (an
    issuer, with order reference `ref`), or a single or one-id batch transfer from `sender`'s own balance."""
    if how == "issue":
        return credit.issue(token_id, to, amount, ref, sender=sender)
    if how == "safeTransferFrom":
        return credit.safeTransferFrom(sender, to, token_id, amount, b"", sender=sender)
    if how == "safeBatchTransferFrom":
        return credit.safeBatchTransferFrom(sender, to, [token_id], [amount], b"", sender=sender)
    raise ValueError(f"unknown move {how!r}; expected one of {CREDIT_MOVES}")


class BatchedReads:
    """Queues view calls and sends them as one JSON-RPC batch of raw `eth_call`s.

    The state machines read some 50 to 150 values after every step. Encoding each call through web3.py's
    contract layer costs some milliseconds (it validates the whole ABI on every call), and one ape call each
    costs more; here each function's selector and types are worked out once, calls are encoded with eth_abi and
    sent in one round trip, and results are decoded with eth_abi (addresses checksummed, as web3.py returns
    them). Structs come back as namespaces with the ABI's field names; a revert fails the read.
    """

    def __init__(self, web3, *contracts) -> None:
        self._provider = web3.provider
        # (address, name) -> (selector, input types, output types, output ABI); None for an overloaded name
        self._functions = {}
        for c in contracts:
            abi = c.contract_type.model_dump(mode="json", by_alias=True)["abi"]
            for entry in abi:
                if entry.get("type") != "function":
                    continue
                key = (c.address, entry["name"])
                inputs = [collapse_if_tuple(i) for i in entry["inputs"]]
                selector = function_signature_to_4byte_selector(f"{entry['name']}({','.join(inputs)})")
                outputs = [collapse_if_tuple(o) for o in entry["outputs"]]
                self._functions[key] = None if key in self._functions else (selector, inputs, outputs, entry["outputs"])
        self._calls = []

    def add(self, key, contract, function: str, *args) -> None:
        found = self._functions[(contract.address, function)]
        assert found is not None, f"{function} is overloaded: BatchedReads cannot pick one"
        selector, inputs, output_types, outputs = found
        data = selector + abi_encode(inputs, [_plain_arg(a) for a in args])
        self._calls.append((key, contract.address, "0x" + data.hex(), (output_types, outputs)))

    def execute(self) -> dict:
        calls, self._calls = self._calls, []
        if not calls:
            return {}
        requests = [("eth_call", [{"to": to, "data": data}, "latest"]) for _, to, data, _ in calls]
        responses = self._provider.make_batch_request(requests)
        assert isinstance(responses, list) and len(responses) == len(calls), f"batch failed: {responses}"
        state = {}
        for (key, _, _, (output_types, outputs)), response in zip(calls, responses, strict=True):
            assert "error" not in response, f"read {key} failed: {response['error']}"
            values = abi_decode(output_types, bytes.fromhex(response["result"][2:]))
            values = [_python(o, v) for o, v in zip(outputs, values, strict=True)]
            state[key] = values[0] if len(values) == 1 else values
        return state


def _plain_arg(value):
    if hasattr(value, "address"):
        return str(value.address)
    if isinstance(value, (list, tuple)):
        return [_plain_arg(v) for v in value]
    return value


def _python(abi: dict, value):
    """`value` decoded for `abi` as ape returns it: addresses checksummed (eth_abi returns them in lower case),
    arrays as lists, structs as namespaces with the ABI's field names."""
    kind = abi["type"]
    if kind.endswith("]"):
        inner = dict(abi, type=kind[: kind.rindex("[")])
        return [_python(inner, v) for v in value]
    if kind == "tuple":
        components = abi["components"]
        return SimpleNamespace(**{c["name"]: _python(c, v) for c, v in zip(components, value, strict=True)})
    if kind == "address":
        return to_checksum_address(value)
    return value


_CALL_OPS = {"CALL", "CALLCODE", "DELEGATECALL", "STATICCALL"}
_CREATE_OPS = {"CREATE", "CREATE2"}
_ADDRESS_MASK = (1 << 160) - 1


def addresses_in_struct_logs(logs: list) -> list[int]:
    """The addresses of a transaction's trace frames, in execution order, as ape's `Trace.get_addresses_used`
    finds them (evm_trace's `TraceFrame.address`): the callee of each CALL, CALLCODE, DELEGATECALL and
    STATICCALL (the stack's second item), and for each CREATE/CREATE2 the address on top of the stack at the
    first later frame back at the creating depth."""
    found = []
    for i, frame in enumerate(logs):
        op = frame["op"]
        if op in _CALL_OPS:
            stack = frame.get("stack") or []
            if len(stack) >= 2:
                found.append(int(stack[-2], 16) & _ADDRESS_MASK)
        elif op in _CREATE_OPS:
            for later in logs[i + 1 :]:
                if later["depth"] <= frame["depth"]:
                    if later.get("stack"):
                        found.append(int(later["stack"][-1], 16) & _ADDRESS_MASK)
                    break
    return found


def fast_get_addresses_used(self, reverse: bool = False):
    """Stands in for ape's `TransactionTrace.get_addresses_used` (see `addresses_in_struct_logs`), which ape
    calls to decode a custom error that the called contract's ABI lacks. Ape streams the whole opcode trace
    with memory and validates every frame into pydantic models, some 0.5 s a revert; this asks for the trace
    without memory or storage and reads the raw frames: the same addresses in the same order."""
    result = self.provider.make_request(
        "debug_traceTransaction", [self.transaction_hash, {"enableMemory": False, "disableStorage": True}]
    )
    found = addresses_in_struct_logs(result["structLogs"])
    for address in reversed(found) if reverse else found:
        yield self._ecosystem.decode_address(address.to_bytes(20, "big"))


class FastRevert(Exception):
    """A transaction sent by `FastSender` reverted; `name` is its custom error's (None if no ABI knows it)."""

    def __init__(self, name, data: bytes) -> None:
        super().__init__(f"reverted with {name or 'undecoded data'} (0x{data.hex()})")
        self.name = name
        self.data = data


class FastReceipt:
    """What the state machines read of a receipt: its status, its events, the call's return value."""

    def __init__(self, sender: FastSender, raw: dict, function) -> None:
        self._sender = sender
        self.raw = raw
        self.txn_hash = raw["transactionHash"]
        self._function = function

    @property
    def return_value(self):
        output = self._sender.trace_output(self.txn_hash)
        _, _, _, output_types, outputs = self._function
        values = abi_decode(output_types, output)
        values = [_python(o, v) for o, v in zip(outputs, values, strict=True)]
        return values[0] if len(values) == 1 else values

    def decode_logs(self, event):
        """The `event` (an ape ContractEvent of a deployed contract) logs its contract emitted, as namespaces."""
        abi = event.abi.model_dump(mode="json", by_alias=True)
        types = ",".join(collapse_if_tuple(i) for i in abi["inputs"])
        topic = "0x" + keccak(text=f"{abi['name']}({types})").hex()
        indexed = [i for i in abi["inputs"] if i.get("indexed")]
        plain_inputs = [i for i in abi["inputs"] if not i.get("indexed")]
        address = str(event.contract.address).lower()
        found = []
        for log in self.raw["logs"]:
            if log["address"].lower() != address or not log["topics"] or log["topics"][0] != topic:
                continue
            fields = {}
            for i, t in zip(indexed, log["topics"][1:], strict=True):
                fields[i["name"]] = _python(i, abi_decode([collapse_if_tuple(i)], bytes.fromhex(t[2:]))[0])
            values = abi_decode([collapse_if_tuple(i) for i in plain_inputs], bytes.fromhex(log["data"][2:]))
            for i, v in zip(plain_inputs, values, strict=True):
                fields[i["name"]] = _python(i, v)
            found.append(SimpleNamespace(**fields))
        return found


class FastSender:
    """Sends the state machines' transactions straight through JSON-RPC: calldata encoded with eth_abi, signed
    with the test account's key, a fixed gas limit, one `eth_sendRawTransaction` and one receipt read, where ape
    spends some 15 RPC calls and much Python on each (nonce looked up three times, the receipt polled, the
    revert replayed as a call and its trace walked). Like ape's, a reverting transaction is mined (the nonce
    moves, gas price is 0): its revert data comes from the transaction's own call trace and is decoded with the
    ABIs given, raising `FastRevert`. The return value is read from the same trace, when asked for.

    `wrap(contract)` returns the contract with its state-changing functions sent this way (with `sender=`);
    everything else (views, events, address, ABI) is the ape contract's.
    """

    GAS = 15_000_000

    def __init__(self, web3, *contracts) -> None:
        self._provider = web3.provider
        self._chain_id = web3.eth.chain_id
        self._functions = {}  # (address, name) -> (selector, inputs ABI, input types, output types, outputs ABI)
        self._errors = {}  # selector -> error name
        for c in contracts:
            abi = c.contract_type.model_dump(mode="json", by_alias=True)["abi"]
            self._errors.update({sel: sig.split("(", 1)[0] for sel, sig in error_names(abi).items()})
            for entry in abi:
                if entry.get("type") != "function" or entry.get("stateMutability") in ("view", "pure"):
                    continue
                key = (c.address, entry["name"])
                inputs = [collapse_if_tuple(i) for i in entry["inputs"]]
                selector = function_signature_to_4byte_selector(f"{entry['name']}({','.join(inputs)})")
                outputs = [collapse_if_tuple(o) for o in entry["outputs"]]
                found = (selector, entry["inputs"], inputs, outputs, entry["outputs"])
                self._functions[key] = None if key in self._functions else found

    def wrap(self, contract):
        return _FastContract(self, contract)

    def send(self, contract, name: str, *args, sender) -> FastReceipt:
        function = self._functions[(contract.address, name)]
        assert function is not None, f"{name} is overloaded: FastSender cannot pick one"
        selector, inputs_abi, inputs, _, _ = function
        values = [_abi_arg(i, a) for i, a in zip(inputs_abi, args, strict=True)]
        data = selector + abi_encode(inputs, values)
        nonce = int(self._request("eth_getTransactionCount", [sender.address, "pending"]), 16)
        tx = {
            "to": contract.address,
            "data": data,
            "value": 0,
            "gas": self.GAS,
            "gasPrice": 0,
            "nonce": nonce,
            "chainId": self._chain_id,
        }
        signed = EthAccount.sign_transaction(tx, sender.private_key)
        txn_hash = self._request("eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()])
        raw = self._request("eth_getTransactionReceipt", [txn_hash])
        while raw is None:  # Anvil mines on receipt; this only waits when it is told to mine otherwise
            time.sleep(0.01)
            raw = self._request("eth_getTransactionReceipt", [txn_hash])
        if int(raw["status"], 16) != 1:
            output = self.trace_output(txn_hash)
            raise FastRevert(self._errors.get(output[:4]), output)
        return FastReceipt(self, raw, function)

    def trace_output(self, txn_hash: str) -> bytes:
        trace = self._request("debug_traceTransaction", [txn_hash, {"tracer": "callTracer"}])
        return bytes.fromhex((trace.get("output") or "0x")[2:])

    def _request(self, method: str, params: list):
        response = self._provider.make_request(method, params)
        if "error" in response:
            raise RuntimeError(f"{method} failed: {response['error']}")
        return response["result"]


class _FastContract:
    def __init__(self, sender: FastSender, contract) -> None:
        self._sender = sender
        self._contract = contract

    def __getattr__(self, name: str):
        if (self._contract.address, name) in self._sender._functions:
            return functools.partial(self._sender.send, self._contract, name)
        return getattr(self._contract, name)


def _abi_arg(abi: dict, value):
    """`value` as eth_abi encodes `abi`'s type: accounts and contracts as addresses, structs given as dicts
    (ape's way) in their fields' order."""
    kind = abi["type"]
    if kind.endswith("]"):
        inner = dict(abi, type=kind[: kind.rindex("[")])
        return [_abi_arg(inner, v) for v in value]
    if kind == "tuple":
        components = abi["components"]
        if isinstance(value, dict):
            value = [value[c["name"]] for c in components]
        return tuple(_abi_arg(c, v) for c, v in zip(components, value, strict=True))
    if hasattr(value, "address"):
        return str(value.address)
    return value
