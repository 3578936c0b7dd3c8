"""The benchmark command runs end to end on a tiny model and reports every figure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import prefill_chunks
from bench.runtime import main
from tests.tiny import make_model


@pytest.mark.slow
def test_bench_reports_all_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = make_model(tmp_path / "m", n_positions=2048)
    out = tmp_path / "report.json"
    args = ["--model", str(directory), "--dtypes", "fp32,int8", "--repeats", "1", "--interleave", "2"]
    code = main([*args, "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert set(report) == {"ours_fp32", "transformers_fp32", "ours_int8", "interleaved_medians"}
    assert set(report["interleaved_medians"]) == {"fp32", "int8"}
    assert all(figures["prefill_1024_ms"] > 0 for figures in report["interleaved_medians"].values())
    for key in ("prefill_1024_ms", "decode_tok_s", "append_cached_ms", "append_uncached_ms", "decode_pct_of_limit"):
        assert report["ours_fp32"][key] > 0
    assert report["ours_int8"]["logits_min_cosine_vs_fp32"] > 0.9
    assert "decode_tok_s" in report["transformers_fp32"]
    assert "int8: int8 prefill: " in capsys.readouterr().out  # the load-time choice of prefill path


@pytest.mark.slow
def test_prefill_chunks_bench_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = make_model(tmp_path / "m", n_positions=2048)
    assert prefill_chunks.main(["--model", str(directory), "--tokens", "300", "--chunks", "128,adaptive"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].split()[0] == "128" and lines[-1].split()[0] == "adaptive"  # one row per arm


def test_bench_explains_a_bad_model_path(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--model", str(tmp_path), "--no-transformers"]) == 1
    assert "config.json: missing" in capsys.readouterr().err
