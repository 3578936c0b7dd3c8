"""A broken inference server, through the real santa-lsp: HTML, malformed JSON, an HTTP error,
no answer in time. Each gives empty results and one `santa/status` error with one
`window/showMessage` (not one per keystroke), and the API key never shows.

The server here is a test double for a *broken* server only (a few lines of http.server); the
working server, recovery and cancellation are tested against a real llama-server in
tests/test_backend_llama_cpp.py.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

import model
from tests.lsp_support import SERVER, SERVER_ENV, STATUSES, inline, metrics, open_doc, record_statuses, start, stop

KEY_ENV = "SANTA_TEST_BACKEND_KEY"
KEY = "sk-test-0123456789abcdef"
CODE = "def add(a, b):\n    return a + b\n\n\ndef fib(n):\n    \n"
CURSOR = (5, 4)


class BrokenServer(http.server.ThreadingHTTPServer):
    """Answers every POST with `self.answer` (status, content type, body); remembers the headers."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer: tuple[int, str, bytes] = (200, "text/html", b"<html><body>502 Bad Gateway</body></html>")
        self.delay_s = 0.0
        self.authorizations: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: BrokenServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.authorizations.append(self.headers.get("Authorization", ""))
        threading.Event().wait(self.server.delay_s)
        status, kind, body = self.server.answer
        body = body.replace(b"{auth}", self.headers.get("Authorization", "").encode())
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def broken() -> Iterator[BrokenServer]:
    server = BrokenServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER, server_env={**SERVER_ENV, KEY_ENV: KEY}))
async def keyed(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    """A santa-lsp whose environment holds an API key (the fixture `client` has none)."""
    record_statuses(lsp_client)
    yield
    await stop(lsp_client)


def errors(client: LanguageClient) -> list[str]:
    return [m.message for m in client.messages if m.type == types.MessageType.Error]


def states(client: LanguageClient) -> list[tuple[str, str]]:
    queue = STATUSES[client]
    found = []
    while not queue.empty():
        status = queue.get_nowait()
        found.append((status.state, status.message))
    return found


async def start_remote(client: LanguageClient, url: str, **options: Any) -> None:
    await start(client, model.DEFAULT_MODEL, backend="llama.cpp", backendUrl=url, **options)
    states(client)  # the loading and ready ones


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ((200, "text/html", b"<html><body>502 Bad Gateway</body></html>"), "text/html, not JSON"),
        ((200, "application/json", b'{"choices": []}'), "no valid 'content'"),
        ((200, "application/json", b'{"content": 42}'), "no valid 'content'"),
        ((200, "application/json", b"[1, 2]"), "JSON that is not an object"),
        ((200, "application/json", b'{"content": "x'), "not JSON"),
        ((503, "application/json", b'{"error": {"message": "Loading model"}}'), "HTTP 503"),
    ],
    ids=["html", "no-content", "content-not-text", "not-an-object", "cut-json", "http-503"],
)
async def test_a_broken_answer_is_reported_once_and_gives_empty_results(
    client: LanguageClient, broken: BrokenServer, answer: tuple[int, str, bytes], said: str
) -> None:
    broken.answer = answer
    await start_remote(client, broken.url)
    open_doc(client, CODE)
    for _ in range(3):  # three keystrokes' worth of requests
        assert not (await inline(client, *CURSOR)).items
    assert len(broken.authorizations) == 3  # each one did reach the server
    reported = states(client)
    assert len(reported) == 1 and reported[0][0] == "error", reported
    assert said in reported[0][1] and broken.url in reported[0][1]
    shown = errors(client)
    assert len(shown) == 1 and said in shown[0]
    assert (await metrics(client))["modelCalls"] == 0


@pytest.mark.asyncio
async def test_a_slow_server_costs_one_request_timeout(client: LanguageClient, broken: BrokenServer) -> None:
    broken.delay_s = 5.0
    await start_remote(client, broken.url, backendTimeoutMs=200)
    open_doc(client, CODE)
    assert not (await inline(client, *CURSOR)).items
    (state, message), *more = states(client)
    assert state == "error" and "no answer within 0.2 s (backendTimeoutMs)" in message and not more


@pytest.mark.asyncio
async def test_the_api_key_goes_to_the_server_and_nowhere_else(keyed: LanguageClient, broken: BrokenServer) -> None:
    # A server that quotes the Authorization header back in its error: the message shows no key.
    broken.answer = (401, "text/plain", b"bad credentials: {auth}")
    await start_remote(keyed, broken.url, backendApiKeyEnv=KEY_ENV)
    open_doc(keyed, CODE)
    assert not (await inline(keyed, *CURSOR)).items
    assert broken.authorizations == [f"Bearer {KEY}"]
    (state, message), *_ = states(keyed)
    assert state == "error" and "HTTP 401" in message and "Bearer ***" in message
    assert all(KEY not in text for text in [message, *errors(keyed), json.dumps(await metrics(keyed))])


@pytest.mark.asyncio
async def test_openai_without_the_models_tokenizer_is_a_clear_error(client: LanguageClient) -> None:
    await client.initialize_session(
        types.InitializeParams(capabilities=types.ClientCapabilities(), initialization_options={"backend": "openai"})
    )
    status = await asyncio.wait_for(STATUSES[client].get(), 60)
    assert status.state == "error" and "set `model`" in status.message
