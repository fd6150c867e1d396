"""The one report format of the bulk tools: every problem as ``file:line: field: message``.

``Problem``, ``ToolError`` and ``problem_summary`` are defined in ``tonne.chain.errors`` (the chain layer raises
them too); this module is where a bulk tool takes them from, with the helpers every tool's report uses.
"""

from __future__ import annotations

from collections.abc import Sequence

from tonne.chain.errors import PendingTransactionsError, Problem, SendFailed, ToolError, problem_summary


def line_ranges(lines: Sequence[int], shown: int = 12) -> str:
    """``2-19, 22, 40-41`` for sorted line numbers (at most ``shown`` ranges, then ``... (N more)``)."""
    ranges: list[list[int]] = []
    for n in sorted(set(lines)):
        if ranges and n == ranges[-1][1] + 1:
            ranges[-1][1] = n
        else:
            ranges.append([n, n])
    parts = [f"{a}" if a == b else f"{a}-{b}" for a, b in ranges]
    rest = len(parts) - shown
    return ", ".join(parts[:shown]) + (f", ... ({rest} more ranges)" if rest > 0 else "")


class RpcLost(ToolError):
    """The node stopped answering in the middle of a run (after the plan was made): one line naming the RPC. What
    was mined stands; the chain is the record, so running the same command again resumes."""


def network_errors() -> tuple[type[BaseException], ...]:
    """What a lost node raises through web3 (requests' connection errors and time-outs, web3's connection error,
    the socket's own: refused, reset, timed out): the errors ``rpc_lost`` turns into one line."""
    import requests
    from web3.exceptions import CannotHandleRequest, ProviderConnectionError

    # CannotHandleRequest: web3's AutoProvider (ape's, for a --network URL) retries a failed connection itself and,
    # finding no node, says so in this error instead.
    return (
        requests.exceptions.ConnectionError,
        requests.exceptions.Timeout,
        ProviderConnectionError,
        CannotHandleRequest,
        ConnectionError,
        TimeoutError,
    )


def rpc_lost(rpc: str | None, exc: BaseException) -> RpcLost:
    """``RpcLost`` for ``exc`` from the node at ``rpc`` (its URL, when known)."""
    cause = " ".join(str(exc).split())
    cause = cause if len(cause) <= 160 else cause[:157] + "..."
    return RpcLost(
        f"lost the connection to the RPC {rpc or '(the connected node)'} while sending "
        f"({type(exc).__name__}: {cause}); what was mined stands: run the same command again to resume "
        "(rows done on-chain are skipped)"
    )


def rpc_of(view: object) -> str | None:
    """The URL of the node a ``ChainView`` reads (None when its provider does not say)."""
    provider = getattr(getattr(view, "w3", None), "provider", None)
    # web3's AutoProvider (ape's, for a --network URL) keeps the HTTP provider it found as ``_active_provider``.
    for candidate in (provider, getattr(provider, "_active_provider", None)):
        uri = getattr(candidate, "endpoint_uri", None)
        if uri:
            return str(uri)
    return None


def raise_problems(path: str, problems: list[Problem], error: type[ToolError]) -> None:
    """Raise ``error`` listing ``problems`` in line order (nothing sent), if there are any."""
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        raise error(problem_summary(path, problems), problems)


__all__ = [
    "PendingTransactionsError",
    "Problem",
    "RpcLost",
    "SendFailed",
    "ToolError",
    "line_ranges",
    "network_errors",
    "problem_summary",
    "raise_problems",
    "rpc_lost",
    "rpc_of",
]
