"""The project's errors: one root, one family per layer.

::

    DispatchLedgerError
    ├── InvalidCommand              input that fails validation (names the field)
    ├── DomainRuleViolation         a command the rules refuse; carries the ids
    │   ├── UnknownCampaign
    │   ├── UnknownCanvas
    │   ├── UnknownStep
    │   ├── UnknownVariant
    │   ├── DefinitionConflict      same id defined again with another definition
    │   ├── WrongDeliveryType       e.g. an API trigger on a scheduled campaign
    │   ├── OccurrenceNotAllowed    a second occurrence of a one-off campaign
    │   ├── CampaignArchived
    │   ├── EmptyAudience
    │   ├── UserNotInCanvas
    │   ├── StepNotNext
    │   ├── DispatchTagInInApp      rule L5
    │   ├── TemplateError           a Liquid template that cannot be parsed or rendered
    │   ├── MessageNotRecorded      no recorded message matches a render request
    │   └── IdempotencyKeyReused    same key, different command
    └── PersistenceError            raised by adapters, translated from drivers
        ├── ConcurrencyConflict     optimistic-concurrency retries exhausted
        ├── DatabaseLocked          lock timeout
        ├── DatabaseUnavailable     connection refused, authentication, bad URL
        └── StorageFull             disk full or quota exceeded

Domain errors keep the ids involved as attributes, so a caller can react without
parsing messages.
"""

from __future__ import annotations

from typing import Any


