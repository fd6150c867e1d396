"""`ape run demo` (what `make demo` runs) ends with the bridge: a second Anvil, credits out, traded and retired
there, the rest back, and an audit whose books balance."""

from __future__ import annotations

import re
import subprocess

from e2e_support import ROOT, script_env


def test_demo__bridge_part__books_balance(tmp_path):
    result = subprocess.run(
        [str(ROOT / ".venv/bin/ape"), "run", "demo"],
        cwd=ROOT,
        env=script_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    for step in range(1, 6):
        assert f"[bridge {step}/5]" in out
    assert "refused, sending home to another chain: BridgeWrongDestinationChain" in out
    assert "refused, a transfer to an account not on the home allowlist: MirrorAccountNotAllowed" in out
    assert re.search(r"P1/B1\s+20,000\s+0\s+20,000\s+0\s+0\s+yes", out), out[-3000:]
    # 2 out, 1 rules message, 3 back, 2 attestations each
    assert len(re.findall(r"\sdelivered\s+2$", out, re.MULTILINE)) == 6
    assert out.rstrip().endswith("books balance for every id")
