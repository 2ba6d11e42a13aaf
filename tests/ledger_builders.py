"""Small builders the rule, property and resume tests share.

Minters count instead of drawing random bits, so a test can say which id it
expects; definitions are built from a few words of business data.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.domain import (
    CampaignDefinition,
    CanvasDefinition,
    DispatchLedger,
    MessageDispatched,
)

AT = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


class CountingMinter:
    """Mints ``prefix`` + a counter, padded to ``width`` lowercase hex digits."""

    def __init__(self, width: int = 24) -> None:
        self.width = width
        self.minted: list[str] = []

    def __call__(self) -> str:
        value = f"{len(self.minted) + 1:0{self.width}x}"
        self.minted.append(value)
        return value


def counting_ledger(url: str = "memory://") -> DispatchLedger:
    """A ledger whose dispatch ids are 0...01, 0...02 and entry ids 32 hex."""
    return open_ledger(url, mint=CountingMinter(), mint_entry=CountingMinter(32))


def campaign(
    campaign_id: str,
    delivery_type: str,
    channels: Iterable[str] = ("email",),
    **fields: Any,
) -> CampaignDefinition:
    """A campaign with one variation per channel, named ``<campaign>-<channel>``."""
    variations = [
        {"variation_id": f"{campaign_id}-{channel}", "channel": channel}
        for channel in channels
    ]
    return CampaignDefinition.model_validate(
        {
            "campaign_id": campaign_id,
            "name": f"Campaign {campaign_id}",
            "delivery_type": delivery_type,
            "variations": variations,
            **fields,
        }
    )


def canvas(
    canvas_id: str,
    entry_type: str,
    step_channels: Iterable[Iterable[str]] = (("email",), ("email",), ("push",)),
    **fields: Any,
) -> CanvasDefinition:
    """A linear Canvas: steps ``s1 -> s2 -> ...``, one message per listed channel."""
    channel_lists = [list(channels) for channels in step_channels]
    steps = []
    for number, channels in enumerate(channel_lists, start=1):
        following = [f"s{number + 1}"] if number < len(channel_lists) else []
        steps.append(
            {
                "step_id": f"s{number}",
                "name": f"Step {number}",
                "messages": [
                    {"variation_id": f"{canvas_id}-s{number}-{ch}", "channel": ch}
                    for ch in channels
                ],
                "next_step_ids": following,
            }
        )
    return CanvasDefinition.model_validate(
        {
            "canvas_id": canvas_id,
            "name": f"Canvas {canvas_id}",
            "entry_type": entry_type,
            "variants": [{"variant_id": "v1", "entry_step_ids": ["s1"]}],
            "steps": steps,
            **fields,
        }
    )


def max_notification_id(ledger: DispatchLedger) -> int:
    return ledger.recorder.max_notification_id() or 0


def recorded_events(ledger: DispatchLedger) -> list[tuple[int, Any]]:
    """Every recorded event with its notification id, in log order."""
    found: list[tuple[int, Any]] = []
    start = 1
    while True:
        batch = ledger.recorder.select_notifications(start, 500)
        if not batch:
            return found
        for notification in batch:
            found.append((notification.id, ledger.mapper.to_domain_event(notification)))
        start = batch[-1].id + 1


def dispatched(ledger: DispatchLedger) -> list[MessageDispatched]:
    """Every MessageDispatched event in the log, in log order."""
    return [e for _, e in recorded_events(ledger) if isinstance(e, MessageDispatched)]
