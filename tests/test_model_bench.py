"""The benchmark command runs end to end on a tiny model and reports every figure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.runtime import main
from tests.tiny import make_model


@pytest.mark.slow
def test_bench_reports_all_figures(tmp_path: Path) -> None:
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


def test_bench_explains_a_bad_model_path(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--model", str(tmp_path), "--no-transformers"]) == 1
    assert "config.json: missing" in capsys.readouterr().err
