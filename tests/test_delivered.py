"""Step 7 of the final pick: the fit a law is handed on with is checked as its fold fits were."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sld.corpus import load_task
from sld.scoring import CheckReport, final_pick, heldout_score, parse_for_task
from sld.scoring._delivered import DELIVERED, delivered_checks


def _task(tmp_path, *, slope: float):
    """Two groups along N, loss = 2 + amp / N**0.5 + slope * log(N); N declared falling."""
    rng = np.random.default_rng(0)
    rows = []
    for g, amplitude in enumerate((40.0, 60.0)):
        for n in np.geomspace(1e6, 1e10, 21):
            loss = 2 + amplitude / n**0.5 + slope * np.log(n)
            rows.append({"g": f"g{g}", "N": n, "loss": loss * (1 + 0.002 * rng.standard_normal())})
    path = tmp_path / f"slope{slope}.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return load_task(
        str(path),
        inputs=["N"],
        outputs=["loss"],
        group="g",
        test="N >= 5e9",
        monotone={"N": "decreasing"},
    )


def test_the_delivered_fit_is_the_held_out_fit_and_is_judged_by_the_checks(tmp_path):
    law_text = "E + A/N**a + B*log(N)"
    falling, rising = _task(tmp_path, slope=0.0), _task(tmp_path, slope=0.05)
    for task, text, passes in ((falling, "E + A/N**a", True), (rising, law_text, False)):
        law = parse_for_task(text, task)
        report = delivered_checks(law, task, seed=0, restarts=6)
        assert report.passed is passes
        assert all(r.startswith(DELIVERED) for r in report.reasons)
        if not passes:
            assert "rises against its declared direction in N" in report.reasons[0]
    # what is checked is the fit the held-out path delivers: a rising slope, fitted there too
    law = parse_for_task(law_text, rising)
    fitted = heldout_score(law, rising, seed=0, restarts=6).parameters
    assert all(p["B"] > 0 for p in fitted.values())


def test_the_pick_demotes_a_law_whose_delivered_fit_fails_and_picks_again(tmp_path, monkeypatch):
    import sld.scoring._pick as pick_module

    task = _task(tmp_path, slope=0.0)
    texts = ["E + A/N**a", "E + A/N**0.3", "A/N**a"]
    candidates = [(i, parse_for_task(t, task)) for i, t in enumerate(texts)]
    options = dict(seed=0, restarts=6, bootstrap=3, bootstrap_restarts=3)
    plain = final_pick(candidates, task, **options)
    assert plain.chosen is not None and "demoted" not in plain.reason
    text_of = {i: law.text for i, law in candidates}
    failing = {text_of[plain.chosen]}
    calls: list[str] = []

    def fails_for(law, task, **kwargs):
        calls.append(law.text)
        if law.text in failing:
            return CheckReport(passed=False, reasons=[f"{DELIVERED}made to fail"], probes=0)
        return delivered_checks(law, task, **kwargs)

    monkeypatch.setattr(pick_module, "delivered_checks", fails_for)
    again = final_pick(candidates, task, **options)
    assert again.chosen is not None and again.chosen != plain.chosen
    assert f"#{plain.chosen} demoted" in again.reason
    entry = next(e for e in again.entries if e.id == plain.chosen)
    assert entry.checks is not None and entry.checks.reasons == [f"{DELIVERED}made to fail"]
    assert calls[0] == text_of[plain.chosen] and calls[-1] == text_of[again.chosen]
    assert final_pick(candidates, task, **options) == again  # deterministic for a seed
    # when every law's delivered fit fails, the pick still ends with a law and says so
    failing.update(text_of.values())
    before = len(calls)
    last = final_pick(candidates, task, **options)
    assert last.chosen is not None
    assert "no candidate passed every extrapolation check" in last.reason
    # each law is checked at most once in a pick: a demoted law is not checked again
    assert len(calls[before:]) == len(set(calls[before:])) >= 2
