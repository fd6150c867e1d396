"""What the modules' demo steps share (``tonne.demo`` runs them, in the order ``tonne.modules`` gives): the
actors, the gas ledger, the context one step hands to the next, and the expected-refusal helper."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ape.exceptions import ContractLogicError


@dataclass
class Ledger:
    """Gas spent per step of the demo."""

    steps: dict[str, list[int]] = field(default_factory=dict)

    def add(self, step: str, receipt: Any) -> Any:
        self.steps.setdefault(step, []).append(int(receipt.gas_used))
        return receipt


@dataclass
class Actors:
    admin: Any
    registrar: Any
    verifier: Any
    issuer: Any
    compliance: Any
    regulator: Any
    buyers: list[Any]
    outsider: Any

    @classmethod
    def from_accounts(cls, accounts: list[Any]) -> Actors:
        return cls(*accounts[:6], buyers=list(accounts[6:9]), outsider=accounts[9])


@dataclass
class DemoContext:
    """What one demo step leaves for the next: the deployment, the projects and batches made, the certificates,
    and the result the demo returns (each module adds its part)."""

    project: Any
    provider: Any
    actors: Actors
    echo: Callable[[str], None]
    out: Path | str
    gas: Ledger = field(default_factory=Ledger)
    deployed: Any = None  # tonne.deploy.DeployResult
    start_block: int = 0
    project_ids: list[int] = field(default_factory=list)
    token_ids: list[int] = field(default_factory=list)
    certificates: list[Any] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def registry(self) -> Any:
        return self.deployed.suite.registry

    @property
    def credit(self) -> Any:
        return self.deployed.suite.credit


def expect_refusal(action: Callable[[], Any]) -> str:
    """Send a transaction the contracts must refuse; return the custom error it reverted with.

    ape-foundry prints the full call trace of every failed transaction; for these deliberate refusals the
    error line is what matters, so the trace is captured and dropped.
    """
    try:
        with _stdout_silenced():
            action()
    except ContractLogicError as exc:
        return _error_text(exc)
    raise AssertionError("the contract accepted an action the demo expected it to refuse")


@contextlib.contextmanager
def _stdout_silenced() -> Iterator[None]:
    """Drop what is written to file descriptor 1 (the trace printer holds its own reference to stdout)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def _error_text(exc: ContractLogicError) -> str:
    name = type(exc).__name__
    inputs = getattr(exc, "inputs", None)
    if inputs:
        args = ", ".join(f"{k}={_short_value(v)}" for k, v in inputs.items())
        return f"{name}({args})"
    return str(exc) or name


def _short_value(value: Any) -> str:
    if isinstance(value, bytes | bytearray):  # a hash: 0x and its first and last hex digits
        text = "0x" + bytes(value).hex()
        return f"{text[:10]}..{text[-4:]}" if len(text) > 18 else text
    text = str(value)
    return short(value) if text.startswith("0x") and len(text) == 42 else text


def short(account: Any) -> str:
    address = str(getattr(account, "address", account))
    return f"{address[:6]}..{address[-4:]}"
