import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from waiting import HANG

from sld.errors import StoreError
from sld.store import SCHEMA_VERSION, RunReader, RunStore, store_path

REPO = Path(__file__).resolve().parents[1]
VERSIONS = {"python": "3.11", "sld": "0.1.0", "numpy": "2", "jax": "0.4", "sympy": "1.13"}


def _create(run_dir: Path, **kwargs) -> RunStore:
    options = {"task": "toy", "seed": 7, "config": {"islands": 4}, "versions": VERSIONS}
    return RunStore.create(run_dir, **(options | kwargs))


def _fit_and_score(store: RunStore, candidate_id: int, *, error: float = 0.1) -> bool:
    return store.record_fit_and_score(
        candidate_id,
        {"params": [[1.0, 2.0]], "converged": True},
        train_loss=0.5,
        ok=True,
        seconds=0.3,
        r2=1.0 - error,
        nmse=error,
        nmae=error,
        error=error,
        report={"validation": {"r2": 1.0 - error}},
    )


def _run_python(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter on this checkout (the timeout only bounds a hang)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=HANG,
        env=env,
        cwd=REPO,
    )


@pytest.fixture
def store(tmp_path):
    s = _create(tmp_path / "run")
    yield s
    s.close()


def test_create_then_open_reads_back_run_facts(tmp_path):
    _create(tmp_path / "run", config={"islands": 4, "budget": {"usd": 1.5}}).close()
    with RunStore.open(tmp_path / "run", readonly=True) as s:
        assert (s.task, s.seed) == ("toy", 7)
        assert s.config() == {"islands": 4, "budget": {"usd": 1.5}}
        assert s.versions() == VERSIONS
        assert s.created > 0


def test_create_makes_missing_parent_directories(tmp_path):
    _create(tmp_path / "a" / "b" / "run").close()
    assert store_path(tmp_path / "a" / "b" / "run").is_file()


def test_create_refuses_an_existing_store(tmp_path):
    _create(tmp_path / "run").close()
    assert RunStore.exists(tmp_path / "run")
    with pytest.raises(StoreError, match="already exists.*--out"):
        _create(tmp_path / "run")


def test_store_is_wal_with_full_sync_and_foreign_keys(store):
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store._conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0


def test_open_missing_run_dir_readonly_raises_store_error(tmp_path):
    with pytest.raises(StoreError, match="no run store at .*--out"):
        RunStore.open(tmp_path / "nowhere", readonly=True)


def test_open_non_sqlite_file_raises_store_error(tmp_path):
    (tmp_path / "run").mkdir()
    store_path(tmp_path / "run").write_bytes(b"this is not a database\n" * 10)
    with pytest.raises(StoreError, match="not an SQLite run store.*--out"):
        RunStore.open(tmp_path / "run", readonly=True)


def test_open_truncated_store_raises_store_error(tmp_path):
    _create(tmp_path / "run").close()
    path = store_path(tmp_path / "run")
    path.write_bytes(path.read_bytes()[:100] + b"\xff" * 5000)
    with pytest.raises(StoreError, match="--out"):
        RunStore.open(tmp_path / "run", readonly=True)


def test_open_sqlite_without_sld_tables_raises_store_error(tmp_path):
    (tmp_path / "run").mkdir()
    conn = sqlite3.connect(store_path(tmp_path / "run"))
    conn.execute("CREATE TABLE other (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="missing tables"):
        RunStore.open(tmp_path / "run")


def test_open_other_schema_version_raises_store_error(tmp_path):
    _create(tmp_path / "run").close()
    conn = sqlite3.connect(store_path(tmp_path / "run"))
    conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match=f"version 999.*reads {SCHEMA_VERSION}"):
        RunStore.open(tmp_path / "run", readonly=True)


def test_unwritable_run_dir_raises_store_error(tmp_path):
    # a path below a regular file cannot be created, even by root
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="writable directory"):
        _create(tmp_path / "file" / "run")


def test_error_messages_are_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError) as info:
        _create(tmp_path / "file" / "run")
    assert "\n" not in str(info.value)


def test_second_writer_on_the_same_run_is_refused(store, tmp_path):
    with pytest.raises(StoreError, match="open for writing by another"):
        RunStore.open(tmp_path / "run")
    RunStore.open(tmp_path / "run", readonly=True).close()


def test_writer_lock_is_released_on_close(tmp_path):
    _create(tmp_path / "run").close()
    RunStore.open(tmp_path / "run").close()


def test_readonly_store_refuses_writes(store, tmp_path):
    with (
        RunStore.open(tmp_path / "run", readonly=True) as reader,
        pytest.raises(StoreError, match="read-only"),
    ):
        reader.add_event("generation", generation=1)


