"""Typed-ahead cache: while the user types what the last suggestion said, keep showing its rest.

A hit answers from memory in microseconds, with no model call: the editor's ghost text never
flickers away and back as the user types through it. Each open document keeps the suggestions
last shown in it, several when the editor can cycle (santa_lsp/workspace.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

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


def lookup(shown: Sequence[Shown], line: int, left: str, right: str, min_prob: float = 0.0) -> list[Suggestion]:
    """The rest of each suggestion last shown that everything typed since is the beginning of, in
    the order they were shown (the cursor may be in any of them: the editor cycles)."""
    rests = (rest_of(candidate, line, left, right, min_prob) for candidate in shown)
    return [rest for rest in rests if rest is not None]


def rest_of(shown: Shown, line: int, left: str, right: str, min_prob: float) -> Suggestion | None:
    """The rest of a suggestion if everything typed since it was shown is its beginning (and the
    model gave the token where the rest starts at least `min_prob`)."""
    if shown.line != line or shown.right != right or not left.startswith(shown.left):
        return None
    typed = left[len(shown.left) :]
    text = shown.suggestion.text
    rest = text[len(typed) :]
    if not text.startswith(typed) or len(rest) < MIN_CHARS or rest.strip() in ("", right.strip()):
        return None  # used up, or all that is left is what is already right of the cursor
    if not sure_at(shown.logprobs, shown.ends, len(typed), min_prob):
        return None
    return dataclasses.replace(shown.suggestion, text=rest)
