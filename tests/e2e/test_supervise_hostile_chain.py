"""Hostile input to `ape run supervise`, `ape run verify` and `ape run deploy --dry-run` that needs a chain: a record
that is stale (the chain was restarted since the deploy: another genesis, no code at the recorded addresses), an
"RPC" URL that answers a web page, a record saved with a byte order mark and CRLF line endings, and record fields
of the wrong type. Every refusal is one line, no traceback, and nothing is written (no index database) or sent.

The offline cases (numbers, the config file, databases, --out) are in tests/python/test_hostile_supervise.py.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from collections.abc import Iterator

import pytest

from e2e_support import ROOT, Deployment, offline, ok, refused, script_env
from tonne.core.localchain import plain_anvil


@pytest.fixture(scope="module")
def web_page() -> Iterator[str]:
    """A URL where a web server, not a node, answers: an HTML page to every request."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = b"<html><body>Welcome to nginx!</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _env(d: Deployment) -> dict[str, str]:
    return {"TONNE_DEPLOYMENTS_DIR": str(d.directory)}


@pytest.mark.parametrize("command", [["index"], ["watch", "--once"], ["reconcile"]])
def test_supervise__record_of_a_chain_restarted_since__refused_and_no_database(deployment, tmp_path, command):
    # Before: index stored 0 events of contracts that are not there, binding a new database to them; watch --once
    # said "0 alert(s)" and exited 0: an all-clear for a chain it was not watching.
    db = tmp_path / "index.sqlite"
    with plain_anvil() as (url, _):  # the same chain id, another genesis, no code at the recorded addresses
        error = refused(offline("supervise", *command, "--rpc", url, "--db", f"sqlite:///{db}", env=_env(deployment)))
    record = deployment.directory / "31337.json"
    registry = deployment.record["contracts"]["CarbonRegistry"]["address"]
    assert f"{record}: chain 31337 has no code at CarbonRegistry {registry}" in error and "stale record" in error
    assert not db.exists()


def test_supervise__record_with_bom_and_crlf__indexed_as_the_plain_record(deployment, tmp_path):
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(deployment.record, indent=2))
    windows = tmp_path / "windows.json"
    windows.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes().replace(b"\n", b"\r\n"))
    said = []
    for path in (plain, windows):
        db = tmp_path / f"{path.stem}.sqlite"
        out = offline("supervise", "index", "--rpc", deployment.anvil.url, "--deployment", str(path),
                      "--db", f"sqlite:///{db}")  # fmt: skip
        ok(out)
        said.append(out.stderr.split("; ")[-1])
    assert said[0] == said[1] and said[0].endswith("in the index\n")


def test_supervise__a_record_whose_abi_is_not_a_list__refused_naming_the_field_and_no_database(deployment, tmp_path):
    # Before: AttributeError: 'str' object has no attribute 'get' (a traceback from the catalog).
    record = json.loads(json.dumps(deployment.record))
    record["contracts"]["CarbonCredit"]["abi"] = "see etherscan"
    path = tmp_path / "31337.json"
    path.write_text(json.dumps(record))
    db = tmp_path / "index.sqlite"
    args = ("index", "--rpc", deployment.anvil.url, "--deployment", str(path), "--db", f"sqlite:///{db}")
    assert f"{path}: contracts.CarbonCredit.abi: a list of ABI entries" in refused(offline("supervise", *args))
    assert not db.exists()


@pytest.mark.parametrize(
    "args", [["verify"], ["deploy", "--dry-run", "--dev-roles", "--account", "TEST::0"]], ids=["verify", "dry-run"]
)
def test_verify_and_dry_run__network_url_answers_a_web_page__one_line(deployment, web_page, args):
    # Before: web3's JSONDecodeError traceback while ape connected, before the script ran.
    command = [str(ROOT / ".venv/bin/ape"), "run", *args, "--network", web_page]
    result = subprocess.run(command, cwd=ROOT, env=script_env(deployment.directory), capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    error = refused(result)
    assert "the node's answer is not JSON-RPC" in error and "Welcome to nginx" in error


def test_verify__record_with_bom_and_crlf_and_malformed_hex__field_named_before_compiling(deployment, tmp_path):
    # Before: "Unexpected UTF-8 BOM" for the record supervise reads; a transaction hash "0x12" was "not found" and the
    # contract passed; constructor arguments "0xzz" were a ValueError traceback after compiling. (A BOM record read
    # whole: tests/python/test_hostile_supervise.py; compiling and matching: tests/e2e/test_testnet_deploy.py.)
    source = deployment.directory / "31337.json"
    for key, value in (("transactionHash", "0x12"), ("constructorArguments", "0xzz")):
        record = json.loads(source.read_text())
        record["contracts"]["CompliancePeriods"][key] = value
        bad = deployment.directory / f"31337.{key}.json"
        text = json.dumps(record, indent=2).replace("\n", "\r\n")
        bad.write_bytes(b"\xef\xbb\xbf" + text.encode())
        result = deployment.run("verify", "--record", str(bad), "--contract", "CompliancePeriods", account=None)
        assert f"{bad}: contracts.CompliancePeriods.{key}: " in refused(result)
        assert "checking" not in result.stderr  # nothing compiled
        bad.unlink()
