"""Loops in generated text: a run of tokens, or a line, written again and again.

Small models fall into loops (`name, pat, pat, pat`, `/bin/bin/bin/`) and every token spent
in one is wasted: the generation stops where the loop begins, and the text before it is kept.
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_UNIT_TOKENS = 16  # longer units are whole lines, caught by the line rule
MIN_REPEATS = 3  # a unit written three times in a row is a loop; twice is often real code
MIN_UNIT_CHARS = 2  # non-space characters in a unit: `0, 0` or `  ` repeated are not loops


def loop_start(ids: Sequence[int], ends: Sequence[int], text: str) -> int | None:
    """Where in `text` a loop that `ids` end with began, or None.

    `ends[i]` is the length of the text once `ids[i]` was decoded. Two rules: the last tokens
    are one unit of up to MAX_UNIT_TOKENS written MIN_REPEATS times, or the last two finished
    lines are the same line of real code.
    """
    token = _token_loop(ids, ends, text)
    line = _line_loop(text)
    found = [start for start in (token, line) if start is not None]
    return min(found) if found else None


def _token_loop(ids: Sequence[int], ends: Sequence[int], text: str) -> int | None:
    for unit in range(1, MAX_UNIT_TOKENS + 1):
        span = unit * MIN_REPEATS
        if span > len(ids):
            return None
        tail = ids[-span:]
        if all(tail[i] == tail[i % unit] for i in range(unit, span)):
            start = ends[-span - 1] if span < len(ids) else 0
            last = text[ends[-unit - 1] :]
            if len("".join(last.split())) >= MIN_UNIT_CHARS:
                return start
    return None


def _line_loop(text: str) -> int | None:
    lines = text.split("\n")[:-1]  # finished lines only
    if len(lines) < 2 or lines[-1].strip() != lines[-2].strip():
        return None
    if len("".join(lines[-1].split())) < 3:  # `}` or `)` twice is a dedent, not a loop
        return None
    return sum(len(line) + 1 for line in lines[:-2])
