"""Fixtures for the Currents tests: a ledger and its rejects store on a URL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import Currents, open_currents


@pytest.fixture
def currents(sqlite_url: str) -> Iterator[Currents]:
    opened = open_currents(sqlite_url)
    yield opened
    opened.rejects.close()
    opened.ledger.close()


@pytest.fixture
def samples(request: pytest.FixtureRequest) -> Path:
    """Braze's sample folder: the ``SAMPLES`` path of tests/conftest.py."""
    root_conftest = Path(__file__).resolve().parents[2] / "conftest.py"
    plugin = request.config.pluginmanager.get_plugin(str(root_conftest))
    folder = Path(plugin.SAMPLES)
    if not folder.is_dir():
        pytest.skip(f"Braze's sample files are not at {folder}")
    return folder
