"""A real PostgreSQL 15 server for a test session (Debian's ``postgresql`` package), shared by the order book's
tests (tests/python) and the supervision index's (tests/e2e): each conftest imports ``postgres_server``, and
``fresh_schema`` gives each test an empty schema of it."""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import stat
import subprocess
from pathlib import Path

import pytest

from tonne.core.localchain import free_port

PG_INITDB = "/usr/lib/postgresql/*/bin/initdb"


def _pg_bin() -> Path:
    found = sorted(glob.glob(PG_INITDB))
    if not found:
        pytest.fail(
            f"PostgreSQL server binaries not found ({PG_INITDB}): the order book's PostgreSQL tests need Debian's "
            "`postgresql` package (`make install` installs it as root: apt-get install postgresql)",
            pytrace=False,
        )
    return Path(found[-1]).parent


def _run(args: list, prefix: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run([*prefix, *map(str, args)], env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        pytest.fail(f"PostgreSQL {what} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """A PostgreSQL server for this test session: initdb in the session's tmp folder, a free loopback port, its unix
    socket in the tmp folder too, stopped at the end of the session. PostgreSQL refuses to run as root: as root it
    runs as the ``postgres`` system user (with group root, to traverse pytest's 0700 tmp folders, which get g+x);
    nothing is written to $HOME (HOME is the tmp folder)."""
    bin_dir = _pg_bin()
    base = tmp_path_factory.mktemp("postgres")
    data, run_dir = base / "data", base / "run"
    data.mkdir()
    run_dir.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("no `postgres` system user: install Debian's `postgresql` package", pytrace=False)
        for folder in (data, run_dir):
            os.chown(folder, user.pw_uid, user.pw_gid)
            folder.chmod(0o700)
        for folder in [base, *base.parents]:
            if folder == Path("/tmp") or folder == Path("/"):
                break
            mode = folder.stat().st_mode
            if folder.stat().st_uid == 0 and not mode & stat.S_IXGRP:
                folder.chmod(stat.S_IMODE(mode) | stat.S_IXGRP)
        prefix = ["setpriv", f"--reuid={user.pw_uid}", "--regid=0", "--clear-groups", "--"]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(run_dir), "LC_ALL": "C", "TZ": "UTC"}
    _run(
        [bin_dir / "initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
        prefix,
        env,
        "initdb",
    )
    port = free_port()
    options = (
        f"-p {port} -k {run_dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=200"
    )
    _run(
        [bin_dir / "pg_ctl", "-D", data, "-l", run_dir / "server.log", "-w", "-t", "60", "-o", options, "start"],
        prefix,
        env,
        "start",
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            env=env,
            capture_output=True,
            timeout=120,
        )


_schemas = itertools.count(1)


def fresh_schema(base: str, prefix: str) -> str:
    """A new, empty schema of the server at ``base``; the URL that uses it."""
    import psycopg

    schema = f"{prefix}_{os.getpid()}_{next(_schemas)}"
    with psycopg.connect(base.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{base}?options=-csearch_path%3D{schema}"
