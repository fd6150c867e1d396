"""Carry the home chain's rules to the mirror: pick the keys whose home state differs from the last one sent,
and send them in one `HomeBridge.syncRules` message (attested and relayed like any other).

The home chain is the authority: `syncRules` reads the token's state itself, so whoever calls it (this tool, an
admin, a relayer, a stranger) can only carry the truth; a key already in sync is refused on-chain, so it is
filtered out here first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from eth_utils import to_checksum_address
from web3.logs import DISCARD

from tonne.bridge.deploy import BridgePair, transact
from tonne.bridge.messages import TOKEN_KEY, account_key, project_key

MAX_RULES = 64


@dataclass
class SyncResult:
    token: bool
    accounts: list[str]
    projects: list[int]
    message_ids: list[bytes]

    @property
    def count(self) -> int:
        return int(self.token) + len(self.accounts) + len(self.projects)


def stale(pair: BridgePair, accounts: Iterable[str], projects: Iterable[int], token: bool = True) -> SyncResult:
    """The keys among those given whose home state is not the one last sent (duplicates dropped)."""
    home = pair.home.bridge.functions
    accounts = list(dict.fromkeys(to_checksum_address(a) for a in accounts))
    projects = list(dict.fromkeys(int(p) for p in projects))
    return SyncResult(
        token=token and not home.inSync(TOKEN_KEY).call(),
        accounts=[a for a in accounts if not home.inSync(account_key(a)).call()],
        projects=[p for p in projects if not home.inSync(project_key(p)).call()],
        message_ids=[],
    )


def sync_rules(
    pair: BridgePair, sender: str, accounts: Iterable[str] = (), projects: Iterable[int] = (), token: bool = True
) -> SyncResult:
    """Send every stale key, at most ``MAX_RULES`` per message; returns what was sent and the message ids."""
    todo = stale(pair, accounts, projects, token)
    keys: list[tuple[str, object]] = [("token", True)] if todo.token else []
    keys += [("account", a) for a in todo.accounts] + [("project", p) for p in todo.projects]
    bridge = pair.home.bridge
    event = bridge.events.RulesSent()
    for start in range(0, len(keys), MAX_RULES):
        chunk = keys[start : start + MAX_RULES]
        receipt = transact(
            pair.home.w3,
            bridge.functions.syncRules(
                any(kind == "token" for kind, _ in chunk),
                [v for kind, v in chunk if kind == "account"],
                [v for kind, v in chunk if kind == "project"],
            ),
            sender,
        )
        todo.message_ids += [bytes(log["args"]["messageId"]) for log in event.process_receipt(receipt, errors=DISCARD)]
    return todo
