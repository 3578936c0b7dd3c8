"""Warm-up (`santa/prefill`): the prompt where the user is about to type is prefilled in idle
time, so the first request there reuses it; and it never delays a request."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from santa_lsp.completer import Completer
from santa_lsp.documents import Document
from santa_lsp.model_host import ModelHost
from santa_lsp.rpc import PREFILL
from santa_lsp.settings import Settings
from santa_lsp.window import Cursor
from santa_lsp.worker import Worker
from santa_lsp.workspace import Workspace
from tests.lsp_support import OPTIONS, URI, RawServer, inline, insert, metrics, open_doc, start

CODE = "import os\n\n\ndef walk(top):\n    for root, dirs, files in os.walk(top):\n        \n    return top\n"
CURSOR = (5, 8)  # the empty loop body
OTHER = "file:///work/other.py"


def prefill(client: LanguageClient, line: int, character: int) -> None:
    params = types.TextDocumentPositionParams(types.TextDocumentIdentifier(URI), types.Position(line, character))
    client.protocol.notify(PREFILL, params)


async def warm_ups(client: LanguageClient, expected: int) -> int:
    """santa/metrics' warmUps once it reaches `expected`, or after a few seconds of waiting."""
    for _ in range(100):
        count = (await metrics(client))["warmUps"]
        if count >= expected:
            break
        await asyncio.sleep(0.05)
    return count


@pytest.mark.asyncio
@pytest.mark.parametrize("warm_up", [True, False])
async def test_the_first_request_after_a_prefill_reuses_its_prompt(
    client: LanguageClient, tiny_model: Path, warm_up: bool
) -> None:
    await start(client, tiny_model, warmUp=warm_up)
    open_doc(client, CODE)
    prefill(client, *CURSOR)
    assert await warm_ups(client, 1) == int(warm_up)
    line, column = CURSOR
    insert(client, line, column, "f", 2)  # the user starts typing where the cursor was put
    await inline(client, line, column + 1)
    figures = await metrics(client)
    assert figures["modelCalls"] == 1
    if warm_up:  # all of the prompt but the few tokens around the typed character
        assert figures["reusedTokens"] >= figures["promptTokens"] - 4
    else:
        assert figures["reusedTokens"] == 0


@pytest.mark.asyncio
async def test_bad_prefills_are_ignored(tiny_model: Path) -> None:
    server = await RawServer.start("--model", str(tiny_model))
    try:
        await server.initialize(OPTIONS)
        item = {"uri": URI, "languageId": "python", "version": 1, "text": CODE}
        server.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": item}})
        document = {"uri": URI}
        for params in [
            None,
            {"textDocument": document},
            {"textDocument": document, "position": {"line": "x", "character": 0}},
            {"textDocument": document, "position": {"line": 99, "character": 0}},
            {"textDocument": {"uri": "file:///never/opened.py"}, "position": {"line": 0, "character": 0}},
        ]:
            server.send({"jsonrpc": "2.0", "method": PREFILL, "params": params})
        # A notification sent as a request is refused, as LSP's own are.
        server.send({"jsonrpc": "2.0", "id": 7, "method": PREFILL, "params": {"textDocument": document}})
        assert (await server.response(7))["error"]["code"] == types.ErrorCodes.InvalidRequest
        position = {"line": CURSOR[0], "character": CURSOR[1]}
        server.send({"jsonrpc": "2.0", "id": 8, "method": "textDocument/inlineCompletion",
                     "params": {"textDocument": document, "position": position,
                                "context": {"triggerKind": 2}}})  # fmt: skip
        assert "result" in await server.response(8, timeout=60)
    finally:
        await server.close()


# --- never in a request's way: the completer with the worker held by a job of the test's -------


async def _completer(model_dir: Path) -> tuple[Completer, Workspace, Settings]:
    settings = Settings(model=str(model_dir)).update(OPTIONS)[0]
    worker = Worker()
    host = ModelHost(worker, lambda state: None)
    await host.load(settings)
    assert host.ready
    workspace = Workspace()
    for uri in (URI, OTHER):
        workspace.open(Document.from_text(uri, "python", 1, CODE, "utf-16"))
    return Completer(host, worker), workspace, settings


@pytest.mark.asyncio
@pytest.mark.parametrize("first", ["warm-up", "request"])
async def test_a_warm_up_never_runs_before_or_beside_a_request(tiny_model: Path, first: str) -> None:
    """With the worker busy, a warm-up queued first is cancelled by the request that follows it,
    and one asked while a request is in flight is not started at all, whatever their documents."""
    completer, workspace, settings = await _completer(tiny_model)
    entry, other, cursor = workspace.get(URI), workspace.get(OTHER), Cursor(*CURSOR)
    assert entry is not None and other is not None
    held = threading.Event()
    holding = asyncio.ensure_future(completer.worker.run(held.wait))

    def warming() -> asyncio.Future[None]:
        return asyncio.ensure_future(completer.warm(other, cursor, settings, workspace))

    def requesting() -> asyncio.Future[object]:
        return asyncio.ensure_future(completer.complete(entry, cursor, settings, workspace))

    tasks = [warming(), requesting()] if first == "warm-up" else [requesting(), warming()]
    for _ in range(3):
        await asyncio.sleep(0)  # each has reached the worker's queue, or decided not to
    held.set()
    await asyncio.gather(holding, *tasks)
    assert completer.metrics.warmUps == 0
    assert completer.metrics.modelCalls == 1
    completer.worker.close()
