"""``LawModel``: one law as an estimator with scikit-learn's contract, without scikit-learn.

Configuration goes in the constructor and is stored verbatim (so ``get_params`` /
``set_params`` / ``sklearn.base.clone`` round-trip it); ``fit`` validates it and sets the
fitted attributes, whose names end in ``_``. Parameters are fitted per group, exactly as
:func:`sld.score` fits them (same rows, same restarts, same seed: the same numbers), so
``cross_val_score`` with a ``GroupKFold`` over some other column (a scale, a seed) measures how
the law predicts rows it did not see, group by group. A group absent from the fitted data has
no parameters: predicting it is an error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from sld.corpus import Split, Task
from sld.corpus.table import frame_table
from sld.errors import ConfigError, FitError
from sld.fit import FitResult, fit_law, predict
from sld.law import Law, parse_law
from sld.metrics import metrics_or_reason
from sld.scoring import parse_for_task

SINGLE_GROUP = "all"
LOSSES = ("squared", "huber")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LEFT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)")


class LawModel:
    """A scaling law fitted per group: ``LawModel("E + A/N**alpha + B/D**beta")``.

    Configuration (stored as given; checked by :meth:`fit`):

    * ``law``: the law text (see :func:`sld.parse_law`); names that are input columns are
      variables, every other name is a parameter fitted per group;
    * ``inputs``: input columns, in order (None: every column of the data that the law names,
      in the data's column order);
    * ``output``: output column, or a list of them (None: the name of ``y`` when given, else
      the law's left side, as in ``"loss = E + A/N**alpha"``);
    * ``group``: the column naming each row's group (None: one group, ``"all"``);
    * ``restarts``, ``seed``: multi-start settings of the fit; ``loss``: ``"squared"`` or
      ``"huber"``; ``max_params``: the most parameters the law may have.

    Fitted: ``law_`` (the parsed :class:`~sld.law.Law`), ``fit_`` (the
    :class:`~sld.fit.FitResult`), ``params_`` (a DataFrame: one row per group, one column per
    parameter), ``inputs_``, ``outputs_``, ``group_`` (the group column or None), ``groups_``.
    """

    def __init__(
        self,
        law: str = "",
        *,
        inputs: Sequence[str] | None = None,
        output: str | Sequence[str] | None = None,
        group: str | None = None,
        restarts: int = 16,
        seed: int = 0,
        loss: str = "squared",
        max_params: int | None = None,
    ) -> None:
        self.law = law
        self.inputs = inputs
        self.output = output
        self.group = group
        self.restarts = restarts
        self.seed = seed
        self.loss = loss
        self.max_params = max_params

    # -- scikit-learn's parameter protocol ------------------------------------------------

    _PARAMS = ("law", "inputs", "output", "group", "restarts", "seed", "loss", "max_params")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's arguments, as stored (``deep`` is accepted and has no effect)."""
        return {name: getattr(self, name) for name in self._PARAMS}

    def set_params(self, **params: Any) -> LawModel:
        """Replace constructor arguments; ConfigError for a name the constructor lacks."""
        for name, value in params.items():
            if name not in self._PARAMS:
                raise ConfigError(
                    f"LawModel has no parameter {name!r}; parameters are: {', '.join(self._PARAMS)}"
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        given = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if k != "law")
        return f"LawModel({self.law!r}, {given})"

    def __sklearn_tags__(self) -> Any:
        """Tags for scikit-learn (imported only here, when scikit-learn itself asks): a
        regressor whose input is a DataFrame that may hold a text group column."""
        from sklearn.utils import InputTags, RegressorTags, Tags, TargetTags

        return Tags(
            estimator_type="regressor",
            target_tags=TargetTags(required=False),
            regressor_tags=RegressorTags(),
            input_tags=InputTags(string=True, categorical=True),
        )

    # -- fitting ----------------------------------------------------------------------------

    def fit(self, X: pd.DataFrame | Task, y: Any = None) -> LawModel:
        """Fit the law on every row of ``X`` (a DataFrame), or on a task's training rows (then
        predict frames such as ``task.heldout_frame()``, whose ``group`` column names groups).

        ``y``: the output values when ``X`` lacks them (a Series, array or DataFrame).
        Raises a one-line SldError for bad configuration or data, FitError when no restart
        fits some group.
        """
        self._check_config()
        if isinstance(X, Task):
            if y is not None:
                raise ConfigError("LawModel.fit: a Task carries its outputs; pass no y")
            law = parse_for_task(self.law, X, max_params=self.max_params)
            rows = X.train()
            group: str | None = "group"  # the column a task's frames name each row's group in
        else:
            frame = _with_targets(X, y, self.output)
            outputs = self._outputs(frame, y)
            inputs = self._inputs(frame, exclude={*outputs, *([self.group] if self.group else [])})
            law = parse_law(self.law, inputs=inputs, outputs=outputs, max_params=self.max_params)
            rows = _split(frame, inputs=inputs, outputs=outputs, group=self.group)
            group = self.group
        fit = fit_law(law, rows, restarts=self.restarts, seed=self.seed, loss=self.loss)  # type: ignore[arg-type]
        if not fit.ok:
            raise FitError(f"LawModel.fit: {fit.reason}")
        self.law_: Law = law
        self.fit_: FitResult = fit
        self.params_: pd.DataFrame = fit.to_frame()
        self.inputs_: tuple[str, ...] = law.inputs
        self.outputs_: tuple[str, ...] = law.outputs
        self.group_: str | None = group
        self.groups_: tuple[str, ...] = tuple(rows.groups)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predictions for the rows of ``X``, each with its group's parameters.

        Returns (rows,) for one output, (rows, outputs) for several, in ``X``'s row order.
        """
        self._check_fitted()
        table = frame_table(
            _frame(X),
            where="LawModel.predict",
            numeric=list(self.inputs_),
            group_column=self.group_,
            kinds=dict.fromkeys(self.inputs_, "input"),
            single_group=SINGLE_GROUP,
            read_split=False,
        )
        unknown = sorted(set(table.groups.tolist()) - set(self.groups_))
        if unknown:
            raise ConfigError(
                f"LawModel.predict: group {unknown[0]!r} was not in the data the model was "
                "fitted on, so it has no parameters; fit on rows of every group you predict"
            )
        X_all = np.column_stack([table.values[name] for name in self.inputs_])
        out = np.empty((len(X_all), len(self.outputs_)))
        for group in set(table.groups.tolist()):
            rows = np.flatnonzero(table.groups == group)
            parameters = self.fit_.parameters[group]
            out[rows] = np.asarray(predict(self.law_, parameters, X_all[rows])).reshape(
                len(rows), len(self.outputs_)
            )
        return out[:, 0] if len(self.outputs_) == 1 else out

    def score(self, X: pd.DataFrame, y: Any = None) -> float:
        """R² of the predictions (SLDBench's definition, averaged over outputs); NaN when it
        is undefined (a non-finite prediction, or a constant output)."""
        self._check_fitted()
        frame = _with_targets(
            X, y, list(self.outputs_) if len(self.outputs_) > 1 else self.outputs_[0]
        )
        missing = [name for name in self.outputs_ if name not in frame.columns]
        if missing:
            raise ConfigError(
                f"LawModel.score: no output column {missing[0]!r} in the data; pass y or the column"
            )
        actual = frame[list(self.outputs_)].to_numpy(dtype=np.float64)
        predicted = self.predict(frame).reshape(actual.shape)
        metrics, _ = metrics_or_reason(predicted, actual)
        return metrics.r2 if metrics is not None else float("nan")

    # -- checks -----------------------------------------------------------------------------

    def _check_config(self) -> None:
        if not isinstance(self.law, str | list | tuple) or not self.law:
            raise ConfigError("LawModel: give a law, e.g. LawModel('E + A/N**alpha')")
        if (
            isinstance(self.restarts, bool)
            or not isinstance(self.restarts, int)
            or self.restarts < 1
        ):
            raise ConfigError(
                f"LawModel: restarts must be a positive integer, got {self.restarts!r}"
            )
        if self.loss not in LOSSES:
            raise ConfigError(
                f"LawModel: loss must be one of {', '.join(LOSSES)}, got {self.loss!r}"
            )
        if isinstance(self.inputs, str):
            raise ConfigError("LawModel: inputs is a list of columns, e.g. inputs=['N', 'D']")

    def _check_fitted(self) -> None:
        if not hasattr(self, "fit_"):
            raise ConfigError("LawModel is not fitted yet; call fit(data) first")

    def _outputs(self, frame: pd.DataFrame, y: Any) -> list[str]:
        if self.output is not None:
            return [self.output] if isinstance(self.output, str) else list(self.output)
        if y is not None:
            return [str(c) for c in _targets(y, None).columns]
        left = _LEFT.match(self.law) if isinstance(self.law, str) else None
        if left is not None and left.group(1) in frame.columns:
            return [left.group(1)]
        raise ConfigError(
            "LawModel: which column is the output? pass output='loss', a y, or write the law "
            "as 'loss = ...'"
        )

    def _inputs(self, frame: pd.DataFrame, *, exclude: set[str]) -> list[str]:
        if self.inputs is not None:
            return list(self.inputs)
        text = self.law if isinstance(self.law, str) else "; ".join(self.law)
        right = _LEFT.sub("", text)
        named = set(_NAME.findall(right))
        found = [str(c) for c in frame.columns if str(c) in named and str(c) not in exclude]
        if not found:
            raise ConfigError(
                "LawModel: the law names no column of the data; pass inputs=['N', ...] "
                f"(the columns are: {', '.join(map(str, frame.columns))})"
            )
        return found


def _frame(X: Any) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise ConfigError(
            f"LawModel takes a pandas DataFrame (or a Task to fit), got {type(X).__name__}; "
            "named columns say which values are which input"
        )
    return X


def _targets(y: Any, names: str | Sequence[str] | None) -> pd.DataFrame:
    """``y`` as a DataFrame of output columns (named after ``names``, its own names, or y)."""
    if isinstance(y, pd.DataFrame):
        return y
    if isinstance(y, pd.Series):
        name = names if isinstance(names, str) else (y.name if y.name is not None else "y")
        return y.rename(name).to_frame()
    values = np.asarray(y, dtype=np.float64)
    columns = [names] if isinstance(names, str) else list(names or ["y"])
    return pd.DataFrame(values.reshape(len(values), -1), columns=columns)


def _with_targets(X: Any, y: Any, names: str | Sequence[str] | None) -> pd.DataFrame:
    """``X`` with the columns of ``y`` set (row by row, whatever either's index)."""
    frame = _frame(X)
    if y is None:
        return frame
    targets = _targets(y, names)
    if len(targets) != len(frame):
        raise ConfigError(f"LawModel: X has {len(frame)} rows but y has {len(targets)}")
    frame = frame.copy()
    for column in targets.columns:
        frame[column] = targets[column].to_numpy()
    return frame


def _split(
    frame: pd.DataFrame, *, inputs: Sequence[str], outputs: Sequence[str], group: str | None
) -> Split:
    """Every row of ``frame`` per group (groups sorted, rows in frame order), as a task would."""
    table = frame_table(
        frame,
        where="LawModel.fit",
        numeric=[*inputs, *outputs],
        group_column=group,
        kinds=dict.fromkeys(inputs, "input") | dict.fromkeys(outputs, "output"),
        single_group=SINGLE_GROUP,
        read_split=False,
    )
    X = np.column_stack([table.values[name] for name in inputs])
    Y = np.column_stack([table.values[name] for name in outputs])
    names = tuple(sorted(set(table.groups.tolist())))
    picks = [table.groups == name for name in names]
    return Split(
        groups=names,
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        X=tuple(np.ascontiguousarray(X[p]) for p in picks),
        y=tuple(np.ascontiguousarray(Y[p]) for p in picks),
    )
