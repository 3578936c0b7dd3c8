"""Context from the other open files: the chunks most like the code around the cursor.

Each open document of the same language is cut into chunks of lines; a chunk's similarity to
the cursor's surroundings is the Jaccard index of their identifier sets. The best chunks fill a
fixed token budget and go at the very start of the prompt, where they are chosen once per
window placement, so they do not disturb the prefix cache while the user types.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

CHUNK_LINES = 16
MIN_SIMILARITY = 0.05
QUERY_LINES = 32  # the lines above the cursor that the chunks are compared with
MAX_LINES = 20_000  # of one other file: enough for real sources, bounded for generated ones
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")


def identifiers(text: str) -> frozenset[str]:
    return frozenset(_IDENTIFIER.findall(text))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


@dataclass(frozen=True)
class Chunk:
    text: str
    names: frozenset[str]


def chunk_text(lines: Sequence[str]) -> str:
    """Lines as one chunk of context, as the prompt holds it: ending with a line end, so the
    next chunk (or the file's own prefix) starts on a line of its own. Every chunk of context
    before the prefix window is written by this function: cross-file chunks and recently edited
    regions (santa_lsp/recent.py)."""
    text = "".join(lines)
    return text if text.endswith("\n") else text + "\n"


def chunks(lines: Sequence[str]) -> list[Chunk]:
    """A document cut into chunks of lines (its record keeps them until its text changes)."""
    found = []
    for start in range(0, min(len(lines), MAX_LINES), CHUNK_LINES):
        text = chunk_text(lines[start : start + CHUNK_LINES])
        if text.strip():
            found.append(Chunk(text, identifiers(text)))
    return found


def pick(query: str, chunks: Iterable[Chunk], budget: int, count: Callable[[str], int]) -> tuple[str, int]:
    """The most similar chunks that fit `budget` tokens, most similar last (nearest the code)."""
    names = identifiers(query)
    scored = sorted(
        ((jaccard(names, chunk.names), chunk) for chunk in chunks),
        key=lambda pair: pair[0],
        reverse=True,
    )
    similar = (chunk.text for score, chunk in scored if score >= MIN_SIMILARITY)
    chosen, used = fit(similar, budget, count)
    return "".join(reversed(chosen)), used


def fit(texts: Iterable[str], budget: int, count: Callable[[str], int]) -> tuple[list[str], int]:
    """The texts, in their order, that fit `budget` tokens together (one too long is passed over,
    a shorter one after it may still fit), and the tokens they take."""
    chosen: list[str] = []
    used = 0
    for text in texts:
        cost = count(text)
        if used + cost <= budget:
            chosen.append(text)
            used += cost
    return chosen, used
