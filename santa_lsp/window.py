"""The part of a document that goes into the prompt: whole lines around the cursor, by tokens.

The prefix window starts at an anchor line that stays where it is while the text between it
and the cursor fits the budget. The prompt's start is then the same token sequence from one
keystroke to the next and the runtime's prefix cache serves all of it but the last few tokens.
When the window must move, it moves by a quarter of its budget at once (hysteresis), so the
cache is missed once per many lines typed rather than on every line.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# A re-placed anchor leaves this share of the prefix budget free for the lines still to come.
SLACK = 4
_COUNT_CACHE_LINES = 50_000


class TokenCounter:
    """Token counts of single lines, remembered: a keystroke re-counts only its own line.

    Counting line by line slightly over-counts (the tokenizer can merge a line end with the next
    line's indentation), so the sum is a safe bound for the text's real length.
    """

    def __init__(self, measure: Callable[[str], int]) -> None:
        self._measure = measure  # a text's length in tokens
        self._counts: OrderedDict[str, int] = OrderedDict()

    def __call__(self, text: str) -> int:
        count = self._counts.get(text)
        if count is None:
            count = self._measure(text)
            self._counts[text] = count
            if len(self._counts) > _COUNT_CACHE_LINES:
                self._counts.popitem(last=False)
        return count

    def fit_tail(self, text: str, budget: int) -> str:
        """The longest end of one long line that fits `budget` (minified code, data files)."""
        while text and self._measure(text) > budget:
            text = text[len(text) // 4 + 1 :]
        return text

    def fit_head(self, text: str, budget: int) -> str:
        while text and self._measure(text) > budget:
            text = text[: len(text) * 3 // 4]
        return text


@dataclass(frozen=True)
class Cursor:
    line: int
    column: int  # str index in the line


def suffix_window(lines: Sequence[str], cursor: Cursor, budget: int, count: TokenCounter) -> tuple[str, int]:
    """The text right of the cursor and whole following lines, within `budget` tokens."""
    rest = lines[cursor.line][cursor.column :]
    used = count(rest)
    if used > budget:
        rest = count.fit_head(rest, budget)
        return rest, count(rest)
    parts = [rest]
    for line in lines[cursor.line + 1 :]:
        cost = count(line)
        if used + cost > budget:
            break
        parts.append(line)
        used += cost
    return "".join(parts), used


def prefix_window(
    lines: Sequence[str], cursor: Cursor, budget: int, anchor: int | None, count: TokenCounter
) -> tuple[str, int, int]:
    """(text, tokens, anchor) of the prefix window; the old anchor is kept whenever it fits."""
    head = lines[cursor.line][: cursor.column]
    used = count(head)
    if used > budget:
        head = count.fit_tail(head, budget)
        return head, count(head), cursor.line
    if anchor is not None and anchor <= cursor.line:
        total = used + sum(count(line) for line in lines[anchor : cursor.line])
        if total <= budget:
            return "".join(lines[anchor : cursor.line]) + head, total, anchor
    target = budget - budget // SLACK
    start = cursor.line
    while start > 0 and used + count(lines[start - 1]) <= target:
        start -= 1
        used += count(lines[start])
    return "".join(lines[start : cursor.line]) + head, used, start
