"""``sld report RUN_DIR``: re-render a run's report from its store (read-only)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sld.cli._render import print_json, render_report


def run(args: argparse.Namespace) -> int:
    """One read of the run, then the report (as on the terminal after ``sld discover``, or JSON)."""
    from sld.config import RunConfig
    from sld.errors import StoreError
    from sld.report import PLOT_PNG, build_report, read_run
    from sld.store import RunReader

    run_dir = Path(args.run_dir)
    if not RunReader.exists(run_dir):
        raise StoreError(f"no run store in {run_dir}; pass a directory made by 'sld discover'")
    with RunReader.open(run_dir) as reader:
        record = read_run(reader)
    report = build_report(record, RunConfig.model_validate(record.snapshot.config).task.load())
    report["run_dir"] = str(run_dir)
    if (run_dir / PLOT_PNG).exists():
        report["plot"] = str(run_dir / PLOT_PNG)
    if args.json:
        print_json(report)
    else:
        render_report(report)
    return 0
