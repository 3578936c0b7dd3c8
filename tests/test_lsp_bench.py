"""`santa-lsp bench`: a short typing session through the real server, on the shipped model."""

from __future__ import annotations

import re

import pytest

import model
from santa_lsp import bench


@pytest.mark.skipif(model.default_model() is None, reason="the shipped model is not installed")
def test_bench_replays_typing_through_the_server(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--model", str(model.DEFAULT_MODEL), "--dtype", "int8", "--keystrokes", "10", "--only", "cache",
            "--max-new-tokens", "8"]  # fmt: skip
    assert bench.main(argv) == 0
    line = capsys.readouterr().out.strip()
    assert re.match(r"cache\s+requests\s+10\s+p50\s+[\d.]+ ms", line), line
    reused = re.search(r"prefix-KV reuse\s+([\d.]+)%", line)
    assert reused and float(reused.group(1)) > 0  # the server kept and reused its KV caches
