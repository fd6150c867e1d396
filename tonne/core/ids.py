"""Token ids of the credit token: ``projectId << 64 | batchNumber`` (see contracts/libraries/CreditIds.sol)."""

from __future__ import annotations

_MASK64 = (1 << 64) - 1


def encode_id(project_id: int, batch_number: int) -> int:
    """Token id of batch ``batch_number`` (from 1) of project ``project_id`` (from 1)."""
    if not (0 < project_id <= _MASK64 and 0 < batch_number <= _MASK64):
        raise ValueError(f"project id and batch number must be in 1..2^64-1, got {project_id}, {batch_number}")
    return (project_id << 64) | batch_number


def project_of(token_id: int) -> int:
    """The project of a token id."""
    return (token_id >> 64) & _MASK64


def batch_number_of(token_id: int) -> int:
    """The batch number (within its project) of a token id."""
    return token_id & _MASK64


def describe(token_id: int) -> str:
    """Readable form, e.g. ``'P3/B2'``."""
    return f"P{project_of(token_id)}/B{batch_number_of(token_id)}"
