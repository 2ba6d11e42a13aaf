"""What every benchmark shares: the workload's definitions, ids, clocks, memory."""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from dispatchledger.domain.values import (
    CampaignDefinition,
    CanvasDefinition,
    CanvasStep,
    CanvasVariant,
    MessageVariation,
)

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

NEWSLETTER = CampaignDefinition(
    campaign_id="newsletter",
    name="Weekly newsletter",
    delivery_type="scheduled",
    variations=(
        MessageVariation(variation_id="newsletter-email", channel="email"),
        MessageVariation(variation_id="newsletter-push", channel="push"),
    ),
)
"""The scheduled campaign of benchmarks 1, 2 and 6: email and push."""

RECEIPT = CampaignDefinition(
    campaign_id="receipt",
    name="Order receipt",
    delivery_type="api_triggered",
    variations=(MessageVariation(variation_id="receipt-email", channel="email"),),
)
"""The API-triggered campaign of benchmark 3: one recipient per call."""

ONBOARDING = CanvasDefinition(
    canvas_id="onboarding",
    name="Onboarding",
    entry_type="scheduled",
    variants=(CanvasVariant(variant_id="main", entry_step_ids=("welcome",)),),
    steps=(
        CanvasStep(
            step_id="welcome",
            messages=(MessageVariation(variation_id="welcome-email", channel="email"),),
            next_step_ids=("tips",),
        ),
        CanvasStep(
            step_id="tips",
            messages=(MessageVariation(variation_id="tips-push", channel="push"),),
        ),
    ),
)
"""The Canvas of benchmark 3: users enter at ``welcome`` and advance to ``tips``."""


def user_id(number: int) -> str:
    """The benchmark's user ids: all of the same length, as real ones often are."""
    return f"user-{number:09d}"


def users(count: int, start: int = 0) -> Iterator[str]:
    return (user_id(number) for number in range(start, start + count))


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Clock:
    """Wall-clock seconds of a block: ``with Clock() as clock: ...``."""

    seconds: float = 0.0
    _start: float = 0.0

    def __enter__(self) -> Clock:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self._start
