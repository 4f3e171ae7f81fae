"""Raw-file readers: per-model JSON records and a table split on a column the task drops."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sld.corpus.build import build_frame, main
from sld.corpus.card import card_from_dict
from sld.errors import TaskError

_VARIABLES = {
    "inputs": [{"name": "params", "alias": "N"}, {"name": "tokens", "alias": "D"}],
    "outputs": [{"name": "loss", "alias": "L"}],
}


def _record(corpus: str, params: int, tokens: int, losses: dict[str, float]) -> dict:
    """A model record shaped like mlfoundations/scaling exp_data/models/*.json."""
    return {
        "name": f"{corpus}-{params}-{tokens}",
        "dataset_name": corpus,
        "hyperparameters": {"params": params, "tokens": tokens},
        "results": [
            {"loss": loss, "val_data": [f"eval/{folder}/shard_00000000.tar"]}
            for folder, loss in losses.items()
        ],
    }


def _write_records(folder: Path, records: list[dict]) -> None:
    folder.mkdir(parents=True)
    for record in records:
        (folder / f"{record['name']}.json").write_text(json.dumps(record), encoding="utf-8")


def _records_card(**build: object) -> dict:
    return {
        "name": "toy_records",
        **_VARIABLES,
        "split": {"test": "params > 100"},
        "build": {
            "reader": "model_records",
            "files": ["toy/models"],
            "columns": {
                "group": "dataset_name",
                "params": "hyperparameters.params",
                "tokens": "hyperparameters.tokens",
            },
            "params": {"eval_sets": {"loss": "c4_val"}},
            **build,
        },
    }


def _two_corpora() -> list[dict]:
    return [
        _record(corpus, params, 20 * params, {"openlm": 9.0, "c4_val": loss})
        for corpus in ("a", "b")
        for params, loss in ((10, 4.5), (50, 3.25), (200, 2.125))
    ]


def test_model_records_give_one_row_per_file_with_the_named_eval_set(tmp_path):
    _write_records(tmp_path / "toy" / "models", _two_corpora())
    card = card_from_dict(_records_card(), where="test")
    frame = build_frame(tmp_path, card)
    assert list(frame.columns) == ["group", "split", "params", "tokens", "loss"]
    assert frame["group"].tolist() == ["a"] * 3 + ["b"] * 3
    by_size = frame[frame["group"] == "a"].sort_values("params")
    assert by_size["loss"].tolist() == [4.5, 3.25, 2.125]  # c4_val, not the openlm entry
    assert by_size["tokens"].tolist() == [200.0, 1000.0, 4000.0]
    assert by_size["split"].tolist() == ["train", "train", "test"]


@pytest.mark.parametrize(
    ("losses", "found"),
    [({"openlm": 3.0}, 0), ({"c4_val": 3.0, "other/c4_val": 2.0}, 2)],
)
def test_model_record_without_exactly_one_matching_result_is_an_error(tmp_path, losses, found):
    records = _two_corpora()
    records[0]["results"] = [
        {"loss": loss, "val_data": [f"eval/{folder}/shard.tar"]} for folder, loss in losses.items()
    ]
    _write_records(tmp_path / "toy" / "models", records)
    card = card_from_dict(_records_card(), where="test")
    with pytest.raises(TaskError, match=f"{found} results on evaluation set 'c4_val'"):
        build_frame(tmp_path, card)


def test_model_record_missing_field_names_the_field(tmp_path):
    records = _two_corpora()
    del records[2]["hyperparameters"]["tokens"]
    _write_records(tmp_path / "toy" / "models", records)
    card = card_from_dict(_records_card(), where="test")
    with pytest.raises(TaskError, match="field 'hyperparameters.tokens' not found"):
        build_frame(tmp_path, card)


def test_model_record_with_text_where_a_number_belongs_is_an_error(tmp_path):
    records = _two_corpora()
    records[1]["hyperparameters"]["params"] = "50M"
    _write_records(tmp_path / "toy" / "models", records)
    card = card_from_dict(_records_card(), where="test")
    with pytest.raises(TaskError, match="expected a number, found '50M'"):
        build_frame(tmp_path, card)


def test_output_without_eval_set_is_an_error(tmp_path):
    _write_records(tmp_path / "toy" / "models", _two_corpora())
    card = card_from_dict(_records_card(params={}), where="test")
    with pytest.raises(TaskError, match="output 'loss' has no entry in build.params.eval_sets"):
        build_frame(tmp_path, card)


def test_broken_json_record_is_a_one_line_build_error(tmp_path, capsys):
    raw = tmp_path / "raw"
    _write_records(raw / "toy" / "models", _two_corpora())
    (raw / "toy" / "models" / "zz-broken.json").write_text("{not json", encoding="utf-8")
    cards = tmp_path / "cards" / "toy_records"
    cards.mkdir(parents=True)
    curated = _records_card() | {
        "counts": {"train": 4, "test": 2, "groups": 2},
        "sources": [{"paper": "toy"}],
        "license": "MIT",
    }
    (cards / "card.toml").write_text(_toml(curated), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["--raw", str(raw), "--cards", str(cards.parent), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "zz-broken.json: not valid JSON" in err
    assert "\n" not in err and not out.exists()


def test_empty_records_folder_is_an_error(tmp_path):
    (tmp_path / "toy" / "models").mkdir(parents=True)
    card = card_from_dict(_records_card(), where="test")
    with pytest.raises(TaskError, match="no \\*.json model records found"):
        build_frame(tmp_path, card)


def _budget_table(folder: Path) -> None:
    folder.mkdir(parents=True)
    rows = [
        {"config": g, "flops": c, "N": n, "tokens": c / (6 * n), "loss": 3.0 + n / c}
        for g in ("x", "y")
        for c in (1e16, 1e17, 1e18)
        for n in (1e6, 1e7)
    ]
    pd.DataFrame(rows).to_csv(folder / "points.csv", index=False)


def _budget_card(**overrides: object) -> dict:
    return {
        "name": "toy_budgets",
        **_VARIABLES,
        "split": {"source": "budget at least 1e18"},
        "build": {
            "reader": "table",
            "files": ["toy/points.csv"],
            "columns": {"group": "config", "params": "N", "tokens": "tokens", "loss": "loss"},
            "test": "flops >= 1e18",
        },
        **overrides,
    }


def test_table_build_test_rule_splits_on_a_raw_column_the_task_drops(tmp_path):
    _budget_table(tmp_path / "toy")
    card = card_from_dict(_budget_card(), where="test")
    frame = build_frame(tmp_path, card)
    assert "flops" not in frame.columns
    budget = 6 * frame["params"] * frame["tokens"]
    assert ((budget >= 0.999e18) == (frame["split"] == "test")).all()
    assert (frame["split"] == "test").sum() == 4


def test_table_build_test_rule_conflicts_with_a_card_test_rule(tmp_path):
    _budget_table(tmp_path / "toy")
    card = card_from_dict(_budget_card(split={"test": "params > 1e6"}), where="test")
    with pytest.raises(TaskError, match="both split.test and build.test are set"):
        build_frame(tmp_path, card)


def test_table_build_test_rule_with_unknown_column_lists_the_valid_ones(tmp_path):
    _budget_table(tmp_path / "toy")
    spec = _budget_card()["build"] | {"test": "budget >= 1e18"}
    card = card_from_dict(_budget_card(build=spec), where="test")
    with pytest.raises(TaskError, match="build.test: unknown name 'budget'.*flops"):
        build_frame(tmp_path, card)


def _toml(card: dict) -> str:
    """Just enough TOML for the cards above: scalars first, then tables and arrays of tables."""

    def value(v: object) -> str:
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v)

    def is_table(v: object) -> bool:
        return isinstance(v, dict)

    def is_array_of_tables(v: object) -> bool:
        return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)

    lines = [
        f"{k} = {value(v)}"
        for k, v in card.items()
        if not is_table(v) and not is_array_of_tables(v)
    ]
    for key, v in card.items():
        if is_table(v):
            lines += [f"[{key}]", *(f"{k} = {value(x)}" for k, x in v.items())]
        elif is_array_of_tables(v):
            for item in v:
                lines += [f"[[{key}]]", *(f"{k} = {value(x)}" for k, x in item.items())]
    return "\n".join(lines) + "\n"
