"""From the model's raw text to what the editor shows, or nothing.

Each rule is a small function from text to text, applied in order by `finish`; the result
never repeats what is already in the document and never closes a bracket nobody opened.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from santa_lsp.situation import OPENING, PAIRS, Situation, bracket_chars, indent_width

# Accepting a suggestion is one keystroke: one of a single character saves nothing.
MIN_CHARS = 2


@dataclass(frozen=True)
class Suggestion:
    text: str  # inserted at the cursor
    replace: int  # characters right of the cursor that `text` replaces (auto-closed brackets)
    candidate: int = 0  # its place among the suggestions first shown for its request (setting `candidates`)


def cut_at(text: str, markers: Sequence[str]) -> str:
    """Text before the first of `markers` (stop sequences, special tokens written out)."""
    cuts = [i for i in (text.find(m) for m in markers if m) if i >= 0]
    return text[: min(cuts)] if cuts else text


def last_full_line(text: str) -> str:
    """What a time-budget cut keeps: the lines that were finished."""
    end = text.rfind("\n")
    return text[:end] if end >= 0 else ""


def first_line(text: str) -> str:
    return text.split("\n", 1)[0]


def cut_scope(text: str, scope_indent: int) -> str:
    """Stop before the first later line indented less than the cursor's scope (the block ends)."""
    lines = text.split("\n")
    for i in range(1, len(lines)):
        if lines[i].strip() and indent_width(lines[i]) < scope_indent:
            return "\n".join(lines[:i])
    return text


def block_ended(text: str, scope_indent: int) -> bool:
    """Whether a later line has begun left of the cursor's scope.

    `finish` drops that line and everything after it, so generating more cannot change the
    suggestion: the generation can stop there instead of running to its token limit.
    """
    return cut_scope(text, scope_indent) != text


def cut_repeated_lines(text: str, situation: Situation) -> str:
    """Stop where the completion starts writing the line that already follows the cursor."""
    upcoming = next((line.strip() for line in situation.following if line.strip()), None)
    if upcoming is None:
        return text
    lines = text.split("\n")
    # On a blank line the first completed line is a whole line too and may be the repeat.
    start = 0 if not situation.left.strip() else 1
    for i in range(start, len(lines)):
        if lines[i].strip() == upcoming:
            return "\n".join(lines[:i])
    return text


def cut_unbalanced(text: str, opened: str) -> str:
    """Stop before a closing bracket that matches no bracket open at that point."""
    stack = list(opened)
    for i, char in bracket_chars(text):
        if char in OPENING:
            stack.append(char)
        elif not stack or stack[-1] != PAIRS[char]:
            return text[:i]
        else:
            stack.pop()
    return text


def merge_right(text: str, right: str) -> Suggestion:
    """Fit the completion to the text right of the cursor on its line.

    When the completion writes that text itself (typically the `)` an editor auto-closed), the
    suggestion ends there and replaces it, rather than inserting a second copy before it.
    """
    tail = right.rstrip()
    if not tail:
        return Suggestion(text, 0)
    found = first_line(text).find(tail)
    if found < 0:
        return Suggestion(text, 0)
    offset = len(right) - len(right.lstrip())
    return Suggestion(text[: found + len(tail)], offset + len(tail))


def finish(
    raw: str, situation: Situation, stops: Sequence[str], markers: Sequence[str], finish_reason: str
) -> Suggestion | None:
    """All the rules, in order; None when nothing worth showing is left."""
    # U+FFFD: generation stopped inside a multi-byte character, or the model wrote broken bytes.
    text = cut_at(raw, [*markers, *stops, "\ufffd"])
    if finish_reason == "time":
        text = last_full_line(text)
    if not situation.multiline:
        text = first_line(text)
    text = cut_scope(text, situation.scope_indent)
    text = cut_repeated_lines(text, situation)
    text = cut_unbalanced(text, situation.open_brackets).rstrip()
    suggestion = merge_right(text, situation.right)
    if (
        len(suggestion.text) < MIN_CHARS
        or not suggestion.text.strip()
        or suggestion.text.strip() == situation.right.strip()
    ):
        return None
    return suggestion


def confident_part(
    suggestion: Suggestion, logprobs: Sequence[float], ends: Sequence[int], min_prob: float
) -> Suggestion | None:
    """The suggestion as far as the model was sure of it, in whole lines.

    None when the model gave its first token less than `min_prob`: a user can take nothing from
    a suggestion whose start is wrong. Otherwise the first line stays whole (accept-word takes
    its right start; a line cut in the middle would be broken code), and the suggestion ends
    before the first later line that holds a token under `min_prob`. `ends[i]` is the length of
    the raw text once token i was decoded; every rule of `finish` keeps a beginning of the raw
    text, so those lengths apply to the suggestion.
    """
    if min_prob <= 0 or not logprobs:
        return suggestion
    if not sure_at(logprobs, ends, 0, min_prob):
        return None
    floor = math.log(min_prob)
    text = suggestion.text
    first_break = text.find("\n")
    if first_break < 0:
        return suggestion
    for logprob, end in zip(logprobs, ends, strict=False):
        if end > len(text):
            break
        if logprob < floor and end > first_break:
            # The line that holds the token's last character goes, with all after it.
            return Suggestion(text[: text.rfind("\n", 0, end)].rstrip(), 0)
    return suggestion


def sure_at(logprobs: Sequence[float], ends: Sequence[int], offset: int, min_prob: float) -> bool:
    """Whether the model gave at least `min_prob` to the token that holds character `offset`
    of its text (the start of a suggestion, or of its rest once the user typed part of it)."""
    token = next((i for i, end in enumerate(ends) if end > offset), None)
    return min_prob <= 0 or token is None or logprobs[token] >= math.log(min_prob)