def test_add_candidate_numbers_proposals_in_order(store):
    a = store.add_candidate(text="a*N**b", generation=0, island=0, key="k1")
    b = store.add_candidate(
        text="a*N", generation=0, island=1, key=None, status="rejected", reason="parse error"
    )
    rows = store.candidates()
    assert [(r.id, r.seq, r.status) for r in rows] == [(a, 1, "proposed"), (b, 2, "rejected")]
    assert rows[1].key is None and rows[1].reason == "parse error"
    assert [r.id for r in store.candidates(status="rejected")] == [b]


def test_add_candidate_keeps_lineage(store):
    p = store.add_candidate(text="a", generation=0, island=2, key="k")
    c = store.add_candidate(
        text="a*N",
        generation=1,
        island=2,
        key="k2",
        parents=[p],
        proposer="llm",
        operator="mutate",
        rationale="add N",
        complexity=5,
        n_params=1,
    )
    row = store.candidate(c)
    assert row.parents == (p,)
    assert (row.proposer, row.operator, row.rationale) == ("llm", "mutate", "add N")
    assert (row.complexity, row.n_params, row.island, row.generation) == (5, 1, 2, 1)


def test_replayed_proposal_returns_the_existing_candidate(store):
    first = store.add_candidate(text="a*N", generation=0, island=0, key="k", seq=1)
    again = store.add_candidate(text="a*N", generation=0, island=0, key="k", seq=1)
    assert first == again
    assert len(store.candidates()) == 1
    assert len(store.events(kind="proposed")) == 1


def test_replayed_proposal_with_other_text_raises(store):
    store.add_candidate(text="a*N", generation=0, island=0, key="k", seq=1)
    with pytest.raises(StoreError, match="not replaying deterministically"):
        store.add_candidate(text="b*N", generation=0, island=0, key="k", seq=1)


def test_unknown_status_raises_store_error(store):
    with pytest.raises(StoreError, match="unknown candidate status"):
        store.add_candidate(text="a", generation=0, island=0, status="great")


def test_fit_recording_is_idempotent(store):
    c = store.add_candidate(text="a*N", generation=0, island=0, key="k")
    assert _fit_and_score(store, c, error=0.1) is True
    assert _fit_and_score(store, c, error=0.2) is False  # replay after resume
    assert store.record_fit(c, {}, train_loss=1.0, ok=True, seconds=1.0) is False
    rows = store.fitted()
    assert len(rows) == 1 and rows[0].error == 0.1
    assert [e.kind for e in store.events()] == ["proposed", "fitted", "scored"]
    assert store._conn.execute("SELECT COUNT(*) FROM fits").fetchone()[0] == 1


def test_fit_for_unknown_candidate_raises_store_error(store):
    with pytest.raises(StoreError, match="no candidate 42"):
        _fit_and_score(store, 42)


def test_failed_fit_marks_candidate_failed(store):
    c = store.add_candidate(text="a/0", generation=0, island=0, key="k")
    store.record_fit_and_score(
        c,
        {},
        train_loss=math.inf,
        ok=False,
        seconds=0.1,
        r2=math.nan,
        nmse=math.inf,
        nmae=math.inf,
        error=math.inf,
        report={},
        reason="no finite restart",
    )
    row = store.fitted()[0]
    assert not row.ok and row.error == math.inf and math.isnan(row.r2)
    assert (row.candidate.status, row.candidate.reason) == ("failed", "no finite restart")


def test_fitted_lists_scored_candidates_in_seq_order(store):
    ids = [
        store.add_candidate(text=f"a*N**{i}", generation=0, island=0, key=f"k{i}") for i in range(3)
    ]
    for c in reversed(ids):
        _fit_and_score(store, c)
    assert [r.candidate.id for r in store.fitted()] == ids


def test_pending_lists_candidates_a_kill_interrupted(store):
    done = store.add_candidate(text="a", generation=0, island=0, key="k1")
    _fit_and_score(store, done)
    half = store.add_candidate(text="b", generation=0, island=0, key="k2")
    store.record_fit(half, {}, train_loss=0.1, ok=True, seconds=0.1)
    fresh = store.add_candidate(text="c", generation=0, island=0, key="k3")
    store.add_candidate(text="d", generation=0, island=0, status="rejected", reason="bad")
    assert [r.id for r in store.pending()] == [half, fresh]


