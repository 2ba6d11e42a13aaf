"""Fixtures for the Currents tests: a ledger and its rejects store on a URL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .helpers import Currents, open_currents


@pytest.fixture
def currents(sqlite_url: str) -> Iterator[Currents]:
    opened = open_currents(sqlite_url)
    yield opened
    opened.rejects.close()
    opened.ledger.close()
