"""Keystrokes saved by several models on the same held-out files, through `santa-lsp bench --quality`.

The bench types regions of the files back into the real server and counts what the suggestions
save (santa_lsp/bench_quality.py). Each model is one arm of a single run: the arms type the same
regions, so the bench also gives each later arm's difference with the first, with a paired
interval. It runs as a child process, as a user would run it; its progress goes to the terminal.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Files the bench can type (santa_lsp.bench_quality.LANGUAGES): others are not handed to it.
BENCH_SUFFIXES = (".py", ".java", ".js")


def keystrokes_saved(
    models: Sequence[str | Path], paths: Sequence[Path], out: Path, *, per_kind: int, device: str = "auto",
    settings: dict[str, Any] | None = None, seed: int = 0,
) -> dict[str, Any] | None:  # fmt: skip
    """The bench's figures per model (`arms`, in the order of `models`), also written to `out`;
    None when the files hold no function body to type (the bench then has nothing to measure).
    `settings` are server settings for every model (docs/protocol.md; default: the server's)."""
    arms = [json.dumps({**(settings or {}), "model": str(m), "device": device}) for m in models]
    command = [
        sys.executable, "-m", "santa_lsp.cli", "bench", "--quality", "--model", str(models[0]),
        *(arg for arm in arms for arg in ("--settings", arm)),
        "--per-kind", str(per_kind), "--seed", str(seed), "--json", str(out), *map(str, paths),
    ]  # fmt: skip
    out.unlink(missing_ok=True)
    done = subprocess.run(command, stdout=subprocess.DEVNULL)
    if done.returncode == 2 and not out.exists():
        return None
    if done.returncode != 0:
        raise RuntimeError(f"santa-lsp bench --quality failed (exit {done.returncode}); its messages are above")
    return json.loads(out.read_text())
