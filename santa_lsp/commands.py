"""The `santa-lsp complete`, `stats` and `bench` commands."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from santa_lsp.cli import model_arguments, settings_from, setup_logging
from santa_lsp.documents import Document, split_lines, strip_end
from santa_lsp.settings import Settings

WHERE = "FILE:LINE:COL (from 1; COL counts characters), e.g. examples/fib.py:16:9"


def run(command: str, argv: Sequence[str]) -> int:
    return {"complete": complete, "stats": stats, "bench": bench}[command](argv)


def complete_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="santa-lsp complete", description="Print the completion at a cursor (no editor needed)."
    )
    model_arguments(parser)
    # No keystroke follows: the whole answer is waited for, however busy the machine (a time
    # budget is for an editor, where the next keystroke makes a late answer useless).
    parser.set_defaults(time_budget_ms=0)
    parser.add_argument("where", help=WHERE)
    return parser


def complete(argv: Sequence[str]) -> int:
    parser = complete_parser()
    args = parser.parse_args(argv)
    setup_logging("WARNING" if args.log_level.upper() == "INFO" else args.log_level)
    try:  # all of it before the model loads: a typo costs no wait
        path, line, column = _where(args.where)
        text = Path(path).read_text(encoding="utf-8")
        _check_cursor(path, text, line, column)
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    suggestion = asyncio.run(_complete_once(settings_from(args), path, text, line - 1, column - 1))
    if suggestion is None:
        return 1
    sys.stdout.write(suggestion + "\n")
    return 0


def _where(spec: str) -> tuple[str, int, int]:
    found = re.fullmatch(r"(.+):([0-9]+):([0-9]+)", spec)
    if found is None:
        raise ValueError(f"{spec!r}: expected {WHERE}")
    path, line, column = found[1], int(found[2]), int(found[3])
    if line < 1 or column < 1:
        raise ValueError(f"{spec!r}: LINE and COL start at 1")
    return path, line, column


def _check_cursor(path: str, text: str, line: int, column: int) -> None:
    """A cursor inside the file: on one of its lines, at most just after the line's last character."""
    lines = split_lines(text)
    if line > len(lines):
        raise ValueError(f"{path}:{line}: past the end of the file: LINE goes from 1 to {len(lines)}")
    last = len(strip_end(lines[line - 1])) + 1
    if column > last:
        raise ValueError(f"{path}:{line}:{column}: past the end of the line: COL goes from 1 to {last} there")


async def _complete_once(settings: Settings, path: str, text: str, line: int, column: int) -> str | None:
    """The suggestion ("" when there is none), or None when the request could not be served."""
    from santa_lsp.completer import Completer
    from santa_lsp.model_host import ModelHost
    from santa_lsp.syntax import SUFFIXES
    from santa_lsp.window import Cursor
    from santa_lsp.worker import Worker
    from santa_lsp.workspace import Workspace

    worker = Worker()
    host = ModelHost(worker, lambda state: None, log_errors=False)  # the one report is printed here
    await host.load(settings)
    if not host.ready:
        print(f"santa-lsp: {host.state.message}", file=sys.stderr)
        return None
    language = SUFFIXES.get(Path(path).suffix, "")  # the syntax check needs it
    doc = Document.from_text(Path(path).resolve().as_uri(), language, 1, text, "utf-32")
    workspace = Workspace()
    entry = workspace.open(doc)
    suggestions = await Completer(host, worker).complete(entry, Cursor(line, column), settings, workspace)
    await host.close()
    worker.close()
    if host.state.state == "error":  # an inference server that did not answer
        print(f"santa-lsp: {host.state.message}", file=sys.stderr)
        return None
    if not suggestions:  # a valid answer, not an error: nothing worth showing here
        print("santa-lsp: no suggestion at this position", file=sys.stderr)
        return ""
    return suggestions[0].text


def stats(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="santa-lsp stats", description="Print the local acceptance statistics (setting `stats`)."
    )
    parser.parse_args(argv)
    from santa_lsp.stats import Stats, stats_path

    print(json.dumps({"file": str(stats_path()), **Stats.load().summary()}, indent=2))
    return 0


def bench(argv: Sequence[str]) -> int:
    if "--quality" in argv:
        from santa_lsp import bench_quality

        return bench_quality.main([arg for arg in argv if arg != "--quality"])
    from santa_lsp.bench import main

    return main(argv)
