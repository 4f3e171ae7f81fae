"""One exception hierarchy for everything a user can get wrong.

Every error carries a one-line message that says what went wrong, where, and
how to fix it. The CLI prints it as ``error: <message>`` and exits with code 2.
"""

from __future__ import annotations


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
