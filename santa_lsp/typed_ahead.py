"""Typed-ahead cache: while the user types what the last suggestion said, keep showing its rest.

A hit answers from memory in microseconds, with no model call: the editor's ghost text never
flickers away and back as the user types through it. Each open document keeps the suggestions
last shown in it, several when the editor can cycle (santa_lsp/workspace.py). What was typed may
run over line breaks the suggestion has: an editor that accepts a suggestion line by line (Neovim
0.12 asks again after each part) gets the rest of it on the next line too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from santa_lsp.documents import strip_end
from santa_lsp.postprocess import MIN_CHARS, Suggestion, sure_at


@dataclass(frozen=True)
class Shown:
    """A suggestion and where it was made: its line, and the line's text around the cursor."""

    line: int
    left: str
    right: str
    suggestion: Suggestion
    # The model's log-probability of each token of the suggestion, and where each ends in it:
    # the rest is shown only if the model was sure of the token it starts in.
    logprobs: tuple[float, ...] = ()
    ends: tuple[int, ...] = ()


def lookup(
    shown: Sequence[Shown], line: int, left: str, right: str, min_prob: float = 0.0, lines: Sequence[str] = ()
) -> list[Suggestion]:
    """The rest of each suggestion last shown that everything typed since is the beginning of, in
    the order they were shown (the cursor may be in any of them: the editor cycles). The cursor is
    on `line`, between `left` and `right`; `lines`, the document's, tell what was typed on the
    lines between a suggestion's place and the cursor's."""
    rests = (rest_of(candidate, line, left, right, min_prob, lines) for candidate in shown)
    return [rest for rest in rests if rest is not None]


def rest_of(
    shown: Shown, line: int, left: str, right: str, min_prob: float, lines: Sequence[str] = ()
) -> Suggestion | None:
    """The rest of a suggestion if everything typed since it was shown is its beginning (and the
    model gave the token where the rest starts at least `min_prob`)."""
    before = _before_cursor(shown, line, left, lines)
    if before is None or shown.right != right or not before.startswith(shown.left):
        return None
    typed = before[len(shown.left) :]
    text = shown.suggestion.text
    rest = text[len(typed) :]
    if not text.startswith(typed) or len(rest) < MIN_CHARS or rest.strip() in ("", right.strip()):
        return None  # used up, or all that is left is what is already right of the cursor
    if not sure_at(shown.logprobs, shown.ends, len(typed), min_prob):
        return None
    return dataclasses.replace(shown.suggestion, text=rest)


def _before_cursor(shown: Shown, line: int, left: str, lines: Sequence[str]) -> str | None:
    """The text from the start of the suggestion's line to the cursor; None when the cursor is
    above that line, or further below it than the suggestion has line breaks."""
    if line == shown.line:
        return left
    if not shown.line < line <= shown.line + shown.suggestion.text.count("\n") or line > len(lines):
        return None
    return "".join(strip_end(text) + "\n" for text in lines[shown.line : line]) + left
