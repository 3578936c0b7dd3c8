"""Bad input never takes the server down: each case gets a log line, an empty result or a
JSON-RPC error, and the next request is answered as usual."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.lsp_support import (
    GATES_OFF,
    LONG,
    SLOW_PROMPT,
    URI,
    RawServer,
    cancelled_generations,
    inline,
    insert,
    metrics,
    open_doc,
    start,
    while_generating,
)

CODE = "def fib(n):\n    \n"
INLINE = {"context": {"triggerKind": 2}, "textDocument": {"uri": URI}, "position": {"line": 1, "character": 4}}


@pytest.mark.asyncio
async def test_unknown_documents_and_positions_outside(
    client: LanguageClient, tiny_model: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    await start(client, tiny_model)
    open_doc(client, CODE)
    assert not (await inline(client, 0, 0, uri="file:///never/opened.py")).items
    with pytest.raises(JsonRpcException) as error:
        await inline(client, 99, 0)
    assert error.value.code == types.ErrorCodes.InvalidParams
    assert isinstance(await inline(client, 1, 500), types.InlineCompletionList)  # clamped to the line end
    await asyncio.sleep(0.2)
    log = capfd.readouterr().err
    assert "never/opened.py, which is not open" in log and "line 99 is past the end" in log


@pytest.mark.asyncio
async def test_utf16_offsets_with_astral_characters(client: LanguageClient, tiny_model: Path) -> None:
    await start(client, tiny_model, cache=False)
    open_doc(client, "s = '😀'\nt = '😀' + \nu = f(😀)\nv = 😀\n")  # each cursor below gets a suggestion
    # Inside the surrogate pair: snapped to the emoji's start, not a crash or a split character.
    [item] = (await inline(client, 1, 6)).items
    assert item.range.start == types.Position(1, 5)
    # After the emoji's two UTF-16 units, before the closing quote, and at the end of line 1.
    for line, units in ((0, 7), (1, 11)):
        [item] = (await inline(client, line, units)).items
        assert item.range.start == types.Position(line, units)
    assert (await metrics(client))["requests"] == 3


@pytest.mark.asyncio
async def test_very_large_file_costs_only_its_window(client: LanguageClient, tiny_model: Path) -> None:
    await start(client, tiny_model)
    lines = 200_000
    open_doc(client, "".join(f"value_{i} = compute({i})\n" for i in range(lines)) + "\n")
    await inline(client, lines // 2, 0)
    for version, column in enumerate(range(5), start=2):  # keystrokes in the middle of the file
        insert(client, lines // 2, column, "x", version)
        await inline(client, lines // 2, column + 1)
    m = await metrics(client)
    assert m["requests"] == 6 and m["trimmedPrompts"] == 0
    assert m["promptTokens"] <= 6 * 256  # every prompt fit the 256-token context


@pytest.mark.asyncio
async def test_binary_content_gets_no_completion(client: LanguageClient, tiny_model: Path) -> None:
    await start(client, tiny_model)
    open_doc(client, "\x00\x01\x02ELF\x00\x00\n\x00\x00\n")
    assert not (await inline(client, 1, 2)).items
    assert (await metrics(client))["modelCalls"] == 0


@pytest.mark.asyncio
async def test_requests_before_initialize_are_refused() -> None:
    server = await RawServer.start()
    try:
        server.send({"jsonrpc": "2.0", "id": 1, "method": "textDocument/inlineCompletion", "params": INLINE})
        reply = await server.response(1)
        assert reply["error"]["code"] == types.ErrorCodes.ServerNotInitialized
        await server.initialize()  # and the server is still there to be initialized
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_malformed_json_rpc(tiny_model: Path) -> None:
    server = await RawServer.start("--model", str(tiny_model))
    try:
        await server.initialize()
        server.send_bytes(b'{"jsonrpc": "2.0", "id": 5, "method": ')  # cut short: not JSON
        assert (await server.response(None))["error"]["code"] == types.ErrorCodes.ParseError
        server.send_bytes(b"\xff\xfe not even text")
        assert (await server.response(None))["error"]["code"] == types.ErrorCodes.ParseError
        server.send({"jsonrpc": "1.0", "id": 6, "method": "santa/metrics", "params": {}})
        assert (await server.response(6))["error"]["code"] == types.ErrorCodes.InvalidRequest
        server.send({"id": 7, "method": "santa/metrics"})  # no jsonrpc field at all
        assert (await server.response(7))["error"]["code"] == types.ErrorCodes.InvalidRequest
        server.send_bytes(b"[1, 2, 3]")  # valid JSON, but no message
        assert (await server.response(None))["error"]["code"] == types.ErrorCodes.InvalidRequest
        wrong = {**INLINE, "position": {"line": "one", "character": None}}
        server.send({"jsonrpc": "2.0", "id": 8, "method": "textDocument/inlineCompletion", "params": wrong})
        assert (await server.response(8))["error"]["code"] == types.ErrorCodes.InvalidParams
        server.process.stdin.write(b"garbage without a header\r\n")  # type: ignore[union-attr]
        server.send({"jsonrpc": "2.0", "id": 9, "method": "santa/metrics", "params": {}})
        assert (await server.response(9))["result"]["requests"] == 0  # still up, still in sync
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_client_disconnecting_mid_request(
    slow_model: Path, slow_token_s: float, capfd: pytest.CaptureFixture[str]
) -> None:
    server = await RawServer.start("--model", str(slow_model), "--max-new-tokens", str(LONG), "--time-budget-ms", "0")
    # Nothing may end the generation before the disconnect: no gate (the random model loops), and
    # a top-level cursor, so no later line can leave its block.
    await server.initialize(GATES_OFF)
    while (await server.receive()).get("params", {}).get("state") != "ready":
        pass
    text = {"uri": URI, "languageId": "python", "version": 1, "text": SLOW_PROMPT}
    server.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": text}})
    top_level = {**INLINE, "position": {"line": 1, "character": 0}}
    server.send({"jsonrpc": "2.0", "id": 1, "method": "textDocument/inlineCompletion", "params": top_level})
    await while_generating(slow_token_s)
    server.process.stdin.close()  # type: ignore[union-attr]
    assert await asyncio.wait_for(server.process.wait(), 60) == 0
    [stopped_after] = cancelled_generations(capfd.readouterr().err)
    assert stopped_after < LONG  # the server stopped the generation rather than finishing it first
