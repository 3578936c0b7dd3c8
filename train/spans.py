"""Middles cut where an editor asks for them, beside SantaCoder's uniform character spans.

Two uniform cut points rarely make "the rest of this line", "this whole line" or "this block's
body" the middle, yet that is what an editor requests at a cursor. Each kind below is such a
request, drawn on lines that hold code:

    line_end  from a character inside a line's code to its end
    line      one line's code, from after its indentation to its end
    lines     1-4 whole lines, from after the first one's indentation to the last one's end
    block     the body under a line that opens a block (the next code line is indented deeper)

A middle never holds the newline that ends its last line (the cursor sits before it), as the
evaluation's masked lines (train/eval/infill.py) do not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

KINDS = ("line_end", "line", "lines", "block")
MAX_LINES = 4


@dataclass(frozen=True)
class Line:
    number: int  # among all the text's lines, blank ones included
    code: int  # offset of the first non-blank character
    end: int  # offset of the line's end, before its newline
    indent: int  # width of its leading whitespace


def code_lines(text: str) -> list[Line]:
    """Lines that hold something besides whitespace, with their offsets in `text`."""
    lines, start = [], 0
    for number, raw in enumerate(text.splitlines(keepends=True)):
        body = raw.rstrip("\r\n")
        stripped = body.lstrip()
        if stripped.strip():
            indent = len(body) - len(stripped)
            lines.append(Line(number, start + indent, start + len(body.rstrip()), indent))
        start += len(raw)
    return lines


def _line_end(lines: list[Line], rng: np.random.Generator) -> tuple[int, int]:
    line = lines[rng.integers(len(lines))]
    return int(rng.integers(line.code, line.end)), line.end


def _lines(lines: list[Line], rng: np.random.Generator, most: int = 1) -> tuple[int, int]:
    first = int(rng.integers(len(lines)))
    past = lines[first].number + int(rng.integers(1, most + 1))  # text lines, blank ones count
    last = max(i for i in range(first, len(lines)) if lines[i].number < past)
    return lines[first].code, lines[last].end


def _block(lines: list[Line], rng: np.random.Generator) -> tuple[int, int] | None:
    heads = [i for i in range(len(lines) - 1) if lines[i + 1].indent > lines[i].indent]
    if not heads:
        return None
    head = heads[rng.integers(len(heads))]
    last = head + 1
    while last + 1 < len(lines) and lines[last + 1].indent > lines[head].indent:
        last += 1
    return lines[head + 1].code, lines[last].end


SPANS: dict[str, Callable[[list[Line], np.random.Generator], tuple[int, int] | None]] = {
    "line_end": _line_end,
    "line": _lines,
    "lines": lambda lines, rng: _lines(lines, rng, MAX_LINES),
    "block": _block,
}


def editor_span(text: str, rng: np.random.Generator) -> tuple[int, int] | None:
    """(low, high) of a middle of a kind drawn uniformly from KINDS; None if `text` has no code.

    A file without a block falls back to whole lines, so that every kind's draw yields a span.
    """
    lines = code_lines(text)
    if not lines:
        return None
    kind = KINDS[rng.integers(len(KINDS))]
    return SPANS[kind](lines, rng) or SPANS["lines"](lines, rng)
