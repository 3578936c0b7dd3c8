"""Shared pieces of the language-server tests: the server's command, tiny models for it, and
what a test does with a client (the fixtures that use them are in tests/conftest.py).

Every server test drives the real `santa-lsp` process over stdio with pytest-lsp's client.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import tempfile
import weakref
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer

from tests.tiny import FAMILIES, make_model

SERVER = [sys.executable, "-m", "santa_lsp.cli", "--log-level", "DEBUG"]
URI = "file:///work/example.py"
# The slow model's long generation: a top-level blank line, so no block ends it, and the token
# count it runs to while a test acts on it (cancels, types, closes, hangs up).
SLOW_PROMPT = "import os\n\n"
LONG = 400


async def while_generating(token_s: float) -> None:
    """Wait until a LONG generation just asked of the slow model is under way and far from done:
    a quarter of the time it takes on this host (`slow_token_s`), whatever its speed."""
    await asyncio.sleep(token_s * LONG / 4)


# Small budgets keep every generation at a few milliseconds on a 2-layer random model.
# The tiny random model writes junk: these tests are about the plumbing, so the gates that would
# hide its suggestions are off here (tests/test_lsp_gates.py tests them), and token healing, which
# changes what it writes (tests/test_healing.py tests it).
GATES_OFF = {"syntaxCheck": False, "stopRepetition": False, "minTokenProb": 0.0, "tokenHealing": False}
OPTIONS = {"maxNewTokens": 8, "timeBudgetMs": 0, "crossFileTokens": 32, **GATES_OFF}


# Statistics land in a scratch directory, never in the user's real data directory.
DATA_DIR = tempfile.mkdtemp(prefix="santa-lsp-test-")
SERVER_ENV = {**os.environ, "SANTA_LSP_DATA_DIR": DATA_DIR}


def server_config() -> ClientServerConfig:
    return ClientServerConfig(server_command=SERVER, server_env=SERVER_ENV)


# Every santa/status a client received, in order. Waiting for the next notification instead
# would miss one that arrived before the wait began (a model that fails to load at once).
STATUSES: weakref.WeakKeyDictionary[LanguageClient, asyncio.Queue[Any]] = weakref.WeakKeyDictionary()
STATUS_TIMEOUT_S = 120  # a missing status fails the test rather than hanging the run


def record_statuses(client: LanguageClient) -> None:
    """Keep every santa/status the client receives in STATUSES (a client fixture's first step)."""
    statuses = STATUSES[client] = asyncio.Queue()

    @client.feature("santa/status")
    def record(params: Any) -> None:
        statuses.put_nowait(params)


async def stop(client: LanguageClient) -> None:
    """Shut down cleanly if possible; never leave a server behind to hang the test run."""
    server = client._server
    if server is not None and server.returncode is not None:
        return  # already stopped (a test may stop its server to look at what it left)
    try:
        await asyncio.wait_for(client.shutdown_session(), 10)
        if server is not None:
            await asyncio.wait_for(server.wait(), 10)
    finally:
        if server is not None and server.returncode is None:
            server.kill()
            await server.wait()


def make_printable_model(directory: Path, **shape: int) -> Path:
    """A random tiny model whose greedy output is printable text that never ends early.

    Random weights mostly write stray bytes (broken UTF-8, control characters) and now and then
    a special token. Zeroing the tied embedding rows of those tokens gives them logit 0, below
    the best of the others, so greedy decoding never picks them: every generation is readable
    text of exactly max_new_tokens tokens, which makes timings and post-processing predictable.
    """
    make_model(directory, **shape)
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tensors = load_file(str(directory / "model.safetensors"))
    embeddings = tensors["transformer.wte.weight"]
    for token in range(embeddings.shape[0]):
        text = tokenizer.decode([token], skip_special_tokens=False) if token < tokenizer.get_vocab_size() else ""
        special = tokenizer.id_to_token(token) in FAMILIES["santacoder"]
        if special or not text.isascii() or not all(char.isprintable() or char == "\n" for char in text):
            embeddings[token] = 0
    save_file(tensors, str(directory / "model.safetensors"), metadata={"format": "pt"})
    return directory


def init_params(options: dict[str, Any] | None, progress: bool = True) -> types.InitializeParams:
    capabilities = types.ClientCapabilities(window=types.WindowClientCapabilities(work_done_progress=progress))
    return types.InitializeParams(capabilities=capabilities, initialization_options=options)


async def start(client: LanguageClient, model: Path | str | None, **options: Any) -> None:
    """Initialize with the tiny model and wait until the server says it is ready (or failed)."""
    settings = {**OPTIONS, **options}
    if model is not None:
        settings["model"] = str(model)
    await client.initialize_session(init_params(settings))
    await wait_status(client)


async def wait_status(client: LanguageClient) -> dict[str, Any]:
    """The next santa/status, in the order received, that is not "loading"."""
    while True:
        status = plain(await asyncio.wait_for(STATUSES[client].get(), STATUS_TIMEOUT_S))
        if status["state"] != "loading":
            return status


def open_doc(client: LanguageClient, text: str, uri: str = URI, language: str = "python") -> None:
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, language, 1, text)))


