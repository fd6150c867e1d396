"""One place that turns a contract's refusal into one readable line: the custom error's name and arguments
(roles by name, amounts of a known token in its units) and, for the refusals a user can fix, what to do.

Every tool's error path goes through ``explain``: an ape ``ContractLogicError`` (a ``CustomError`` of a known ABI,
or the raw revert data of one that is not, such as the loan token's ``ERC20InsufficientBalance`` surfacing through
the facility), a ``SendFailed`` carrying revert data, or the revert data itself. ``quiet_traces`` stops ape from
printing a call trace (hundreds of lines) to stdout when a gas estimate reverts.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

# The OpenZeppelin errors any of the suite's contracts (or the loan token) can revert with, so that they decode
# even where the compiled artifacts are not at hand; the artifacts add every Tonne error (``error_table``).
_STANDARD_ERRORS = (
    ("ERC20InsufficientBalance", ("sender", "balance", "needed"), ("address", "uint256", "uint256")),
    ("ERC20InsufficientAllowance", ("spender", "allowance", "needed"), ("address", "uint256", "uint256")),
    ("ERC20InvalidSender", ("sender",), ("address",)),
    ("ERC20InvalidReceiver", ("receiver",), ("address",)),
    ("ERC20InvalidApprover", ("approver",), ("address",)),
    ("ERC20InvalidSpender", ("spender",), ("address",)),
    ("AccessControlUnauthorizedAccount", ("account", "neededRole"), ("address", "bytes32")),
    ("AccessControlBadConfirmation", (), ()),
    (
        "ERC1155InsufficientBalance",
        ("sender", "balance", "needed", "tokenId"),
        ("address", "uint256", "uint256", "uint256"),
    ),
    ("ERC1155MissingApprovalForAll", ("operator", "owner"), ("address", "address")),
    ("ERC1155InvalidReceiver", ("receiver",), ("address",)),
    ("EnforcedPause", (), ()),
    ("ExpectedPause", (), ()),
    ("ReentrancyGuardReentrantCall", (), ()),
)
# Every role of the suite (contracts/*: `keccak256("<NAME>_ROLE")`), by id.
ROLE_NAMES = (
    "REGISTRAR",
    "VERIFIER",
    "ISSUER",
    "COMPLIANCE",
    "REGULATOR",
    "PERIOD_REGULATOR",
    "PAUSER",
    "LENDER",
    "PRICE_FEEDER",
)
# Roles `ape run admin grant` knows (tonne.registry.admin.ROLE_CONTRACTS); others are granted with the
# contract's grantRole.
_ADMIN_TOOL_ROLES = {"REGISTRAR", "VERIFIER", "ISSUER", "COMPLIANCE", "REGULATOR", "PERIOD_REGULATOR"}
_HEX = re.compile(r"0x[0-9a-fA-F]{8,}")


def role_name(role: bytes) -> str:
    """``COMPLIANCE_ROLE`` for its id, ``DEFAULT_ADMIN_ROLE`` for zero, else the hex."""
    role = bytes(role)
    if not any(role):
        return "DEFAULT_ADMIN_ROLE"
    for name in ROLE_NAMES:
        if keccak(text=f"{name}_ROLE") == role:
            return f"{name}_ROLE"
    return "0x" + role.hex()


@cache
def error_table() -> dict[bytes, tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """selector -> (name, input names, input types): the standard errors and every compiled contract's."""
    table = {keccak(text=f"{n}({','.join(t)})")[:4]: (n, names, t) for n, names, t in _STANDARD_ERRORS}
    try:
        from tonne.bridge.errors import error_table as compiled

        for selector, (name, names, types) in compiled().items():
            table.setdefault(selector, (name, tuple(names), tuple(types)))
    except Exception:  # noqa: BLE001 - no artifacts (not compiled here): the standard errors still decode
        pass
    return table


def revert_entry(data: bytes | str | None, table: Mapping[bytes, Any]) -> tuple[Any, bytes] | None:
    """(``table``'s entry for the selector of revert ``data``, the argument bytes after it); None when ``data``
    is empty, not hex, shorter than a selector, or its selector is not in ``table``."""
    if isinstance(data, str):
        try:
            data = bytes.fromhex(data.removeprefix("0x"))
        except ValueError:
            return None
    if not data or len(data) < 4:
        return None
    entry = table.get(bytes(data[:4]))
    if entry is None:
        return None
    return entry, bytes(data[4:])


