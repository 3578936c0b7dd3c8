"""Latency features with a model slow enough to watch: $/cancelRequest, latest wins, a server
that answers while it generates, and the per-request time budget.

Nothing here is timed: the server's DEBUG log says how each generation ended and after how many
tokens, and that is what the tests check.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.lsp_support import (
    LONG,
    SLOW_PROMPT,
    URI,
    cancelled_generations,
    inline,
    insert,
    metrics,
    open_doc,
    send_inline,
    start,
    while_generating,
)

FINISHED = re.compile(r"completion: \d+ prompt tokens \(\d+ reused\), (\d+) new, (\w+)")


async def settle(client: LanguageClient, max_new_tokens: int) -> None:
    """A short request gets through: the worker is free again."""
    settings = {"maxNewTokens": max_new_tokens}
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=settings))
    await inline(client, 1, 0)


async def generating(
    client: LanguageClient, slow_model: Path, token_s: float, msg_id: str, **options: object
) -> asyncio.Future:
    """A long generation under way for SLOW_PROMPT's document, and its request. Latest wins as such:
    no generation is spared for agreeing with the typing (tests/test_lsp_ahead.py)."""
    await start(client, slow_model, maxNewTokens=LONG, keepAgreeing=False, **options)
    open_doc(client, SLOW_PROMPT)
    pending = send_inline(client, msg_id, 1, 0)
    await while_generating(token_s)
    return pending


@pytest.mark.asyncio
async def test_cancel_request_stops_the_generation(
    client: LanguageClient, slow_model: Path, slow_token_s: float, capfd: pytest.CaptureFixture[str]
) -> None:
    pending = await generating(client, slow_model, slow_token_s, "long-1")
    # While the model works, the server still answers: generation is off the event loop.
    assert (await metrics(client))["requests"] == 1
    assert not pending.done()
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="long-1"))
    with pytest.raises(JsonRpcException) as error:
        await pending
    assert error.value.code == types.LSPErrorCodes.RequestCancelled
    await settle(client, 2)
    assert (await metrics(client))["cancelled"] == 1
    [stopped_after] = cancelled_generations(capfd.readouterr().err)
    assert stopped_after < LONG  # the generation itself stopped, not only the answer


@pytest.mark.asyncio
async def test_a_newer_request_for_the_document_wins(
    client: LanguageClient, slow_model: Path, slow_token_s: float, capfd: pytest.CaptureFixture[str]
) -> None:
    older = await generating(client, slow_model, slow_token_s, "older", cache=False)
    insert(client, 1, 0, "r", version=2)
    newer = send_inline(client, "newer", 1, 1)
    assert not (await older).items  # stopped and answered empty, not left running
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="newer"))
    with pytest.raises(JsonRpcException):
        await newer
    await settle(client, 2)
    assert (await metrics(client))["cancelled"] == 2
    stopped = cancelled_generations(capfd.readouterr().err)
    assert len(stopped) == 2 and max(stopped) < LONG


@pytest.mark.asyncio
async def test_an_edit_that_removes_the_cursors_line_mid_request_is_answered(
    client: LanguageClient, slow_model: Path, slow_token_s: float
) -> None:
    pending = await generating(client, slow_model, slow_token_s, "shortened", cache=False)
    everything = types.Range(types.Position(0, 0), types.Position(2, 0))
    change = types.TextDocumentContentChangePartial(range=everything, text="")  # line 1 is gone
    identifier = types.VersionedTextDocumentIdentifier(version=2, uri=URI)
    client.text_document_did_change(types.DidChangeTextDocumentParams(identifier, [change]))
    assert not (await pending).items  # answered, where it once failed on the vanished line


@pytest.mark.asyncio
async def test_closing_the_document_stops_its_generation(
    client: LanguageClient, slow_model: Path, slow_token_s: float, capfd: pytest.CaptureFixture[str]
) -> None:
    pending = await generating(client, slow_model, slow_token_s, "closed", cache=False)
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(URI)))
    assert not (await pending).items  # answered once the generation stopped: its log line is out
    assert (await metrics(client))["cancelled"] == 1
    [stopped_after] = cancelled_generations(capfd.readouterr().err)
    assert stopped_after < LONG


@pytest.mark.asyncio
async def test_time_budget_ends_the_generation(
    client: LanguageClient, slow_model: Path, slow_token_s: float, capfd: pytest.CaptureFixture[str]
) -> None:
    # What is left of a suggestion cut by the budget (its whole lines) is tested in test_lsp_postprocess.
    budget_ms = max(1, round(1000 * slow_token_s * LONG / 4))  # a quarter of the whole generation here
    await start(client, slow_model, maxNewTokens=LONG, timeBudgetMs=budget_ms, cache=False)
    open_doc(client, SLOW_PROMPT)
    await inline(client, 1, 0)
    await settle(client, 2)  # the log line of the first request is written before the second starts
    (new_tokens, reason), _ = FINISHED.findall(capfd.readouterr().err)
    assert reason == "time" and int(new_tokens) < LONG
