"""The run object: one discovery run, opened, driven and finalized in one place.

``sld discover``, the TUI and ``sld bench`` all drive :class:`Run`, so they
cannot behave differently. A run directory holds ``run.sqlite`` (the store),
``report.json``, ``report.md`` and ``extrapolation.png``.

Everything a user can get wrong (unknown task, bad CSV, unwritable folder,
missing model, corrupted store) raises a one-line SldError from :meth:`Run.create`
or :meth:`Run.open`, before the search starts.

Proposers: ``offline``; ``llm`` and ``mixed`` ask the configured endpoint. The
one policy when no endpoint is configured (no ``--base-url``, ``OPENAI_BASE_URL``
or ``OPENAI_API_KEY``): the offline proposer, with a notice. A proposer that is
configured but cannot be built (the local model is not installed, the replay
source is missing) is an error.
"""

from sld.run._run import RUN_STATES as RUN_STATES
from sld.run._run import EventKind as EventKind
from sld.run._run import Listener as Listener
from sld.run._run import Run as Run
from sld.run._run import RunEvent as RunEvent
from sld.run._run import RunState as RunState
from sld.run._setup import make_proposer as make_proposer
from sld.run._setup import new_run_dir as new_run_dir
from sld.run._setup import replay_config as replay_config
from sld.run._setup import versions as versions
from sld.run._setup import writable as writable

__all__ = [
    "RUN_STATES",
    "EventKind",
    "Listener",
    "Run",
    "RunEvent",
    "RunState",
    "make_proposer",
    "new_run_dir",
    "replay_config",
    "versions",
    "writable",
]
