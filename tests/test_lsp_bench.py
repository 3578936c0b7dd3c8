"""`santa-lsp bench`: a short typing session through the real server, on the shipped model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import model
from bench.blocks import main as block_bench
from santa_lsp import bench

pytestmark = pytest.mark.slow  # benchmarks on the shipped model


@pytest.mark.skipif(model.default_model() is None, reason="the shipped model is not installed")
def test_bench_replays_typing_through_the_server(capsys: pytest.CaptureFixture[str]) -> None:
    # The typist types the file only (--follow 0) and suggestions are short, so that typed-ahead
    # hits (which need no model call) cannot cover all ten keystrokes, however good the model.
    argv = ["--model", str(model.DEFAULT_MODEL), "--dtype", "int8", "--keystrokes", "10", "--only", "cache",
            "--max-new-tokens", "4", "--follow", "0"]  # fmt: skip
    assert bench.main(argv) == 0
    line = capsys.readouterr().out.strip()
    assert re.match(r"cache\s+requests\s+10\s+p50\s+[\d.]+ ms", line), line
    reused = re.search(r"prefix-KV reuse\s+([\d.]+)%", line)
    assert reused and float(reused.group(1)) > 0  # the server kept and reused its KV caches


@pytest.mark.skipif(model.default_model() is None, reason="the shipped model is not installed")
def test_stopping_at_the_block_end_shows_the_same_suggestions(capsys: pytest.CaptureFixture[str]) -> None:
    assert block_bench(["--limit", "6", "--max-new-tokens", "24"]) == 0
    out = capsys.readouterr().out
    assert "6 block completions, the same suggestion in 6" in out, out
    stopped = re.search(r"stopped at block's end\s+([\d.]+) tokens", out)
    assert stopped and float(stopped.group(1)) <= 24


@pytest.mark.skipif(model.default_model() is None, reason="the shipped model is not installed")
def test_block_bench_explains_a_file_without_blocks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flat = tmp_path / "flat.py"
    flat.write_text("x = 1\ny = 2\n")
    assert block_bench(["--model", str(model.DEFAULT_MODEL), str(flat)]) == 2
    assert "no block bodies" in capsys.readouterr().err
