"""Helpers of the monitor's chain tests: every Tonne module beside the open-mode suite on ape's Anvil (the market
of tests/market_support.py, the pledge contracts of tonne.pledge.deploy, the MRV of tests/mrv_support.py, the home
bridge of tests/bridge_support.py), and ``watch``, which indexes the chain the way ``supervise index`` does (a
deployment record of these contracts, the indexer, a fresh SQLite index) and runs the rules over the ledger.
Test modules import these as `from rules_world import ...`; conftest.py holds the fixture."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from market_support import Market
from mrv_support import Mrv

from bridge_support import Bridges
from support import ZERO_REF, Factory
from tonne.chain.send import ape_abi
from tonne.pledge.deploy import PledgeContracts
from tonne.supervise.alerts import Alert
from tonne.supervise.catalog import catalog_of
from tonne.supervise.config import Config
from tonne.supervise.index import ChainReader, Indexer
from tonne.supervise.ledger import Ledger
from tonne.supervise.rules import evaluate
from tonne.supervise.store import IndexStore

UNITS = 1000
USD = 10**6
PLEDGE_HOLDING = 1_000 * UNITS  # the borrower holds 1,000 t of the pledge batch
PRICE_P = 20 * USD  # a tonne
LTV, THRESHOLD, MAX_AGE = 5_000, 7_000, 7 * 86_400

_indexes = itertools.count(1)


@dataclass
class World:
    chain: Any
    suite: Any
    market: Market
    pledge: PledgeContracts
    mrv: Mrv
    bridges: Bridges
    make: Factory
    admin: Any
    registrar: Any
    verifier: Any
    issuer: Any
    holder: Any
    other: Any
    feeder: Any
    lender: Any
    period_regulator: Any
    id_p: int  # the pledge batch, priced PRICE_P, listed at LTV / THRESHOLD

    @property
    def contracts(self) -> dict[str, Any]:
        return {
            "CarbonRegistry": self.suite.registry,
            "CarbonCredit": self.suite.credit,
            "CarbonRetirement": self.suite.retirement,
            "CompliancePeriods": self.suite.compliance,
            "CreditExchange": self.market.exchange,
            "CreditPriceOracle": self.pledge.oracle,
            "CreditFacility": self.pledge.facility,
            "BilateralPledge": self.pledge.bilateral,
            "CarbonMRV": self.mrv.mrv,
            # The home side only: the test bridges put the mirror on this same chain, and its ids are the home
            # ids, which one chain's ledger would add into the home token's balances.
            "HomeBridge": self.bridges.home,
        }

    def now(self) -> int:
        return self.chain.blocks.head.timestamp

    def tick(self, seconds: int = 1) -> int:
        at = self.now() + seconds
        self.chain.pending_timestamp = at
        return at

    def warp(self, seconds: int) -> None:
        self.chain.mine(1, timestamp=self.now() + seconds)

    def post(self, class_id: int, price: int) -> Any:
        at = self.tick()
        return self.pledge.oracle.postPrices([class_id], [price], [at], sender=self.feeder)

    def issued(self, to, tonnes: int, *, project_id: int | None = None) -> int:
        """A fresh batch (of a fresh project unless given) with ``tonnes`` issued to ``to``."""
        pid = project_id if project_id is not None else self.make.project()
        n = next(_indexes)
        first = n * 100_000
        token_id = self.make.batch(pid, first, first + 9_999, ref=f"SV-{pid}-{n}")
        self.suite.credit.issue(token_id, to, tonnes * UNITS, ZERO_REF, sender=self.issuer)
        return token_id

    def ledger(self, tmp_path) -> Ledger:
        record = {
            "chainId": self.chain.chain_id,
            "contracts": {name: {"address": c.address, "abi": ape_abi(c)} for name, c in self.contracts.items()},
        }
        store = IndexStore(f"sqlite:///{tmp_path}/index-{next(_indexes)}.sqlite")
        indexer = Indexer(store, ChainReader(self.chain.provider.web3.provider, "ape's Anvil"), catalog_of(record))
        indexer.bind()
        indexer.catch_up()
        return Ledger.build(store.events(), store.sources())

    def alerts(self, tmp_path, config: Config | None = None, now: int | None = None) -> list[Alert]:
        return evaluate(self.ledger(tmp_path), config or Config(), self.now() if now is None else now)


def of(alerts: list[Alert], rule: str) -> list[Alert]:
    return [a for a in alerts if a.rule == rule]
