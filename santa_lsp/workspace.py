"""The open documents, and everything the server keeps for each of them, in one place.

The workspace also keeps the ring of regions the user edited recently, in any document
(santa_lsp/recent.py), which the documents' edits feed.

A document's record holds its text and what follows from it: the generation running for it (on the
local runtime or an inference server), the
suggestions last shown (the typed-ahead cache), where its prompt window starts with the cross-file
context chosen then, and its own chunks for the prompts of other documents. `didClose` drops the
record; a new model resets all of it but the text (the window and the context were counted in the
old tokenizer's tokens, the suggestions were the old model's).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from santa_lsp import crossfile
from santa_lsp.ahead import Ahead
from santa_lsp.documents import Document
from santa_lsp.recent import RecentEdits
from santa_lsp.remote import RemoteJob
from santa_lsp.typed_ahead import Shown
from santa_lsp.worker import Job


@dataclass
class PromptWindow:
    """Where the prefix window of the last completion started, kept while the user types so the
    start of the prompt, and the model's prefix cache, stay put (window.py); and the context
    chosen when it was placed (cross-file chunks, then recently edited regions), with its length
    in tokens and the version of the ring of recent edits it was chosen from (None: none were)."""

    anchor: int | None = None
    context: str = ""
    context_tokens: int = 0
    recent_version: int | None = None
    recent_tokens: int = 0  # of context_tokens, those of the recent edits


@dataclass
class OpenDocument:
    doc: Document
    job: Job | RemoteJob | None = None  # the generation running for it, local or remote: latest wins
    # The local generation whose suggestions a later request may take (santa_lsp/ahead.py): that
    # request's place agrees with it, so latest-wins spares it.
    ahead: Ahead | None = None
    shown: list[Shown] = field(default_factory=list)  # the candidates last shown, best first
    window: PromptWindow = field(default_factory=PromptWindow)
    _chunks: tuple[int, list[crossfile.Chunk]] | None = None  # at a version of the text

    @property
    def uri(self) -> str:
        return self.doc.uri

    def chunks(self) -> list[crossfile.Chunk]:
        """This document cut into chunks for other documents' prompts, recut when its text changes."""
        if self._chunks is None or self._chunks[0] != self.doc.version:
            self._chunks = (self.doc.version, crossfile.chunks(self.doc.lines))
        return self._chunks[1]

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.job = None
        if self.ahead is not None:
            self.ahead.job.cancel()
            self.ahead = None

    def reset(self) -> None:
        """Keep the text only: what a new model must not inherit."""
        self.cancel()
        self.shown = []
        self.window = PromptWindow()
        self._chunks = None


class Workspace:
    def __init__(self) -> None:
        self._open: dict[str, OpenDocument] = {}
        self.recent = RecentEdits()  # fed by the server's didChange, read by the prompt builder

    def open(self, doc: Document) -> OpenDocument:
        self.close(doc.uri)  # opened again: nothing of the old text carries over
        entry = self._open[doc.uri] = OpenDocument(doc)
        return entry

    def close(self, uri: str) -> None:
        closed = self._open.pop(uri, None)
        if closed is not None:
            closed.cancel()
        self.recent.forget(uri)

    def get(self, uri: str) -> OpenDocument | None:
        return self._open.get(uri)

    def reset(self) -> None:
        for entry in self._open.values():
            entry.reset()

    def cancel_all(self) -> None:
        for entry in self._open.values():
            entry.cancel()

    def __iter__(self) -> Iterator[OpenDocument]:
        return iter(list(self._open.values()))
