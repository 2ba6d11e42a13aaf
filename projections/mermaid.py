"""Lineage as a Mermaid flowchart: text any Mermaid viewer renders."""

from __future__ import annotations

import unicodedata

from dispatchledger.projections.queries import (
    DispatchLineage,
    Journey,
    UserDispatch,
    UserLineage,
)

MAX_RECIPIENTS = 50
"""A dispatch's chart names at most this many recipients, then counts the rest."""


class _Chart:
    """Numbers nodes (n0, n1, ...) so labels never need to be valid ids."""

    def __init__(self) -> None:
        self.lines = ["flowchart LR"]
        self.ids: dict[tuple[str, ...], str] = {}

    def node(self, key: tuple[str, ...], label: str, shape: str = "box") -> str:
        """The node for ``key`` (a kind and its ids, kept apart so no two ids
        joined can name another node), added with ``label`` on first use."""
        found = self.ids.get(key)
        if found is not None:
            return found
        node_id = f"n{len(self.ids)}"
        self.ids[key] = node_id
        text = _escape(label)
        opened, closed = {"box": ('["', '"]'), "round": ('(["', '"])')}[shape]
        self.lines.append(f"    {node_id}{opened}{text}{closed}")
        return node_id

    def edge(self, start: str, end: str, label: str = "") -> None:
        arrow = f"-->|{_escape(label)}|" if label else "-->"
        line = f"    {start} {arrow} {end}"
        if line not in self.lines:
            self.lines.append(line)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


_SPECIAL = frozenset('#"|<>&`')
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _escape(label: str) -> str:
    """``label`` as text inside a quoted Mermaid label, shown as it is.

    Mermaid reads ``#name;`` and ``#123;`` as entities and labels as HTML, and a
    line or paragraph separator can end a statement, so each of those characters
    is written as its entity (``#`` too, so an id that looks like an entity is
    not decoded).
    """
    return "".join(
        "#quot;"
        if char == '"'
        else f"#{ord(char)};"
        if char in _SPECIAL or unicodedata.category(char) in _INVISIBLE
        else char
        for char in label
    )


def _stamp(message: UserDispatch) -> str:
    return message.sent_at.isoformat().replace("+00:00", "Z")


def user_lineage_chart(lineage: UserLineage) -> str:
    """The user's journeys step by step, and campaign sends, as a flowchart."""
    chart = _Chart()
    user = chart.node(("user", lineage.user_id), f"user {lineage.user_id}", "round")
    for journey in lineage.journeys:
        _journey(chart, user, journey)
    for message in lineage.campaign_messages:
        program = chart.node(
            ("campaign", message.program_id), f"campaign {message.program_id}"
        )
        chart.edge(user, program)
        source = chart.node(
            ("source", message.program_id, message.source_id),
            f"{message.source_kind} {message.source_id}",
        )
        chart.edge(program, source)
        _message(chart, source, message.channel, message.dispatch_id, _stamp(message))
    return chart.text()


def _journey(chart: _Chart, user: str, journey: Journey) -> None:
    canvas = chart.node(("canvas", journey.canvas_id), f"Canvas {journey.canvas_id}")
    chart.edge(user, canvas)
    previous = chart.node(("journey", journey.entry_id), f"journey {journey.entry_id}")
    chart.edge(canvas, previous)
    for step in journey.steps:
        at = step.arrived_at.isoformat().replace("+00:00", "Z")
        node = chart.node(
            ("arrival", journey.entry_id, step.source_id),
            f"step {step.step_id} at {at}",
        )
        chart.edge(previous, node, step.source_kind)
        for message in step.messages:
            stamp = message.sent_at.isoformat().replace("+00:00", "Z")
            _message(chart, node, message.channel, message.dispatch_id, stamp)
        previous = node


def _message(
    chart: _Chart, parent: str, channel: str, dispatch_id: str | None, at: str
) -> None:
    label = f"dispatch {dispatch_id}" if dispatch_id else "no dispatch id (in-app)"
    key = ("dispatch", dispatch_id) if dispatch_id else ("inapp", parent, at)
    node = chart.node(key, label, "round")
    chart.edge(parent, node, channel)


def dispatch_lineage_chart(lineage: DispatchLineage) -> str:
    """The dispatch's source chains and its recipients, as a flowchart."""
    chart = _Chart()
    dispatch = ("dispatch", lineage.dispatch_id)
    for chain in lineage.chains:
        previous: str | None = None
        for link in chain:
            key = dispatch if link.kind == "dispatch" else (link.kind, link.id)
            shape = "round" if link.kind == "dispatch" else "box"
            node = chart.node(key, f"{link.kind} {link.id}", shape)
            if previous is not None:
                chart.edge(previous, node)
            previous = node
    target = chart.node(dispatch, f"dispatch {lineage.dispatch_id}", "round")
    users: dict[str, list[str]] = {}
    for message in lineage.messages:
        users.setdefault(message.user_id, []).append(message.channel)
    for user_id, channels in list(users.items())[:MAX_RECIPIENTS]:
        node = chart.node(("user", user_id), f"user {user_id}", "round")
        chart.edge(target, node, ", ".join(channels))
    hidden = len(users) - MAX_RECIPIENTS
    # Truncated messages name only some recipients: what is beyond them is a
    # lower bound, or unknown.
    if lineage.messages_truncated:
        more = f"at least {hidden} more recipients" if hidden > 0 else "more messages"
        chart.edge(target, chart.node(("more",), more))
    elif hidden > 0:
        chart.edge(target, chart.node(("more",), f"{hidden} more recipients"))
    return chart.text()
