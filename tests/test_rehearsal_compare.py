"""bench/rehearsal_compare.py: a rehearsal bench beside the real one, task by task."""

from __future__ import annotations

import json

from bench_scripts import load

compare = load("rehearsal_compare").compare


def _bench(path, rows):
    path.mkdir()
    tasks = [{"task": t, "test_r2_median": c, "human_test_r2": h} for t, c, h in rows]
    (path / "bench.json").write_text(json.dumps({"tasks": tasks}))
    return path


def test_margins_are_clipped_and_their_signs_compared_task_by_task(tmp_path):
    staged = _bench(
        tmp_path / "r",
        [
            ("a-rehearsal", 0.9, 0.5),
            ("b-rehearsal", 0.2, 0.8),
            ("c-rehearsal", 0.99, float("nan")),
            ("d-rehearsal", -50.0, 0.1),
        ],
    )
    real = _bench(
        tmp_path / "t",
        [("a", 0.95, 0.7), ("b", 0.97, 0.3), ("c", 0.98, float("nan")), ("d", -3, 0.0)],
    )
    text = compare(staged, real)
    assert "| a | 0.9000 | 0.5000 | 0.4000 | 0.9500 | 0.7000 | 0.2500 |" in text
    assert "| c | 0.9900 | — | — | 0.9800 | — | — |" in text
    assert "| d | -1.0000 | 0.1000 | -1.1000 | -1.0000 | 0.0000 | -1.0000 |" in text
    assert "2 of 3 tasks with a human law" in text  # a and d agree, b does not
    assert "over 4 tasks: 0.80" in text
