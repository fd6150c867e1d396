"""The one list of modules. Deploy (``tonne.deploy``), the demo (``tonne.demo``) and the bench (``tonne.bench.run``)
run what each module declares here, in this order, rather than importing each module by hand; a new module is its
folder and one line below (README, "Adding a module").

A module declares, each as ``"package.module:function"`` (imported only when run, so that ``ape run deploy`` does
not load the bridge's web3 tooling):
- ``deploy``: its deploy step, ``f(DeployContext) -> (contract entries, config or None)`` (``tonne.deploy``); the
  entries join the address book's ``contracts``, a config goes under ``config.<name>``;
- ``demo_options``: ``f(actors) -> options`` the demo deploys it with (its deploy step is skipped without options);
- ``demo``: its steps of the demo, ``f(DemoContext) -> None`` (``tonne.core.demo``), each with a title when it is
  one of the numbered ``[k/n]`` steps;
- ``bench``: its bench rows, ``f(BenchContext) -> {results.json key: value}`` (``tonne.bench.run``).

Demo steps and bench rows are placed by ``at``: the demo tells one story across modules (credits are issued
between the two token steps), and the bench runs the constancy rows late because their 40,000 transactions slow
the chain down for whatever runs after them. Equal ``at`` keep this list's order.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def load(target: str) -> Callable[..., Any]:
    """``"tonne.pledge.deploy:record_step"`` -> that function."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Step:
    """One demo step or bench row of a module: where it goes (``at``), what runs, and the demo's heading."""

    at: int
    run: str
    title: str | None = None


@dataclass(frozen=True)
class Module:
    name: str
    deploy: str | None = None
    demo_options: str | None = None
    demo: tuple[Step, ...] = ()
    bench: tuple[Step, ...] = ()


MODULES: tuple[Module, ...] = (
    # The core suite (registry, credit token, retirement, compliance periods; each constructor takes the one before)
    # is deployed by the registry's step; the token, retirement and compliance modules add no deploy step of their own.
    Module(
        "registry",
        deploy="tonne.registry.deploy:deploy_step",
        demo=(
            Step(20, "tonne.registry.demo:register_projects", "Registering and approving projects"),
            Step(30, "tonne.registry.demo:add_batches", "Adding batches (vintages) and verifying them"),
        ),
        bench=(Step(10, "tonne.registry.bench:gas_rows"), Step(50, "tonne.registry.bench:constancy_rows")),
    ),
    Module(
        "token",
        demo=(
            Step(40, "tonne.token.demo:allowlist", "KYC: the compliance officer allowlists the buyers"),
            Step(
                60, "tonne.token.demo:trade", "Trading between KYC'd accounts, and what a regulated deployment refuses"
            ),
        ),
    ),
    Module(
        "issuance",
        demo=(Step(50, "tonne.issuance.demo:issue_csv", "Issuing credits from a CSV file"),),
        bench=(Step(30, "tonne.issuance.bench:throughput_rows"),),
    ),
    Module(
        "retirement",
        demo=(Step(70, "tonne.retirement.demo:retire", "Retiring credits, each retirement with its certificate"),),
        bench=(Step(20, "tonne.retirement.bench:throughput_rows"),),
    ),
    Module("compliance"),  # its gas rows are in the core gas table (tonne.bench.gas)
    Module(
        "pledge",
        deploy="tonne.pledge.deploy:deploy_step",
        demo_options="tonne.pledge.demo:demo_pledge_options",
        demo=(Step(90, "tonne.pledge.demo:demo_step"),),
        bench=(Step(40, "tonne.pledge.bench:bench_rows"),),
    ),
    Module(
        "market",
        deploy="tonne.market.deploy:deploy_step",  # `deploy --market`: the CreditExchange
        demo_options="tonne.market.demo:demo_market_options",
        demo=(Step(85, "tonne.market.demo:demo_step"),),
        bench=(Step(45, "tonne.market.bench:bench_rows"),),
    ),
    Module(
        "mrv",
        deploy="tonne.mrv.deploy:deploy_step",  # `deploy --mrv`: the CarbonMRV
        demo_options="tonne.mrv.demo:demo_mrv_options",
        demo=(Step(87, "tonne.mrv.demo:demo_step"),),
        bench=(Step(47, "tonne.mrv.bench:bench_rows"),),
    ),
    Module(
        "supervise",  # follows what the others deployed: no contract, no deploy step
        demo=(Step(95, "tonne.supervise.demo:demo_step"),),
        bench=(Step(48, "tonne.supervise.bench:bench_rows"),),
    ),
    Module(
        "bridge",  # deployed on two chains by scripts/bridge_deploy.py, not into the suite's address book
        demo=(Step(100, "tonne.bridge.demo:demo_step"),),
        bench=(Step(60, "tonne.bridge.bench:bench_rows"),),
    ),
)


def steps(kind: str, modules: tuple[Module, ...] = MODULES, extra: tuple[Step, ...] = ()) -> list[Step]:
    """Every module's ``kind`` steps (``"demo"`` or ``"bench"``) and ``extra``, by ``at`` (ties in list order)."""
    found = [step for module in modules for step in getattr(module, kind)] + list(extra)
    return sorted(found, key=lambda step: step.at)
