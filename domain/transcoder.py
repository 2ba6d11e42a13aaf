"""The event transcoder: the library's JSON format, written and read with orjson.

``eventsourcing``'s :class:`~eventsourcing.persistence.JSONTranscoder` spends more
time in the standard ``json`` module than the rest of recording an event.
:class:`OrjsonTranscoder` writes the same documents with ``orjson``: registered
types (datetime, UUID, Decimal, the value objects) become the same
``{"_type_": name, "_data_": ...}`` objects, so events stored by either transcoder
are read by both, and every value comes back as the type it was saved as.

``orjson`` writes a few types itself that the library tags instead (``UUID``;
``datetime`` is handed back to :meth:`OrjsonTranscoder._default`); those are tagged
before encoding. Anything ``orjson`` refuses (integers beyond 64 bits, dicts with
keys that are not strings) is written by the library's encoder, unchanged. One
difference remains: a float NaN or infinity, which JSON cannot spell, is written as
``null``, where the library writes ``NaN``; no event of this project holds a float.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import JSONTranscoder

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_WALKED = frozenset((UUID, dict, list, tuple))


class OrjsonTranscoder(JSONTranscoder):
    """Reads and writes the library's JSON documents with orjson."""

    def __init__(self) -> None:
        super().__init__()
        self._last_datetime: datetime | None = None
        self._last_tagged: dict[str, Any] = {}

    def encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(self._tag_uuids(obj), self._default, _OPTIONS)
        except orjson.JSONEncodeError:
            # The library's encoder writes it, or raises the error it would raise.
            return super().encode(obj)

    def decode(self, data: bytes) -> Any:
        return self._restore(orjson.loads(data))

    def _default(self, obj: Any) -> Any:
        if obj is self._last_datetime:
            return self._last_tagged
        transcoding = self.types.get(type(obj))
        if transcoding is None:
            return self._encode_obj(obj)  # raises the library's error
        tagged = {
            "_type_": transcoding.name,
            "_data_": self._tag_uuids(transcoding.encode(obj)),
        }
        if type(obj) is datetime:
            # The events of one command share one timestamp object: it is
            # formatted once. Holding it keeps its identity from being reused.
            self._last_datetime, self._last_tagged = obj, tagged
        return tagged

    def _tag_uuids(self, obj: Any) -> Any:
        """``obj`` with each UUID replaced by its tagged form; unchanged if none."""
        kind = type(obj)
        if kind is dict:
            # Most event states are flat: one pass in C tells there is nothing to do.
            if _WALKED.isdisjoint(map(type, obj.values())):
                return obj
            return {key: self._tag_uuids(item) for key, item in obj.items()}
        if kind is list or kind is tuple:
            return [self._tag_uuids(item) for item in obj]
        if kind is UUID:
            return self._default(obj)
        return obj

    def _restore(self, obj: Any) -> Any:
        """Decode tagged objects inside out, as the library's ``object_hook`` does."""
        kind = type(obj)
        if kind is dict:
            for key, value in obj.items():
                if type(value) is dict or type(value) is list:
                    obj[key] = self._restore(value)
            return self._decode_obj(obj)
        if kind is list:
            return [self._restore(item) for item in obj]
        return obj
