"""Latency features with a model slow enough to watch: $/cancelRequest, latest wins, a server
that answers while it generates, and the per-request time budget."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests import test_lsp_support as support
from tests.test_lsp_support import URI, inline, insert, metrics, open_doc, start

client, slow_model = support.client, support.slow_model  # the shared fixtures

# A blank top-level line: the block it starts has no end (no line can be indented less than
# column 0), so the slow model's random text runs to the token limit rather than stopping early.
CODE = "import os\n\n"
LONG = 400  # tokens: seconds of work for the slow model


def request(client: LanguageClient, msg_id: str, line: int = 1, character: int = 0) -> asyncio.Future:
    params = types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
        text_document=types.TextDocumentIdentifier(URI),
        position=types.Position(line, character),
    )
    future = client.protocol.send_request(types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=msg_id)
    return asyncio.wrap_future(future)


async def settle(client: LanguageClient, max_new_tokens: int) -> float:
    """Seconds until a short request gets through: long if the model is still busy."""
    settings = {"maxNewTokens": max_new_tokens}
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=settings))
    started = time.perf_counter()
    await inline(client, 1, 0)
    return time.perf_counter() - started


@pytest.mark.asyncio
async def test_cancel_request_stops_the_generation(client: LanguageClient, slow_model: Path) -> None:
    await start(client, slow_model, maxNewTokens=LONG)
    open_doc(client, CODE)
    pending = request(client, "long-1")
    await asyncio.sleep(0.5)
    started = time.perf_counter()
    # While the model works, the server still answers at once: generation is off the event loop.
    assert (await metrics(client))["requests"] == 1
    assert time.perf_counter() - started < 1.0
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="long-1"))
    with pytest.raises(JsonRpcException) as error:
        await pending
    assert error.value.code == types.LSPErrorCodes.RequestCancelled
    assert await settle(client, 2) < 3.0  # the worker is free again: the long generation stopped
    assert (await metrics(client))["cancelled"] == 1


@pytest.mark.asyncio
async def test_a_newer_request_for_the_document_wins(client: LanguageClient, slow_model: Path) -> None:
    await start(client, slow_model, maxNewTokens=LONG, cache=False)
    open_doc(client, CODE)
    older = request(client, "older")
    await asyncio.sleep(0.5)
    insert(client, 1, 0, "r", version=2)
    newer = request(client, "newer", 1, 1)
    assert not (await older).items  # stopped and answered empty, not left running
    started = time.perf_counter()
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="newer"))
    with pytest.raises(JsonRpcException):
        await newer
    assert time.perf_counter() - started < 3.0
    assert (await metrics(client))["cancelled"] == 2


@pytest.mark.asyncio
async def test_time_budget_cuts_to_the_last_full_line(client: LanguageClient, slow_model: Path) -> None:
    await start(client, slow_model, maxNewTokens=LONG, timeBudgetMs=400, cache=False)
    open_doc(client, CODE)
    started = time.perf_counter()
    items = (await inline(client, 1, 0)).items
    assert time.perf_counter() - started < 3.0  # LONG tokens would take many seconds
    for item in items:  # whatever survived is made of whole lines
        assert item.insert_text == item.insert_text.rstrip()
