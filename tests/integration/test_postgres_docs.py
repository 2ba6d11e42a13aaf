"""docs/postgres.md lists every configuration variable the package reads."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import REQUIRE_POSTGRES, TEST_POSTGRES_URL

from dispatchledger.adapters.settings import VARIABLES

DOC = Path(__file__).resolve().parents[2] / "docs" / "postgres.md"


def documented_variables() -> set[str]:
    rows = re.findall(r"^\| `([A-Z_]+)` \|", DOC.read_text(encoding="utf-8"), re.M)
    return set(rows)


def test_every_variable_has_a_row_in_the_table() -> None:
    expected = {*VARIABLES, TEST_POSTGRES_URL, REQUIRE_POSTGRES}

    assert documented_variables() == expected
