"""Identifiers: minted dispatch ids and name-derived stream ids.

Stream ids are derived with uuid5 from the external ids, so two processes agree on
them whatever their hash seed; external ids themselves are opaque strings and are
never parsed or reformatted (rule D1).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from uuid import UUID, uuid4, uuid5

NAMESPACE = UUID("5d0b9a1e-52a4-4f0e-9d0e-7a0c6a1f2b3c")
"""Root namespace of every id this project derives by name."""

_SEPARATOR = "\x1f"

IdMinter = Callable[[], str]
"""Returns a fresh id; injected so tests can make minting deterministic."""


def mint_dispatch_id() -> str:
    """A new dispatch id: 24 lowercase hex characters (96 random bits)."""
    return secrets.token_hex(12)


def mint_entry_id() -> str:
    """A new journey (Canvas entry instance) id: 32 lowercase hex characters."""
    return secrets.token_hex(16)


def mint_source_id() -> str:
    """A name for a trigger or API call the caller did not name.

    Shaped as a UUID so it is never mistaken for a dispatch id.
    """
    return str(uuid4())


def derive_id(kind: str, *parts: str) -> UUID:
    """The stream id of ``kind`` named by ``parts``, stable across processes."""
    return uuid5(NAMESPACE, _SEPARATOR.join((kind, *parts)))


def campaign_stream_id(campaign_id: str) -> UUID:
    return derive_id("campaign", campaign_id)


def canvas_stream_id(canvas_id: str) -> UUID:
    return derive_id("canvas", canvas_id)


def recipient_stream_id(campaign_id: str, user_id: str) -> UUID:
    return derive_id("campaign-recipient", campaign_id, user_id)


def journey_stream_id(canvas_id: str, user_id: str) -> UUID:
    return derive_id("canvas-journey", canvas_id, user_id)


def transmission_stream_id(owner_kind: str, owner_id: str, source_id: str) -> UUID:
    return derive_id("transmission", owner_kind, owner_id, source_id)


def idempotency_stream_id(key: str) -> UUID:
    return derive_id("idempotency", key)


def stable_pick(*parts: str) -> int:
    """A non-negative integer fixed by ``parts``: the same in every process."""
    return derive_id("pick", *parts).int
