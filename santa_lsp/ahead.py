"""Generations that run ahead of the request that takes their suggestions.

Two kinds, one record: a generation kept alive while the user types what it is writing
(setting `keepAgreeing`), and one started in idle time at the place the suggestion just shown
leaves the cursor once accepted, or at the start of the next line once Enter is pressed at
the end of a line with nothing to suggest (setting `prefetchNext`). Each belongs to a place in its
document: the line and the text left and right of the cursor when it was asked. It lives on
while the document differs from that place only by text typed at the cursor that agrees with
what it has written, or may yet write (nothing it wrote disagrees); any other edit cancels it. A
request at a place that agrees waits for it and answers from its suggestions as the typed-ahead
cache would (santa_lsp/typed_ahead.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from santa_lsp.documents import Document, PositionError, strip_end, to_units
from santa_lsp.postprocess import Suggestion
from santa_lsp.typed_ahead import Shown
from santa_lsp.window import Cursor
from santa_lsp.worker import Job


@dataclass
class Ahead:
    job: Job
    line: int
    left: str
    right: str
    # What is to be typed at the place before the generation's own text: for a prefetch, the
    # suggestion it follows (accepted, or typed through), or a newline and the editor's
    # indentation; for a kept-alive generation, nothing.
    given: str
    line_count: int  # the document's lines at the place: lines typed since are told from it
    suggestions: asyncio.Future[list[Shown]]  # the generation's, once it is done
    kept: bool = False  # an edit or a request that would have cancelled it let it live

    @property
    def prefetched(self) -> bool:
        return bool(self.given)

    @property
    def beyond_cache(self) -> bool:
        """Whether it gives what the typed-ahead cache alone does not: it is still running, ran on
        past what would have cancelled it, or was made ahead of an accept."""
        return self.prefetched or self.kept or not self.job.done

    def typed(self, doc: Document) -> str | None:
        """The text typed at the place since it was asked; None if the document around it is
        no longer the place's (text left or right of the cursor changed)."""
        last = self._last_line(doc)
        if last is None:
            return None
        region = "\n".join(strip_end(line) for line in doc.lines[self.line : last + 1])
        if len(region) < len(self.left) + len(self.right):
            return None
        if not (region.startswith(self.left) and region.endswith(self.right)):
            return None
        return region[len(self.left) : len(region) - len(self.right)]

    def agrees(self, typed: str | None) -> bool:
        """Whether `typed` is the beginning of the given text and what the generation wrote, or
        may yet be (nothing it wrote disagrees)."""
        if typed is None or self.job.cancelled:
            return False
        written = self.given + self.job.text
        return written.startswith(typed) or (not self.job.done and typed.startswith(written))

    def answers(self, doc: Document, cursor: Cursor) -> bool:
        """Whether a request at the cursor is where this generation's suggestions are for: at
        the end of what was typed, which agrees with them and holds all of the given text."""
        typed = self.typed(doc)
        if typed is None or len(typed) < len(self.given):
            return False
        return cursor == end_of(Cursor(self.line, len(self.left)), typed) and self.agrees(typed)

    def holds(self, doc: Document, start: tuple[int, int], end: tuple[int, int]) -> bool:
        """Whether an edit of the range between two LSP positions, made to `doc` as it is now,
        only touches the text typed at the place (not the text left or right of it)."""
        last = self._last_line(doc)
        if last is None:
            return False
        try:
            first, last_column = doc.index(*start), len(strip_end(doc.lines[last])) - len(self.right)
            return (self.line, len(self.left)) <= first and doc.index(*end) <= (last, last_column)
        except PositionError:
            return False

    def _last_line(self, doc: Document) -> int | None:
        """The line of the document where the text typed at the place ends (None: not a line)."""
        last = self.line + len(doc.lines) - self.line_count
        return last if self.line <= last < len(doc.lines) else None


def accepted(doc: Document, cursor: Cursor, suggestion: Suggestion) -> tuple[Document, Cursor]:
    """The document with the suggestion accepted at the cursor, and where the cursor is then."""
    after = Document(doc.uri, doc.language_id, doc.version, list(doc.lines), doc.encoding)
    line = strip_end(doc.lines[cursor.line])
    start = to_units(line, cursor.column, doc.encoding)
    end = to_units(line, cursor.column + suggestion.replace, doc.encoding)
    after.edit((cursor.line, start), (cursor.line, end), suggestion.text)
    return after, end_of(cursor, suggestion.text)


def end_of(cursor: Cursor, text: str) -> Cursor:
    """Where the cursor is once `text` is written at it."""
    if "\n" not in text:
        return Cursor(cursor.line, cursor.column + len(text))
    return Cursor(cursor.line + text.count("\n"), len(text) - text.rfind("\n") - 1)
