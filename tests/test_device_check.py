"""scripts/device-check rehearsed on CPU (`--device cpu --tiny`), so the GPU check cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench.device_check import ROWS, Report, main

ROOT = Path(__file__).resolve().parent.parent


def test_the_cpu_rehearsal_runs_every_step_and_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, str(ROOT / "scripts" / "device-check"), "--device", "cpu", "--tiny", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    steps = json.loads((out / "report.json").read_text())["steps"]
    assert {name: step["status"] for name, step in steps.items()} == dict.fromkeys(
        ("cuda_tests", "model", "bandwidth", "ours_eager", "ours_static", "transformers"), "ok"
    )
    tests = steps["cuda_tests"]["results"]
    assert tests["failed"] == 0 and tests["skipped"] >= 6  # collected, and skipped without a GPU
    for runner in ("ours_eager", "ours_static", "transformers"):
        assert all(steps[runner]["results"][key] > 0 for key, _, _ in ROWS)
    for runner in ("ours_eager", "ours_static"):
        ours = steps[runner]["results"]
        assert ours["keystroke_reused_tokens"] >= ours["keystroke_prompt_tokens"] - 4  # the cache served it
    table = (out / "report.md").read_text()
    assert all(f"| {label} |" in table for _, label, _ in ROWS)
    assert "% of the bandwidth limit" in table
    assert (out / "cuda-tests.log").is_file()


def test_a_failed_step_is_recorded_the_figures_before_it_kept_and_the_next_step_runs(tmp_path: Path) -> None:
    report = Report(tmp_path, {"device": "cpu"})
    with report.step("broken") as figures:
        figures["prefill_1024_ms"] = 12.5
        on_disk = json.loads((tmp_path / "report.json").read_text())
        assert on_disk["steps"]["broken"]["results"] == {"prefill_1024_ms": 12.5}  # written as it came
        raise RuntimeError("CUDA out of memory")
    with report.step("next") as figures:
        figures["decode_b1_tok_s"] = 3.0
    steps = json.loads((tmp_path / "report.json").read_text())["steps"]
    assert steps["broken"]["status"] == "failed" and "CUDA out of memory" in steps["broken"]["error"]
    assert steps["broken"]["results"] == {"prefill_1024_ms": 12.5}
    assert steps["next"]["status"] == "ok"
    assert "| broken | failed |" in (tmp_path / "report.md").read_text()
    assert not report.all_ok


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_cuda_asked_for_without_cuda_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path), "--device", "cuda"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_decode_modes_bench_reports_every_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.decode_modes import main as decode_modes
    from tests.tiny import make_model

    decode_modes(["--model", str(make_model(tmp_path, n_positions=256)), "--modes", "eager,static", "--rounds", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[-2:]] == ["eager", "static"]
    assert "ms/token (cpu)" in lines[-1]
