"""Snapshots of the TUI (main, law detail, help, extrapolation) at 80x24 and 160x48, from a fixed run store.

The store is written row by row (no fitting, no clock in what is drawn), so the
pictures depend only on this file: the app attaches read-only, waits until the
store is read and the selected law's extrapolation is drawn, then is captured.
Regenerate with ``pytest tests/test_tui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from waiting import pilot_wait_until

from sld.config import RunConfig, TaskSpec
from sld.corpus import load_task
from sld.evolve.population import Member, Population
from sld.fit import FitResult
from sld.scoring import (
    BootstrapInterval,
    GroupResidual,
    InputTrend,
    MetricsReport,
    ResidualDiagnostics,
    ScoreReport,
    parse_for_task,
)
from sld.store import RunStore
from sld.tui.app import SldApp
from sld.tui.widgets import ExtrapolationPlot

TASK = "parallel_scaling_law"
GROUPS = ("pile", "stack")

# (text, island, generation, parents, proposer, operator, status, fit parameters, r2, nmse, nmae)
# Parameters and metrics are real fits (validation_score, seed 0, 8 restarts), rounded.
# fmt: off
LAWS = [
    ("L = E + A/N**a", 0, 0, (), "offline", "seed", "fitted",
     {"pile": {"E": 1.47246, "A": 127.19, "a": 0.264735},
      "stack": {"E": 0.817936, "A": 89.1666, "a": 0.276472}},
     0.995153, 0.00484695, 0.0687662),
    ("L = E + A/(N**a*P**b)", 0, 0, (), "offline", "seed", "fitted",
     {"pile": {"E": 1.42099, "A": 83.7837, "a": 0.238772, "b": 0.076758},
      "stack": {"E": 0.779611, "A": 49.9037, "a": 0.240863, "b": 0.092814}},
     0.999724, 0.00027621, 0.0135622),
    ("L = E + A*log(N) + B*log(N)**2", 1, 0, (), "llm", "llm", "fitted",
     {"pile": {"E": 12.027, "A": -0.827625, "B": 0.0165886},
      "stack": {"E": 7.146, "A": -0.502082, "B": 0.0101677}},
     0.995152, 0.0048483, 0.0687783),
    ("L = E + A/N**a + B/P**b + C", 1, 0, (), "llm", "llm", "rejected", None, 0, 0, 0),
    ("L = E + A/(N**a*(k*log(P) + 1))", 0, 1, (2,), "llm", "llm", "fitted",
     {"pile": {"E": 1.42099, "A": 83.7837, "a": 0.238772, "k": 0.0788366},
      "stack": {"E": 0.779611, "A": 49.9037, "a": 0.240863, "k": 0.0958646}},
     0.999794, 0.000205762, 0.0117733),
    ("L = A/P**a", 1, 1, (3,), "offline", "substitute_input", "fitted",
     {"pile": {"A": 1.97795, "a": 0.022037}, "stack": {"A": 1.09717, "a": 0.0271887}},
     0.970969, 0.0290305, 0.146352),
    ("L = E + A/N**a", 1, 1, (1,), "offline", "mutate", "duplicate", None, 0, 0, 0),
    ("L = E + exp(A*N)", 1, 1, (3, 6), "offline", "crossover", "failed", None, 0, 0, 0),
    ("L = E + A/(B + N**a)", 0, 2, (1,), "offline", "mutate", "proposed", None, 0, 0, 0),
]
CHOSEN_HELDOUT = (
    {"pile": {"E": 1.45417, "A": 116.838, "a": 0.260079}, "stack": {"E": 0.808154, "A": 81.369, "a": 0.271724}},
    MetricsReport(r2=0.993588, r2_clipped=0.993588, nmse=0.00641152, nmae=0.0791963, rows=12),
    BootstrapInterval(low=0.992012, high=0.994790, median=0.993772, samples=10, failed=0),
)
HUMAN_HELDOUT = (
    {"pile": {"E": 1.34703, "A": 0.151191, "k": 0.346106, "alpha": 0.21252},
     "stack": {"E": 0.746375, "A": 0.0111518, "k": 0.408712, "alpha": 0.219634}},
    MetricsReport(r2=0.999892, r2_clipped=0.999892, nmse=0.000107744, nmae=0.00870706, rows=12),
)
# Where the chosen law's fold fits miss (hand-made, in the shape residual_diagnostics
# stores): without a P term it underestimates at P = 1 and overestimates at the largest P.
CHOSEN_DIAGNOSTICS = ResidualDiagnostics(
    rows=24, rms=0.2137, bias=0.0112,
    trends=[
        InputTrend(input="parallel_size", output="loss", log=True, slope=-0.1843, corr=-0.8625,
                   top=-0.2461, top_relative=-0.0312, top_from=4.0, bend=-0.0388,
                   profile=[0.2104, 0.1187, -0.0521, -0.1935, -0.2461], crossings=[2.0]),
        InputTrend(input="num_params", output="loss", log=True, slope=0.0214, corr=0.1001,
                   top=0.0305, top_relative=0.0041, top_from=1.2e9, bend=0.0112,
                   profile=[-0.0102, 0.0033, 0.0305]),
    ],
    groups=[GroupResidual(group="stack", rows=12, rms=0.2409, mean=0.0187),
            GroupResidual(group="pile", rows=12, rms=0.1832, mean=0.0037)],
)
DIAGNOSTICS = {"L = E + A/N**a": CHOSEN_DIAGNOSTICS}
HYPOTHESES = {  # the one-line hypothesis an LLM proposal came with
    "L = E + A/(N**a*(k*log(P) + 1))": "parallel copies act like a larger model: log P scales N",
}
# fmt: on


def _fit(parameters: dict[str, dict[str, float]] | None, names: list[str]) -> FitResult:
    ok = parameters is not None
    return FitResult(
        ok=ok,
        reason=None if ok else "no restart gave finite residuals in group 'pile'",
        groups=list(GROUPS),
        parameter_names=names,
        parameters=parameters or {},
        train_loss=0.01 if ok else math.inf,
        group_loss={g: 0.01 for g in GROUPS} if ok else {},
        converged=ok,
        group_converged={g: ok for g in GROUPS},
        gradient_norm=1e-9 if ok else math.nan,
        restarts=8,
        finite_restarts=8 if ok else 0,
        iterations=24,
        seconds=0.5,
        compile_seconds=0.0,
    )


def _report(law, split, fit, metrics, bootstrap=None, diagnostics=None) -> ScoreReport:
    return ScoreReport(
        task=TASK,
        law=law.text,
        key=law.key,
        split=split,
        ok=metrics is not None,
        reason=None if metrics is not None else fit.reason,
        complexity=law.complexity,
        n_parameters=len(law.parameters),
        parameters=fit.parameters,
        metrics=metrics,
        fit=fit,
        bootstrap=bootstrap,
        diagnostics=diagnostics,
        seconds={"fit": 0.5, "evaluate": 0.0, "bootstrap": 0.0, "total": 0.5},
    )


def write_demo_run(run_dir: Path) -> Path:
    """A finished two-generation run of the parallel task, written directly into a run store."""
    task = load_task(TASK)
    config = RunConfig(task=TaskSpec(source=TASK), generations=2, islands=2, proposer="mixed")
    store = RunStore.create(
        run_dir, task=TASK, seed=0, config=config.model_dump(mode="json"), versions={}
    )
    population = Population(islands=2, capacity=8, migration_interval=4)
    keys: dict[str, int] = {}
    chosen_law = None
    for text, island, gen, parents, proposer, operator, status, params, r2, nmse, nmae in LAWS:
        common = dict(
            text=text,
            generation=gen,
            island=island,
            parents=parents,
            proposer=proposer,
            operator=operator,
            rationale=HYPOTHESES.get(text, ""),
        )
        try:
            law = parse_for_task(text, task)
        except Exception as exc:  # the rejected law: too many parameters
            store.add_candidate(**common, status="rejected", reason=str(exc))
            continue
        shape = dict(key=law.key, complexity=law.complexity, n_params=len(law.parameters))
        if status == "duplicate":
            store.add_candidate(
                **common, **shape, status=status, reason=f"same law as candidate #{keys[law.key]}"
            )
            continue
        cid = store.add_candidate(**common, **shape, status="proposed")
        keys[law.key] = cid
        if status == "proposed":
            continue
        fit = _fit(params, list(law.parameters))
        metrics = (
            MetricsReport(r2=r2, r2_clipped=r2, nmse=nmse, nmae=nmae, rows=6) if params else None
        )
        report = _report(law, "validation", fit, metrics, diagnostics=DIAGNOSTICS.get(text))
        error = nmse if params else math.inf
        store.record_fit_and_score(
            cid,
            fit.model_dump(mode="json"),
            train_loss=fit.train_loss,
            ok=params is not None,
            seconds=0.5,
            reason=fit.reason,
            r2=r2 if params else math.nan,
            nmse=error,
            nmae=nmae if params else math.nan,
            error=error,
            report=report.model_dump(mode="json", exclude={"fit"}),
        )
        member = Member(
            id=cid,
            key=law.key,
            text=text,
            complexity=law.complexity,
            n_params=len(law.parameters),
            error=error,
            r2=r2 if params else math.nan,
            island=island,
            generation=gen,
            parents=parents,
            proposer=proposer,
        )
        if population.add(member):
            store.add_event(
                "promoted",
                generation=gen,
                candidate_id=cid,
                payload={"island": island, "error": error},
            )
        if cid == 1:
            chosen_law = law
    for i, (outcome, tokens, usd, error) in enumerate(
        [("ok", (812, 143), 0.00021, None), ("error", (0, 0), 0.0, "HTTP 503 from the endpoint")]
    ):
        store.record_llm_call(
            request={"messages": [{"role": "user", "content": f"propose {i}"}]},
            reply="L = E + A*log(N) + B*log(N)**2" if outcome == "ok" else None,
            usage={"prompt_tokens": tokens[0], "completion_tokens": tokens[1]},
            usd=usd,
            latency=1.25 + i,
            outcome=outcome,
            error=error,
            generation=0,
        )
    store.set_state("population", population.snapshot())
    store.set_state("generation", 1)
    store.set_state("elapsed", 42.0)
    store.add_event("generation", generation=1, payload={"best_r2": 0.999794, "fitted": 6})
    store.add_event("stopped", generation=2, payload={"reason": "generation budget (2)"})
    assert chosen_law is not None  # the reported choice, whatever the fitness formula says now
    human = parse_for_task(task.reference_law, task)
    for kind, law, (params, metrics, *boot), cid in (
        ("chosen", chosen_law, CHOSEN_HELDOUT, 1),
        ("human", human, HUMAN_HELDOUT, None),
    ):
        report = _report(law, "test", _fit(params, list(law.parameters)), metrics, *boot)
        store.record_heldout(
            kind=kind,
            text=law.text,
            r2=metrics.r2,
            report=report.model_dump(mode="json"),
            candidate_id=cid,
        )
    store.close()
    return run_dir


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    return write_demo_run(tmp_path_factory.mktemp("snapshots") / "demo-run")


async def _loaded(pilot) -> None:
    """Wait until the store is read and the selected law's extrapolation is drawn."""
    app = pilot.app
    await pilot_wait_until(
        pilot,
        lambda: (
            app.view is not None
            and app.selected_id is not None
            and all(plot.picture is not None for plot in app.query(ExtrapolationPlot))
        ),
        what="the demo run's store and extrapolation",
    )
    await pilot.pause()


