"""The final report says where each shown law misses (its residual diagnostics in words) and,
for a law an LLM proposed, the hypothesis it came with."""

from __future__ import annotations

import json
from pathlib import Path

from sld.config import LlmConfig, RunConfig, TaskSpec
from sld.corpus import load_task
from sld.report import REPORT_JSON, REPORT_MD, build_report, read_run
from sld.run import Run
from sld.scoring import ResidualDiagnostics, diagnostics_headline, diagnostics_words
from sld.store import RunReader
from tests.llm_server import REPLY_SECONDS, FakeOpenAI, Reply

TASK = "parallel_scaling_law"
TINY = dict(
    islands=2,
    proposals_per_island=2,
    generations=1,
    restarts=4,
    final_restarts=4,
    bootstrap=0,
    capacity=8,
    screen_share=1.0,  # every law fully scored: the pick needs runners-up to report
)
HYPOTHESES = {
    "L = E + (A*1e9/(N*(k*log(P)+1)))**alpha": "parallel copies act like a log(P) gain in N",
    "L = E + A/(N**alpha*P**beta)": "P multiplies the effective model size as a power",
    "L = E + A/N**alpha": "loss falls as a power of N toward a floor",
}


def _finished(config: RunConfig, out: Path) -> tuple[Path, dict, str]:
    run = Run.create(config, out=out)
    run.execute(report=True)  # closes the run
    report = json.loads((run.run_dir / REPORT_JSON).read_text())
    return run.run_dir, report, (run.run_dir / REPORT_MD).read_text()


def _expected_words(run_dir: Path, candidate_id: int) -> tuple[str, list[str]]:
    """The stored validation diagnostics of one candidate, in words (input names as aliases)."""
    task = load_task(TASK)
    names = {name: alias for alias, name in task.aliases.items()}
    with RunReader.open(run_dir) as reader:
        (row,) = reader.scored([candidate_id]).values()
    diagnostics = ResidualDiagnostics.model_validate(row.report["diagnostics"])
    return diagnostics_headline(diagnostics), diagnostics_words(diagnostics, names=names)


def test_report_gives_an_llm_laws_hypothesis_and_where_it_misses(tmp_path):
    def script(body, n):
        laws = [{"law": law, "rationale": why} for law, why in HYPOTHESES.items()]
        return Reply(json.dumps({"laws": laws}))

    with FakeOpenAI(script) as server:
        llm = LlmConfig(
            base_url=server.base_url, model="scripted", backoff=0.01, timeout=REPLY_SECONDS
        )
        config = RunConfig(task=TaskSpec(source=TASK), proposer="llm", llm=llm, seed=2, **TINY)
        run_dir, report, markdown = _finished(config, tmp_path)
    chosen = report["chosen"]
    assert chosen["proposer"] == "llm"
    assert chosen["hypothesis"] in HYPOTHESES.values()
    assert f"hypothesis: {chosen['hypothesis']}" in markdown
    headline, words = _expected_words(run_dir, chosen["id"])
    assert words and chosen["diagnostics"] == words and chosen["residuals"] == headline
    assert all(f"- {w}" in markdown for w in words)
    ranked = report["pick"]["ranked"]
    assert {e["hypothesis"] for e in ranked} <= set(HYPOTHESES.values())
    runner_up = next(e for e in ranked if e["id"] != chosen["id"])
    assert f"rank {runner_up['rank']}: `{runner_up['law']}`" in markdown
    assert all(f"- {w}" in markdown for w in runner_up["diagnostics"])


def test_report_of_an_offline_run_has_diagnostics_and_no_hypothesis(tmp_path):
    config = RunConfig(task=TaskSpec(source=TASK), proposer="offline", seed=1, **TINY)
    run_dir, report, markdown = _finished(config, tmp_path)
    chosen = report["chosen"]
    assert chosen["proposer"] == "offline" and chosen["hypothesis"] is None
    assert "hypothesis:" not in markdown
    headline, words = _expected_words(run_dir, chosen["id"])
    assert chosen["diagnostics"] == words and f"{headline}:" in markdown
    directions = {"num_params": "decreasing", "parallel_size": "decreasing"}
    assert report["directions"] == {"inputs": directions, "source": "declared"}
    assert (
        "Extrapolation checks held laws to: num_params decreasing, parallel_size decreasing "
        "(declared)." in markdown
    )
    # `sld report` rebuilds the same notes from the store alone
    rebuilt = build_report(read_run(run_dir), load_task(TASK))
    assert rebuilt["chosen"]["diagnostics"] == words
    assert [e["diagnostics"] for e in rebuilt["pick"]["ranked"]] == [
        e["diagnostics"] for e in report["pick"]["ranked"]
    ]
    with RunReader.open(run_dir) as reader:
        assert reader.scored([]) == {} and reader.scored([10**6]) == {}


def test_the_why_table_says_which_laws_the_pick_did_not_resample():
    from sld.report._markdown import _why_lines

    def entry(rank: int, law: str, bound: float | None) -> dict:
        return {
            "rank": rank,
            "id": rank,
            "law": law,
            "n_params": 2,
            "fold_nmse": [0.01, 0.02],
            "pessimistic_error": bound,
            "checks_passed": True,
            "check_reasons": [],
        }

    pick = {
        "chosen": 1,
        "reason": "lowest penalised 80%-quantile error; 1 of 2 laws not resampled",
        "settings": {"bootstrap": 8},
        "ranked": [entry(1, "L = A/N**a", 0.0125), entry(2, "L = B*N", None)],
    }
    rows = [
        line
        for line in _why_lines(pick, None)
        if line.startswith("| 1 |") or line.startswith("| 2 |")
    ]
    assert "0.0125" in rows[0]
    assert "not resampled (point error already loses)" in rows[1]
    # without a bootstrap nothing is resampled, and a missing bound is just missing
    pick["settings"]["bootstrap"] = 0
    rows = [line for line in _why_lines(pick, None) if line.startswith("| 2 |")]
    assert "not resampled" not in rows[0] and "—" in rows[0]
    # a frozen term the pick charged shows beside the parameter count; one it did not, does not
    pick["ranked"][0]["frozen_terms"] = 1
    assert "| 2 |" in next(r for r in _why_lines(pick, None) if r.startswith("| 1 |"))
    pick["settings"]["frozen"] = True
    assert "| 2 + 1 frozen |" in next(r for r in _why_lines(pick, None) if r.startswith("| 1 |"))
    # an unfrozen variant names the law whose place it took
    pick["ranked"][1]["unfrozen_from"] = 7
    row = next(r for r in _why_lines(pick, None) if r.startswith("| 2 |"))
    assert "| `L = B*N` (law 7 unfrozen) |" in row
    # a law a route brought says which; one the search's rank brought says nothing more
    pick["ranked"][0]["route"] = "prior"
    row = next(r for r in _why_lines(pick, None) if r.startswith("| 1 |"))
    assert "| `L = A/N**a` (prior law: the best of generation 0" in row
    pick["ranked"][1]["route"] = "supported"
    row = next(r for r in _why_lines(pick, None) if r.startswith("| 2 |"))
    assert "(law 7 unfrozen) (best-supported:" in row
    pick["ranked"][0]["route"] = None
    assert "(" not in next(r for r in _why_lines(pick, None) if r.startswith("| 1 |")).split("|")[2]
