"""Two `ape run issue` of one file at once, from one account, on one Anvil: every row lands exactly once; a run that
lost a race says in a few lines which rows another run issued meanwhile (done by someone else) and exits with
status 3, and a run that waited for the other's pending transactions finds every row done."""

from __future__ import annotations

import re

from test_issue_script import assert_issued_exactly_once, build

from tonne.issuance.send import RACED_EXIT


def test_issue__two_runs_of_one_file_at_once__loser_names_the_rows_in_few_lines(deployment, tmp_path):
    scenario = build(deployment, 120, projects=2, recipients=20)
    path = scenario.write(tmp_path / "twice.csv")
    args = ("issue", "--csv", str(path), "--chunk-size", "10", "--quiet")
    # A block every 3 s instead of one per transaction: the first run's 12 chunks take some 36 s, far longer than
    # the second run takes to start and read the chain, so the two really compete (with instant blocks the first
    # run could finish before the second one started, and the second then found every row done).
    deployment.anvil.rpc("evm_setAutomine", [False])
    deployment.anvil.rpc("evm_setIntervalMining", [3])
    try:
        first, first_err = deployment.start(*args, out=tmp_path / "a.out")
        second, second_err = deployment.start(*args, out=tmp_path / "b.out")
        codes = (first.wait(timeout=300), second.wait(timeout=300))
    finally:
        deployment.anvil.rpc("evm_setIntervalMining", [0])
        deployment.anvil.rpc("evm_setAutomine", [True])
    outputs = [
        (tmp_path / "a.out").read_text() + first_err.read_text(),
        (tmp_path / "b.out").read_text() + second_err.read_text(),
    ]
    assert_issued_exactly_once(deployment, scenario)
    assert set(codes) <= {0, RACED_EXIT}, outputs
    for text in outputs:
        assert len(text.splitlines()) < 30, text[:3000]
        assert "Traceback" not in text and "reverted without message" not in text and "tx.origin" not in text
    # Each row sent by exactly one of the two runs. Either they raced (both sent; the loser names the rows it lost,
    # exit status 3), or one waited for the other's pending transactions before planning and then found every row
    # done (two transactions in flight leave few moments with none pending): both are right, neither sends twice.
    issued = [_issued_now(text, len(scenario.rows)) for text in outputs]
    assert sum(issued) == len(scenario.rows), outputs
    losers = [text for code, text in zip(codes, outputs, strict=True) if code == RACED_EXIT]
    assert losers or 0 in issued, outputs
    for text in losers:
        named = re.search(r"done by someone else: lines (.+?) were issued by another run", text)
        assert named, text
        lines = set()
        for a, b in re.findall(r"(\d+)(?:-(\d+))?", named.group(1).split("...")[0]):
            lines.update(range(int(a), int(b or a) + 1))
        assert lines and lines <= set(range(2, 2 + len(scenario.rows)))
        raced = int(re.search(r"(\d+) were issued meanwhile by another transaction", text).group(1))
        assert len(lines) == raced or "more ranges" in named.group(1)


def _issued_now(text: str, rows: int) -> int:
    if f"nothing to issue: all {rows} rows were already issued on-chain" in text:
        return 0
    found = re.search(r"issued (\d+) rows now", text)
    assert found, text
    return int(found.group(1))
