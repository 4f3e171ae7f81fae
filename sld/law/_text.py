"""Raw law text → located expression pieces, before any parsing.

Everything here is a linear scan over the characters, so it is safe to run on
text of any size before ``ast.parse`` sees it:

* a few Unicode look-alikes LLMs like to emit are mapped one-for-one to ASCII
  (``−`` → ``-``, ``×``/``·``/``⋅`` → ``*``); any other non-ASCII or control
  character is rejected, which also keeps ``ast`` column offsets (UTF-8 bytes)
  equal to character offsets;
* ``^`` is rewritten to ``**`` (Python's ``^`` is XOR, which the grammar never
  allows, so the rewrite cannot change the meaning of an accepted law);
* the text is split into pieces at ``;`` and newlines outside brackets, while
  bracket nesting is checked against the depth bound;
* each piece's optional left side ``name =`` is split off.

Offsets reported to users always refer to the original text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sld.errors import ParseError

_LOOKALIKES = {"\u2212": "-", "\u00d7": "*", "\u00b7": "*", "\u22c5": "*"}
_WHITESPACE = " \t\r\n"
_LEFT_SIDE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)")
_OPEN, _CLOSE = "([{", ")]}"


@dataclass(frozen=True)
class Piece:
    """One expression of a law, with what is needed to point back into the text.

    ``source`` is the expression (``^`` already rewritten, no left side, no
    leading whitespace); ``origin[i]`` is the offset in the original text of
    ``source[i]``; ``left`` is the left-side name (``""`` when absent) and
    ``left_position`` its offset.
    """

    source: str
    origin: tuple[int, ...]
    left: str
    left_position: int

    def position(self, index: int) -> int:
        """Offset in the original text of ``source[index]`` (clamped to the piece)."""
        if not self.origin:
            return -1
        return self.origin[max(0, min(index, len(self.origin) - 1))]


def _clean(text: str) -> str:
    """Map look-alikes to ASCII; reject any other non-ASCII or control character."""
    out = []
    for i, ch in enumerate(text):
        ch = _LOOKALIKES.get(ch, ch)
        if not (" " <= ch <= "~" or ch in _WHITESPACE):
            raise ParseError(
                f"law: character {ch!r} at position {i} is not allowed; "
                "write the law in plain ASCII (e.g. alpha, not the Greek letter)",
                position=i,
                token=ch,
            )
        if ch == "#":
            raise ParseError(
                f"law: comment '#' at position {i} is not allowed; remove the comment",
                position=i,
                token="#",
            )
        out.append(ch)
    return "".join(out)


def split_law(text: str, *, max_depth: int) -> list[Piece]:
    """Split cleaned law text into located pieces, one per expression.

    Raises ``ParseError`` on disallowed characters and on bracket nesting
    deeper than ``max_depth``. Empty pieces (blank lines, trailing ``;``) are
    dropped.
    """
    text = _clean(text)
    pieces: list[Piece] = []
    chars: list[str] = []
    origin: list[int] = []
    depth = 0

    def flush() -> None:
        piece = _make_piece("".join(chars), tuple(origin))
        if piece is not None:
            pieces.append(piece)
        chars.clear()
        origin.clear()

    for i, ch in enumerate(text):
        if ch in _OPEN:
            depth += 1
            if depth > max_depth:
                raise ParseError(
                    f"law: brackets nested deeper than {max_depth} at position {i}; "
                    "simplify the expression",
                    position=i,
                    token=ch,
                )
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
        if depth == 0 and ch in ";\n":
            flush()
            continue
        if ch == "^":
            chars.extend("**")
            origin.extend((i, i))
        else:
            chars.append(ch)
            origin.append(i)
    flush()
    return pieces


def _make_piece(chars: str, origin: tuple[int, ...]) -> Piece | None:
    """Strip whitespace and split off an optional ``name =`` left side."""
    left, left_position, start = "", -1, 0
    match = _LEFT_SIDE.match(chars)
    if match is not None:
        left, left_position, start = match.group(1), origin[match.start(1)], match.end()
    while start < len(chars) and chars[start] in _WHITESPACE:
        start += 1
    end = len(chars)
    while end > start and chars[end - 1] in _WHITESPACE:
        end -= 1
    if start == end and not left:
        return None
    return Piece(chars[start:end], origin[start:end] or origin[-1:], left, left_position)
