"""`santa-lsp bench`: a typing session replayed through the real server over stdio.

The file is opened with a run of its lines missing, then those lines are typed back one
character at a time, a keystroke every 50-100 ms: each keystroke sends `didChange` and an
`inlineCompletion` request without waiting for the previous answer, as an editor does. The same
session runs twice, with the caches on and off, and prints request latency, the typed-ahead hit
rate and the share of prompt tokens served from the prefix KV cache. With `--backend` and
`--backend-url`, a third run (caches on) types the same session against that inference server
serving the same model (docs/backends.md): the local and remote figures come from one run.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from santa_lsp.settings import BACKENDS, DTYPES

URI = "file:///bench/session.py"


@dataclass
class Session:
    latencies_ms: list[float] = field(default_factory=list)
    typed_ahead_ms: list[float] = field(default_factory=list)
    shown: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)


def default_file() -> Path:
    import json.decoder  # a real, ordinary Python source file on every machine

    return Path(json.decoder.__file__)


def split_session(text: str, start: int, count: int) -> tuple[str, str, int]:
    """(document without lines [start, start+count), the text to type, the line typing starts on)."""
    lines = text.splitlines(keepends=True)
    start = min(start, max(0, len(lines) - count))
    typed = "".join(lines[start : start + count])
    return "".join(lines[:start] + lines[start + count :]), typed, start


async def start_server(command: Sequence[str], options: dict[str, Any]) -> LanguageClient:
    """A real server process with a client, initialized with `options`, once its model is ready."""
    client = LanguageClient("santa-lsp-bench", "1")
    ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @client.feature("santa/status")
    def status(params: Any) -> None:
        state = getattr(params, "state", None)
        if state in ("ready", "error") and not ready.done():
            ready.set_result(None) if state == "ready" else ready.set_exception(RuntimeError(params.message))

    await client.start_io(*command)
    await client.initialize_async(
        types.InitializeParams(capabilities=types.ClientCapabilities(), initialization_options=options)
    )
    client.initialized(types.InitializedParams())
    await ready
    return client


async def stop_server(client: LanguageClient) -> dict[str, Any]:
    """The server's `santa/metrics`, then a clean shutdown."""
    metrics = dict((await client.protocol.send_request_async("santa/metrics", {}))._asdict())
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return metrics


def server_command(model: str, dtype: str, *extra: str, program: Sequence[str] | None = None) -> list[str]:
    """This santa-lsp (or `program`) serving `model`, logging warnings only."""
    program = program or [sys.executable, "-m", "santa_lsp.cli"]
    return [*program, "--model", model, "--dtype", dtype, "--log-level", "WARNING", *extra]


async def run_session(args: argparse.Namespace, cache: bool, backend: str = "local") -> Session:
    command = server_command(args.model, args.dtype, *([] if cache else ["--no-cache"]))
    options = {"maxNewTokens": args.max_new_tokens, "timeBudgetMs": args.time_budget_ms, "cache": cache}
    if backend != "local":  # `--model` then names the served model: its tokenizer sizes the prompts
        options |= {"backend": backend, "backendUrl": args.backend_url}
    client = await start_server(command, options)
    session = await type_file(client, args)
    session.metrics = await stop_server(client)
    return session


async def type_file(client: LanguageClient, args: argparse.Namespace) -> Session:
    text = Path(args.file).read_text(encoding="utf-8")
    document, typed, line = split_session(text, args.start_line, args.lines)
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(URI, "python", 1, document)))
    session, rng, pending = Session(), random.Random(args.seed), []
    column, shown, position = 0, "", 0
    for version in range(2, args.keystrokes + 2):
        # Now and then the user types along the suggestion on screen instead of the file's text:
        # the case the typed-ahead cache is for (a random model never writes the file itself).
        following = bool(shown) and rng.random() < args.follow
        if following:
            char = shown[0]
        elif position < len(typed):
            char, position = typed[position], position + 1
        else:
            break
        where = types.Position(line, column)
        change = types.TextDocumentContentChangePartial(range=types.Range(where, where), text=char)
        identifier = types.VersionedTextDocumentIdentifier(version=version, uri=URI)
        client.text_document_did_change(types.DidChangeTextDocumentParams(identifier, [change]))
        line, column = (line + 1, 0) if char == "\n" else (line, column + 1)
        expected = shown[1:] if shown[:1] == char else ""  # what a typed-ahead hit would answer
        pending.append(asyncio.ensure_future(_request(client, session, line, column, expected)))
        await asyncio.sleep(rng.uniform(0.05, 0.1))
        shown = _on_screen(pending, expected if following else "")
    await asyncio.gather(*pending)
    return session


