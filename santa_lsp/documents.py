"""Open documents as lists of lines, edited in place by incremental changes.

pygls' own workspace re-splits the whole text on every change; here an edit touches only the
lines it spans, and a completion reads only the lines of its window, so a keystroke in a
100k-line file costs the same as one in a small file. (What the server keeps beside a document's
text is in its record, santa_lsp/workspace.py.)

LSP positions count code units of the negotiated encoding (UTF-16 unless the client offered
another): a character outside the Basic Multilingual Plane is two UTF-16 units.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)

# LSP's three line ends; str.splitlines would also split on \x0b, \x1c, U+2028 and others.
_LINE_END = re.compile(r"\r\n|\r|\n")


class PositionError(ValueError):
    """A position that is not inside the document."""


def split_lines(text: str) -> list[str]:
    """Lines with their line ends kept; the last line has none (it may be empty)."""
    lines, start = [], 0
    for match in _LINE_END.finditer(text):
        lines.append(text[start : match.end()])
        start = match.end()
    lines.append(text[start:])
    return lines


def _units(char: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(char.encode("utf-8", "surrogatepass"))
    if encoding == "utf-32":
        return 1
    return 2 if ord(char) > 0xFFFF else 1


def to_index(line: str, units: int, encoding: str = "utf-16") -> int:
    """The str index of the code-unit offset `units` in `line` (without its line end).

    Past the end it clamps to the line's length, as the LSP specification asks. An offset
    that falls inside a character (half of a surrogate pair) is moved to that character's
    start, with a log line: the client counted in other units than it announced.
    """
    if encoding == "utf-32" or line.isascii():
        return min(units, len(line))
    count = 0
    for index, char in enumerate(line):
        width = _units(char, encoding)
        if count + width > units:
            if count < units:
                log.warning("offset %d splits the character %r; using its start", units, char)
            return index
        count += width
    return len(line)


def to_units(line: str, index: int, encoding: str = "utf-16") -> int:
    """The code-unit offset of str index `index` in `line`."""
    head = line[:index]
    if encoding == "utf-32" or head.isascii():
        return len(head)
    return sum(_units(char, encoding) for char in head)


def strip_end(line: str) -> str:
    return line.rstrip("\r\n")


@dataclass(frozen=True)
class LineEdit:
    """Where an edit was, in lines: lines `first`..`last` became lines `first`..`new_last`."""

    first: int
    last: int
    new_last: int

    @property
    def shift(self) -> int:
        """How far the lines below the edit moved."""
        return self.new_last - self.last


@dataclass
class Document:
    uri: str
    language_id: str
    version: int
    lines: list[str]
    encoding: str = "utf-16"

    @classmethod
    def from_text(cls, uri: str, language_id: str, version: int, text: str, encoding: str) -> Document:
        return cls(uri, language_id, version, split_lines(text), encoding)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def index(self, line: int, units: int) -> tuple[int, int]:
        """(line, str index) of an LSP position; PositionError if the line does not exist."""
        if line < 0 or units < 0:
            raise PositionError(f"negative position {line}:{units}")
        if line >= len(self.lines):
            raise PositionError(f"line {line} is past the end ({len(self.lines)} lines) of {self.uri}")
        return line, to_index(strip_end(self.lines[line]), units, self.encoding)

    def edit(self, start: tuple[int, int], end: tuple[int, int], new_text: str) -> LineEdit:
        """Replace the text between two LSP positions (clamped to the document); the lines it
        touched (the recently edited regions learn where the user works: santa_lsp/recent.py).

        (A lone \r ending one line and a \n inserted at the start of the next stay two line
        ends here, where a client sees one; editors write \r alone only in old Mac files.)
        """
        start_line, start_col = self._clamp(*start)
        end_line, end_col = self._clamp(*end)
        if (end_line, end_col) < (start_line, start_col):
            raise PositionError(f"range end {end} is before its start {start}")
        head = self.lines[start_line][:start_col]
        tail = self.lines[end_line][end_col:]
        new_lines = split_lines(head + new_text + tail)
        if end_line < len(self.lines) - 1:
            new_lines.pop()  # `tail` ended with a line end: no partial line follows it
        self.lines[start_line : end_line + 1] = new_lines
        return LineEdit(start_line, end_line, start_line + len(new_lines) - 1)

    def replace_all(self, text: str) -> None:
        self.lines = split_lines(text)

    def _clamp(self, line: int, units: int) -> tuple[int, int]:
        if line >= len(self.lines):  # a range ending past the end means "to the end"
            return len(self.lines) - 1, len(self.lines[-1])
        return self.index(line, units)