def decode_error(data: bytes | str | None) -> tuple[str, dict[str, Any]] | None:
    """(name, arguments) of revert ``data``; None when empty, unknown or malformed."""
    found = revert_entry(data, error_table())
    if found is None:
        return None
    (name, names, types), arguments = found
    try:
        values = abi_decode(list(types), arguments) if types else ()
    except Exception:  # noqa: BLE001 - malformed arguments: the name alone
        return name, {}
    return name, dict(zip(names, values, strict=True))


def _revert_data(exc: Any) -> tuple[str, dict[str, Any]] | None:
    """The decoded custom error behind ``exc``, from wherever ape / web3 / our senders put it."""
    abi = getattr(exc, "abi", None)
    inputs = getattr(exc, "inputs", None)
    if abi is not None and isinstance(inputs, dict) and getattr(abi, "name", None):
        return str(abi.name), dict(inputs)
    for candidate in (getattr(exc, "revert_data", None), getattr(exc, "data", None)):
        if isinstance(candidate, bytes | bytearray | str) and (found := decode_error(candidate)):
            return found
    for text in (getattr(exc, "revert_message", None), str(exc)):
        if isinstance(text, str):
            for match in _HEX.findall(text):
                if found := decode_error(match):
                    return found
    return None


def _show(value: Any, key: str, money: Callable[[int], str] | None) -> str:
    if isinstance(value, bytes | bytearray):
        return role_name(value) if len(value) == 32 and "role" in key.lower() else "0x" + bytes(value).hex()
    if isinstance(value, str) and re.fullmatch(r"0x[0-9a-fA-F]{40}", value):
        return to_checksum_address(value)
    if isinstance(value, int) and money is not None and key in ("balance", "needed", "allowance"):
        return money(value)
    return str(value)


def explain(
    exc: Any,
    *,
    contracts: Mapping[str, str] | None = None,
    money: Callable[[int], str] | None = None,
) -> str:
    """One line for a refusal: ``Name(arg=value, ...)`` and, where a user can act on it, what to do.

    ``contracts`` maps lower-case addresses to names (the deployment record) so the refusing contract is named;
    ``money`` formats the loan token's base units (``ERC20*`` errors come from it)."""
    decoded = _revert_data(exc)
    where = ""
    address = getattr(exc, "contract_address", None) or getattr(exc, "address", None)
    if contracts and address:
        where = contracts.get(str(address).lower(), "")
    if decoded is None:
        text = str(getattr(exc, "revert_message", None) or exc).strip().splitlines()
        first = text[0] if text else type(exc).__name__
        return f"{where + ' ' if where else ''}reverted: {first}"
    name, args = decoded
    shown = ", ".join(f"{k}={_show(v, k, money)}" for k, v in args.items())
    line = f"{name}({shown})" + (f" from {where}" if where else "")
    advice = _advice(name, args, where, money)
    return f"{line}: {advice}" if advice else line


def _advice(name: str, args: dict[str, Any], where: str, money: Callable[[int], str] | None) -> str:
    fmt = money or str
    if name == "AccessControlUnauthorizedAccount":
        account = to_checksum_address(args["account"])
        role = role_name(args["neededRole"])
        on = f" on {where}" if where else ""
        short = role.removesuffix("_ROLE")
        if short in _ADMIN_TOOL_ROLES:
            how = f"ape run admin grant {short} {account} --account <admin of that contract>"
        elif role == "DEFAULT_ADMIN_ROLE":
            how = "the contract's admin must act (ape run admin transfer-admin / accept-admin)"
        else:
            how = f"the contract's admin can call grantRole({role}, {account})"
        return f"{account} does not hold {role}{on}; get it granted: {how}; nothing was changed"
    if name == "ERC20InsufficientBalance":
        short = args["needed"] - args["balance"]
        return (
            f"{to_checksum_address(args['sender'])} holds {fmt(args['balance'])} of the loan token but "
            f"{fmt(args['needed'])} is needed ({fmt(short)} short); nothing was changed"
        )
    if name == "ERC20InsufficientAllowance":
        return (
            f"the allowance of {to_checksum_address(args['spender'])} is {fmt(args['allowance'])}, "
            f"{fmt(args['needed'])} is needed; nothing was changed"
        )
    if name == "RegistryDuplicateProject":
        existing = args["existingProjectId"]
        return (
            f"{args['standard']}:{args['externalId']} is already registered as project {existing} "
            f"(ape run registry show {existing}); nothing was changed"
        )
    if name == "EnforcedPause":
        return "the contract is paused (ape run admin unpause, by a REGULATOR); nothing was changed"
    return "nothing was changed"


