"""The language server: LSP messages in, suggestions out (docs/protocol.md is the contract)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import sys
import time
from collections.abc import Coroutine
from typing import Any, BinaryIO

from lsprotocol import types
from pygls.capabilities import ServerCapabilitiesBuilder
from pygls.exceptions import FeatureRequestError, JsonRpcException, JsonRpcInvalidParams
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer

import santa_lsp
from santa_lsp import rpc
from santa_lsp.completer import Completer
from santa_lsp.documents import Document, PositionError, strip_end, to_units
from santa_lsp.model_host import ModelHost, State
from santa_lsp.postprocess import Suggestion
from santa_lsp.rpc import COPIED, PREFILL, CopiedParams, SantaProtocol
from santa_lsp.settings import Settings
from santa_lsp.stats import Stats
from santa_lsp.syntax import is_word_char
from santa_lsp.window import Cursor
from santa_lsp.worker import Worker
from santa_lsp.workspace import OpenDocument, Workspace

log = logging.getLogger(__name__)

ACCEPTED = "santa-lsp.accepted"
STATUS = "santa/status"
PROGRESS_CREATE_TIMEOUT_S = 2.0


class SantaServer(LanguageServer):
    protocol: SantaProtocol

    def __init__(self, settings: Settings) -> None:
        super().__init__("santa-lsp", santa_lsp.__version__, protocol_cls=SantaProtocol)
        self.settings = settings
        self.documents = Workspace()  # each open document's text and all the server keeps for it
        self.encoding = "utf-16"
        self.worker = Worker()
        self.host = ModelHost(self.worker, self._on_state)
        self.completer = Completer(self.host, self.worker)
        self.stats: Stats | None = None
        self._item_ids = itertools.count(1)
        self._loads = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    # --- documents ---------------------------------------------------------------------------

    def open_document(self, item: types.TextDocumentItem) -> None:
        self.documents.open(Document.from_text(item.uri, item.language_id, item.version, item.text, self.encoding))

    def change_document(self, params: types.DidChangeTextDocumentParams) -> None:
        entry = self.documents.get(params.text_document.uri)
        if entry is None:
            log.warning("didChange for %s, which was never opened: ignored", params.text_document.uri)
            return
        doc, ahead = entry.doc, entry.ahead
        doc.version = params.text_document.version
        at_place = ahead is not None  # every change made where the generation ahead was asked
        for change in params.content_changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                start, end = (
                    (change.range.start.line, change.range.start.character),
                    (change.range.end.line, change.range.end.character),
                )
                at_place = at_place and ahead is not None and ahead.holds(doc, start, end)
                try:
                    edit = doc.edit(start, end, change.text)
                except PositionError as exc:
                    log.warning("didChange for %s: %s; the change is ignored", doc.uri, exc)
                    continue
                self.documents.recent.edited(doc.uri, doc.lines, edit)
            else:
                at_place = False
                doc.replace_all(change.text)
                self.documents.recent.forget(doc.uri)
        if ahead is not None and at_place and ahead.agrees(ahead.typed(doc)):
            ahead.kept = ahead.kept or not ahead.job.done  # spared (the user types what it writes)
        else:
            entry.cancel()  # the text it was working on is gone

    def close_document(self, uri: str) -> None:
        self.documents.close(uri)

    # --- model state -------------------------------------------------------------------------

    def _on_state(self, state: State) -> None:
        # The reason goes first: a client that reacts to the "error" status has it already.
        if state.state == "error":
            self.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Error, message=f"santa-lsp: {state.message}")
            )
        self.protocol.notify(STATUS, {"state": state.state, "message": state.message})

    def start_loading(self) -> None:
        task = asyncio.ensure_future(self._load_with_progress())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _load_with_progress(self) -> None:
        self.documents.reset()  # nothing worked out with the old model carries over to the new one
        load = asyncio.ensure_future(self.host.load(self.settings))
        token = f"santa-lsp/load/{next(self._loads)}"
        reporting = await self._begin_progress(token, f"Loading {self.settings.model or 'the shipped model'}")
        await load
        if reporting:
            self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=self.host.state.message))

    async def _begin_progress(self, token: str, title: str) -> bool:
        window = self.client_capabilities.window
        if not (window and window.work_done_progress):
            return False
        try:
            await asyncio.wait_for(self.work_done_progress.create_async(token), PROGRESS_CREATE_TIMEOUT_S)
        except (TimeoutError, JsonRpcException) as exc:
            log.info("the client did not create progress %s (%r): no $/progress", token, exc)
            return False
        self.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, cancellable=False))
        return True

    def apply_settings(self, raw: object, initial: bool = False) -> None:
        """Take the client's settings; a new model loads at once, except at `initialize`
        (the load starts at `initialized`, when the client may receive progress)."""
        new, problems = self.settings.update(raw)
        if problems:
            self.warn("settings: " + "; ".join(problems))
        reload = new.model_changed(self.settings) and not initial
        if new.stats and self.stats is None:
            self.stats = Stats.load()
        self.settings = new
        if reload:
            self.start_loading()

    def warn(self, message: str) -> None:
        """Something the user should fix (a bad setting): in the editor, and in the log."""
        log.warning(message)
        self.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Warning, message=f"santa-lsp: {message}")
        )

    # --- completion --------------------------------------------------------------------------

    def locate(self, uri: str, position: types.Position) -> tuple[OpenDocument, Cursor] | None:
        """The document and cursor of a request; None (logged) for an unknown document."""
        entry = self.documents.get(uri)
        if entry is None:
            log.warning("completion asked for %s, which is not open: empty result", uri)
            return None
        try:
            line, column = entry.doc.index(position.line, position.character)
        except PositionError as exc:  # logged where the refusal is answered (santa_lsp/rpc.py)
            raise JsonRpcInvalidParams(message=f"position outside the document: {exc}") from None
        return entry, Cursor(line, column)

    def completing(self, uri: str, position: types.Position) -> tuple[OpenDocument, Cursor] | None:
        """The document and cursor of a request, if completion is on for that document."""
        located = self.locate(uri, position)
        if located is None or not self.settings.enabled:
            return None
        if located[0].doc.language_id in self.settings.disabledLanguages:
            return None
        return located

    async def suggest(self, uri: str, position: types.Position) -> list[tuple[Suggestion, types.Range]]:
        """The suggestions at a position, best first, each with the range it replaces."""
        located = self.completing(uri, position)
        if located is None:
            return []
        entry, cursor = located
        doc = entry.doc
        # The line as the request saw it: edits made while the model works may shorten the document.
        line = strip_end(doc.lines[cursor.line])
        start = types.Position(cursor.line, to_units(line, cursor.column, doc.encoding))
        suggestions = await self.completer.complete(entry, cursor, self.settings, self.documents)

        def span(suggestion: Suggestion) -> types.Range:
            end = to_units(line, cursor.column + suggestion.replace, doc.encoding)
            return types.Range(start, types.Position(cursor.line, end))

        return [(suggestion, span(suggestion)) for suggestion in suggestions]

    async def prefill(self, params: types.TextDocumentPositionParams) -> None:
        """`santa/prefill`: prepare the prompt at the position in idle time (setting `warmUp`)."""
        if not self.settings.warmUp:
            return
        try:
            located = self.completing(params.text_document.uri, params.position)
        except JsonRpcInvalidParams as exc:  # a notification has no one to refuse to
            log.warning("%s: %s; ignored", PREFILL, exc.message)
            return
        if located is not None:
            await self.completer.warm(*located, self.settings, self.documents)

    def copied(self, params: CopiedParams) -> None:
        """`santa/copied`: text the user copied joins the ring of recent edits (setting `recentEdits`)."""
        if not self.settings.recentEdits:
            return
        if self.documents.recent.copied(params.text):
            self.completer.metrics.copiedTexts += 1
        else:
            log.debug(
                "%s: %d characters not taken (too few or too many, or the newest entry)", COPIED, len(params.text)
            )

    def word_before(self, uri: str, position: types.Position) -> tuple[str, types.Position]:
        """The identifier that ends at `position` (a request already found the document) and
        where it starts."""
        entry = self.documents.get(uri)
        if entry is None:  # closed while the suggestion was being made
            return "", position
        doc = entry.doc
        try:  # edited while it was being made: the position may no longer exist
            column = doc.index(position.line, position.character)[1]
        except PositionError:
            return "", position
        line = strip_end(doc.lines[position.line])
        start = column
        while start > 0 and is_word_char(line[start - 1]):
            start -= 1
        return line[start:column], types.Position(position.line, to_units(line, start, doc.encoding))

    def completion_item(
        self, uri: str, suggestion: Suggestion, span: types.Range, command: types.Command, rank: int
    ) -> types.CompletionItem:
        """A `textDocument/completion` item: it replaces the word being typed, as the editor's own
        items do (the editor filters the list by that word, and accepting the item leaves it
        written once)."""
        word, start = self.word_before(uri, span.start)
        text = word + suggestion.text
        return types.CompletionItem(
            label=text.strip().split("\n", 1)[0][:80],
            kind=types.CompletionItemKind.Snippet,
            detail="santa-lsp",
            documentation=suggestion.text,
            text_edit=types.TextEdit(range=types.Range(start, span.end), new_text=text),
            insert_text_format=types.InsertTextFormat.PlainText,
            sort_text=str(rank),  # the model's order: best first
            filter_text=text,
            command=command,
        )

    def accept_commands(self, suggestions: list[Suggestion], latency_ms: float) -> list[types.Command]:
        """The accept command of each item of a request: one id each, so the statistics know
        which candidate was taken; the request counts as one suggestion shown."""
        item_ids = [str(next(self._item_ids)) for _ in suggestions]
        if self.stats is not None and self.settings.stats and item_ids:
            places = [suggestion.candidate for suggestion in suggestions]
            self.stats.record_shown(list(zip(item_ids, places, strict=True)), latency_ms)
        return [types.Command(title="Accept", command=ACCEPTED, arguments=[item_id]) for item_id in item_ids]

    def report_server_error(self, error: Exception, source: Any) -> None:
        if source is not FeatureRequestError:  # a request's error already went back to it
            log.error("server error (%s): %s", getattr(source, "__name__", source), error)

    # --- transport: santa_lsp/rpc.py reads the stream, where pygls' own reader loses its place -----------

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        self._serve(rpc.serve_stdio(self.protocol, stdin or sys.stdin.buffer))

    def start_tcp(self, host: str, port: int) -> None:
        self._serve(rpc.serve_tcp(self.protocol, host, port))

    def _serve(self, loop: Coroutine[Any, Any, None]) -> None:
        try:
            asyncio.run(loop)
        except BrokenPipeError:
            log.error("the client is gone: stopping")
        except KeyboardInterrupt:
            pass
        finally:
            self.shutdown()

    @property
    def exit_code(self) -> int:
        """What the process ends with: 1 after `exit` without `shutdown` (LSP), else 0."""
        return self.protocol.exit_code or 0

    def shutdown(self) -> None:
        self.documents.cancel_all()
        if self.stats is not None:
            self.stats.save()
        self.worker.close()
        super().shutdown()


def create_server(settings: Settings) -> SantaServer:
    server = SantaServer(settings)
    _register(server)
    return server


def _register(server: SantaServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: SantaServer, params: types.InitializeParams) -> None:
        ls.encoding = str(ServerCapabilitiesBuilder.choose_position_encoding(params.capabilities))
        ls.apply_settings(params.initialization_options, initial=True)

    @server.feature(types.INITIALIZED)
    def initialized(ls: SantaServer, params: types.InitializedParams) -> None:
        ls.start_loading()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(ls: SantaServer, params: types.DidChangeConfigurationParams) -> None:
        ls.apply_settings(params.settings)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: SantaServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList | None:
        started = time.perf_counter()
        found = await ls.suggest(params.text_document.uri, params.position)
        commands = ls.accept_commands([suggestion for suggestion, _ in found], (time.perf_counter() - started) * 1000)
        items = [
            types.InlineCompletionItem(insert_text=suggestion.text, range=span, command=command)
            for (suggestion, span), command in zip(found, commands, strict=True)
        ]
        return types.InlineCompletionList(items=items)

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions())
    async def completion(ls: SantaServer, params: types.CompletionParams) -> types.CompletionList:
        started = time.perf_counter()
        found = await ls.suggest(params.text_document.uri, params.position)
        commands = ls.accept_commands([suggestion for suggestion, _ in found], (time.perf_counter() - started) * 1000)
        # Incomplete: typing on re-asks, so the items follow the text.
        items = [
            ls.completion_item(params.text_document.uri, suggestion, span, command, rank)
            for rank, ((suggestion, span), command) in enumerate(zip(found, commands, strict=True))
        ]
        return types.CompletionList(is_incomplete=True, items=items)

    @server.feature(PREFILL)
    async def prefill(ls: SantaServer, params: types.TextDocumentPositionParams) -> None:
        await ls.prefill(params)

    @server.feature(COPIED)
    def copied(ls: SantaServer, params: CopiedParams) -> None:
        ls.copied(params)

    @server.command(ACCEPTED)
    def accepted(ls: SantaServer, item_id: str) -> bool:
        return ls.stats is not None and ls.settings.stats and ls.stats.record_accepted(item_id)

    @server.feature("santa/stats")
    def stats(ls: SantaServer, params: Any) -> dict[str, Any]:
        return (ls.stats or Stats.load()).summary()

    @server.feature("santa/metrics")
    def metrics(ls: SantaServer, params: Any) -> dict[str, Any]:
        return {**ls.completer.metrics.as_dict(), "state": ls.host.state.state}

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: SantaServer, params: Any) -> None:
        ls.documents.cancel_all()
        if ls.stats is not None:
            ls.stats.save()
