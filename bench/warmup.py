"""What warm-up (`santa/prefill`) brings: the first request after the cursor comes to rest somewhere new.

    OMP_NUM_THREADS=1 python -m bench.warmup --model model/default_model

At the start of each region that `santa-lsp bench --quality` types (held-out files, the region
removed), a user puts the cursor, pauses (`--pause-s`: moving the hands, reading), and types one
character; the editor then asks for a suggestion. The editors send `santa/prefill` when the cursor
comes to rest (VS Code) or insert mode starts (Neovim). Two real servers over stdio, one with the
setting `warmUp` off and one with it on, take the cursors in alternation, so load from other jobs
falls on both alike. Prints, per server, the median and 95th-percentile latency of that first
request, the share of its prompt served from the prefix cache, and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from santa_lsp.bench import pct, server_command, start_server, stop_server
from santa_lsp.bench_quality import HELDOUT, LANGUAGES, Region, heldout_files, pick_regions
from santa_lsp.rpc import PREFILL
from santa_lsp.settings import DTYPES


@dataclass
class Arm:
    label: str
    warm_up: bool
    latencies_ms: list[float] = field(default_factory=list)
    reused: list[float] = field(default_factory=list)  # share of each request's prompt from the cache
    client: LanguageClient | None = None


async def metrics(client: LanguageClient) -> dict[str, Any]:
    return dict((await client.protocol.send_request_async("santa/metrics", {}))._asdict())


async def first_request(client: LanguageClient, region: Region, uri: str, pause_s: float, arm: Arm) -> None:
    """Open the file without the region, rest the cursor at its start, type its first character, ask."""
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, region.language, 1, region.before + region.after))
    )
    lines = region.before.split("\n")
    cursor = types.Position(len(lines) - 1, len(lines[-1].encode("utf-16-le")) // 2)
    client.protocol.notify(PREFILL, types.TextDocumentPositionParams(types.TextDocumentIdentifier(uri), cursor))
    await asyncio.sleep(pause_s)
    before = await metrics(client)
    change = types.TextDocumentContentChangePartial(range=types.Range(cursor, cursor), text=region.typed[0])
    identifier = types.VersionedTextDocumentIdentifier(version=2, uri=uri)
    client.text_document_did_change(types.DidChangeTextDocumentParams(identifier, [change]))
    at = types.Position(cursor.line, cursor.character + len(region.typed[0].encode("utf-16-le")) // 2)
    params = types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
        text_document=types.TextDocumentIdentifier(uri),
        position=at,
    )
    started = time.perf_counter()
    await client.text_document_inline_completion_async(params)
    arm.latencies_ms.append(1000 * (time.perf_counter() - started))
    after = await metrics(client)
    prompt = after["promptTokens"] - before["promptTokens"]
    arm.reused.append((after["reusedTokens"] - before["reusedTokens"]) / prompt if prompt else 0.0)
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))


async def run(args: argparse.Namespace, regions: list[Region]) -> list[Arm]:
    arms = [Arm("warmUp off", False), Arm("warmUp on", True)]
    options = {"timeBudgetMs": 0, "maxNewTokens": args.max_new_tokens}
    for arm in arms:
        arm.client = await start_server(server_command(args.model, args.dtype), {**options, "warmUp": arm.warm_up})
    try:
        for n, region in enumerate(regions):
            order = arms if n % 2 == 0 else arms[::-1]  # neither arm always goes first
            for arm in order:
                assert arm.client is not None
                await first_request(arm.client, region, f"file:///bench/{n}/{region.name}", args.pause_s, arm)
    finally:
        for arm in arms:
            if arm.client is not None:
                await stop_server(arm.client)
    return arms


def summary(arm: Arm) -> dict[str, Any]:
    return {
        "label": arm.label, "requests": len(arm.latencies_ms),
        "p50_ms": pct(arm.latencies_ms, 50), "p95_ms": pct(arm.latencies_ms, 95),
        "reused_mean": statistics.fmean(arm.reused),
    }  # fmt: skip


def table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'server':<12} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'prompt from cache':>18}"]
    for row in rows:
        lines.append(
            f"{row['label']:<12} {row['requests']:>8} {row['p50_ms']:>8.1f} {row['p95_ms']:>8.1f} "
            f"{row['reused_mean']:>17.1%}"
        )
    cold, warm = rows
    lines.append(f"p50 warm / cold: {warm['p50_ms'] / cold['p50_ms']:.2f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.warmup", description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="model directory")
    parser.add_argument("--dtype", default="auto", choices=DTYPES)
    parser.add_argument("--split", default="report", choices=("tune", "report", "all"))
    parser.add_argument("--max-files", type=int, default=4, help="files per language (default 4)")
    parser.add_argument("--pause-s", type=float, default=1.0, help="from the cursor at rest to the keystroke")
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    files = heldout_files([str(HELDOUT)], args.split)
    files = [f for suffix in LANGUAGES for f in [g for g in files if g.suffix == suffix][: args.max_files]]
    regions = [
        region for file in files
        for region in pick_regions(file.name, file.read_text(encoding="utf-8"), LANGUAGES[file.suffix], 1, 0)
    ]  # fmt: skip
    rows = [summary(arm) for arm in asyncio.run(run(args, regions))]
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "dtype": args.dtype, "pause_s": args.pause_s,
                                         "regions": len(regions), "arms": rows}, indent=2) + "\n")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
