"""A seeded fuzz run over stdio: thousands of valid and malformed messages, a probe request after every hundred.

The server must answer each probe, answer every request it could read exactly once (no request twice, whatever
it was sent), keep its log free of tracebacks, and still shut down cleanly at the end.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from santa_lsp.framing import FrameReader
from tests.lsp_support import OPTIONS, SERVER, SERVER_ENV, RawServer, drain

pytestmark = pytest.mark.slow  # hundreds of random messages through real servers

SEED = 20250611
MESSAGES = 3000
PROBE_EVERY = 100
TIMEOUT_S = 30

URIS = ["file:///fuzz/a.py", "file:///fuzz/b.py", "untitled:c"]
TEXTS = [
    "",
    "x = 1\n",
    "def add(a, b):\n    return a + b\n\n\ndef fib(n):\n    \n",
    "s = '😀'\r\nt = 'é' + \n",
    "half \ud800 a pair\n\udc00\n",  # lone surrogates: json.dumps escapes them
    'r = "Content-Length: 12\\r\\n"\nContent-Length: 5\n',
    "\x00\x01\x02 binary\n\x7f",
    "line\n" * 40,
]
SETTINGS: list[Any] = [
    {"enabled": True},
    {"enabled": False},
    {"maxNewTokens": 4},
    {"maxNewTokens": "many"},
    {"maxNewTokens": -1},
    {"santaLsp": {"maxNewTokens": 8, "crossFileTokens": 16}},
    {"stop": ["\n\n"], "temperature": 0.5},
    {"syntaxCheck": True, "stopRepetition": True, "minTokenProb": 0.2},
    {"cache": False},
    {"disabledLanguages": ["python"]},
    {"disabledLanguages": []},
    {"stats": True},
    {"noSuchSetting": {"deep": [1, 2]}},
    [1, 2],
    "a string",
    None,
]
NOTIFICATIONS = [
    "textDocument/didOpen",
    "textDocument/didChange",
    "textDocument/didClose",
    "initialized",
    "$/cancelRequest",
    "workspace/didChangeConfiguration",
    "$/setTrace",
]


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class Fuzz:
    """Writes the messages; remembers which ids must get exactly one answer and which at most one."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.ids = 0
        self.must: set[int] = set()  # well-formed requests: exactly one answer each
        self.versions = {uri: 0 for uri in URIS}
        generators: dict[Callable[[], bytes], int] = {
            self.open: 6,
            self.change: 10,
            self.close: 2,
            self.complete: 14,
            self.metrics: 4,
            self.command: 3,
            self.configure: 3,
            self.cancel: 3,
            self.trace: 1,
            self.unknown: 2,
            self.response: 3,
            self.notification_with_id: 3,
            self.wrong_types: 4,
            self.deep: 2,
            self.bad_json: 4,
            self.mangled_frame: 12,
            self.noise: 4,
        }
        self.generators = list(generators)
        self.weights = list(generators.values())

    def message(self) -> bytes:
        return self.rng.choices(self.generators, self.weights)[0]()

    # --- helpers ---------------------------------------------------------------------------

    def new_id(self) -> int:
        self.ids += 1
        return self.ids

    def body(self, method: str, params: Any, request: bool = True) -> tuple[bytes, int | None]:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        msg_id = self.new_id() if request else None
        if msg_id is not None:
            message["id"] = msg_id
        return json.dumps(message).encode(), msg_id

    def request(self, method: str, params: Any) -> bytes:
        data, msg_id = self.body(method, params)
        self.must.add(msg_id)  # type: ignore[arg-type]
        return frame(data)

    def notify(self, method: str, params: Any) -> bytes:
        return frame(self.body(method, params, request=False)[0])

    def position(self) -> dict[str, int]:
        line = self.rng.choice([0, 1, 2, 3, 5, 8, 40, -1, 2**31])
        character = self.rng.choice([0, 1, 3, 4, 6, 7, 11, 30, 200, -2])
        return {"line": line, "character": character}

    def doc(self) -> dict[str, Any]:
        return {"uri": self.rng.choice(URIS)}

    # --- valid messages (some with values out of range) ------------------------------------

    def open(self) -> bytes:
        uri = self.rng.choice(URIS)
        self.versions[uri] += 1
        language = self.rng.choice(["python", "rust", "plaintext"])
        item = {"uri": uri, "languageId": language, "version": self.versions[uri], "text": self.rng.choice(TEXTS)}
        return self.notify("textDocument/didOpen", {"textDocument": item})

    def change(self) -> bytes:
        uri = self.rng.choice(URIS)
        self.versions[uri] += 1
        if self.rng.random() < 0.2:
            change: dict[str, Any] = {"text": self.rng.choice(TEXTS)}
        else:
            text = self.rng.choice(["x", "\n", "😀", "\ud800", "é\r\n  ", "", "def g():\n    "])
            change = {"range": {"start": self.position(), "end": self.position()}, "text": text}
        params = {"textDocument": {"uri": uri, "version": self.versions[uri]}, "contentChanges": [change]}
        return self.notify("textDocument/didChange", params)

    def close(self) -> bytes:
        return self.notify("textDocument/didClose", {"textDocument": self.doc()})

    def complete(self) -> bytes:
        params: dict[str, Any] = {"textDocument": self.doc(), "position": self.position()}
        if self.rng.random() < 0.5:
            params["context"] = {"triggerKind": self.rng.choice([1, 2])}
            return self.request("textDocument/inlineCompletion", params)
        return self.request("textDocument/completion", params)

    def metrics(self) -> bytes:
        return self.request(self.rng.choice(["santa/metrics", "santa/stats"]), self.rng.choice([{}, None, [1]]))

    def command(self) -> bytes:
        params: dict[str, Any] = {"command": self.rng.choice(["santa-lsp.accepted", "santa-lsp.accepted", "nope"])}
        arguments = self.rng.choice([None, [], ["1"], ["2", "3"], [{}], [None]])
        if arguments is not None:
            params["arguments"] = arguments
        return self.request("workspace/executeCommand", params)

    def configure(self) -> bytes:
        return self.notify("workspace/didChangeConfiguration", {"settings": self.rng.choice(SETTINGS)})

    def cancel(self) -> bytes:
        return self.notify("$/cancelRequest", {"id": self.rng.randint(max(1, self.ids - 5), self.ids + 1)})

    def trace(self) -> bytes:
        return self.notify("$/setTrace", {"value": self.rng.choice(["off", "messages", "verbose"])})

    def unknown(self) -> bytes:
        if self.rng.random() < 0.5:
            return self.request("santa/noSuchMethod", {"x": 1})
        return self.notify("santa/noSuchNotification", {"x": 1})

    def response(self) -> bytes:
        """A response to nothing the server asked: ignored."""
        msg_id = self.rng.choice([self.ids, "nobody-asked", None, 0])
        outcome = self.rng.choice([{"result": None}, {"error": {"code": -32603, "message": "no"}}])
        if self.rng.random() < 0.2:  # neither a result nor an error: an invalid request, answered
            msg_id, outcome = self.new_id(), {}
            self.must.add(msg_id)
        return frame(json.dumps({"jsonrpc": "2.0", "id": msg_id, **outcome}).encode())

    # --- malformed messages ----------------------------------------------------------------

    def notification_with_id(self) -> bytes:
        method = self.rng.choice(NOTIFICATIONS)
        return self.request(method, {"textDocument": self.doc(), "settings": {}, "id": 1, "value": "off"})

    def wrong_types(self) -> bytes:
        choice = self.rng.randrange(5)
        if choice == 0:  # a method that is not a string: its id still gets an answer
            return self.request(self.rng.choice([5, None, ["x"]]), {})  # type: ignore[arg-type]
        if choice == 1:  # an id that is not an integer or a string: answered with id null
            msg_id = self.rng.choice([{"a": 1}, [1], 1.5, True, None])
            return frame(json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": "santa/metrics"}).encode())
        if choice == 2:  # params of the wrong shape
            params = self.rng.choice([{"position": "here"}, {"textDocument": 5}, [1, 2], "params"])
            return self.request(self.rng.choice(["textDocument/inlineCompletion", "textDocument/completion"]), params)
        if choice == 3:  # not JSON-RPC 2.0
            return frame(json.dumps({"jsonrpc": "1.0", "id": self.new_id(), "method": "santa/metrics"}).encode())
        return frame(json.dumps(self.rng.choice([[1, 2], 5, "text", None, {}])).encode())

    def deep(self) -> bytes:
        depth = self.rng.choice([500, 900, 3000, 20000])
        nested = self.rng.choice([b"[" * depth + b"]" * depth, b'{"a":' * depth + b"0" + b"}" * depth])
        method = self.rng.choice([b"santa/metrics", b"workspace/executeCommand", b"textDocument/completion"])
        msg_id = self.new_id()
        self.must.add(msg_id)
        return frame(b'{"jsonrpc": "2.0", "id": %d, "method": "%s", "params": %s}' % (msg_id, method, nested))

    def bad_json(self) -> bytes:
        data = self.body("santa/metrics", {})[0]
        cut = self.rng.randrange(1, len(data))
        choice = self.rng.randrange(3)
        if choice == 0:
            return frame(data[:cut])  # a well-framed, truncated body: ParseError, id null
        if choice == 1:
            return frame(data[:cut] + b"\xff\xfe" + data[cut:])  # not UTF-8
        return frame(b"{'single': 'quotes'}")

    def mangled_frame(self) -> bytes:
        data, msg_id = self.body("santa/metrics", {})
        choice = self.rng.randrange(11)
        readable = {  # header variants the server reads as they are
            0: b"content-length: %d\r\n\r\n" % len(data),
            1: b"Content-Length: %d\n\n" % len(data),
            2: b"Content-Length:   %d   \r\n\r\n" % len(data),
            3: b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: %d\r\n\r\n" % len(data),
        }
        if choice in readable:
            self.must.add(msg_id)  # type: ignore[arg-type]
            return readable[choice] + data
        broken = {  # at most one answer, a ParseError
            4: b"Content-Length: %d\r\n\r\n" % max(1, len(data) - self.rng.randint(1, 20)),
            5: b"Content-Length: %d\r\n\r\n" % (len(data) + self.rng.randint(1, 500)),
            6: b"Content-Length: -%d\r\n\r\n" % len(data),
            7: b"Content-Length: lots\r\n\r\n",
            8: b"Content-Length: %d\r\n" % len(data),
        }
        if choice in broken:
            return broken[choice] + data
        if choice == 9:
            return b"Content-Length: %d\r\n\r\n" % self.rng.randint(0, 60)  # a header with no body
        return b"Content-Length: 1%s\r\n\r\n" % (b"0" * self.rng.randint(10, 5000))

    def noise(self) -> bytes:
        if self.rng.random() < 0.5:
            return bytes(self.rng.randrange(256) for _ in range(self.rng.randint(1, 200)))
        return self.rng.choice([b"\r\n", b"\r\n\r\n", b"garbage\r\n", b"}}}", b'{"jsonrpc": "2.0"'])


def test_frames_do_not_depend_on_how_the_stream_is_cut() -> None:
    """Reads come in pieces of any size: the well-formed frames found must be the same whatever the pieces."""
    fuzz = Fuzz(SEED + 1)
    stream = b"".join(fuzz.message() for _ in range(600))

    def frames(sizes: Callable[[], int]) -> list[bytes]:
        reader, found, pos = FrameReader(), [], 0
        while pos < len(stream):
            size = sizes()
            found += [frame.body for frame in reader.feed(stream[pos : pos + size]) if not frame.problem]
            pos += size
        return found

    whole = frames(lambda: len(stream))
    assert len(whole) > 300
    assert frames(lambda: 1) == whole
    assert frames(lambda: fuzz.rng.randint(1, 300)) == whole


@pytest.mark.asyncio
async def test_fuzz_every_request_answered_once_and_the_server_keeps_reading(tiny_model: Path, tmp_path: Path) -> None:
    # Its own data directory: the fuzzer turns statistics on, and other tests count theirs.
    env = {**SERVER_ENV, "SANTA_LSP_DATA_DIR": str(tmp_path)}
    process = await asyncio.create_subprocess_exec(
        *SERVER,
        "--model",
        str(tiny_model),
        "--log-level",
        "WARNING",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    server = RawServer(process)
    assert process.stderr is not None
    log: list[bytes] = []
    logging = asyncio.ensure_future(drain(process.stderr, log))
    try:
        await server.initialize(OPTIONS)
        while (await server.receive(TIMEOUT_S * 4)).get("params", {}).get("state") != "ready":
            pass
        fuzz = Fuzz(SEED)
        answers: Counter[Any] = Counter()
        for batch in range(MESSAGES // PROBE_EVERY):
            data = b"".join(fuzz.message() for _ in range(PROBE_EVERY))
            probe = f"probe-{batch}"
            assert process.stdin is not None
            process.stdin.write(data)
            server.send({"jsonrpc": "2.0", "id": probe, "method": "santa/metrics"})
            while True:
                try:
                    message = await server.receive(TIMEOUT_S)
                except TimeoutError:
                    pytest.fail(f"probe {probe} never answered")
                if "method" in message:
                    continue
                assert "traceback" not in json.dumps(message).lower(), message
                answers[message.get("id")] += 1
                if message.get("id") == probe:
                    break
        while not fuzz.must <= set(answers):  # completions still at work when the last probe was answered
            try:
                message = await server.receive(TIMEOUT_S)
            except TimeoutError:
                break
            if "method" not in message:
                answers[message.get("id")] += 1
        twice = {msg_id: count for msg_id, count in answers.items() if msg_id is not None and count > 1}
        assert not twice, twice
        unanswered = sorted(fuzz.must - set(answers))
        assert not unanswered, unanswered[:20]
        server.send({"jsonrpc": "2.0", "id": "bye", "method": "shutdown"})
        await server.response("bye", TIMEOUT_S)
        server.send({"jsonrpc": "2.0", "method": "exit"})
        assert await asyncio.wait_for(process.wait(), TIMEOUT_S) == 0
        await asyncio.wait_for(logging, TIMEOUT_S)
        text = b"".join(log).decode(errors="replace")
        assert "Traceback" not in text, text[text.index("Traceback") - 500 :][:3000]
    finally:
        await server.close()
        logging.cancel()
