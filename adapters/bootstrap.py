"""The composition root: one function wires storage to the ledger."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from dispatchledger.adapters.settings import Settings
from dispatchledger.adapters.stream_readers import stream_reader_for
from dispatchledger.domain.application import DispatchLedger
from dispatchledger.domain.ids import IdMinter, mint_dispatch_id, mint_entry_id


def open_ledger(
    url: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    mint: IdMinter = mint_dispatch_id,
    mint_entry: IdMinter = mint_entry_id,
) -> DispatchLedger:
    """Open the ledger on ``url`` (default: the environment, then a SQLite file)."""
    settings = Settings.from_env(env)
    if url is not None:
        settings = replace(settings, database_url=url)
    ledger = DispatchLedger(
        settings.event_store_env(), mint_dispatch_id=mint, mint_entry_id=mint_entry
    )
    ledger.batch_size = settings.batch_size
    # Bulk sends read a batch of participation streams with one query.
    ledger.stream_reader = stream_reader_for(ledger.recorder)
    return ledger
