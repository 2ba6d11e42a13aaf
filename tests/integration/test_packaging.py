"""Packaging: every code folder is installed under ``dispatchledger``."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_subpackage_is_listed_and_mapped_under_dispatchledger() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = config["tool"]["setuptools"]
    folders = sorted(
        "dispatchledger." + ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("domain", "projections", "adapters")
        for init in (ROOT / top).rglob("__init__.py")
    )

    assert sorted(setuptools["packages"]) == folders
    assert all(
        setuptools["package-dir"][name]
        == name.removeprefix("dispatchledger.").replace(".", "/")
        for name in folders
    )
