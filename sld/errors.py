"""One exception hierarchy for everything a user can get wrong.

Every error carries a one-line message that says what went wrong, where, and
how to fix it. The CLI prints it as ``error: <message>`` and exits with code 2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pydantic import ValidationError


class SldError(Exception):
    """Root of every error sld raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))  # always one line


class TaskError(SldError):
    """A task card or data file is missing, malformed or inconsistent."""


class ParseError(SldError):
    """A law string is not in the whitelist grammar or breaks a bound.

    ``position`` is the 0-based character offset of the offending token (or -1
    when the problem is the whole law), ``token`` the offending text.
    """

    def __init__(self, message: str, *, position: int = -1, token: str = "") -> None:
        super().__init__(message)
        self.position = position
        self.token = token


class FitError(SldError):
    """A law cannot be fitted (no finite restart, bad data shapes)."""


class ConfigError(SldError):
    """A command-line flag, config file or run setting is invalid."""


class StoreError(SldError):
    """A run store is missing, locked, corrupted or from another task."""


def validation_message(
    error: ValidationError, *, what: str = "setting", where: str = "", fix: str = ""
) -> str:
    """The first problem pydantic found, as one line a user can act on.

    ``"{where}: invalid {what} '{field}': {message}; {fix}"``, where ``field`` is
    the dotted location of the bad value (left out when the whole model is at
    fault) and pydantic's ``"Value error, "`` prefix is dropped.
    """
    first = error.errors()[0]
    field = ".".join(str(part) for part in first.get("loc", ()))
    message = str(first.get("msg", "")).removeprefix("Value error, ")
    text = f"invalid {what} {field!r}: {message}" if field else f"invalid {what}: {message}"
    if where:
        text = f"{where}: {text}"
    return f"{text}; {fix}" if fix else text
