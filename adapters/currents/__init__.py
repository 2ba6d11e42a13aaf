"""Braze Currents interop: import, audit and export of observed message events.

``Ingestor`` imports Avro, JSON-rendering and HTTP-envelope files into the ledger;
``RejectsStore`` keeps what could not be understood; ``load_catalog`` reads
program details; ``audit`` reports deviations; ``export`` writes Currents-shaped
events back out.
"""

from dispatchledger.adapters.currents.catalog import (
    ProgramCatalog,
    ProgramInfo,
    load_catalog,
    save_catalog,
    stored_catalog,
)
from dispatchledger.adapters.currents.ingest import Ingestor, IngestSummary
from dispatchledger.adapters.currents.records import (
    NormalisedRecord,
    RecordRejected,
    normalise,
)
from dispatchledger.adapters.currents.rejects import Reject, RejectsStore, open_rejects

__all__ = [
    "IngestSummary",
    "Ingestor",
    "NormalisedRecord",
    "ProgramCatalog",
    "ProgramInfo",
    "RecordRejected",
    "Reject",
    "RejectsStore",
    "load_catalog",
    "normalise",
    "open_rejects",
    "save_catalog",
    "stored_catalog",
]