def _on_screen(pending: list[asyncio.Future[str]], kept: str) -> str:
    """The suggestion on screen: the latest answer that has arrived, or what is left of the old one."""
    done = [future.result() for future in pending if future.done()]
    pending[:] = [future for future in pending if not future.done()]
    return done[-1] if done and done[-1] else kept


async def _request(client: LanguageClient, session: Session, line: int, column: int, expected: str) -> str:
    params = types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
        text_document=types.TextDocumentIdentifier(URI),
        position=types.Position(line, column),
    )
    started = time.perf_counter()
    result = await client.text_document_inline_completion_async(params)
    elapsed = 1000 * (time.perf_counter() - started)
    session.latencies_ms.append(elapsed)
    items = result.items if isinstance(result, types.InlineCompletionList) else []
    text = str(items[0].insert_text) if items else ""
    if text:
        session.shown += 1
        if expected and text == expected:
            session.typed_ahead_ms.append(elapsed)
    return text


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(name: str, session: Session) -> str:
    m = session.metrics
    requests = max(1, m.get("requests", 0))
    prompt = max(1, m.get("promptTokens", 0))
    return (
        f"{name:<10} requests {m.get('requests', 0):4d}  p50 {pct(session.latencies_ms, 50):7.1f} ms  "
        f"p95 {pct(session.latencies_ms, 95):7.1f} ms  shown {session.shown:4d}  "
        f"typed-ahead hits {m.get('typedAheadHits', 0) / requests:6.1%} "
        f"(p50 {pct(session.typed_ahead_ms, 50):.1f} ms, p95 {pct(session.typed_ahead_ms, 95):.1f} ms)  "
        f"model calls {m.get('modelCalls', 0):4d}  cancelled {m.get('cancelled', 0):4d}  "
        f"prefix-KV reuse {m.get('reusedTokens', 0) / prompt:6.1%} "
        f"({m.get('reusedTokens', 0)} of {m.get('promptTokens', 0)} prompt tokens)"
    )


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="santa-lsp bench", description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="model directory")
    parser.add_argument("--dtype", default="auto", choices=DTYPES, help="the server's --dtype (default auto)")
    parser.add_argument("--file", default=str(default_file()), help="source file to type (default: json/decoder.py)")
    parser.add_argument("--start-line", type=int, default=200, help="first line to type")
    parser.add_argument("--lines", type=int, default=12, help="how many lines are typed")
    parser.add_argument("--keystrokes", type=int, default=300)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--time-budget-ms", type=int, default=1500)
    parser.add_argument("--follow", type=float, default=0.5, help="chance to type along a shown suggestion")
    parser.add_argument("--seed", type=int, default=0, help="for the keystroke intervals")
    parser.add_argument("--backend", choices=[b for b in BACKENDS if b != "local"], help="also run on this server")
    parser.add_argument("--backend-url", help="the inference server serving --model (with --backend)")
    parser.add_argument("--only", choices=("cache", "nocache", "remote"), help="run one session only")
    args = parser.parse_args(argv)
    if bool(args.backend) != bool(args.backend_url):
        parser.error("--backend and --backend-url go together")
    runs = [("cache", True, "local"), ("nocache", False, "local")]
    if args.backend:
        runs.append(("remote", True, args.backend))
    for name, cache, backend in runs:
        if args.only in (None, name):
            label = args.backend if name == "remote" else name
            print(report(label, asyncio.run(run_session(args, cache, backend))), flush=True)
    return 0
