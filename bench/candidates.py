"""What the `candidates` setting costs: one request's latency with n candidates against one, interleaved.

    OMP_NUM_THREADS=2 python -m bench.candidates --model model/default_model --counts 1,3

At cursors spread over a Python file, the server's completer (prompt, generation, post-processing
and gates, as `textDocument/inlineCompletion` runs them) is asked once to warm the prefix cache,
then once per count in alternating order, so every timed request reuses the prompt's KV as a
keystroke does and neighbours' load falls on each count alike. Prints, per count, the median
wall and CPU milliseconds per request, the median per-cursor ratio against the first count, how
many suggestions came back and how many requests got at least one.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import statistics
import time
from pathlib import Path

from santa_lsp.bench import default_file
from santa_lsp.completer import Completer
from santa_lsp.documents import Document
from santa_lsp.model_host import ModelHost
from santa_lsp.settings import Settings
from santa_lsp.window import Cursor
from santa_lsp.worker import Worker
from santa_lsp.workspace import Workspace


@dataclasses.dataclass
class Timing:
    wall_ms: list[float] = dataclasses.field(default_factory=list)
    cpu_ms: list[float] = dataclasses.field(default_factory=list)
    suggestions: int = 0
    answered: int = 0  # requests with at least one suggestion


def cursors(text: str, count: int, seed: int) -> list[Cursor]:
    """`count` cursors inside non-blank lines, at random columns (the line's end included)."""
    lines = text.split("\n")
    rng = random.Random(seed)
    code = [i for i, line in enumerate(lines) if line.strip()]
    picked = sorted(rng.sample(code, min(count, len(code))))
    return [Cursor(i, rng.randint(len(lines[i]) - len(lines[i].lstrip()), len(lines[i]))) for i in picked]


async def measure(args: argparse.Namespace) -> dict[int, Timing]:
    worker = Worker()
    host = ModelHost(worker, lambda state: None)
    base = Settings(model=args.model, dtype=args.dtype, maxNewTokens=args.max_new_tokens, timeBudgetMs=0)
    await host.load(base)
    if not host.ready:
        raise SystemExit(f"bench.candidates: {host.state.message}")
    text = Path(args.file).read_text(encoding="utf-8")
    workspace = Workspace()
    entry = workspace.open(Document.from_text("file:///bench/candidates.py", "python", 1, text, "utf-32"))
    counts = [int(n) for n in args.counts.split(",")]
    timings = {n: Timing() for n in counts}
    for round_, cursor in enumerate(cursors(text, args.cursors, args.seed)):
        await Completer(host, worker).complete(entry, cursor, base, workspace)  # the prompt into the prefix cache
        for n in counts if round_ % 2 == 0 else counts[::-1]:
            settings = dataclasses.replace(base, candidates=n)
            wall, cpu = time.perf_counter(), time.process_time()
            entry.shown = []  # no typed-ahead answer from the previous count (the record keeps it)
            found = await Completer(host, worker).complete(entry, cursor, settings, workspace)
            timings[n].wall_ms.append(1000 * (time.perf_counter() - wall))
            timings[n].cpu_ms.append(1000 * (time.process_time() - cpu))
            timings[n].suggestions += len(found)
            timings[n].answered += bool(found)
        print(f"cursor {round_ + 1}/{args.cursors} at {cursor.line + 1}:{cursor.column + 1}", flush=True)
    worker.close()
    return timings


def report(timings: dict[int, Timing]) -> list[str]:
    first = next(iter(timings.values()))
    rows = []
    for n, timing in timings.items():
        ratio = statistics.median(b / a for a, b in zip(first.wall_ms, timing.wall_ms, strict=True))
        cpu_ratio = statistics.median(b / a for a, b in zip(first.cpu_ms, timing.cpu_ms, strict=True))
        rows.append(
            f"candidates {n}: wall p50 {statistics.median(timing.wall_ms):7.1f} ms (x{ratio:.2f})  "
            f"cpu p50 {statistics.median(timing.cpu_ms):7.1f} ms (x{cpu_ratio:.2f})  "
            f"suggestions {timing.suggestions}, requests answered {timing.answered} of {len(timing.wall_ms)}"
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.candidates", description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--file", default=str(default_file()), help="source file (default: json/decoder.py)")
    parser.add_argument("--counts", default="1,3", help="candidate counts, the first is the baseline")
    parser.add_argument("--cursors", type=int, default=30)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for row in report(asyncio.run(measure(args))):
        print(row)


if __name__ == "__main__":
    main()
