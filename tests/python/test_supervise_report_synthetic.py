"""`supervise report` over a synthetic market (tonne.supervise.synthetic: thousands of events built in Python):
its tables against the generator's own tallies, the ledger's timeline against its end state, long tables cut
with counts and totals kept whole, and $HOME left empty by matplotlib."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tonne.core.ids import describe
from tonne.core.units import format_tonnes
from tonne.supervise.ledger import SUPPLY_KINDS, Ledger
from tonne.supervise.report import Limits, write_report
from tonne.supervise.synthetic import CONTRACTS, sources, synthetic_events

ROOT = Path(__file__).resolve().parents[2]
USD = CONTRACTS["TestStablecoin"]


@pytest.fixture(scope="module")
def market():
    events, expected = synthetic_events(6_000, days=30)
    return events, expected, Ledger.build(events, sources())


def tonnes(units: int) -> str:
    return format_tonnes(units)[:-2]


def table(root: ET.Element, table_id: str) -> list[list[str]]:
    [found] = [t for t in root.iter("table") if t.get("id") == table_id]
    return [["".join(cell.itertext()).strip() for cell in row] for row in found.find("tbody")]


def written(ledger: Ledger, path: Path, **options) -> ET.Element:
    write_report(ledger, [], path, sources=sources(), decimals={USD: 6}, generated=1_800_000_000, **options)
    return ET.fromstring(path.read_text(encoding="utf-8").split("\n", 1)[1])


def test_supply_at__last_edge__the_ledgers_own_figures_and_levels_never_negative(market):
    _, expected, ledger = market
    edges = list(range(ledger.first_timestamp, ledger.last_timestamp + 2, 86_400)) + [ledger.last_timestamp + 1]
    edges = sorted(set(edges))
    levels = ledger.supply_at(edges)
    for (chain_id, token_id), supply in ledger.supply.items():
        kinds = levels[(chain_id, token_id)]
        assert set(kinds) == set(SUPPLY_KINDS)
        last = {kind: values[-1] for kind, values in kinds.items()}
        assert (last["issued"], last["retired"], last["minted"], last["burned"]) == (
            supply.issued, supply.retired, supply.minted, supply.burned
        )  # fmt: skip
        assert last["pledged"] == ledger.escrowed(chain_id, token_id).get("pledged", 0)
        assert last["issued"] == expected.issued[token_id] and last["retired"] == expected.retired[token_id]
        assert last["pledged"] == expected.pledged[token_id]
        for i in range(len(edges)):
            held = kinds["minted"][i] - kinds["burned"][i]
            assert 0 <= kinds["pledged"][i] <= held  # escrow is part of what is held
        assert all(a <= b for a, b in zip(kinds["issued"], kinds["issued"][1:], strict=False))
    with pytest.raises(ValueError, match="must increase"):
        ledger.supply_at([2, 1])


def test_report__synthetic_market__tables_equal_the_generators_tallies(market, tmp_path):
    _, expected, ledger = market
    root = written(ledger, tmp_path / "report.html", limits=Limits(rows=10_000))
    supply = {row[1]: row for row in table(root, "supply")}
    for token_id, issued in expected.issued.items():
        row = supply[describe(token_id)]
        assert row[4] == tonnes(issued)
        assert row[6] == tonnes(expected.pledged[token_id])
        assert row[9] == tonnes(expected.retired[token_id])
        assert row[5] == tonnes(issued - expected.retired[token_id] - expected.pledged[token_id])
    assert supply["all"][4] == tonnes(sum(expected.issued.values()))
    beneficiaries = table(root, "beneficiaries")
    assert {row[0]: row[3] for row in beneficiaries[:-1]} == {b: tonnes(u) for b, u in expected.by_beneficiary.items()}
    assert beneficiaries[-1][2:] == [f"{expected.certificates:,}", tonnes(sum(expected.by_beneficiary.values()))]
    jurisdictions = {row[0]: row[3] for row in table(root, "jurisdictions")[:-1]}
    assert jurisdictions == {j or "(none)": tonnes(u) for j, u in expected.by_jurisdiction.items()}
    assert len(table(root, "deals")) == expected.deals


def test_report__long_tables__cut_with_counts_and_whole_totals(market, tmp_path):
    _, expected, ledger = market
    root = written(ledger, tmp_path / "cut.html", limits=Limits(rows=5, charts=2, batch_charts=3, bars=4))
    beneficiaries = table(root, "beneficiaries")
    assert len(beneficiaries) == 6  # five and the total, which counts them all
    assert beneficiaries[-1][3] == tonnes(sum(expected.by_beneficiary.values()))
    text = " ".join(root.itertext())
    assert f"Showing 5 of {len(expected.by_beneficiary):,} beneficiaries" in text
    assert f"Showing 5 of {expected.certificates:,} certificates" in text
    assert f"Showing 5 of {expected.deals:,} deals" in text
    assert "Showing 2 of 20 projects charted" in text and "Showing 3 of 60 batches charted" in text
    assert len(table(root, "deals")) == 5


def test_report__fresh_home__nothing_written_there(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "MPLCONFIGDIR"}
    env["HOME"] = str(home)
    script = (
        "from pathlib import Path\n"
        "from tonne.supervise.ledger import Ledger\n"
        "from tonne.supervise.report import write_report\n"
        "from tonne.supervise.synthetic import sources, synthetic_events\n"
        "events, _ = synthetic_events(500)\n"
        f"write_report(Ledger.build(events, sources()), [], Path({str(tmp_path / 'r.html')!r}), sources=sources())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "r.html").stat().st_size > 10_000
    assert list(home.iterdir()) == []