def test_kill_inside_a_transaction_leaves_no_fit_without_its_score(tmp_path):
    _create(tmp_path / "run").close()
    result = _run_python(f"""
        import os, signal
        from sld.store import RunStore
        s = RunStore.open({str(tmp_path / "run")!r})
        c = s.add_candidate(text="a", generation=0, island=0, key="k")
        with s.transaction():
            s.record_fit(c, {{}}, train_loss=0.1, ok=True, seconds=0.1)
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    assert result.returncode == -signal.SIGKILL
    with RunStore.open(tmp_path / "run") as s:
        assert [r.status for r in s.candidates()] == ["proposed"]
        assert s.fitted() == [] and len(s.pending()) == 1
        assert _fit_and_score(s, s.pending()[0].id) is True


def test_set_status_writes_one_event_per_change(store):
    c = store.add_candidate(text="a", generation=3, island=0, key="k")
    assert store.set_status(c, "duplicate", reason="same key as 1") is True
    assert store.set_status(c, "duplicate", reason="same key as 1") is False
    events = store.events(kind="duplicate")
    assert len(events) == 1
    assert (events[0].generation, events[0].candidate_id) == (3, c)
    assert events[0].payload == {"reason": "same key as 1"}


def test_events_come_back_in_append_order(store):
    ids = [store.add_event("generation", generation=g, payload={"g": g}) for g in range(5)]
    assert ids == sorted(ids)
    assert [e.payload["g"] for e in store.events()] == list(range(5))
    assert [e.id for e in store.events(after_id=ids[1], limit=2)] == ids[2:4]


def test_events_refuse_update_and_delete(store):
    store.add_event("stopped", payload={"why": "budget"})
    for sql in ("UPDATE events SET kind = 'x'", "DELETE FROM events"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store._conn.execute(sql)
    assert [e.kind for e in store.events()] == ["stopped"]


def test_nan_and_inf_survive_a_round_trip(store):
    c = store.add_candidate(text="a", generation=0, island=0, key="k")
    store.record_fit_and_score(
        c,
        {"params": [math.nan, math.inf, -math.inf]},
        train_loss=math.nan,
        ok=True,
        seconds=1.0,
        r2=math.nan,
        nmse=math.inf,
        nmae=-math.inf,
        error=math.inf,
        report={"r2": math.nan},
    )
    store.add_event("scored", payload={"x": math.nan})
    store.set_state("best", {"error": math.inf})
    row = store.fitted()[0]
    p = row.fit["params"]
    assert math.isnan(p[0]) and p[1:] == [math.inf, -math.inf]
    assert math.isnan(row.train_loss) and math.isnan(row.r2)
    assert (row.nmse, row.nmae, row.error) == (math.inf, -math.inf, math.inf)
    assert math.isnan(row.report["r2"])
    assert math.isnan(store.events()[-1].payload["x"])
    assert store.get_state("best") == {"error": math.inf}


def test_state_round_trips_and_overwrites(store):
    assert store.get_state("generation") is None
    assert store.get_state("generation", 0) == 0
    store.set_state("generation", 3)
    store.set_state("generation", 4)
    store.set_state("population", {"islands": [[1, 2], []]})
    assert store.get_state("generation") == 4
    assert store.get_state("population") == {"islands": [[1, 2], []]}


def test_llm_calls_are_recorded_with_totals_and_replayable(store):
    request = {"model": "m", "messages": [{"role": "user", "content": "propose"}]}
    store.record_llm_call(
        request=request,
        reply="bad",
        usage={"prompt_tokens": 10},
        usd=0.01,
        latency=1.0,
        outcome="invalid",
    )
    store.record_llm_call(
        request=request,
        reply="a*N**b",
        usage={"prompt_tokens": 10, "completion_tokens": 5},
        usd=0.02,
        latency=1.5,
        outcome="ok",
        generation=2,
    )
    calls = store.llm_calls()
    assert [c.outcome for c in calls] == ["invalid", "ok"]
    assert calls[1].request == request and calls[1].usage["completion_tokens"] == 5
    events = store.events(kind="llm_call")
    assert [e.payload["call_id"] for e in events] == [c.id for c in calls]
    summary = store.summary()
    assert (summary.llm_calls, summary.prompt_tokens, summary.completion_tokens) == (2, 20, 5)
    assert summary.usd == pytest.approx(0.03)


def test_summary_counts_statuses_and_the_generation(store):
    empty = store.summary()
    assert empty.candidates == 0 and empty.generation is None
    a = store.add_candidate(text="a", generation=0, island=0, key="k1")
    b = store.add_candidate(text="b", generation=1, island=0, key="k2")
    store.add_candidate(text="c", generation=1, island=0, status="rejected", reason="x")
    _fit_and_score(store, a, error=0.3)
    _fit_and_score(store, b, error=0.05)
    s = store.summary()
    assert s.candidates == 3
    assert s.by_status == {"proposed": 0, "rejected": 1, "duplicate": 0, "fitted": 2, "failed": 0}
    assert s.generation == 1
    store.set_state("generation", 5)
    assert store.summary().generation == 5
    assert (s.task, s.seed) == ("toy", 7)


def test_heldout_scores_replace_the_same_kind_and_law(store):
    c = store.add_candidate(text="a*N", generation=0, island=0, key="k")
    first = store.record_heldout(kind="chosen", text="a*N", r2=0.8, report={}, candidate_id=c)
    again = store.record_heldout(kind="chosen", text="a*N", r2=0.9, report={"n": 1}, candidate_id=c)
    store.record_heldout(kind="human", text="a*N**-0.3", r2=0.7, report={})
    rows = store.heldout()
    assert first == again
    assert [(r.kind, r.r2, r.candidate_id) for r in rows] == [
        ("chosen", 0.9, c),
        ("human", 0.7, None),
    ]


def test_heldout_is_not_part_of_fitted_rows(store):
    c = store.add_candidate(text="a*N", generation=0, island=0, key="k")
    _fit_and_score(store, c)
    store.record_heldout(kind="chosen", text="a*N", r2=-5.0, report={}, candidate_id=c)
    assert store.fitted()[0].r2 == pytest.approx(0.9)
    assert [f.candidate.id for f in store.fitted()] == [c]


def test_snapshot_reads_the_whole_run_and_knows_when_it_ended(store, tmp_path):
    c = store.add_candidate(text="a*N", generation=0, island=0, key="k")
    _fit_and_score(store, c)
    store.set_state("elapsed", 12.5)
    with RunReader.open(tmp_path / "run") as reader:
        running = reader.snapshot(rows=True)
        assert not running.finished and running.stopped_by == ""
        assert [f.candidate.id for f in running.fitted] == [c] and len(running.candidates) == 1
        assert running.state == {"elapsed": 12.5} and running.config == {"islands": 4}
        assert reader.snapshot().candidates == ()  # rows only when asked for
        store.add_event("stopped", payload={"reason": "generation budget (3)"})
        ended = reader.snapshot()
        assert ended.finished and ended.stopped_by == "generation budget (3)"
        assert ended.last_event > running.last_event
        assert reader.change_mark() != (running.last_event, 0, 0.0)
        store.add_event("resumed")
        assert not reader.snapshot().finished


def test_schema_1_store_is_readable_but_not_resumable(tmp_path):
    _create(tmp_path / "run").close()
    conn = sqlite3.connect(store_path(tmp_path / "run"))
    conn.execute("ALTER TABLE llm_calls ADD COLUMN request_key TEXT NOT NULL DEFAULT ''")
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with RunReader.open(tmp_path / "run") as reader:
        assert reader.task == "toy" and reader.llm_calls() == []
    with pytest.raises(StoreError, match="older sld.*not resumed.*--out") as info:
        RunStore.open(tmp_path / "run")
    assert "\n" not in str(info.value)


def test_transaction_rolls_back_everything_on_error(store):
    with pytest.raises(RuntimeError), store.transaction():
        store.add_candidate(text="a", generation=0, island=0, key="k")
        store.set_state("generation", 1)
        raise RuntimeError("boom")
    assert store.candidates() == [] and store.events() == []
    assert store.get_state("generation") is None


def test_reader_in_another_process_reads_while_a_write_is_open(store, tmp_path):
    c = store.add_candidate(text="a", generation=0, island=0, key="k")
    _fit_and_score(store, c)
    reader = f"""
        from sld.store import RunStore
        s = RunStore.open({str(tmp_path / "run")!r}, readonly=True)
        print(len(s.fitted()), s.summary().candidates)
    """
    with store.transaction():  # holds the write lock; readers must not wait on it
        store.add_candidate(text="b", generation=0, island=0, key="k2")
        result = _run_python(reader)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "1"]  # committed data only
    result = _run_python(reader)
    assert result.stdout.split() == ["1", "2"]


def test_reader_in_another_process_follows_a_live_writer(tmp_path):
    _create(tmp_path / "run").close()
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            from sld.store import RunStore
            s = RunStore.open({str(tmp_path / "run")!r})
            for i in range(200):
                c = s.add_candidate(text=f"a*N**{{i}}", generation=i // 10, island=0, key=str(i))
                s.record_fit_and_score(c, {{}}, train_loss=0.1, ok=True, seconds=0.0, r2=0.5,
                                       nmse=0.5, nmae=0.5, error=0.5, report={{}})
            s.close()
        """),
        ],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    with RunStore.open(tmp_path / "run", readonly=True) as reader:
        last = 0
        while writer.poll() is None:
            for event in reader.events(after_id=last):
                seen.append(event)
                last = event.id
            fitted = reader.fitted()
            # a kill or a race never shows a fit without its score
            assert all(row.candidate.status == "fitted" for row in fitted)
        seen.extend(reader.events(after_id=last))
    assert writer.wait(timeout=HANG) == 0, writer.stderr.read()
    assert [e.id for e in seen] == list(range(1, 601))
    assert [e.kind for e in seen[:3]] == ["proposed", "fitted", "scored"]