def _app(demo_run: Path) -> SldApp:
    return SldApp(attach=demo_run)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_main_screen(snap_compare, demo_run, size):
    assert snap_compare(_app(demo_run), terminal_size=size, run_before=_loaded)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_detail_screen(snap_compare, demo_run, size):
    async def open_detail(pilot) -> None:
        await _loaded(pilot)
        await pilot.press("d")
        await pilot.pause()

    assert snap_compare(_app(demo_run), terminal_size=size, run_before=open_detail)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_help_screen(snap_compare, demo_run, size):
    async def open_help(pilot) -> None:
        await _loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(_app(demo_run), terminal_size=size, run_before=open_help)


def test_pareto_tab_at_80x24(snap_compare, demo_run):
    async def open_pareto(pilot) -> None:
        await _loaded(pilot)
        await pilot.press("3")
        await pilot.pause()

    assert snap_compare(_app(demo_run), terminal_size=(80, 24), run_before=open_pareto)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_extrapolation_tab(snap_compare, demo_run, size):
    """The chosen law and the human law against parallel_size on a log axis, held-out rows marked."""

    async def open_extrapolation(pilot) -> None:
        await _loaded(pilot)
        await pilot.press("4")
        await pilot.pause()

    assert snap_compare(_app(demo_run), terminal_size=size, run_before=open_extrapolation)


def test_extrapolation_tab_one_group_at_a_time(snap_compare, demo_run):
    """``g`` steps from all groups to the first group alone."""

    async def next_panel(pilot) -> None:
        await _loaded(pilot)
        await pilot.press("4")
        await pilot.press("g")
        await pilot.pause()

    assert snap_compare(_app(demo_run), terminal_size=(120, 36), run_before=next_panel)
