"""``sld bench``: many discovery runs (tasks × seeds) in parallel, locally or on Ray, one table.

Each (task, seed) is an ordinary run (:class:`sld.run.Run`) in
``<out>/runs/<task>-s<seed>`` with its own store, so a bench resumes run by run
(:mod:`sld.bench._job`). The table is read from the stores alone
(:mod:`sld.bench._table`) and written as ``bench.json``, ``bench.md`` and
``bench.png`` (:mod:`sld.bench._output`). Jobs run in local worker processes
(:class:`LocalExecutor`) or as Ray tasks (:class:`RayExecutor`).
"""

from sld.bench._driver import Executor as Executor
from sld.bench._driver import default_jobs as default_jobs
from sld.bench._driver import pending_jobs as pending_jobs
from sld.bench._driver import run_bench as run_bench
from sld.bench._job import JobEnded as JobEnded
from sld.bench._job import JobFiles as JobFiles
from sld.bench._job import JobMessage as JobMessage
from sld.bench._job import JobNotice as JobNotice
from sld.bench._job import JobProgress as JobProgress
from sld.bench._job import JobStarted as JobStarted
from sld.bench._job import run_job as run_job
from sld.bench._job import run_stage as run_stage
from sld.bench._local import LocalExecutor as LocalExecutor
from sld.bench._output import BENCH_JSON as BENCH_JSON
from sld.bench._output import BENCH_MD as BENCH_MD
from sld.bench._output import BENCH_PNG as BENCH_PNG
from sld.bench._output import output_paths as output_paths
from sld.bench._output import r2_text as r2_text
from sld.bench._output import spread_text as spread_text
from sld.bench._output import write_outputs as write_outputs
from sld.bench._plan import CONFIG_FILE as CONFIG_FILE
from sld.bench._plan import BenchConfig as BenchConfig
from sld.bench._plan import Job as Job
from sld.bench._plan import bench_config as bench_config
from sld.bench._plan import is_bench_dir as is_bench_dir
from sld.bench._plan import jobs as jobs
from sld.bench._ray import LOCAL as RAY_LOCAL
from sld.bench._ray import RayExecutor as RayExecutor
from sld.bench._ray import require_ray as require_ray
from sld.bench._table import BenchTable as BenchTable
from sld.bench._table import RunRow as RunRow
from sld.bench._table import TaskRow as TaskRow
from sld.bench._table import read_bench as read_bench
from sld.bench._table import read_run_row as read_run_row

__all__ = [
    "BENCH_JSON",
    "BENCH_MD",
    "BENCH_PNG",
    "CONFIG_FILE",
    "RAY_LOCAL",
    "BenchConfig",
    "BenchTable",
    "Executor",
    "Job",
    "JobEnded",
    "JobFiles",
    "JobMessage",
    "JobNotice",
    "JobProgress",
    "JobStarted",
    "LocalExecutor",
    "RayExecutor",
    "RunRow",
    "TaskRow",
    "bench_config",
    "default_jobs",
    "is_bench_dir",
    "jobs",
    "pending_jobs",
    "output_paths",
    "r2_text",
    "read_bench",
    "read_run_row",
    "require_ray",
    "run_bench",
    "run_job",
    "run_stage",
    "spread_text",
    "write_outputs",
]
