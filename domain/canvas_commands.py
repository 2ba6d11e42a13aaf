"""The ledger's commands of Canvas journeys: entry runs, entries and advances."""

from __future__ import annotations

from collections.abc import Iterable

from dispatchledger.domain import ids
from dispatchledger.domain.commands import (
    AdvanceStep,
    EnterCanvas,
    Result,
    RunCanvasEntry,
)
from dispatchledger.domain.errors import (
    EmptyAudience,
    WrongDeliveryType,
)
from dispatchledger.domain.ledger_base import LedgerBase
from dispatchledger.domain.participation import (
    Source,
    advance_step,
    enter_canvas,
)
from dispatchledger.domain.sending import (
    Pending,
    SendTally,
    entry_steps_with_dispatch,
    non_empty,
    require_type,
)
from dispatchledger.domain.values import (
    DeliveryType,
)


class CanvasCommands(LedgerBase):
    """Scheduled entry runs, action and API entries, and step advances."""

    # -- Canvas journeys ---------------------------------------------------------

    def _run_canvas_entry(
        self, command: RunCanvasEntry, audience: Iterable[str] | None
    ) -> tuple[Result, Pending]:
        canvas = self._canvas(command.canvas_id)
        require_type(canvas.definition.entry_type, DeliveryType.SCHEDULED, canvas)
        recipients = non_empty(
            command.audience if audience is None else audience,
            EmptyAudience("Canvas", command.canvas_id, command.entry_run_id),
        )
        pending: Pending = []
        if not canvas.definition.recurring:
            canvas.launch_once(command.entry_run_id, command.at)
            pending.append(canvas)
        transmission = self._start_transmission(
            "canvas",
            command.canvas_id,
            "entry_run",
            command.entry_run_id,
            command.at,
            pending,
            save_now=True,
            step_ids=entry_steps_with_dispatch(canvas.definition),
        )
        source = Source(
            "entry_run",
            command.entry_run_id,
            transmission.dispatch_id,
            transmission.step_dispatch_ids,
        )
        tally = self._send_in_batches(
            recipients,
            lambda user: ids.journey_stream_id(command.canvas_id, user),
            lambda user, state: enter_canvas(
                canvas.definition,
                state,
                user,
                source,
                command.at,
                self.mint_dispatch_id,
                self.mint_entry_id,
            ),
            pending,
        )
        self._complete(transmission, tally, command.at)
        result = tally.result(command.command, "canvas", command.canvas_id, source)
        return result, []

    def _enter_canvas(self, command: EnterCanvas) -> tuple[Result, Pending]:
        canvas = self._canvas(command.canvas_id)
        entry_type = canvas.definition.entry_type
        if entry_type is DeliveryType.SCHEDULED:
            raise WrongDeliveryType(
                "Canvas",
                canvas.canvas_id,
                entry_type.value,
                "action_based or api_triggered",
            )
        kind = "entry"
        source = Source(kind, command.trigger_id or ids.mint_source_id())
        return self._send_bounded(
            command.command,
            "canvas",
            command.canvas_id,
            source,
            [command.user_id],
            lambda user: ids.journey_stream_id(command.canvas_id, user),
            lambda user, state: enter_canvas(
                canvas.definition,
                state,
                user,
                source,
                command.at,
                self.mint_dispatch_id,
                self.mint_entry_id,
                command.variant_id,
            ),
            [],
        )

    def _advance(self, command: AdvanceStep) -> tuple[Result, Pending]:
        canvas = self._canvas(command.canvas_id)
        canvas.ensure_active()
        stream_id = ids.journey_stream_id(command.canvas_id, command.user_id)
        state = self._load_states([stream_id])[stream_id]
        decision = advance_step(
            canvas.definition,
            state,
            command.user_id,
            command.step_id,
            command.at,
            self.mint_dispatch_id,
        )
        tally = SendTally(keep_per_user=True)
        tally.add(command.user_id, decision)
        source = Source(decision.events[0].source_kind, decision.events[0].source_id)
        result = tally.result(command.command, "canvas", command.canvas_id, source)
        return result, list(decision.events)
