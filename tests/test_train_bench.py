"""The training benchmark compares like with like: same weights and batch give the same loss."""

from __future__ import annotations

import json
import re

import pytest

from bench.training import build_parser, main, run

pytestmark = pytest.mark.slow  # training benchmarks against transformers


def _args(precision: str) -> list[str]:
    return [
        "--n-embd", "32", "--n-layer", "1", "--n-head", "4", "--seq-len", "32", "--batch-size", "2",
        "--vocab", "300", "--warmup", "1", "--steps", "2", "--precision", precision,
    ]  # fmt: skip


@pytest.mark.usefixtures("fresh_accelerate_state")
@pytest.mark.parametrize(("precision", "tolerance"), [("no", 1e-5), ("bf16", 2e-2)])
def test_both_sides_start_from_the_same_loss(precision: str, tolerance: float):
    result = run(build_parser().parse_args(_args(precision)))
    first = result["first_step_loss"]
    assert first["ours"] == pytest.approx(first["transformers"], rel=tolerance)
    assert result["precision"] == precision and result["tokens_per_s"]["ours"] > 0


def test_prints_the_ratio(capsys: pytest.CaptureFixture[str]):
    assert main(_args("no")) == 0
    first_line, report = capsys.readouterr().out.split("\n", 1)
    result = json.loads(report)
    tps = result["tokens_per_s"]
    assert result["speedup"] > 0 and result["speedup"] == pytest.approx(tps["ours"] / tps["transformers"])
    printed = re.fullmatch(r"ours (\d+) tok/s, transformers (\d+) tok/s, x([\d.]+)", first_line)
    assert printed, first_line
    assert printed.groups() == (f"{tps['ours']:.0f}", f"{tps['transformers']:.0f}", f"{result['speedup']:.2f}")
