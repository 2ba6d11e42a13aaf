"""Adapters: storage, imports and exports, and the command line."""

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.adapters.settings import Settings

__all__ = ["Settings", "open_ledger"]
