"""Values every setting reads the same way: durations (``90``, ``90s``, ``10m``, ``1.5h``) and
one ConfigError line for a model built from bad values."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ValidationError

from sld.errors import ConfigError, validation_message

_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}

Model = TypeVar("Model", bound=BaseModel)


def parse_duration(value: str | float) -> float:
    """Seconds from ``90``, ``"90"``, ``"90s"``, ``"10m"`` or ``"1.5h"``; ValueError otherwise.

    The result is finite and positive.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 90s, 10m or 1h, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        unit = _DURATION_UNITS.get(text[-1:]) if text else None
        number = text[:-1] if unit is not None else text
        try:
            seconds = float(number) * (unit or 1.0)
        except ValueError:
            raise ValueError(f"expected a duration like 90s, 10m or 1h, got {value!r}") from None
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"duration must be positive, got {value!r}")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds, read from a number or a text such as ``"10m"`` (see :func:`parse_duration`)."""


def validated(model: type[Model], values: Mapping[str, Any], *, where: str = "") -> Model:
    """``model`` built from ``values``; a bad value raises one ConfigError line naming it."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        raise ConfigError(validation_message(exc, where=where)) from None
