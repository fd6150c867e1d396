"""`ape run certificate` run as a user runs it: documents rendered from chain data alone, by certificate id and by
transaction hash, checked for their content against the chain; hostile names stay text; bad input is refused."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from eth_utils import keccak

from e2e_support import recorded, stocked

SVG_NS = "{http://www.w3.org/2000/svg}"


def texts(path: Path) -> list[str]:
    root = ET.fromstring(path.read_text(encoding="utf-8"))
    return ["".join(e.itertext()) for e in root.iter(f"{SVG_NS}text")]


def certificate(deployment: Any, out: Path, *args: str):
    return deployment.run("certificate", *args, "--out", str(out), account=None)


def retire(deployment: Any, *args: str, name: str = "Acme GmbH") -> dict[str, Any]:
    reference = f"CERT-{time.time_ns()}"
    result = deployment.run(
        "retire", "one", *args, "--name", name, "--reason", "Scope 2 emissions FY2025", "--jurisdiction", "FR-75C",
        "--period", "2025-01-01:2025-03-31", "--reference", reference,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (event,) = [e for e in recorded(deployment) if e["ref"] == keccak(text=reference)]
    return event


def test_certificate__by_id__svg_html_json_show_what_the_chain_holds(deployment, tmp_path):
    (project_id, project, a, ref_a), (_, _, b, ref_b) = stocked(deployment, batches=2, tonnes=1_000)
    event = retire(deployment, "--id", str(a), "--amount", "12.5", "--id", str(b), "--amount", "0.75")
    log = [e for e in recorded(deployment) if e["certificate"] == event["certificate"]][0]
    receipt_logs = deployment.anvil.rpc(
        "eth_getLogs",
        [{"address": deployment.retirement.address, "fromBlock": hex(deployment.start_block), "toBlock": "latest",
          "topics": [None, f"0x{event['certificate']:064x}"]}],
    )  # fmt: skip
    tx_hash, block = receipt_logs[-1]["transactionHash"], int(receipt_logs[-1]["blockNumber"], 16)
    out = tmp_path / "docs"
    result = certificate(deployment, out, "--id", str(event["certificate"]))
    assert result.returncode == 0, result.stderr
    stem = out / f"certificate-31337-{event['certificate']}"
    shown = texts(stem.with_suffix(".svg"))
    batch_a = deployment.registry.functions.batch(a).call()
    expected = [
        "13.25 t CO₂e",
        "Acme GmbH",
        "Scope 2 emissions FY2025",
        "FR-75C",
        "2025-01-01 to 2025-03-31",
        deployment.admin,
        f"P{project_id}/B1",
        f"P{project_id}/B2",
        ref_a,
        ref_b,
        f"serials {batch_a[1]:,} to {batch_a[2]:,}",
        "12.5 t",
        "0.75 t",
        "1.25 % of 1,000 t",
        "0.0750 % of 1,000 t",
        f"transaction {tx_hash}",
    ]
    for text in expected:
        assert text in shown, (text, shown)
    assert any(f"contract {deployment.retirement.address}" in t for t in shown)
    assert any(t.startswith(f"block {block:,} · ") for t in shown)
    assert any(project.split(":")[1] in t for t in shown)  # the external id, from the registry
    data = json.loads(stem.with_suffix(".json").read_text())
    assert [int(line["token_id"]) for line in data["lines"]] == log["ids"] == [a, b]
    assert [line["units"] for line in data["lines"]] == log["amounts"] == [12_500, 750]
    assert (data["tx_hash"], data["block_number"], data["beneficiary_name"]) == (tx_hash, block, "Acme GmbH")
    html = stem.with_suffix(".html").read_text()
    assert tx_hash in html and str(a) in html and "Scope 2 emissions FY2025" in html
    assert f"Certificate #{event['certificate']}: 13.25 t CO2e retired (voluntary)" in result.stdout


def test_certificate__by_transaction__same_documents_as_by_id(deployment, tmp_path):
    _, name, token_id, reference = stocked(deployment, batches=1)[0]
    event = retire(deployment, "--project", name, "--batch", reference, "--amount", "3")
    logs = deployment.anvil.rpc(
        "eth_getLogs",
        [{"address": deployment.retirement.address, "fromBlock": hex(deployment.start_block), "toBlock": "latest",
          "topics": [None, f"0x{event['certificate']:064x}"]}],
    )  # fmt: skip
    by_id, by_tx = tmp_path / "id", tmp_path / "tx"
    assert certificate(deployment, by_id, "--id", str(event["certificate"])).returncode == 0
    result = certificate(deployment, by_tx, "--tx", logs[-1]["transactionHash"])
    assert result.returncode == 0, result.stderr
    name_of = f"certificate-31337-{event['certificate']}"
    for suffix in (".svg", ".html", ".json"):
        assert (by_tx / name_of).with_suffix(suffix).read_text() == (by_id / name_of).with_suffix(suffix).read_text()


def test_certificate__hostile_beneficiary_name__rendered_as_text(deployment, tmp_path):
    _, name, token_id, reference = stocked(deployment, batches=1)[0]
    hostile = '</text><script>alert(1)</script><text x="0">Evil & Co'
    event = retire(deployment, "--id", str(token_id), "--amount", "1", name=hostile)
    out = tmp_path / "docs"
    assert certificate(deployment, out, "--id", str(event["certificate"])).returncode == 0
    stem = f"certificate-31337-{event['certificate']}"
    svg = (out / f"{stem}.svg").read_text()
    root = ET.fromstring(svg)
    assert not [e for e in root.iter() if e.tag.removeprefix(SVG_NS) in ("script", "foreignObject", "a", "image")]
    assert any(t.startswith("</text><script>alert(1)</script>") for t in texts(out / f"{stem}.svg"))
    html = (out / f"{stem}.html").read_text()
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_certificate__unknown_id_or_transaction_without_retirement__refused(deployment, tmp_path):
    count = deployment.retirement.functions.certificateCount().call()
    result = certificate(deployment, tmp_path, "--id", str(count + 1))
    assert result.returncode == 1
    assert f"no certificate #{count + 1}: this deployment has {count} (ids run from 1)" in result.stderr
    project_id, _ = deployment.project()
    receipt = deployment.transact(deployment.registry.functions.setProjectIssuer(project_id, deployment.admin, False))
    tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
    result = certificate(deployment, tmp_path, "--tx", tx_hash)
    assert result.returncode == 1
    assert f"transaction {tx_hash} recorded no retirement on {deployment.retirement.address}" in result.stderr
    result = certificate(deployment, tmp_path, "--tx", "0x1234")
    assert result.returncode == 2 and "is not a transaction hash" in result.stderr
    assert list(tmp_path.iterdir()) == []
