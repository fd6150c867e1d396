"""Fixtures of the MRV tooling tests: the EIP-712 domain, a small simulated farm (files and devices), and
``mrv_url``, a fresh readings store on SQLite and on PostgreSQL in turn (the session's server, tests/python)."""

from __future__ import annotations

import pytest

from postgres_support import fresh_schema
from tonne.mrv.ingest import load_devices
from tonne.mrv.readings import Domain
from tonne.mrv.simulate import simulate

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


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
    return fresh_schema(request.getfixturevalue("postgres_server"), "mrv")


@pytest.fixture(params=["sqlite", "postgresql"])
def mrv_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mrv.sqlite'}"
    return _pg_url(request)


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'mrv.sqlite'}"
