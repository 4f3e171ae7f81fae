"""``sld export RUN_DIR``: one law of a run (the chosen one by default) as LaTeX, Python, SymPy,
JSON, or its per-group parameters as CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SEARCH_FIT = "the training rows minus the validation slice (the search fit)"
FINAL_FIT = "every training row (the final fit, after selection)"


def run(args: argparse.Namespace) -> int:
    """Read the run, pick the law, print it in ``--format`` (or write it to ``--out``).

    Parameters come from the final fit on every training row when the run scored this law on
    held-out rows (the chosen law of a finished run), else from the search fit; the output
    says which.
    """
    from sld.config import RunConfig
    from sld.errors import ConfigError, StoreError
    from sld.law import law_export
    from sld.report import read_run
    from sld.scoring import parse_for_task
    from sld.store import RunReader

    run_dir = Path(args.run_dir)
    if not RunReader.exists(run_dir):
        raise StoreError(f"no run store in {run_dir}; pass a directory made by 'sld discover'")
    with RunReader.open(run_dir) as reader:
        record = read_run(reader)
        chosen = record.chosen
        if args.law is None and chosen is None:
            raise StoreError(f"{run_dir}: no law has been scored yet, so none is chosen")
        candidate_id = args.law if args.law is not None else chosen.id  # type: ignore[union-attr]
        candidate = reader.candidate(candidate_id)
        fitted = next((f for f in reader.fitted() if f.candidate.id == candidate_id), None)
    if fitted is None or not fitted.ok:
        raise StoreError(
            f"{run_dir}: candidate #{candidate_id} has no successful fit (status "
            f"{candidate.status}); pass --law with a fitted candidate's id ('sld report' lists some)"
        )
    config = RunConfig.model_validate(record.snapshot.config)
    task = config.task.load()
    law = parse_for_task(candidate.text, task, max_params=config.max_params)
    heldout = [h for h in record.snapshot.heldout if h.candidate_id == candidate_id]
    if heldout:
        parameters, parameters_from = heldout[-1].report["parameters"], FINAL_FIT
    else:
        parameters, parameters_from = fitted.fit.get("parameters") or {}, SEARCH_FIT
    is_chosen = chosen is not None and chosen.id == candidate_id
    facts = {
        "task": record.snapshot.task,
        "run_dir": str(run_dir),
        "candidate_id": candidate_id,
        "chosen": is_chosen,
        "validation": {"r2": fitted.r2, "nmse": fitted.nmse, "nmae": fitted.nmae},
        "heldout_after_selection": (
            {k: heldout[-1].report["metrics"][k] for k in ("r2", "nmse", "nmae")}
            if heldout and heldout[-1].report.get("metrics")
            else None
        ),
    }
    title = f"{record.snapshot.task}: candidate #{candidate_id}" + (
        ", chosen on validation error" if is_chosen else ""
    )
    text = law_export(
        law,
        args.format,
        title=title,
        parameters=parameters,
        parameters_from=parameters_from,
        facts=facts,
    )
    if args.out is None:
        sys.stdout.write(text)
        return 0
    out = Path(args.out)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {out}: {exc.strerror or exc}; check --out") from None
    sys.stderr.write(f"wrote {args.format} of candidate #{candidate_id} to {out}\n")
    return 0