def insert(client: LanguageClient, line: int, character: int, text: str, version: int, uri: str = URI) -> None:
    """An incremental change, as editors send one per keystroke."""
    where = types.Position(line, character)
    change = types.TextDocumentContentChangePartial(range=types.Range(where, where), text=text)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(types.VersionedTextDocumentIdentifier(version=version, uri=uri), [change])
    )


def inline_params(line: int, character: int, uri: str = URI) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
        text_document=types.TextDocumentIdentifier(uri),
        position=types.Position(line, character),
    )


def send_inline(client: LanguageClient, msg_id: str, line: int, character: int, uri: str = URI) -> asyncio.Future:
    """An inline completion request with a chosen id (to cancel it), still unanswered."""
    params = inline_params(line, character, uri)
    future = client.protocol.send_request(types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=msg_id)
    return asyncio.wrap_future(future)


async def inline(client: LanguageClient, line: int, character: int, uri: str = URI) -> types.InlineCompletionList:
    result = await client.text_document_inline_completion_async(inline_params(line, character, uri))
    assert isinstance(result, types.InlineCompletionList)
    return result


async def metrics(client: LanguageClient) -> dict[str, Any]:
    return plain(await client.protocol.send_request_async("santa/metrics", {}))


def plain(value: Any) -> Any:
    """pygls hands the params of methods it does not know over as namedtuples."""
    if hasattr(value, "_asdict"):
        return {key: plain(item) for key, item in value._asdict().items()}
    return value


class RawServer:
    """The server under a hand-written client: for bytes no real client would send."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, *args: str) -> RawServer:
        process = await asyncio.create_subprocess_exec(
            *SERVER, *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=SERVER_ENV
        )
        return cls(process)

    def send_bytes(self, body: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def send(self, message: dict[str, Any]) -> None:
        self.send_bytes(json.dumps(message).encode())

    async def receive(self, timeout: float = 20) -> dict[str, Any]:
        assert self.process.stdout is not None
        length = 0
        while True:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
            if not line:
                raise EOFError("the server closed its output")
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
            elif line in (b"\r\n", b"\n") and length:
                return json.loads(await self.process.stdout.readexactly(length))

    async def response(self, msg_id: Any, timeout: float = 20) -> dict[str, Any]:
        """The response to `msg_id` (id null for errors about unreadable messages)."""
        while True:
            message = await self.receive(timeout)
            if "method" not in message and message.get("id") == msg_id:
                return message
            if message.get("method") == "window/workDoneProgress/create":
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})

    async def initialize(self, options: dict[str, Any] | None = None) -> None:
        params = {"capabilities": {}, "initializationOptions": options or {}}
        self.send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params})
        assert "result" in await self.response(0)
        self.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})

    async def close(self) -> int:
        if self.process.returncode is None:
            self.process.kill()
        return await self.process.wait()


def cancelled_generations(log: str) -> list[int]:
    """How many tokens each generation the server's DEBUG log reports cancelled had made
    (0 for one cancelled before it started)."""
    found = re.findall(r"generation cancelled (?:before it started|after (\d+) new tokens)", log)
    return [int(tokens or 0) for tokens in found]


async def drain(stream: asyncio.StreamReader, into: list[bytes]) -> None:
    """Keep reading a server's stderr: once a full pipe blocks the server, its next log line never comes out."""
    while chunk := await stream.read(1 << 16):
        into.append(chunk)
