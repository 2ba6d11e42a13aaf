"""Read models derived from the event log: lookups, lineage and attribution.

A projection is a name, its tables and a handler turning decoded events into row
changes (:mod:`~dispatchledger.projections.framework`); the store that keeps the
rows is a port implemented in :mod:`dispatchledger.adapters`. Open everything with
:func:`dispatchledger.adapters.read_side.open_read_models`.
"""

from dispatchledger.projections.compare import ProjectionReport, TableReport
from dispatchledger.projections.framework import (
    Changes,
    Column,
    EventLog,
    Projection,
    ProjectionStore,
    Table,
)
from dispatchledger.projections.queries import (
    DispatchLineage,
    Journey,
    StepDispatch,
    TransmissionView,
    UserDispatch,
    UserLineage,
)
from dispatchledger.projections.read_models import default_projections
from dispatchledger.projections.service import ReadModels

__all__ = [
    "Changes",
    "Column",
    "DispatchLineage",
    "EventLog",
    "Journey",
    "Projection",
    "ProjectionReport",
    "ProjectionStore",
    "ReadModels",
    "StepDispatch",
    "Table",
    "TableReport",
    "TransmissionView",
    "UserDispatch",
    "UserLineage",
    "default_projections",
]
