"""Fixtures of the MRV tooling tests: the EIP-712 domain, a small simulated farm (files and devices), and
``mrv_url``, a fresh readings store on SQLite and on PostgreSQL in turn (the session's server, tests/python)."""

from __future__ import annotations

import itertools
import os

import pytest

from tonne.mrv.ingest import load_devices
from tonne.mrv.readings import Domain
from tonne.mrv.simulate import simulate

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
_schemas = itertools.count(1)


@pytest.fixture
def domain() -> Domain:
    return Domain(31337, CONTRACT)


@pytest.fixture
def farm_files(tmp_path, domain):
    """A clean farm: 4 meters x 60 intervals of 5 minutes (240 readings), CSV; (readings, devices file)."""
    out, devices = tmp_path / "farm.csv", tmp_path / "farm.devices.json"
    simulate(out, devices, domain, meters=4, steps=60)
    return out, devices


@pytest.fixture
def farm_devices(farm_files):
    return load_devices(farm_files[1])


def _pg_url(request) -> str:
    base = request.getfixturevalue("postgres_server")
    import psycopg

    schema = f"mrv_{os.getpid()}_{next(_schemas)}"
    with psycopg.connect(base.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{base}?options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def mrv_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mrv.sqlite'}"
    return _pg_url(request)


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'mrv.sqlite'}"
