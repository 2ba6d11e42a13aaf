"""The demo's summary, counted from the read model of dispatches by user."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from dispatchledger.projections.read_models import USER_DISPATCHES
from dispatchledger.projections.service import ReadModels

IN_APP = "in_app_message"


@dataclass
class KindSummary:
    """Transmissions of one source kind and how their ids were shared."""

    source_kind: str
    transmissions: int = 0
    messages: int = 0
    dispatch_ids: int = 0
    shared_ids: int = 0
    per_user_ids: int = 0


@dataclass
class DemoSummary:
    transmissions: int = 0
    messages: int = 0
    in_app_without_id: int = 0
    kinds: list[KindSummary] = field(default_factory=list)


def summarize(models: ReadModels) -> DemoSummary:
    """Count what the read model holds, by source kind."""
    sources: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    messages: Counter[str] = Counter()
    users_of_id: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    in_app_without_id = 0
    for row in models.store.rows(USER_DISPATCHES):
        kind = str(row["source_kind"])
        sources[kind].add((row["program_kind"], row["program_id"], row["source_id"]))
        messages[kind] += 1
        dispatch_id = row["dispatch_id"]
        if dispatch_id is None:
            in_app_without_id += row["channel"] == IN_APP
        else:
            users_of_id[kind][dispatch_id].add(str(row["user_id"]))
    summary = DemoSummary(in_app_without_id=in_app_without_id)
    for kind in sorted(sources):
        ids = users_of_id[kind]
        shared = sum(len(users) > 1 for users in ids.values())
        summary.kinds.append(
            KindSummary(
                source_kind=kind,
                transmissions=len(sources[kind]),
                messages=messages[kind],
                dispatch_ids=len(ids),
                shared_ids=shared,
                per_user_ids=len(ids) - shared,
            )
        )
    summary.transmissions = sum(k.transmissions for k in summary.kinds)
    summary.messages = sum(messages.values())
    return summary
