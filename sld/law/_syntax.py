"""One piece of law text → a Python syntax tree, with every node traceable to the text.

``ast.parse(mode="eval")`` only builds the tree; nothing is compiled or run, and
:mod:`sld.law._grammar` then holds every node to the whitelist. A :class:`Locator`
maps a node back to its offset in the original law text, so each error names the
place to fix.
"""

from __future__ import annotations

import ast
import re
import threading
import warnings

from sld.errors import ParseError
from sld.law._text import Piece


class Locator:
    """Maps AST (line, column) positions of one piece back to the original text."""

    def __init__(self, piece: Piece) -> None:
        self.piece = piece
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", piece.source)]

    def offset(self, lineno: int, col: int) -> int:
        """Index into ``piece.source`` of a 1-based line and 0-based column."""
        line = max(1, min(lineno, len(self._line_starts)))
        return self._line_starts[line - 1] + max(col, 0)

    def span(self, node: ast.AST) -> tuple[int, int]:
        """Start and end index into ``piece.source`` of ``node`` ((0, 0) when unknown)."""
        if getattr(node, "lineno", None) is None:
            return 0, 0
        start = self.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end_line = getattr(node, "end_lineno", None) or node.lineno  # type: ignore[attr-defined]
        end_col = getattr(node, "end_col_offset", None)
        end = self.offset(end_line, node.col_offset if end_col is None else end_col)  # type: ignore[attr-defined]
        return start, max(end, start)

    def position(self, node: ast.AST) -> int:
        """Offset in the original text where ``node`` starts."""
        return self.piece.position(self.span(node)[0])

    def token(self, node: ast.AST, *, limit: int = 24) -> str:
        """The source text of ``node``, shortened for messages."""
        start, end = self.span(node)
        text = " ".join(self.piece.source[start:end].split())
        return text if len(text) <= limit else text[: limit - 3] + "..."

    def error(self, message: str, node: ast.AST, token: str | None = None) -> ParseError:
        """A ``ParseError`` whose message is ``law: <message>`` with the node's place filled in.

        ``message`` may use ``{token}`` and ``{position}``.
        """
        token = self.token(node) if token is None else token
        position = self.position(node)
        return ParseError(
            "law: " + message.format(token=repr(token), position=position),
            position=position,
            token=token,
        )


# CPython 3.11's ast.parse is not safe to run in several threads at once (its
# recursion-depth bookkeeping raises "AST constructor recursion depth mismatch"),
# and warnings.catch_warnings is process-global: parse one piece at a time.
_PARSE_LOCK = threading.Lock()


def parse_piece(piece: Piece) -> tuple[ast.expr, Locator]:
    """``ast.parse`` one piece in eval mode, turning every failure into ``ParseError``."""
    locator = Locator(piece)
    if not piece.source:
        raise ParseError(
            f"law: missing expression after '{piece.left} ='; write 'output = expression'",
            position=piece.left_position,
            token=piece.left,
        )
    try:
        with _PARSE_LOCK, warnings.catch_warnings():
            # e.g. "invalid decimal literal" for '1if': junk the grammar rejects anyway
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            tree = ast.parse(piece.source, mode="eval")
    except SyntaxError as error:
        index = locator.offset(error.lineno or 1, (error.offset or 1) - 1)
        position = piece.position(index)
        token = piece.source[index : index + 1] if index < len(piece.source) else ""
        reason = " ".join(str(error.msg).split())
        raise ParseError(
            f"law: invalid syntax at position {position} ({reason}); "
            "write an arithmetic expression such as 'E + A/N**alpha'",
            position=position,
            token=token,
        ) from None
    except (RecursionError, MemoryError, ValueError, OverflowError, SystemError):
        raise ParseError(
            "law: expression is too deeply nested or too large to parse; simplify it",
            position=piece.position(0),
            token=piece.source[:1],
        ) from None
    return tree.body, locator
