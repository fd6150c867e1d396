"""Administration of a deployment: roles on the contract that checks them, the allowlist, freezes, pause, and the
two-step admin transfer. Each action is checked against the chain before anything is sent, so a refusal names the
contract, the role and the account instead of surfacing as a reverted transaction.

The roles are OpenZeppelin ``AccessControlDefaultAdminRules``: holders are not enumerable on-chain, so
``role_holders`` rebuilds them from ``RoleGranted`` / ``RoleRevoked`` events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import keccak

from tonne.bulk.chain import pinned
from tonne.bulk.report import network_errors, rpc_lost, rpc_of
from tonne.bulk.send import ape_send, send_windowed, waited
from tonne.chain.errors import Problem, SendFailed, ToolError, problem_summary
from tonne.chain.send import Sent
from tonne.chain.view import Call, ChainView
from tonne.core.csvinput import FieldError, parse_address, read_table, read_text

DEFAULT_ADMIN = "DEFAULT_ADMIN"
_ZERO_ROLE = b"\x00" * 32

# Which contract of the suite grants and checks each role (the deployment record's contract names).
ROLE_CONTRACTS: dict[str, str] = {
    "REGISTRAR": "CarbonRegistry",
    "VERIFIER": "CarbonRegistry",
    "ISSUER": "CarbonRegistry",
    "COMPLIANCE": "CarbonCredit",
    "REGULATOR": "CarbonCredit",
    "PERIOD_REGULATOR": "CompliancePeriods",
}
CONTRACT_ALIASES: dict[str, str] = {
    "registry": "CarbonRegistry",
    "token": "CarbonCredit",
    "credit": "CarbonCredit",
    "retirement": "CarbonRetirement",
    "compliance": "CompliancePeriods",
}


class AdminError(ToolError):
    """An administrative action that cannot be done as asked; the message says why and what would work."""


@dataclass(frozen=True)
class RoleRef:
    """A role as the tools name it (``ISSUER``), its on-chain id, and the contract that checks it."""

    name: str
    role_id: bytes
    contract: str


def role_id(name: str) -> bytes:
    """The role's bytes32 id: zero for the default admin, else keccak256("<NAME>_ROLE")."""
    return _ZERO_ROLE if name == DEFAULT_ADMIN else keccak(text=f"{name}_ROLE")


def resolve_role(name: str, contract: str | None = None) -> RoleRef:
    """``ISSUER``, ``issuer`` or ``ISSUER_ROLE`` -> the role; DEFAULT_ADMIN needs ``contract`` (each has one)."""
    key = name.strip().upper().removesuffix("_ROLE")
    if key in ("ADMIN", "DEFAULT_ADMIN"):
        if contract is None:
            raise AdminError(f"--role {name}: every contract has its own admin; name one with --contract")
        return RoleRef(DEFAULT_ADMIN, _ZERO_ROLE, resolve_contract(contract))
    if key not in ROLE_CONTRACTS:
        known = ", ".join(sorted(ROLE_CONTRACTS))
        raise AdminError(f"--role {name}: no such role of the suite (known: {known}, DEFAULT_ADMIN)")
    home = ROLE_CONTRACTS[key]
    if contract is not None and resolve_contract(contract) != home:
        raise AdminError(f"--role {key} is granted and checked on {home}, not on {resolve_contract(contract)}")
    return RoleRef(key, role_id(key), home)


def resolve_contract(name: str) -> str:
    """``registry`` / ``token`` / ``CarbonRegistry`` ... -> the record's contract name."""
    key = name.strip()
    if key.lower() in CONTRACT_ALIASES:
        return CONTRACT_ALIASES[key.lower()]
    if key in CONTRACT_ALIASES.values():
        return key
    known = ", ".join(sorted({*CONTRACT_ALIASES, *CONTRACT_ALIASES.values()}))
    raise AdminError(f"--contract {name}: not a contract of the suite (known: {known})")


def parse_account(value: str, option: str) -> str:
    """An address given on the command line, checked as the CSV tools check one."""
    try:
        return parse_address(value.strip())
    except FieldError as exc:
        raise AdminError(f"{option}: {exc}") from exc


def parse_nonzero_account(value: str, option: str, role: str) -> str:
    """``parse_account``, refusing the zero address: a role or the admin given to it can never be used."""
    address = parse_account(value, option)
    if int(address, 16) == 0:
        raise AdminError(f"{option}: the zero address cannot hold {role} (nobody could ever use it); give an account")
    return address


def require_allowlist(credit: Any) -> None:
    """Refuse before sending when the credit token is in open mode: it keeps no allowlist, and ``setAllowed``
    always reverts (CreditAllowlistDisabled)."""
    if not credit.permissioned():
        raise AdminError(
            f"the credit token ({credit.address}) is in open mode (permissioned() is false): it has no allowlist "
            "and refuses setAllowed (CreditAllowlistDisabled); nothing was sent"
        )


def require_role(contract: Any, contract_name: str, role: bytes, role_name: str, account: str) -> None:
    """Refuse before sending when ``account`` lacks ``role`` on ``contract``."""
    if not contract.hasRole(role, account):
        raise AdminError(
            f"{account} does not hold {role_name} on {contract_name} ({contract.address}); "
            f"the role's admin can grant it: ape run admin grant {role_name} {account}"
        )


