"""The server answers every request exactly once and keeps reading, whatever the client sends.

Raw frames over stdio: most of these messages are ones a client library refuses to write.
Servers here are initialized without `initialized`, so no model loads unless a test needs one.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from tests.lsp_support import (
    GATES_OFF,
    LONG,
    OPTIONS,
    SERVER,
    SERVER_ENV,
    SLOW_PROMPT,
    URI,
    RawServer,
    drain,
    while_generating,
)

PARSE_ERROR = types.ErrorCodes.ParseError
INVALID_REQUEST = types.ErrorCodes.InvalidRequest
INVALID_PARAMS = types.ErrorCodes.InvalidParams
RESULT = "result"
TIMEOUT_S = 10  # a server that stopped reading fails the test instead of hanging it


def body(msg_id: Any, method: str = "santa/metrics", params: Any = None, **extra: Any) -> bytes:
    message = {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": {} if params is None else params}
    return json.dumps({**message, **extra}).encode()


def frame(data: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(data) + data


async def serve(*args: str, stderr: bool = False, command: list[str] | None = None) -> RawServer:
    """A server that has answered `initialize` (and was sent no `initialized`: no model loads)."""
    process = await asyncio.create_subprocess_exec(
        *(command or SERVER),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE if stderr else None,
        env=SERVER_ENV,
    )
    server = RawServer(process)
    server.send({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {"capabilities": {}}})
    assert "result" in await server.response("init", TIMEOUT_S)
    return server


def write(server: RawServer, data: bytes) -> None:
    assert server.process.stdin is not None
    server.process.stdin.write(data)


async def answers_until(server: RawServer, probe: Any) -> list[dict[str, Any]]:
    """Every response the server sends up to and including the answer to a probe request `probe`."""
    server.send_bytes(body(probe))
    responses = []
    while True:
        message = await server.receive(TIMEOUT_S)
        if "method" in message:
            continue
        responses.append(message)
        if message.get("id") == probe:
            assert "result" in message, message
            return responses


def answers_to(responses: list[dict[str, Any]], msg_id: Any) -> list[dict[str, Any]]:
    return [response for response in responses if response.get("id") == msg_id]


def code(response: dict[str, Any]) -> int | None:
    return response.get("error", {}).get("code")


async def stop(server: RawServer) -> int:
    """Shut down and exit as a client does; the exit code."""
    server.send({"jsonrpc": "2.0", "id": "bye", "method": "shutdown"})
    await server.response("bye", TIMEOUT_S)
    server.send({"jsonrpc": "2.0", "method": "exit"})
    return await asyncio.wait_for(server.process.wait(), TIMEOUT_S)


@pytest.mark.asyncio
async def test_broken_frames_resynchronise_at_the_next_header() -> None:
    server = await serve()
    try:
        cases = [  # (what, bytes on the wire, what the request inside gets: a result, an error code, or nothing)
            ("lowercase header name", b"content-length: %d\r\n\r\n%s" % (len(body(1)), body(1)), RESULT),
            ("LF-only line ends", b"Content-Length: %d\n\n%s" % (len(body(2)), body(2)), RESULT),
            ("spaces around the value", b"Content-Length:   %d  \r\n\r\n%s" % (len(body(3)), body(3)), RESULT),
            ("Type after", b"Content-Length: %d\r\nContent-Type: t\r\n\r\n%s" % (len(body(4)), body(4)), RESULT),
            ("Type before", b"Content-Type: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body(5)), body(5)), RESULT),
            ("length too short", b"Content-Length: %d\r\n\r\n%s" % (len(body(6)) - 9, body(6)), PARSE_ERROR),
            ("length too long", b"Content-Length: %d\r\n\r\n%s" % (len(body(7)) + 50, body(7)), PARSE_ERROR),
            ("length far too long", b"Content-Length: 900000000\r\n\r\n%s" % body(8), PARSE_ERROR),
            ("negative length", b"Content-Length: -5\r\n\r\n%s" % body(9), PARSE_ERROR),
            ("non-numeric length", b"Content-Length: ten\r\n\r\n%s" % body(10), PARSE_ERROR),
            ("a 5000-digit length", b"Content-Length: 1%s\r\n\r\n%s" % (b"0" * 5000, body(11)), PARSE_ERROR),
            ("no blank line after the header", b"Content-Length: %d\r\n%s" % (len(body(12)), body(12)), PARSE_ERROR),
            ("a header with no body", b"Content-Length: 40\r\n\r\n", None),
            ("length zero", b"Content-Length: 0\r\n\r\n", None),
            ("no header at all", body(99), None),
            ("stray bytes", b"\x00\xff garbage \r\n\r\n", None),
        ]
        for msg_id, (what, data, expected) in enumerate(cases, start=1):
            write(server, data)
            probe = f"probe after {what}"
            try:
                responses = await answers_until(server, probe)
            except TimeoutError:
                pytest.fail(f"{what}: the server stopped answering")
            inner = [response for response in responses if response.get("id") != probe]
            if expected == RESULT:
                assert [(r["id"], "result" in r) for r in inner] == [(msg_id, True)], (what, responses)
            elif expected is None:  # no id to be read: at most an error with id null
                assert all(code(r) == PARSE_ERROR and r["id"] is None for r in inner), (what, responses)
            else:  # the id could be read: that request gets its error, once
                assert [(r["id"], code(r)) for r in inner] == [(msg_id, expected)], (what, responses)
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_notifications_sent_with_an_id_are_answered() -> None:
    server = await serve()
    try:
        text = {"uri": URI, "languageId": "python", "version": 1, "text": "x = 1\n"}
        notifications = [
            ("textDocument/didOpen", {"textDocument": text}),
            ("textDocument/didChange", {"textDocument": {"uri": URI, "version": 2}, "contentChanges": [{"text": ""}]}),
            ("textDocument/didClose", {"textDocument": {"uri": URI}}),
            ("initialized", {}),
            ("$/cancelRequest", {"id": 12345}),
            ("workspace/didChangeConfiguration", {"settings": {}}),
            ("$/setTrace", {"value": "off"}),
        ]
        for msg_id, (method, params) in enumerate(notifications, start=1):
            server.send_bytes(body(msg_id, method, params))
        responses = await answers_until(server, "probe")
        for msg_id, (method, _) in enumerate(notifications, start=1):
            answers = answers_to(responses, msg_id)
            assert len(answers) == 1 and code(answers[0]) == INVALID_REQUEST, (method, responses)
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_deeply_nested_params_are_answered() -> None:
    server = await serve()
    try:
        deep = 100_000
        arrays = b"[" * deep + b"]" * deep
        objects = b'{"a":' * deep + b"1" + b"}" * deep
        server.send_bytes(b'{"jsonrpc": "2.0", "id": 1, "method": "santa/metrics", "params": %s}' % arrays)
        server.send_bytes(b'{"jsonrpc": "2.0", "method": "santa/metrics", "params": %s, "id": 2}' % objects)
        settings = b'{"jsonrpc": "2.0", "method": "workspace/didChangeConfiguration", "params": {"settings": %s}}'
        server.send_bytes(settings % arrays)
        # Deep, but within what JSON decoding takes: handled as usual.
        server.send_bytes(body(3, "santa/metrics", json.loads("[" * 900 + "]" * 900)))
        server.send_bytes(settings % (b"[" * 900 + b"]" * 900))
        command = {"command": "santa-lsp.accepted", "arguments": json.loads("[" * 900 + "]" * 900)}
        server.send_bytes(body(4, "workspace/executeCommand", command))
        responses = await answers_until(server, "probe")
        for msg_id in (1, 2):
            answers = answers_to(responses, msg_id)
            assert len(answers) == 1 and code(answers[0]) in (PARSE_ERROR, INVALID_REQUEST), responses
        assert len(answers_to(responses, 3)) == 1 and len(answers_to(responses, 4)) == 1
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_malformed_requests_get_precise_errors_without_tracebacks() -> None:
    server = await serve()
    try:
        server.send_bytes(body(1, 5))  # type: ignore[arg-type]
        server.send_bytes(body(2, None))  # type: ignore[arg-type]
        server.send_bytes(body({"an": "object"}))
        server.send_bytes(body(["an", "array"]))
        server.send_bytes(body(3, "workspace/executeCommand", {"command": "santa-lsp.accepted"}))
        server.send_bytes(body(4, "workspace/executeCommand", {"command": "santa-lsp.accepted", "arguments": []}))
        server.send_bytes(body(5, "workspace/executeCommand", {"command": "santa-lsp.accepted", "arguments": [1, 2]}))
        server.send_bytes(body(6, "workspace/executeCommand", {"command": "no.such.command", "arguments": []}))
        responses = await answers_until(server, "probe")
        for msg_id, expected in ((1, INVALID_REQUEST), (2, INVALID_REQUEST), (3, INVALID_PARAMS), (4, INVALID_PARAMS)):
            answers = answers_to(responses, msg_id)
            assert [code(answer) for answer in answers] == [expected], (msg_id, responses)
        assert [code(answer) for answer in answers_to(responses, None)] == [INVALID_REQUEST, INVALID_REQUEST]
        assert [code(answer) for answer in answers_to(responses, 5) + answers_to(responses, 6)] == [INVALID_PARAMS] * 2
        assert "traceback" not in json.dumps(responses).lower()
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_requests_after_shutdown_are_refused_and_exit_codes_follow_the_spec() -> None:
    server = await serve()
    try:
        server.send({"jsonrpc": "2.0", "id": 1, "method": "shutdown"})
        assert (await server.response(1, TIMEOUT_S))["result"] is None
        server.send_bytes(body(2))
        assert code(await server.response(2, TIMEOUT_S)) == INVALID_REQUEST
        server.send({"jsonrpc": "2.0", "id": 3, "method": "shutdown"})
        assert code(await server.response(3, TIMEOUT_S)) == INVALID_REQUEST
        server.send({"jsonrpc": "2.0", "method": "exit"})
        assert await asyncio.wait_for(server.process.wait(), TIMEOUT_S) == 0
    finally:
        await server.close()
    server = await serve()
    try:
        server.send({"jsonrpc": "2.0", "method": "exit"})  # no shutdown first
        assert await asyncio.wait_for(server.process.wait(), TIMEOUT_S) == 1
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_bad_input_logs_one_warning_line_each() -> None:
    server = await serve("--log-level", "WARNING", stderr=True)
    assert server.process.stderr is not None
    log: list[bytes] = []
    logging = asyncio.ensure_future(drain(server.process.stderr, log))
    bad = [
        frame(b'{"jsonrpc": "2.0", "id": 1, "method": '),  # not JSON
        frame(body(2, "textDocument/inlineCompletion", {"position": "here"})),  # params of the wrong shape
        frame(body(3, "textDocument/didOpen", {"textDocument": {}})),  # a notification with an id
        frame(body(4, 5)),  # type: ignore[arg-type]
        frame(body(5, "workspace/executeCommand", {"command": "santa-lsp.accepted"})),
        frame(b'{"jsonrpc": "2.0", "id": 6, "method": "santa/metrics", "params": %s}' % (b"[" * 5000 + b"]" * 5000)),
        frame(json.dumps({"jsonrpc": "2.0", "id": "nobody-asked", "result": None}).encode()),
        frame(body(7, "santa/nothing")),
        b"Content-Length: -5\r\n\r\n" + body(8),
        b"Content-Length: 99\r\n\r\n",  # no body: the next header comes first
    ]
    try:
        for _ in range(20):
            for data in bad:
                write(server, data)
        await answers_until(server, "probe")
        assert await stop(server) == 0
        await asyncio.wait_for(logging, TIMEOUT_S)
    finally:
        await server.close()
        logging.cancel()
    text = b"".join(log).decode()
    lines = text.splitlines()
    assert "Traceback" not in text
    assert all(" WARNING " in line for line in lines), text[:3000]
    assert len(lines) == 20 * len(bad), text[:3000]


@pytest.mark.asyncio
async def test_python_m_santa_lsp_serves() -> None:
    server = await serve(command=[sys.executable, "-m", "santa_lsp"])
    try:
        assert await stop(server) == 0
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_tcp_reads_the_same_way() -> None:
    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(*SERVER, "--tcp", "--port", str(port), env=SERVER_ENV)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                assert time.monotonic() < deadline, "the server never listened"
                await asyncio.sleep(0.1)
        init = body("init", "initialize", {"capabilities": {}})
        writer.write(b"content-length: %d\n\n%s" % (len(init), init))  # lowercase, LF only
        writer.write(b"Content-Length: -1\r\n\r\n" + body(1))
        writer.write(frame(body(2)))
        answers = []
        while len(answers) < 3:
            header = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT_S)
            length = int(header.split(b"\r\n")[0].split(b":")[1])
            answers.append(json.loads(await reader.readexactly(length)))
        assert [answer["id"] for answer in answers] == ["init", 1, 2]
        assert code(answers[1]) == PARSE_ERROR and "result" in answers[2]
        writer.close()
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def ready(*args: str, model: Path, options: dict[str, Any]) -> RawServer:
    server = await RawServer.start("--model", str(model), *args)
    await server.initialize(options)
    while (await server.receive(TIMEOUT_S * 6)).get("params", {}).get("state") != "ready":
        pass
    return server


@pytest.mark.asyncio
async def test_lone_surrogates_do_not_break_completion(tiny_model: Path) -> None:
    server = await ready(model=tiny_model, options=OPTIONS)
    try:
        text = "def f(x):\n    return x + '\ud800'\n\n"  # json.dumps writes it as the escape "\ud800"
        open_params = {"textDocument": {"uri": URI, "languageId": "python", "version": 1, "text": text}}
        server.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": open_params})
        where = {"line": 2, "character": 0}
        change = {"range": {"start": where, "end": where}, "text": "\udc01y"}
        changed = {"textDocument": {"uri": URI, "version": 2}, "contentChanges": [change]}
        for msg_id, (line, character) in enumerate([(1, 20), (1, 4), (2, 0), (2, 2)], start=1):
            if msg_id == 3:
                server.send({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": changed})
            position = {"line": line, "character": character}
            inline = {"context": {"triggerKind": 2}, "textDocument": {"uri": URI}, "position": position}
            server.send({"jsonrpc": "2.0", "id": msg_id, "method": "textDocument/inlineCompletion", "params": inline})
            reply = await server.response(msg_id, TIMEOUT_S)
            assert "result" in reply, reply
            completion = {"textDocument": {"uri": URI}, "position": position}
            server.send({"jsonrpc": "2.0", "id": -msg_id, "method": "textDocument/completion", "params": completion})
            reply = await server.response(-msg_id, TIMEOUT_S)
            assert "result" in reply, reply
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_stray_responses_are_ignored_and_the_request_stays_cancellable(
    slow_model: Path, slow_token_s: float
) -> None:
    # Gates off: the slow random model loops, and a loop would end the generation before the cancel.
    server = await ready("--max-new-tokens", str(LONG), "--time-budget-ms", "0", model=slow_model, options=GATES_OFF)
    try:
        text = {"uri": URI, "languageId": "python", "version": 1, "text": SLOW_PROMPT}
        server.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": text}})
        inline = {"context": {"triggerKind": 2}, "textDocument": {"uri": URI}, "position": {"line": 1, "character": 0}}
        server.send({"jsonrpc": "2.0", "id": "long", "method": "textDocument/inlineCompletion", "params": inline})
        await while_generating(slow_token_s)
        # Responses to requests the server never sent, one with the id of the request it is working on.
        server.send({"jsonrpc": "2.0", "id": "long", "result": None})
        server.send({"jsonrpc": "2.0", "id": "long", "error": {"code": -32603, "message": "no"}})
        server.send({"jsonrpc": "2.0", "id": 424242, "result": {"anything": 1}})
        server.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": "long"}})
        reply = await server.response("long", TIMEOUT_S)
        # Cancelled a quarter into the generation: it cannot have finished.
        assert code(reply) == types.LSPErrorCodes.RequestCancelled, reply
        assert "result" in (await answers_until(server, "probe"))[-1]
    finally:
        await server.close()
