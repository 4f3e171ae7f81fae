"""Rebuilding the corpus from the raw files reproduces the committed datasets/ exactly."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sld.corpus.build import format_number, main
from sld.resources import datasets_dir

_REPO = Path(__file__).resolve().parent.parent
_RAW_CANDIDATES = (Path("/work/shared/corpus-raw"), _REPO.parent / "shared" / "corpus-raw")
RAW = next((p for p in _RAW_CANDIDATES if (p / "PROVENANCE.md").is_file()), None)
needs_raw = pytest.mark.skipif(RAW is None, reason="raw corpus folder not available")


@pytest.mark.parametrize("value", [0.1, 1e13, 2.722962, -0.5114334, 1e-300, 2.0**60, 3.0])
def test_format_number_round_trips(value):
    assert float(format_number(value)) == value


def test_format_number_writes_integers_without_point():
    assert format_number(1073741824.0) == "1073741824"


@needs_raw
def test_rebuild_matches_committed_files_byte_for_byte(tmp_path, capsys):
    assert main(["--raw", str(RAW), "--out", str(tmp_path)]) == 0
    committed = datasets_dir()
    for task in sorted(p.parent.name for p in committed.glob("*/card.toml")):
        for name in ("data.csv", "card.toml"):
            built = (tmp_path / task / name).read_bytes()
            assert built == (committed / task / name).read_bytes(), f"{task}/{name}"
    assert (tmp_path / "README.md").read_bytes() == (committed / "README.md").read_bytes()


@needs_raw
def test_rebuild_agrees_with_reference_tidy_tables():
    # the raw folder's tidy/ tables were made independently; same rows up to order
    for task_dir in sorted(datasets_dir().glob("*/")):
        reference = RAW / "tidy" / f"{task_dir.name}.csv"
        if not reference.is_file():
            continue
        ours = pd.read_csv(task_dir / "data.csv", dtype={"group": str})
        theirs = pd.read_csv(reference, dtype={"group": str})
        assert list(ours.columns) == list(theirs.columns)
        key = list(ours.columns)
        ours = ours.sort_values(key).reset_index(drop=True)
        theirs = theirs.sort_values(key).reset_index(drop=True)
        assert (ours[["group", "split"]] == theirs[["group", "split"]]).all().all()
        np.testing.assert_allclose(
            ours[key[2:]].to_numpy(np.float64), theirs[key[2:]].to_numpy(np.float64), rtol=1e-14
        )


@needs_raw
def test_count_mismatch_exits_nonzero_with_one_line_error(tmp_path, capsys):
    cards = tmp_path / "cards"
    shutil.copytree(datasets_dir() / "parallel_scaling_law", cards / "parallel_scaling_law")
    card = cards / "parallel_scaling_law" / "card.toml"
    card.write_text(card.read_text().replace("train = 36", "train = 35"))
    out = tmp_path / "out"
    assert main(["--raw", str(RAW), "--cards", str(cards), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: parallel_scaling_law: built train/test/groups = 36/12/2")
    assert "\n" not in err
    assert not out.exists()


def test_missing_raw_folder_exits_nonzero(tmp_path, capsys):
    assert main(["--raw", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    assert "raw folder not found" in capsys.readouterr().err
