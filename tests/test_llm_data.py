"""The LLM sees the data: training rows, fold scores, residuals and failed checks, never a test row."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from sld.config import LlmConfig, RunConfig, TaskSpec
from sld.corpus import load_task
from sld.llm import extract_laws
from sld.llm._prompts import messages_tokens, propose_messages
from sld.proposer import Parent, ProposalRequest, task_brief
from sld.resources import datasets_dir
from sld.run import Run
from sld.scoring import InputTrend, ResidualDiagnostics
from sld.store import RunStore
from tests.llm_server import FakeOpenAI, Reply, laws_json

POOL = (
    "L = E + A/N**alpha",
    "L = E + A/(N**alpha*P**beta)",
    "L = E + A*N**(-alpha)/(1 + k*log(P))",
    "L = E + A/N**alpha + B*log(P)",
)
BREAKS = "L = E - A*N + B/P"  # turns negative at 10x the largest N: fails a check


def _csv(tmp_path: Path, *, perturb: bool) -> Path:
    frame = pd.read_csv(datasets_dir() / "parallel_scaling_law" / "data.csv")
    if perturb:
        test = frame["split"] == "test"
        rng = np.random.default_rng(4)
        frame.loc[test, "loss"] = frame.loc[test, "loss"] * rng.uniform(0.5, 2.0, test.sum()) + 3
    path = tmp_path / ("perturbed" if perturb else "clean") / "parallel.csv"  # same task name
    path.parent.mkdir(exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def _spec(path: Path) -> TaskSpec:
    return TaskSpec(
        source=str(path),
        inputs=["num_params", "parallel_size"],
        outputs=["loss"],
        group="group",
        aliases={"N": "num_params", "P": "parallel_size"},
    )


def _script(body, n):
    user = body["messages"][-1]["content"]
    rng = np.random.default_rng(int(body.get("seed", 0)))
    if "first generation" in user:  # every island's first parents include a law that breaks
        return Reply(laws_json(POOL[int(rng.integers(len(POOL)))], BREAKS))
    return Reply(laws_json(*(POOL[i] for i in rng.choice(len(POOL), size=2, replace=False))))


def _prompts(tmp_path: Path, *, perturb: bool) -> tuple[list[str], Path]:
    with FakeOpenAI(_script) as server:
        config = RunConfig(
            task=_spec(_csv(tmp_path, perturb=perturb)),
            proposer="llm",
            llm=LlmConfig(base_url=server.base_url, model="scripted", backoff=0.01, timeout=5.0),
            islands=2,
            proposals_per_island=2,
            generations=3,
            restarts=4,
            capacity=8,
            bootstrap=0,
            screen_share=1.0,  # every law fully scored, so one failing its checks is a parent
        )
        run = Run.create(config, out=tmp_path / ("perturbed" if perturb else "clean") / "runs")
        run.execute(report=False)
        prompts = sorted(json.dumps(body["messages"], sort_keys=True) for body in server.requests)
    return prompts, run.run_dir


def test_prompts_show_training_rows_residuals_and_failed_checks_and_never_a_test_row(tmp_path):
    clean, run_dir = _prompts(tmp_path, perturb=False)
    perturbed, _ = _prompts(tmp_path, perturb=True)
    assert clean == perturbed  # every test label changed, not one byte of any prompt did
    text = "\n".join(json.loads(p)[-1]["content"] for p in clean)
    assert "group | N | P | loss" in text
    first = _spec(tmp_path / "clean" / "parallel.csv").load().train()
    assert f"{first.X[0][0][0]:.4g} | {first.X[0][0][1]:.4g} | {first.y[0][0][0]:.4g}" in text
    assert "fold NMSE" in text and "where it misses (residual rms" in text
    assert "failed extrapolation checks: loss turns non-positive for num_params" in text
    assert "its hypothesis: scripted" in text
    with RunStore.open(run_dir, readonly=True) as store:
        hypotheses = {c.rationale for c in store.candidates() if c.proposer == "llm"}
    assert hypotheses == {"scripted"}


def test_the_prompt_shrinks_its_data_and_notes_to_fit_the_token_budget():
    brief = task_brief(load_task("parallel_scaling_law"))
    diagnostics = ResidualDiagnostics(
        rows=10,
        rms=0.4,
        bias=0.1,
        trends=[InputTrend(input="num_params", output="loss", log=True, slope=0.3, corr=0.8)],
    )
    parents = tuple(
        Parent(
            id=i,
            text=f"loss = E + A/N**alpha{i}",
            error=0.01,
            r2=0.9,
            complexity=7,
            folds=(0.01, 0.02),
            failed_checks=("loss turns non-positive for num_params up to 4e+10",),
            diagnostics=diagnostics,
        )
        for i in range(4)
    )
    request = ProposalRequest(brief, parents, 6, 2, 0, 0)
    full = propose_messages(request)
    assert "where it misses" in full[1]["content"]
    small = propose_messages(request, budget=messages_tokens(full) - 200)
    assert messages_tokens(small) <= messages_tokens(full) - 200
    assert small[1]["content"].count(" | ") < full[1]["content"].count(" | ")
    assert propose_messages(request, budget=10**6) == full


def test_a_numbered_line_may_carry_a_one_line_hypothesis():
    found = extract_laws("1. L = E + A/N**alpha  # a floor in N\n2. L = E + B/P**b", outputs=("L",))
    assert found.laws == (("L = E + A/N**alpha", "a floor in N"), ("L = E + B/P**b", ""))
