"""Fixtures of the pure-Python tests: a real PostgreSQL 15 server for the order book's tests (Debian's ``postgresql``
package), and ``book_url``, a fresh order book database on SQLite and on PostgreSQL in turn."""

from __future__ import annotations

import pytest

from postgres_support import fresh_schema, postgres_server  # noqa: F401 - the session's server, a fixture


@pytest.fixture(params=["sqlite", "postgresql"])
def book_url(request, tmp_path):
    """A fresh, empty order book database: a SQLite file, or a new schema of the session's PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'book.sqlite'}"
    return fresh_schema(request.getfixturevalue("postgres_server"), "book")
