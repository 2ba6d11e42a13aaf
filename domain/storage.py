"""Storage concerns of the ledger: reading streams in bulk, storing value objects,
and turning storage library errors into the project's typed ones."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast
from uuid import UUID

from eventsourcing.domain import EventSourcingError
from eventsourcing.persistence import (
    ApplicationRecorder,
    ConnectionPoolClosedError,
    StoredEvent,
    Transcoding,
)
from eventsourcing.persistence import PersistenceError as LibraryPersistenceError
from eventsourcing.utils import TopicError

from dispatchledger.domain.campaign import Campaign
from dispatchledger.domain.canvas import Canvas
from dispatchledger.domain.catalog import Catalog
from dispatchledger.domain.commands import (
    Result,
)
from dispatchledger.domain.errors import (
    DatabaseUnavailable,
    DispatchLedgerError,
    PersistenceError,
)
from dispatchledger.domain.transmission import Transmission
from dispatchledger.domain.values import (
    ValueObject,
)

_R = TypeVar("_R", bound=Result)
_A = TypeVar("_A", Campaign, Canvas, Transmission, Catalog)
_F = TypeVar("_F", bound=Callable[..., Any])


class StreamReader(Protocol):
    """Reads many streams at once; adapters give faster ones than the default."""

    def read_streams(self, stream_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        """Stored events of each given stream, in version order."""
        ...  # pragma: no cover


@dataclass
class RecorderStreamReader:
    """Reads streams one by one through the library's recorder."""

    recorder: ApplicationRecorder

    def read_streams(self, stream_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        found: dict[UUID, list[StoredEvent]] = {}
        for stream_id in stream_ids:
            stored = list(self.recorder.select_events(stream_id))
            if stored:
                found[stream_id] = stored
        return found


class ModelTranscoding(Transcoding):
    """Stores a value object as its fields; restores it as the same type."""

    def __init__(self, model: type[ValueObject]) -> None:
        self.type = model
        self.model = model
        self.name = f"dispatchledger:{model.__name__}"

    def encode(self, obj: ValueObject) -> dict[str, Any]:
        return obj.model_dump(mode="python")

    def decode(self, data: dict[str, Any]) -> ValueObject:
        return self.model.model_validate(data)


ErrorTranslator = Callable[[Exception], PersistenceError]
"""Turns a storage library's error into the project's typed persistence error.

The adapters give a precise one (see ``dispatchledger.adapters.errors``); without
one, every storage failure is a plain :class:`PersistenceError`.
"""


def plain_persistence_error(error: Exception) -> PersistenceError:
    """The fallback translation: a :class:`PersistenceError` with the library's text."""
    return PersistenceError(f"the database failed: {error}")


def storage_errors_translated(method: _F) -> _F:
    """Raise the ledger's translation of any storage library error."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except DispatchLedgerError:
            raise
        except LibraryPersistenceError as error:
            raise self.translate_error(error) from error
        except ConnectionPoolClosedError as error:
            raise DatabaseUnavailable("the ledger is closed; open it again") from error
        except (EventSourcingError, TopicError) as error:
            # Stored events this program cannot read: written by another
            # program or version, or damaged.
            raise PersistenceError(f"stored events cannot be read: {error}") from error

    return cast(_F, wrapper)
