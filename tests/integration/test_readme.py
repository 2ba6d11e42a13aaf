"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block-{i}" for i in range(len(BLOCKS))])
def test_readme_python_example_runs(
    code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISPATCHLEDGER_DATABASE_URL", raising=False)

    namespace: dict[str, object] = {"__name__": "readme"}

    exec(compile(code, str(README), "exec"), namespace)

    assert "ledger" in namespace


def test_readme_python_examples_check_their_results() -> None:
    assert len(BLOCKS) >= 2
    assert all("assert" in block for block in BLOCKS)


def test_readme_configuration_table_lists_every_variable() -> None:
    from dispatchledger.adapters.settings import VARIABLES

    text = README.read_text(encoding="utf-8")

    assert [name for name in VARIABLES if f"| `{name}` |" not in text] == []
