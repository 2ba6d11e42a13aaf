"""Input checks of the ledger's entry points, reported as the project's errors."""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from dispatchledger.domain.errors import (
    InvalidCommand,
)
from dispatchledger.domain.values import ApiId

_API_ID: TypeAdapter[str] = TypeAdapter(ApiId)


def checked_id(value: object, field: str) -> str:
    """``value`` if it is an id a command would accept; else name the argument."""
    try:
        return _API_ID.validate_python(value, strict=True)
    except ValidationError as error:
        reason = _reason(error.errors(include_url=False)[0])
        raise InvalidCommand(
            f"{field}: {reason}", [{"field": field, "reason": reason}]
        ) from None


def _reason(item: ErrorDetails) -> str:
    """The reason of one validation problem, without pydantic's prefix.

    Our own rules raise ValueError, which pydantic reports as
    "Value error, <our words>"; the caller needs only our words.
    """
    if item["type"] == "value_error":
        return str(item.get("ctx", {}).get("error", item["msg"]))
    return item["msg"]


def invalid_command(error: ValidationError) -> InvalidCommand:
    """The project's error for input that failed validation, naming each field."""
    problems = [
        {
            # An error of the whole object (e.g. an unknown command tag) has
            # no location; it concerns the command itself.
            "field": ".".join(str(part) for part in item["loc"]) or "command",
            "reason": _reason(item),
        }
        for item in error.errors(include_url=False)
    ]
    summary = "; ".join(f"{p['field']}: {p['reason']}" for p in problems)
    return InvalidCommand(f"invalid command: {summary}", problems)
