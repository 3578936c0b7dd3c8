"""The server's features through a real client: inline completion, completion, background
loading with progress, settings changes, the typed-ahead cache and acceptance statistics."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.lsp_support import (
    DATA_DIR,
    OPTIONS,
    URI,
    init_params,
    inline,
    insert,
    metrics,
    open_doc,
    plain,
    start,
    stop,
    wait_status,
)

CODE = "def add(a, b):\n    return a + b\n\n\ndef fib(n):\n    \n"
CURSOR = (5, 4)  # the empty, indented line in fib


async def progress_kinds(client: LanguageClient, until: str, timeout_s: float = 10.0) -> list[str]:
    """The kinds of $/progress reports received, once one of kind `until` is in (or time is up)."""
    deadline = time.monotonic() + timeout_s
    while True:
        kinds = [report.kind for reports in client.progress_reports.values() for report in reports]
        if until in kinds or time.monotonic() > deadline:
            return kinds
        await asyncio.sleep(0.02)


@pytest.mark.asyncio
async def test_inline_completion_capabilities_progress_and_item(client: LanguageClient, tiny_model: Path) -> None:
    result = await client.initialize_session(init_params({**OPTIONS, "model": str(tiny_model)}))
    caps = result.capabilities
    assert caps.inline_completion_provider is not None and caps.completion_provider is not None
    assert caps.text_document_sync.change == types.TextDocumentSyncKind.Incremental
    assert (await wait_status(client))["state"] == "ready"
    # Work-done progress: begun and ended around the load (the end follows the ready status).
    assert await progress_kinds(client, until="end") == ["begin", "end"]

    open_doc(client, CODE)
    items = (await inline(client, *CURSOR)).items
    assert len(items) == 1
    item = items[0]
    assert item.insert_text.strip() and item.range.start == types.Position(*CURSOR)
    assert item.command.command == "santa-lsp.accepted"
    m = await metrics(client)
    assert m["modelCalls"] == 1 and m["trimmedPrompts"] == 0  # the prompt fitted the engine as built


@pytest.mark.asyncio
async def test_completion_request_gives_one_item_with_the_same_text(client: LanguageClient, tiny_model: Path) -> None:
    await start(client, tiny_model, cache=False)
    open_doc(client, CODE)
    inline_text = (await inline(client, *CURSOR)).items[0].insert_text
    params = types.CompletionParams(types.TextDocumentIdentifier(URI), types.Position(*CURSOR))
    result = await client.text_document_completion_async(params)
    assert isinstance(result, types.CompletionList) and result.is_incomplete
    [item] = result.items
    assert item.text_edit.new_text == inline_text  # greedy: the same completion both ways
    assert item.text_edit.range.start == types.Position(*CURSOR)


@pytest.mark.asyncio
async def test_empty_results_until_ready_and_error_when_the_model_cannot_load(
    client: LanguageClient, tmp_path: Path
) -> None:
    (tmp_path / "config.json").write_text("{not json")
    await client.initialize_session(init_params({"model": str(tmp_path)}))
    status = await wait_status(client)
    assert status["state"] == "error" and "config.json" in status["message"]
    assert any(m.type == types.MessageType.Error and "config.json" in m.message for m in client.messages)
    open_doc(client, CODE)
    assert not (await inline(client, *CURSOR)).items  # the server is up, with nothing to say
    assert (await metrics(client))["state"] == "error"


@pytest.mark.asyncio
async def test_configuration_changes_apply_and_a_new_model_reloads(client: LanguageClient, tiny_model: Path) -> None:
    await start(client, None, maxNewTokens="many")  # no model at all: an error state, not a crash
    open_doc(client, CODE)
    settings = {"santaLsp": {"model": str(tiny_model), "maxNewTokens": 4, "timeBudgetMs": 0}}
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=settings))
    assert (await wait_status(client))["state"] == "ready"
    assert len((await inline(client, *CURSOR)).items) == 1
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"enabled": False}))
    assert not (await inline(client, *CURSOR)).items
    flat = {"enabled": True, "disabledLanguages": ["python"], "bogus": 3}
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=flat))
    assert not (await inline(client, *CURSOR)).items
    assert (await metrics(client))["modelCalls"] == 1  # neither disabled request reached the model
    # The user sees each bad setting (the warning went out before the answers that followed it).
    warnings = [m.message for m in client.messages if m.type == types.MessageType.Warning]
    assert warnings == [
        "santa-lsp: settings: maxNewTokens must be an integer of at least 0, got 'many'; keeping 64",
        "santa-lsp: settings: unknown setting 'bogus' ignored",
    ]


@pytest.mark.asyncio
async def test_typing_what_was_suggested_is_answered_from_the_typed_ahead_cache(
    client: LanguageClient, tiny_model: Path
) -> None:
    await start(client, tiny_model)
    open_doc(client, CODE)
    suggestion = (await inline(client, *CURSOR)).items[0].insert_text
    typed = suggestion[:2] if len(suggestion) > 2 else suggestion[:1]
    insert(client, CURSOR[0], CURSOR[1], typed, version=2)
    item = (await inline(client, CURSOR[0], CURSOR[1] + len(typed))).items[0]
    assert item.insert_text == suggestion[len(typed) :]
    m = await metrics(client)
    assert m["typedAheadHits"] == 1 and m["modelCalls"] == 1  # no model call for the second answer


async def first_keys_typed(client: LanguageClient) -> str:
    """A suggestion at CURSOR, and the part of it the user then types (leaving enough to show)."""
    suggestion = (await inline(client, *CURSOR)).items[0].insert_text
    return suggestion[:2] if len(suggestion) > 2 else suggestion[:1]


@pytest.mark.asyncio
async def test_a_closed_document_opened_again_starts_afresh(client: LanguageClient, tiny_model: Path) -> None:
    await start(client, tiny_model)
    open_doc(client, CODE)
    typed = await first_keys_typed(client)
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(URI)))
    open_doc(client, CODE[:-1] + typed + "\n")  # as it was, with the suggestion's start typed
    assert (await inline(client, CURSOR[0], CURSOR[1] + len(typed))).items
    m = await metrics(client)
    assert m["typedAheadHits"] == 0 and m["modelCalls"] == 2  # the old suggestion went with the document


@pytest.mark.asyncio
async def test_a_new_model_inherits_nothing_of_the_old_ones_documents(
    client: LanguageClient, tiny_model: Path, tmp_path: Path
) -> None:
    await start(client, tiny_model)
    open_doc(client, CODE)
    typed = await first_keys_typed(client)
    other = shutil.copytree(tiny_model, tmp_path / "other")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"model": str(other)}))
    assert (await wait_status(client))["state"] == "ready"
    insert(client, CURSOR[0], CURSOR[1], typed, version=2)
    assert (await inline(client, CURSOR[0], CURSOR[1] + len(typed))).items
    m = await metrics(client)
    assert m["typedAheadHits"] == 0 and m["modelCalls"] == 2  # the old model's suggestion is not served


@pytest.mark.asyncio
async def test_accepted_items_are_counted_locally_when_stats_are_on(client: LanguageClient, tiny_model: Path) -> None:
    await start(client, tiny_model, stats=True, cache=False)
    open_doc(client, CODE)
    first = (await inline(client, *CURSOR)).items[0]
    await inline(client, *CURSOR)
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=first.command.command, arguments=first.command.arguments)
    )
    summary = plain(await client.protocol.send_request_async("santa/stats", {}))
    assert summary["shown"] == 2 and summary["accepted"] == 1 and summary["latencyMs"]["p95"] > 0
    await stop(client)
    saved = json.loads((Path(DATA_DIR) / "stats.json").read_text())
    assert saved["shown"] == 2 and saved["accepted"] == 1
