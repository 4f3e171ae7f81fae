"""argparse types: each reads one flag's text or raises ArgumentTypeError with a one-line reason."""

from __future__ import annotations

import argparse


def windows(text: str) -> list[float]:
    """Fit-window shares, comma-separated, each in [0, 1)."""
    shares = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected shares in [0, 1) separated by commas, such as 0,0.25,0.5; got {text!r}"
            ) from None
        if not 0 <= value < 1:
            raise argparse.ArgumentTypeError(
                f"each share must lie in [0, 1) (the part of the rows left out), got {part!r}"
            )
        shares.append(value)
    return shares


def weight(text: str) -> float:
    """A finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def share(text: str) -> float:
    """A number in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1."""
    value = integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0."""
    value = integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def integer(text: str) -> int:
    """An integer."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def duration(text: str) -> float:
    """'90', '90s', '10m', '1.5h' -> seconds: :func:`sld.config.parse_duration` as an argparse type."""
    from sld.config import parse_duration as seconds

    try:
        return seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