class DispatchLedgerError(Exception):
    """Root of every error the public API raises."""

    code = "error"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description: ``code``, ``message`` and the ids involved."""
        details = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        return {"code": self.code, "message": str(self), **details}


class InvalidCommand(DispatchLedgerError):
    """Input that does not validate; ``problems`` lists each field and reason."""

    code = "invalid_command"

    def __init__(self, message: str, problems: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.problems = problems or []


class DomainRuleViolation(DispatchLedgerError):
    """A command the dispatch rules refuse."""

    code = "rule_violation"


class UnknownCampaign(DomainRuleViolation):
    code = "unknown_campaign"

    def __init__(self, campaign_id: str):
        super().__init__(f"campaign {campaign_id!r} is not defined")
        self.campaign_id = campaign_id


class UnknownCanvas(DomainRuleViolation):
    code = "unknown_canvas"

    def __init__(self, canvas_id: str):
        super().__init__(f"Canvas {canvas_id!r} is not defined")
        self.canvas_id = canvas_id


class UnknownStep(DomainRuleViolation):
    code = "unknown_step"

    def __init__(self, canvas_id: str, step_id: str):
        super().__init__(f"Canvas {canvas_id!r} has no step {step_id!r}")
        self.canvas_id = canvas_id
        self.step_id = step_id


class UnknownVariant(DomainRuleViolation):
    code = "unknown_variant"

    def __init__(self, canvas_id: str, variant_id: str):
        super().__init__(f"Canvas {canvas_id!r} has no variant {variant_id!r}")
        self.canvas_id = canvas_id
        self.variant_id = variant_id


class DefinitionConflict(DomainRuleViolation):
    code = "definition_conflict"

    def __init__(self, kind: str, api_id: str):
        super().__init__(
            f"{kind} {api_id!r} is already defined with a different definition"
        )
        self.kind = kind
        self.api_id = api_id


class WrongDeliveryType(DomainRuleViolation):
    code = "wrong_delivery_type"

    def __init__(self, kind: str, api_id: str, actual: str, needed: str):
        super().__init__(f"{kind} {api_id!r} is {actual}; this command needs {needed}")
        self.kind = kind
        self.api_id = api_id
        self.actual = actual
        self.needed = needed


class OccurrenceNotAllowed(DomainRuleViolation):
    code = "occurrence_not_allowed"

    def __init__(self, api_id: str, existing: str, requested: str):
        super().__init__(
            f"{api_id!r} is scheduled once and already ran as {existing!r};"
            f" it cannot run again as {requested!r}"
        )
        self.api_id = api_id
        self.existing = existing
        self.requested = requested


class CampaignArchived(DomainRuleViolation):
    code = "archived"

    def __init__(self, kind: str, api_id: str):
        super().__init__(f"{kind} {api_id!r} is archived and sends nothing")
        self.kind = kind
        self.api_id = api_id


class EmptyAudience(DomainRuleViolation):
    code = "empty_audience"

    def __init__(self, kind: str, api_id: str, source_id: str):
        super().__init__(
            f"{kind} {api_id!r}: {source_id!r} has no recipients; nothing was sent"
        )
        self.kind = kind
        self.api_id = api_id
        self.source_id = source_id


class UserNotInCanvas(DomainRuleViolation):
    code = "user_not_in_canvas"

    def __init__(self, canvas_id: str, user_id: str):
        super().__init__(
            f"user {user_id!r} has no journey in Canvas {canvas_id!r} to advance"
        )
        self.canvas_id = canvas_id
        self.user_id = user_id


class StepNotNext(DomainRuleViolation):
    code = "step_not_next"

    def __init__(
        self, canvas_id: str, user_id: str, current_step_id: str, step_id: str
    ):
        super().__init__(
            f"Canvas {canvas_id!r}: step {step_id!r} does not follow step"
            f" {current_step_id!r}, where user {user_id!r} is"
        )
        self.canvas_id = canvas_id
        self.user_id = user_id
        self.current_step_id = current_step_id
        self.step_id = step_id


class DispatchTagInInApp(DomainRuleViolation):
    code = "dispatch_tag_in_in_app"

    def __init__(self, owner_id: str, variation_id: str):
        super().__init__(
            f"{owner_id!r}: in-app variation {variation_id!r} uses the dispatch id"
            " tag, which in-app messages do not support (rule L5)"
        )
        self.owner_id = owner_id
        self.variation_id = variation_id


class TemplateError(DomainRuleViolation):
    code = "template_error"

    def __init__(
        self,
        owner_id: str,
        variation_id: str,
        reason: str,
        line: int | None = None,
        column: int | None = None,
    ):
        where = f" at line {line}, column {column}" if line is not None else ""
        super().__init__(
            f"{owner_id!r}: template of variation {variation_id!r}{where}: {reason}"
        )
        self.owner_id = owner_id
        self.variation_id = variation_id
        self.reason = reason
        self.line = line
        self.column = column


class MessageNotRecorded(DomainRuleViolation):
    code = "message_not_recorded"

    def __init__(self, user_id: str, dispatch_id: str | None, program_id: str | None):
        wanted = [f"to user {user_id!r}"]
        if dispatch_id is not None:
            wanted.append(f"with dispatch id {dispatch_id!r}")
        if program_id is not None:
            wanted.append(f"of {program_id!r}")
        super().__init__(f"no message {' '.join(wanted)} is recorded")
        self.user_id = user_id
        self.dispatch_id = dispatch_id
        self.program_id = program_id


class IdempotencyKeyReused(DomainRuleViolation):
    code = "idempotency_key_reused"

    def __init__(self, key: str):
        super().__init__(
            f"idempotency key {key!r} was already used for a different command"
        )
        self.key = key


class PersistenceError(DispatchLedgerError):
    """A storage failure, translated from the driver at the adapter boundary."""

    code = "persistence_error"


class ConcurrencyConflict(PersistenceError):
    code = "concurrency_conflict"

    def __init__(self, what: str, attempts: int):
        super().__init__(
            f"{what}: other writers kept changing the same streams;"
            f" gave up after {attempts} attempts"
        )
        self.what = what
        self.attempts = attempts


class DatabaseLocked(PersistenceError):
    code = "database_locked"


class DatabaseUnavailable(PersistenceError):
    code = "database_unavailable"


class StorageFull(PersistenceError):
    code = "storage_full"
