"""Hostile input to `ape run retire csv`, `ape run issue` and `ape run relay` as a user types it: an RPC that is
down, a --csv that is a folder or missing, look-alike digits in --batch-size, and the same retirement file run
twice at once. Findings: audit/hostile-new-options.md; a strict xfail asserts the correct behaviour of an open one.
"""

from __future__ import annotations

import subprocess

import pytest
from test_retire_script import assert_retired_exactly_once, balances, build

from e2e_support import ROOT, script_env

DOWN = "http://127.0.0.1:9"  # the discard port: nothing answers


def _run(*args: str, directory, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / ".venv/bin/ape"), "run", *args],
        cwd=ROOT,
        env=script_env(directory),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


@pytest.fixture(scope="module")
def retire_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "r.csv"
    path.write_text("project,batch,tonnes,beneficiary_name,reason,jurisdiction,period,reference\n"
                    "VCS:1,VCU-1,1,Acme GmbH,Scope 1,DE,2025,RET-1\n")  # fmt: skip
    return path


def test_relay__rpc_down__one_line_error_naming_the_url(tmp_path):
    result = _run("relay", "--home", DOWN, "--remote", DOWN, "--db", str(tmp_path / "a.sqlite"), "--sender",
                  "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "--once", directory=tmp_path)  # fmt: skip
    _one_line_error(result, f"cannot reach the --home RPC at {DOWN}")


def test_relay__negative_batch__refused_before_connecting(tmp_path):
    result = _run("relay", "--home", DOWN, "--remote", DOWN, "--db", str(tmp_path / "a.sqlite"), "--batch", "-1",
                  directory=tmp_path)  # fmt: skip
    assert result.returncode == 2 and "--batch" in result.stderr, result.stderr


@pytest.mark.parametrize("script", ["retire", "issue"])
def test_csv_tools__rpc_down__one_line_error_naming_the_network(tmp_path, retire_file, script):
    args = ("retire", "csv") if script == "retire" else ("issue",)
    result = _run(*args, "--csv", str(retire_file), "--account", "TEST::0", "--network", DOWN, directory=tmp_path)
    _one_line_error(result, DOWN)
    assert len(result.stderr.strip().splitlines()) <= 3, result.stderr


@pytest.mark.parametrize("what", ["folder", "missing"])
def test_retire_csv__csv_is_a_folder_or_missing__refused_naming_the_option(tmp_path, what):
    path = tmp_path if what == "folder" else tmp_path / "none.csv"
    result = _run("retire", "csv", "--csv", str(path), "--account", "TEST::0", "--network", DOWN, directory=tmp_path)
    assert result.returncode == 2, result.stderr
    _one_line_error(result, "--csv", str(path))


def test_retire_csv__batch_size_in_arabic_digits__refused_naming_the_option(tmp_path, retire_file):
    result = _run("retire", "csv", "--csv", str(retire_file), "--batch-size", "\u0665\u0660", "--account", "TEST::0",
                  "--network", DOWN, directory=tmp_path)  # fmt: skip
    assert result.returncode == 2 and "--batch-size" in result.stderr, result.stderr


def test_retire_csv__same_file_twice_at_once__every_row_retired_exactly_once(deployment, tmp_path):
    book = build(deployment, 60)
    before = balances(deployment, book)
    path = book.write(tmp_path / "twice.csv")
    args = ("retire", "csv", "--csv", str(path), "--batch-size", "5", "--quiet")
    runs = [deployment.start(*args, out=tmp_path / f"run{i}.out") for i in (1, 2)]
    codes = [process.wait(timeout=240) for process, _ in runs]
    errors = [err.read_text() for _, err in runs]
    for code, err in zip(codes, errors, strict=True):
        assert "Traceback" not in err, err
        assert code in (0, 1), err  # 1: the loser's transactions were refused (already retired), named as such
    assert 0 in codes, errors
    assert_retired_exactly_once(deployment, book, before)
    rerun = deployment.run(*args)
    assert rerun.returncode == 0 and "nothing to retire: all 60" in rerun.stdout, rerun.stdout + rerun.stderr
