"""What the modules' bench rows share: the context ``tonne.bench.run`` hands each of them, the fresh-suite helpers
and the throughput figures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class BenchContext:
    """The chain, its funded accounts, where to print, and the sizes `ape run bench` was given."""

    project: Any
    provider: Any
    accounts: list[Any]
    echo: Callable[[str], None]
    batches: int = 10_000
    rows: int = 10_000
    scale_rows: tuple[int, ...] = (10_000, 100_000)
    retire_rows: int = 1_000
    bridge_transfers: int = 1_000


def yes(flag: bool | None) -> str:
    return "-" if flag is None else ("yes" if flag else "NO")


def bench_roles(accounts: list[Any]) -> dict[str, list[Any]]:
    """Registrar, verifier and issuer: accounts 1 to 3 (account 0 deploys)."""
    _, registrar, verifier, issuer = accounts[:4]
    return {"REGISTRAR_ROLE": [registrar], "VERIFIER_ROLE": [verifier], "ISSUER_ROLE": [issuer]}


def vintages(registry: Any, registrar: Any, verifier: Any, project_id: int, tag: str) -> list[str]:
    """Five verified vintages of 1,000,000 t each, appended to a fresh project; returns their issuance references."""
    refs = []
    for n in range(1, 6):
        ref = f"{tag}-{n}"
        first = (n - 1) * 1_000_000 + 1
        batch = dict(
            serialFirst=first,
            serialLast=first + 999_999,
            periodStart=1,
            periodEnd=2,
            issuanceReference=ref,
            metadataURI="",
        )
        token_id = registry.addBatch(project_id, batch, n - 1, sender=registrar).return_value
        registry.verifyBatch(token_id, sender=verifier)
        refs.append(ref)
    return refs


def throughput(rows: int, seconds: float, summary: Any) -> dict[str, Any]:
    return {
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds, 1),
        "transactions": summary.txs,
        "gas_used": summary.gas_used,
        "gas_per_row": summary.gas_used // rows,
    }
