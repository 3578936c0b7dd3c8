"""`python -m bench.blocks`: what stopping a block completion at the block's end saves.

Every block body of the given files (the first line after a line ending in `:`) is blanked to its
indentation, as if the user were about to write it, and completed twice (an SPM prompt of the 40
lines above and the 10 below, greedy): generating to the token limit, and stopping once a line
leaves the cursor's scope (`postprocess.block_ended`), as the server does. It prints tokens and
milliseconds per completion for both and checks that the suggestions shown are the same.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import model
from santa_lsp.bench import default_file
from santa_lsp.completer import special_markers
from santa_lsp.documents import Document
from santa_lsp.postprocess import block_ended, finish
from santa_lsp.situation import Situation, situation
from santa_lsp.window import Cursor

CONTEXT_LINES = 40  # above the cursor; the prompt takes the next 10 lines below it


def block_starts(text: str) -> Iterator[tuple[str, str, Situation]]:
    """(prefix, suffix, situation) at each block body's first line, blanked to its indentation."""
    lines = text.splitlines(keepends=True)
    for i in range(1, len(lines)):
        line = lines[i]
        if not lines[i - 1].rstrip().endswith(":") or not line.strip():
            continue
        indent = line[: len(line) - len(line.lstrip())]
        blanked = "".join([*lines[:i], indent + "\n", *lines[i + 1 :]])
        where = situation(Document.from_text("file:///b.py", "python", 1, blanked, "utf-16"), Cursor(i, len(indent)))
        prefix = "".join(lines[max(0, i - CONTEXT_LINES) : i]) + indent
        yield prefix, "\n" + "".join(lines[i + 1 : i + 11]), where


def complete(
    engine: model.Engine, prefix: str, suffix: str, where: Situation, stop: bool, max_new: int
) -> model.Completion:
    stop_when = functools.partial(block_ended, scope_indent=where.scope_indent) if stop else None
    config = model.GenerationConfig(max_new_tokens=max_new, stop_when=stop_when, use_prefix_cache=False)
    return engine.infill(prefix, suffix, config=config)


def run(engine: model.Engine, files: Sequence[Path], max_new: int, limit: int) -> dict[str, float]:
    markers = special_markers(engine.tokenizer)
    tokens: dict[bool, list[int]] = {True: [], False: []}
    millis: dict[bool, list[float]] = {True: [], False: []}
    same = 0
    blocks = [b for path in files for b in block_starts(path.read_text(encoding="utf-8"))][:limit]
    if not blocks:
        raise ValueError("no block bodies (a line after a line ending in ':') in the files given")
    for prefix, suffix, where in blocks:
        shown = []
        for stop in (True, False):
            result = complete(engine, prefix, suffix, where, stop, max_new)
            tokens[stop].append(len(result.token_ids))
            millis[stop].append(1000 * result.elapsed_s)
            shown.append(finish(result.text, where, (), markers, result.finish_reason))
        same += shown[0] == shown[1]
    return {
        "blocks": len(blocks),
        "same_suggestion": same,
        "tokens_stopped": statistics.mean(tokens[True]),
        "tokens_to_limit": statistics.mean(tokens[False]),
        "ms_stopped": statistics.mean(millis[True]),
        "ms_to_limit": statistics.mean(millis[False]),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.blocks", description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(model.DEFAULT_MODEL), help="model directory (default: the shipped one)")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("files", nargs="*", type=Path, help="Python files (default: json/decoder.py)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--limit", type=int, default=10**6, help="at most this many blocks")
    args = parser.parse_args(argv)
    engine = model.load(args.model, dtype=args.dtype)
    try:
        r = run(engine, args.files or [default_file()], args.max_new_tokens, args.limit)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{r['blocks']} block completions, the same suggestion in {r['same_suggestion']}")
    print(f"to the token limit      {r['tokens_to_limit']:6.1f} tokens  {r['ms_to_limit']:8.1f} ms per completion")
    print(f"stopped at block's end  {r['tokens_stopped']:6.1f} tokens  {r['ms_stopped']:8.1f} ms per completion")
    print(f"saved: {1 - r['ms_stopped'] / r['ms_to_limit']:.0%} of the time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
