"""The run store's tables, and which schema versions this sld reads and writes.

Version 2 dropped ``llm_calls.request_key`` (a hash nothing read any more:
replay matches whole requests). A version-1 store stays readable (reports, the
TUI, replay); only resuming it is refused.
"""

from __future__ import annotations

from pathlib import Path

SCHEMA_VERSION = 2
READABLE_VERSIONS = frozenset({1, 2})
STORE_FILENAME = "run.sqlite"
LOCK_FILENAME = "run.sqlite.lock"

STATUSES = ("proposed", "rejected", "duplicate", "fitted", "failed")
BUSY_TIMEOUT_MS = 10_000

FIX = "start a new run with --out <new dir>"

SCHEMA = f"""
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE config (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    config TEXT NOT NULL,
    versions TEXT NOT NULL
);
CREATE TABLE candidates (
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    generation INTEGER NOT NULL,
    island INTEGER NOT NULL,
    text TEXT NOT NULL,
    key TEXT,
    parents TEXT NOT NULL DEFAULT '[]',
    proposer TEXT NOT NULL DEFAULT '',
    operator TEXT NOT NULL DEFAULT '',
    rationale TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ({", ".join(f"'{s}'" for s in STATUSES)})),
    reason TEXT,
    complexity INTEGER,
    n_params INTEGER,
    created REAL NOT NULL
);
CREATE INDEX candidates_key ON candidates (key);
CREATE INDEX candidates_status ON candidates (status);
CREATE TABLE fits (
    candidate_id INTEGER NOT NULL UNIQUE REFERENCES candidates (id),
    fit TEXT NOT NULL,
    train_loss REAL,
    ok INTEGER NOT NULL,
    seconds REAL,
    created REAL NOT NULL
);
CREATE TABLE scores (
    candidate_id INTEGER NOT NULL UNIQUE REFERENCES candidates (id),
    split TEXT NOT NULL DEFAULT 'validation' CHECK (split = 'validation'),
    r2 REAL,
    nmse REAL,
    nmae REAL,
    error REAL,
    report TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE heldout (
    id INTEGER PRIMARY KEY,
    candidate_id INTEGER REFERENCES candidates (id),
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    r2 REAL,
    report TEXT NOT NULL,
    created REAL NOT NULL,
    UNIQUE (kind, text)
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    generation INTEGER,
    kind TEXT NOT NULL,
    candidate_id INTEGER REFERENCES candidates (id),
    payload TEXT NOT NULL
);
CREATE INDEX events_kind ON events (kind);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TABLE llm_calls (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    request TEXT NOT NULL,
    reply TEXT,
    usage TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    usd REAL NOT NULL DEFAULT 0,
    latency REAL,
    outcome TEXT NOT NULL,
    error TEXT
);
CREATE TABLE state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated REAL NOT NULL
);
"""

TABLES = frozenset(
    {"meta", "config", "candidates", "fits", "scores", "heldout", "events", "llm_calls", "state"}
)


def store_path(run_dir: str | Path) -> Path:
    """Where the run store of ``run_dir`` lives."""
    return Path(run_dir) / STORE_FILENAME
