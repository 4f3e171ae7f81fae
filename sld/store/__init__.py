"""The run store: one SQLite file per run holding everything a discovery run did.

:class:`RunStore` writes it (one engine process; it can read back too);
:class:`RunReader` reads it read-only while it is written (reports, the TUI,
replay). Rows come back as frozen dataclasses; :meth:`RunReader.snapshot` reads
a whole run in one transaction.
"""

from sld.store._reader import RunReader as RunReader
from sld.store._rows import CandidateRow as CandidateRow
from sld.store._rows import EventRow as EventRow
from sld.store._rows import FittedRow as FittedRow
from sld.store._rows import HeldoutRow as HeldoutRow
from sld.store._rows import LlmCallRow as LlmCallRow
from sld.store._rows import RunSnapshot as RunSnapshot
from sld.store._rows import RunSummary as RunSummary
from sld.store._schema import SCHEMA_VERSION as SCHEMA_VERSION
from sld.store._schema import STATUSES as STATUSES
from sld.store._schema import STORE_FILENAME as STORE_FILENAME
from sld.store._schema import store_path as store_path
from sld.store._writer import RunStore as RunStore

__all__ = [
    "SCHEMA_VERSION",
    "STATUSES",
    "STORE_FILENAME",
    "CandidateRow",
    "EventRow",
    "FittedRow",
    "HeldoutRow",
    "LlmCallRow",
    "RunReader",
    "RunSnapshot",
    "RunStore",
    "RunSummary",
    "store_path",
]
