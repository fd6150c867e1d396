"""The bridge part of the demo: a second Anvil, credits bridged out, traded and retired there, the rest
bridged back, and the audit.

Runs after the main demo on its (permissioned) suite, with web3.py on both chains: the home chain is the demo's
node, the remote one an Anvil started here with another chain id. Validators and the relayer run in-process,
through the same functions as `ape run attest` and `ape run relay`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_utils import keccak

from tonne.bridge.attest import attest_once, key_signer
from tonne.bridge.audit import audit
from tonne.bridge.deploy import deploy_bridge_pair, transact, write_record
from tonne.bridge.errors import revert_of
from tonne.bridge.messages import interop_address
from tonne.bridge.relay import Relayer
from tonne.bridge.store import Store
from tonne.bridge.sync import sync_rules
from tonne.bridge.watch import connect
from tonne.core.ids import describe
from tonne.core.localchain import plain_anvil

VALIDATOR_KEYS = [keccak(text=f"tonne-demo-validator-{i}") for i in range(3)]


def demo_step(ctx: Any) -> None:
    """The bridge part of the demo, on the first batch's credits; the audit goes to the result."""
    ctx.echo("")
    ctx.result["bridge"] = run_bridge_demo(
        ctx.provider.uri,
        ctx.credit.address,
        ctx.token_ids[0],
        admin=ctx.actors.admin.address,
        compliance=ctx.actors.compliance.address,
        holders=[buyer.address for buyer in ctx.actors.buyers],
        echo=ctx.echo,
    )


def run_bridge_demo(
    home_url: str,
    credit_address: str,
    token_id: int,
    *,
    admin: str,
    compliance: str,
    holders: list[str],
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Bridge ``token_id`` credits of ``holders[0]`` and ``holders[1]`` out and back; returns the audit."""
    home_w3 = connect(home_url)
    a, b, c = holders[:3]
    remote_chain = home_w3.eth.chain_id + 1
    echo(f"[bridge 1/5] Starting a second Anvil (chain {remote_chain}) and deploying the bridge, 2 of 3 validators")
    with plain_anvil(chain_id=remote_chain) as (remote_url, _), tempfile.TemporaryDirectory() as tmp:
        remote_w3 = connect(remote_url)
        validators = [key_signer(k) for k in VALIDATOR_KEYS]
        pair = deploy_bridge_pair(
            home_w3,
            remote_w3,
            credit_address,
            home_admin=admin,
            remote_admin=admin,
            validators=[v.address for v in validators],
            threshold=2,
            pauser=(admin, admin),
        )
        credit = pair.home.token
        transact(home_w3, credit.functions.setAllowed([pair.home.bridge.address], True), compliance)
        record = write_record(pair, Path(tmp))
        echo(f"      home bridge {pair.home.bridge.address}, remote bridge {pair.remote.bridge.address}")
        echo(f"      mirror {pair.remote.token.address}; record {record.name}; bridge allowlisted by compliance")
        store = Store(Path(tmp) / "attestations.sqlite")
        relayer = Relayer(pair, store, admin)

        def relay() -> str:
            for v in validators[:2]:  # the third validator is offline: 2 of 3 is enough
                attest_once(pair, v, store)
            result = relayer.relay_once()
            return "; ".join(r.describe() for r in result.routes)

        echo(f"[bridge 2/5] Bridging out {describe(token_id)}: 100 t from {a[:8]}.., 40 t from {b[:8]}..")
        for holder, tonnes in ((a, 100), (b, 40)):
            transact(home_w3, credit.functions.setApprovalForAll(pair.home.bridge.address, True), holder)
            transact(
                home_w3,
                pair.home.bridge.functions.send(token_id, tonnes * 1000, interop_address(remote_chain, holder)),
                holder,
            )
        echo(f"      {relay()}")
        mirror = pair.remote.token.functions
        meta = mirror.metadataOf(token_id).call()
        echo(f"      mirror metadata: project {meta[0]}, serials {meta[1]}-{meta[2]}, {meta[5]}, {meta[6]}")

        echo("[bridge 3/5] On the remote chain: the home rules, a transfer, and a retirement that records its origin")
        # The mirror holds the home rules: permissioned mode and a and b came with the locks; c, KYC'd at home
        # but never a bridge recipient, is carried by a sync.
        unchecked = "0x000000000000000000000000000000000000dEaD"
        refused = revert_of(mirror.safeTransferFrom(a, unchecked, token_id, 1, b""), a)
        echo(f"      refused, a transfer to an account not on the home allowlist: {_named(refused)}")
        synced = sync_rules(pair, admin, [c], token=False)
        echo(f"      synced the home rules of {synced.count} account(s) ({c[:8]}..): {relay()}")
        transact(remote_w3, mirror.safeTransferFrom(a, c, token_id, 30_000, b""), a)
        echo(f"      {a[:8]}.. -> {c[:8]}..: 30 t (both on the home allowlist, as the mirror knows)")
        transact(remote_w3, mirror.retire(token_id, 20_000, "Acme GmbH", "FY2025 scope 1"), c)
        (retired,) = pair.remote.token.events.RemoteRetired.get_logs(from_block=0)
        echo(
            f"      {c[:8]}.. retired 20 t; origin chain {retired['args']['originChainId']}, "
            f"token {retired['args']['originToken']}"
        )
        refusal = _refusal(pair, token_id, a)
        echo(f"      refused, sending home to another chain: {refusal}")

        echo("[bridge 4/5] Bridging the rest back home")
        for holder, units in ((a, 70_000), (b, 40_000), (c, 10_000)):
            transact(
                remote_w3,
                pair.remote.bridge.functions.send(token_id, units, interop_address(pair.home.chain_id, holder)),
                holder,
            )
        echo(f"      {relay()}")

        echo("[bridge 5/5] Audit")
        report = audit(pair, store)
        echo(report.render())
        store.close()
        return {"ok": report.ok, "ids": [vars(b) for b in report.ids], "messages": len(report.messages)}


def _named(refused) -> str:
    return f"{refused[0]}{tuple(refused[1].values())}" if refused else "not refused (unexpected)"


def _refusal(pair, token_id: int, holder: str) -> str:
    call = pair.remote.bridge.functions.send(token_id, 1, interop_address(pair.home.chain_id + 99, holder))
    refused = revert_of(call, holder)
    return f"{refused[0]}{tuple(refused[1].values())}" if refused else "not refused (unexpected)"