@contextlib.contextmanager
def quiet_traces() -> Iterator[None]:
    """While inside, ape prints no call trace when a transaction or its gas estimate reverts (ape-foundry shows
    one on stdout for every revert, ahead of the error the tool reports itself)."""
    try:
        from ape_ethereum.trace import Trace
    except ImportError:  # pragma: no cover - ape not installed: nothing prints traces
        yield
        return
    original = Trace.show
    Trace.show = lambda self, *args, **kwargs: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        Trace.show = original  # type: ignore[method-assign]


def record_names(record: Mapping[str, Any]) -> dict[str, str]:
    """Lower-case address -> contract name, from a deployment record."""
    return {str(entry["address"]).lower(): name for name, entry in record.get("contracts", {}).items()}


# What the running command knows of its deployment, set once connected (``remember``), for ``refused``.
_context: dict[str, Any] = {"contracts": {}, "money": None}


def remember(record: Mapping[str, Any] | None = None, money: Callable[[int], str] | None = None) -> None:
    """Let ``refused`` name the deployment's contracts and format the loan token's amounts."""
    if record is not None:
        _context["contracts"] = record_names(record)
    if money is not None:
        _context["money"] = money


def refused(exc: Any) -> str:
    """``the contract refused: <explain>`` with what ``remember`` was told."""
    return "the contract refused: " + explain(exc, contracts=_context["contracts"], money=_context["money"])


def guard(command: Any) -> Any:
    """Wrap a click command (each subcommand of a group) so that a contract refusal that escapes it is reported
    by ``refused`` as one line (exit 1), and ape prints no call trace on the way."""
    import click

    try:
        from ape.exceptions import ContractLogicError
    except ImportError:  # pragma: no cover
        return command
    _guard_invoke(command)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            guard(sub)
        return command
    callback = command.callback
    if callback is None or getattr(callback, "_tonne_guarded", False):
        return command

    def guarded(*args: Any, **kwargs: Any) -> Any:
        with quiet_traces():
            try:
                return callback(*args, **kwargs)
            except ContractLogicError as exc:
                raise click.ClickException(refused(exc)) from exc

    functools.update_wrapper(guarded, callback)  # ape reads the signature (provider, network, ...) through it
    guarded._tonne_guarded = True  # type: ignore[attr-defined]
    command.callback = guarded
    return command


def _guard_invoke(command: Any) -> None:
    """Report any other ape error that escapes ``command`` (a node that is down, a network ape cannot connect to,
    an account it cannot load: raised while connecting, before the callback runs) as one line, exit 1.

    ape's own handler prints the traceback frames whose file lies inside the project folder, and ``make`` puts the
    virtualenv there, so without this every such error came with a trace of ape's and click's frames."""
    import click
    from ape.exceptions import ApeException, ContractLogicError

    invoke = command.invoke
    if getattr(invoke, "_tonne_guarded", False):
        return

    def guarded_invoke(ctx: Any) -> Any:
        try:
            return invoke(ctx)
        except ContractLogicError as exc:
            raise click.ClickException(refused(exc)) from exc
        except ApeException as exc:
            raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc
        except json.JSONDecodeError as exc:  # web3 decoding what the URL answered: a web page, a proxy's error page
            raise click.ClickException(
                "the node's answer is not JSON-RPC (a web page or another service at the --network URL?): "
                f"{' '.join(str(exc.doc).split())[:80]!r}"
            ) from exc

    guarded_invoke._tonne_guarded = True  # type: ignore[attr-defined]
    command.invoke = guarded_invoke
