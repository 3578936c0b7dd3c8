"""From a cursor in a document to the prefix and suffix texts of a fill-in-the-middle prompt.

The prefix text is the context (cross-file chunks, then the regions the user edited recently
elsewhere) followed by the prefix window; the engine lays the two texts out in model.fim's order,
whose budget and suffix share are the ones used here, so it never has to cut a prompt built here.
In the default SPM order the suffix does not change while the user types on one line, and the
context and the prefix window's start only change when the window is re-placed (it no longer
fits, or the user went on to edit elsewhere), so consecutive prompts share all but their last tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from model import fim
from santa_lsp import crossfile
from santa_lsp.documents import Document
from santa_lsp.recent import RecentEdits
from santa_lsp.situation import Situation, situation
from santa_lsp.window import Cursor, TokenCounter, prefix_window, suffix_window
from santa_lsp.workspace import OpenDocument

log = logging.getLogger(__name__)

# Per-line token counts are an upper bound of the real length; this covers the rare opposite.
MARGIN = 8


@dataclass(frozen=True)
class Prompt:
    prefix: str  # the context, then the prefix window
    suffix: str
    situation: Situation
    prefix_tokens: int
    suffix_tokens: int
    context_tokens: int
    context: str = ""  # the context alone (llama.cpp takes it apart: santa_lsp/remote.py)
    recent_tokens: int = 0  # of the context, those of recently edited regions

    @property
    def window(self) -> str:
        """The prefix window alone."""
        return self.prefix[len(self.context) :]


class PromptBuilder:
    """Windows for one engine (its tokenizer and context); each document's window is kept in its
    record (santa_lsp/workspace.py)."""

    def __init__(self, count: TokenCounter, context_length: int) -> None:
        self.count = count
        self.context_length = context_length

    def budget(self, max_new_tokens: int) -> int:
        return fim.prompt_budget(self.context_length, max_new_tokens) - MARGIN

    def build(
        self,
        entry: OpenDocument,
        cursor: Cursor,
        max_new_tokens: int,
        others: Iterable[OpenDocument],
        cross_tokens: int,
        recent: RecentEdits | None = None,
        recent_tokens: int = 0,
    ) -> Prompt:
        """`recent` and `recent_tokens`: the ring of recent edits and its budget (None, 0: off)."""
        doc, window = entry.doc, entry.window
        budget = self.budget(max_new_tokens)
        suffix, suffix_tokens = suffix_window(doc.lines, cursor, fim.suffix_budget(budget), self.count)
        room = budget - suffix_tokens
        prefix, prefix_tokens, anchor = prefix_window(
            doc.lines, cursor, room - window.context_tokens, window.anchor, self.count
        )
        ring_version = recent.version if recent is not None and recent_tokens > 0 else None
        if anchor != window.anchor or ring_version != window.recent_version:
            # The window moves, or the user went on to edit elsewhere: the one moment the context
            # may change as well.
            cross, cross_used = self._cross_file(entry, cursor, others, min(cross_tokens, room // 4))
            room -= cross_used
            edits, edits_used, start = "", 0, None
            if recent is not None and recent_tokens > 0:
                edits, edits_used, start = self._recent(
                    recent, doc, cursor, suffix, room, min(recent_tokens, room // 4)
                )
            prefix, prefix_tokens, anchor = prefix_window(doc.lines, cursor, room - edits_used, start, self.count)
            if edits:  # the user's code, as DEBUG logs every message anyway
                log.debug("recent edits in the prompt of %s (%d tokens): %r", doc.uri, edits_used, edits)
            window.context, window.context_tokens = cross + edits, cross_used + edits_used
            window.anchor, window.recent_version, window.recent_tokens = anchor, ring_version, edits_used
        return Prompt(
            window.context + prefix,
            suffix,
            situation(doc, cursor),
            prefix_tokens,
            suffix_tokens,
            window.context_tokens,
            window.context,
            window.recent_tokens,
        )

    def _recent(
        self, recent: RecentEdits, doc: Document, cursor: Cursor, suffix: str, room: int, budget: int
    ) -> tuple[str, int, int]:
        """The recently edited regions for a window placed now, their tokens, and where that
        window starts: the regions are those of lines it does not show.

        Which those are depends on where the window starts, which depends on what the regions
        take: the window is placed as if they took all of `budget` and the regions are chosen
        outside it; the window is placed again with what they took, reaching higher when that
        was less, and the regions chosen again outside it, within what the first took, so that
        this window still fits beside them."""
        last_line = cursor.line + suffix.count("\n")
        edits, used, start = "", budget, cursor.line
        for _ in range(2):
            start = prefix_window(doc.lines, cursor, room - used, None, self.count)[2]
            edits, used = recent.context(doc.uri, doc.lines, start, last_line, used, self.count)
        return edits, used, start

    def _cross_file(
        self, entry: OpenDocument, cursor: Cursor, others: Iterable[OpenDocument], budget: int
    ) -> tuple[str, int]:
        if budget <= 0:
            return "", 0
        doc = entry.doc
        query = "".join(doc.lines[max(0, cursor.line - crossfile.QUERY_LINES) : cursor.line + 1])
        chunks = [
            chunk
            for other in others
            if other.uri != doc.uri and other.doc.language_id == doc.language_id
            for chunk in other.chunks()
        ]
        return crossfile.pick(query, chunks, budget, self.count)
