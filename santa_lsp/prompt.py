"""From a cursor in a document to the prefix and suffix texts of a fill-in-the-middle prompt.

The prefix text is the cross-file context followed by the prefix window; the engine lays the
two texts out in model.fim's order, whose budget and suffix share are the ones used here, so it
never has to cut a prompt built here. In the default SPM order the suffix does not change while
the user types on one line, and the cross-file context and the prefix window's start only change
when the window is re-placed, so consecutive prompts share all but their last tokens.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from model import fim
from santa_lsp import crossfile
from santa_lsp.situation import Situation, situation
from santa_lsp.window import Cursor, TokenCounter, prefix_window, suffix_window
from santa_lsp.workspace import OpenDocument

# Per-line token counts are an upper bound of the real length; this covers the rare opposite.
MARGIN = 8


@dataclass(frozen=True)
class Prompt:
    prefix: str  # the cross-file context, then the prefix window
    suffix: str
    situation: Situation
    prefix_tokens: int
    suffix_tokens: int
    context_tokens: int
    context: str = ""  # the cross-file context alone (llama.cpp takes it apart: santa_lsp/remote.py)

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
    ) -> Prompt:
        doc, window = entry.doc, entry.window
        budget = self.budget(max_new_tokens)
        suffix, suffix_tokens = suffix_window(doc.lines, cursor, fim.suffix_budget(budget), self.count)
        room = budget - suffix_tokens
        prefix, prefix_tokens, anchor = prefix_window(
            doc.lines, cursor, room - window.context_tokens, window.anchor, self.count
        )
        if anchor != window.anchor:
            # The window moves: the one moment the cross-file context may change as well.
            window.context, window.context_tokens = self._context(entry, cursor, others, min(cross_tokens, room // 4))
            prefix, prefix_tokens, anchor = prefix_window(
                doc.lines, cursor, room - window.context_tokens, None, self.count
            )
            window.anchor = anchor
        return Prompt(
            window.context + prefix,
            suffix,
            situation(doc, cursor),
            prefix_tokens,
            suffix_tokens,
            window.context_tokens,
            window.context,
        )

    def _context(
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
