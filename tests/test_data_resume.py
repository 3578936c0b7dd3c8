"""Resume after a hard kill: finished shards are not redone, and the output matches a clean run."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_data_helpers import python_module, write

REPO = Path(__file__).resolve().parents[1]
SHARDS = 6
STALL_RANK = 4

# Runs the real pipeline with one extra filter that hangs on shard STALL_RANK while the STALL
# environment variable is set: a deterministic way to be killed in the middle of a stage.
DRIVER = f"""
import os, sys, time
from datatrove.pipeline.base import PipelineStep
from train.data.config import DataConfig
from train.data.pipeline import run_pipeline

class StallOnShard(PipelineStep):
    name = "stall"

    def run(self, data, rank=0, world_size=1):
        for doc in data:
            while os.environ.get("STALL") and rank == {STALL_RANK}:
                time.sleep(0.1)
            yield doc

run_pipeline([sys.argv[1]], sys.argv[2], DataConfig(shard_bytes=2000), workers=1,
             extra_filters=[StallOnShard()])
"""


def start(driver: Path, tree: Path, output: Path, stall: bool) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("STALL", None)
    if stall:
        env["STALL"] = "1"
    return subprocess.Popen(
        [sys.executable, str(driver), str(tree), str(output)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill reaches datatrove's helpers too
    )


def wait_for_completions(output: Path, count: int, proc: subprocess.Popen[bytes]) -> None:
    completions = output / "_work" / "logs" / "filter" / "completions"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if completions.is_dir() and len(list(completions.iterdir())) >= count:
            return
        assert proc.poll() is None, "the pipeline exited before it could be killed"
        time.sleep(0.1)
    raise TimeoutError("the pipeline did not finish the first shards in time")


def shard_contents(folder: Path) -> list[str]:
    return [gzip.open(p, "rt").read() for p in sorted(folder.glob("*.jsonl.gz"))]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    for seed in range(SHARDS):
        write(root, f"m{seed}.py", python_module(seed))  # ~2.3 kB each: one file per shard
    write(root, "m0_copy.py", python_module(0))
    return root


@pytest.mark.slow
def test_killed_run_resumes_without_redoing_finished_shards(tmp_path: Path, tree: Path) -> None:
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    output, reference = tmp_path / "out", tmp_path / "reference"

    proc = start(driver, tree, output, stall=True)
    try:
        wait_for_completions(output, STALL_RANK, proc)
        time.sleep(0.5)  # let it enter the stalled shard
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    completions = output / "_work" / "logs" / "filter" / "completions"
    assert sorted(p.name for p in completions.iterdir()) == [f"{r:05d}" for r in range(STALL_RANK)]
    filtered = output / "_work" / "filtered"
    task_logs = output / "_work" / "logs" / "filter" / "logs"
    done_before = {p.name: p.stat().st_mtime_ns for p in [*filtered.iterdir(), *task_logs.iterdir()]}
    assert not (output / "data").exists() and not (output / "report.json").exists()

    for out in (output, reference):  # resume the killed run; a clean run to compare with
        proc = start(driver, tree, out, stall=False)
        assert proc.wait(timeout=180) == 0

    for rank in range(STALL_RANK):  # finished shards kept their files: they were not redone
        for name in (f"{rank:05d}.jsonl.gz", f"task_{rank:05d}.log"):
            path = filtered / name if name.endswith(".gz") else task_logs / name
            assert path.stat().st_mtime_ns == done_before[name]
    assert shard_contents(filtered) == shard_contents(reference / "_work" / "filtered")
    assert shard_contents(output / "data") == shard_contents(reference / "data")
    report = (output / "report.json").read_text()
    reference_report = (reference / "report.json").read_text()
    assert _counts(report) == _counts(reference_report)


def _counts(report_json: str) -> list[tuple[str, dict[str, float], dict[str, float]]]:
    steps = json.loads(report_json)["steps"]
    return [(s["step"], s["files_out"], s["dropped"]) for s in steps]