def role_admin_check(contract: Any, ref: RoleRef, sender: str) -> None:
    """The sender must hold the role's admin role (for the suite's roles, the contract's DEFAULT_ADMIN)."""
    admin_role = bytes(contract.getRoleAdmin(ref.role_id))
    admin_name = DEFAULT_ADMIN if admin_role == _ZERO_ROLE else "0x" + admin_role.hex()
    if ref.name == DEFAULT_ADMIN:
        raise AdminError(
            f"DEFAULT_ADMIN of {ref.contract} moves only by the two-step transfer: "
            "ape run admin transfer-admin --contract ... NEW_ADMIN, then accept-admin from the new admin"
        )
    require_role(contract, ref.contract, admin_role, admin_name, sender)


def role_holders(contract: Any, start_block: int, stop_block: int) -> dict[bytes, set[str]]:
    """Every role's current holders on ``contract``, from its RoleGranted / RoleRevoked events in block order."""
    logs = [*contract.RoleGranted.range(start_block, stop_block), *contract.RoleRevoked.range(start_block, stop_block)]
    holders: dict[bytes, set[str]] = {}
    for log in sorted(logs, key=lambda entry: (entry.block_number, entry.log_index)):
        role = bytes(log.event_arguments["role"])
        account = log.event_arguments["account"]
        if log.event_name == "RoleGranted":
            holders.setdefault(role, set()).add(account)
        else:
            holders.setdefault(role, set()).discard(account)
    return holders


def role_names() -> dict[bytes, str]:
    return {role_id(name): name for name in (*ROLE_CONTRACTS, DEFAULT_ADMIN)}


# ---------------------------------------------------------------------------------------------------- allowlist


@dataclass(frozen=True)
class AllowRow:
    line: int
    account: str


def read_allowlist(path: Path | str) -> list[str]:
    """Accounts from a CSV file with an ``account`` column (one per row, each once); every problem reported
    as ``file:line: field: message`` and nothing returned while any remains."""
    name = str(path)
    text = read_text(path, AdminError)

    def parse_row(values: dict[str, str], line: int, problems: list[Problem]) -> AllowRow | None:
        try:
            return AllowRow(line, parse_address(values["account"]))
        except FieldError as exc:
            problems.append(Problem(name, line, "account", str(exc)))
            return None

    rows, problems = read_table(
        text, name, required=("account",), optional=("note",), unique="account", parse_row=parse_row
    )
    seen: dict[str, int] = {}
    for row in rows:
        first = seen.setdefault(row.account, row.line)
        if first != row.line:
            problems.append(Problem(name, row.line, "account", f"{row.account} is already listed on line {first}"))
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        raise AdminError(problem_summary(name, problems), problems)
    return [row.account for row in rows]


def allowlist_changes(view: ChainView, credit: str, accounts: Sequence[str], allowed: bool) -> list[str]:
    """The accounts whose allowlist state at ``credit`` differs from ``allowed`` (the rest are already as asked:
    idempotent), read in one batch at the view's block."""
    states = view.call_many([Call(credit, "isAllowed(address)", (account,), ("bool",)) for account in accounts])
    return [account for account, state in zip(accounts, states, strict=True) if bool(state) != allowed]


def set_allowed(
    credit: Any,
    view: ChainView,
    changes: Sequence[str],
    allowed: bool,
    account: Any,
    *,
    chunk_size: int = 200,
    pending_timeout: float = 180.0,
) -> int:
    """``setAllowed`` of ``changes``, ``chunk_size`` accounts a transaction, on the bulk pipeline's sender
        (``tonne.bulk.send_windowed``); returns how many accounts this run changed. A failed chunk is re-checked against
        the chain at one pinned block (another run by the same account, the same command twice at once, may have taken
        the nonce, ``tonne.bulk.nonce_clash``, or changed the accounts already): only what is still to change is sent
        again; when nothing changed meanwhile and it was not a nonce clash, ``AdminError`` is the refusal, decoded. The
    node going away mid-run raises ``RpcLost`` (one line; what was mined stands, a rerun sends the rest)."""
    changed = 0

    def submit(chunk: list[str]) -> Sent:
        return ape_send(credit.setAllowed, chunk, allowed, sender=account)

    def record(chunk: list[str], sent: Sent) -> None:
        nonlocal changed
        changed += len(chunk)

    def settle(failures: list[tuple[list[str], SendFailed]]) -> list[list[str]]:
        ((chunk, exc),) = failures
        with pinned(view, str(account.address), pending_timeout):
            left = allowlist_changes(view, str(credit.address), chunk, allowed)
        if len(left) == len(chunk) and not exc.retry:
            raise AdminError(str(exc)) from exc
        return [left] if left else []

    chunks = (list(changes[i : i + chunk_size]) for i in range(0, len(changes), chunk_size))
    try:
        send_windowed(chunks, submit, waited(None), record, settle)
    except network_errors() as exc:  # the node went away mid-run: one line, and a rerun resumes (as bulk.run says)
        raise rpc_lost(rpc_of(view), exc) from exc
    return changed
