"""The data pipeline loses nothing without a trace and survives odd trees; its helpers die with it."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_data_helpers import python_module, write
from train.data import pipeline as data_pipeline
from train.data.config import DataConfig, DedupConfig
from train.data.pipeline import run_pipeline
from train.data.sources import decode_source

REPO = Path(__file__).resolve().parents[1]
FAST = DataConfig(dedup=DedupConfig(near=False))  # near dedup is not under test here: skip its stages
DEPTH = 1000  # beyond Python's default recursion limit


def read_output(output: Path) -> dict[str, dict[str, Any]]:
    records = {}
    for shard in sorted((output / "data").glob("*.jsonl.gz")):
        with gzip.open(shard, "rt", encoding="utf-8") as lines:
            records.update((r["path"], r) for r in map(json.loads, lines))
    return records


def dropped_records(output: Path) -> dict[str, list[dict[str, Any]]]:
    """Exclusion files per step folder: dropped/<step>/NNNNN.jsonl.gz."""
    found: dict[str, list[dict[str, Any]]] = {}
    for shard in sorted((output / "dropped").glob("*/*.jsonl.gz")):
        with gzip.open(shard, "rt", encoding="utf-8") as lines:
            found.setdefault(shard.parent.name, []).extend(map(json.loads, lines))
    return found


def step(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in report["steps"] if s["step"] == name)


def test_file_name_that_is_not_utf8_is_read_under_an_escaped_name(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    write(tree, "ok.py", python_module(1))
    with open(os.fsencode(tree) + b"/caf\xe9.py", "wb") as raw_name:  # Latin-1 name on a UTF-8 system
        raw_name.write(python_module(2).encode())
    run_pipeline([tree], tmp_path / "out", FAST)
    records = read_output(tmp_path / "out")
    assert set(records) == {"ok.py", "caf\\xe9.py"}
    assert records["caf\\xe9.py"]["content"] == python_module(2)


@pytest.fixture
def deep_tree(tmp_path: Path) -> Iterator[Path]:
    tree = tmp_path / "tree"
    write(tree, "top.py", python_module(1))
    for depth in range(1, DEPTH + 1):
        os.mkdir(tree / ("d/" * depth))
    write(tree, "d/" * DEPTH + "deep.py", python_module(2))
    yield tree
    # shutil.rmtree (and so pytest's own clean-up) recurses once per level too: take it down by hand
    os.unlink(tree / ("d/" * DEPTH + "deep.py"))
    for depth in range(DEPTH, 0, -1):
        os.rmdir(tree / ("d/" * depth))


def test_tree_deeper_than_the_recursion_limit_is_walked(deep_tree: Path, tmp_path: Path) -> None:
    run_pipeline([deep_tree], tmp_path / "out", FAST)
    assert set(read_output(tmp_path / "out")) == {"top.py", "d/" * DEPTH + "deep.py"}


def test_file_that_vanishes_after_planning_is_dropped_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = tmp_path / "tree"
    write(tree, "kept.py", python_module(1))
    gone = write(tree, "gone.py", python_module(2))
    save_plan = data_pipeline.save_plan

    def save_plan_then_delete(*args: Any) -> None:
        save_plan(*args)
        gone.unlink()

    monkeypatch.setattr(data_pipeline, "save_plan", save_plan_then_delete)
    report = run_pipeline([tree], tmp_path / "out", FAST)
    assert step(report, "read")["files_out"] == {"python": 2}
    assert step(report, "basic filters")["dropped"] == {"vanished": 1}
    assert set(read_output(tmp_path / "out")) == {"kept.py"}
    [record] = dropped_records(tmp_path / "out")["basic_filters"]
    assert (record["path"], record["reason"]) == ("gone.py", "vanished")


def test_every_dropped_file_is_listed_with_its_step_and_reason(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    write(tree, "a.py", python_module(1))
    write(tree, "b_copy.py", python_module(1))
    write(tree, "c.py", python_module(2))
    write(tree, "empty.py", "")
    write(tree, "binary.py", b"\x7fELF\x00\x00\x01" + bytes(range(256)))
    report = run_pipeline([tree], tmp_path / "out", FAST)
    listed = {
        folder: sorted((r["path"], r["reason"]) for r in records)
        for folder, records in dropped_records(tmp_path / "out").items()
    }
    assert listed == {
        "basic_filters": [("binary.py", "binary"), ("empty.py", "empty")],
        "exact_dedup": [("b_copy.py", "exact_duplicate")],
    }
    counted = sum(sum(s["dropped"].values()) for s in report["steps"])
    assert counted == sum(map(len, listed.values()))
    assert report["dropped_files"] == "dropped"
    assert set(read_output(tmp_path / "out")) == {"a.py", "c.py"}


def test_symlinks_and_special_files_are_counted_and_listed(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    write(tree, "real.py", python_module(1))
    write(tmp_path / "elsewhere", "lib.py", python_module(2))
    os.symlink(tree / "real.py", tree / "alias.py")
    os.symlink(tmp_path / "elsewhere", tree / "linked_dir")
    os.mkfifo(tree / "pipe.py")  # a read would block forever
    report = run_pipeline([tree], tmp_path / "out", FAST)
    assert report["skipped"] == {"special_file": 1, "symlink": 2}
    lines = (tmp_path / "out" / "dropped" / "skipped.jsonl").read_text().splitlines()
    listed = sorted((r["path"], r["reason"]) for r in map(json.loads, lines))
    assert listed == [("alias.py", "symlink"), ("linked_dir", "symlink"), ("pipe.py", "special_file")]
    assert set(read_output(tmp_path / "out")) == {"real.py"}


def test_nul_byte_after_the_first_8_kib_makes_a_file_binary(tmp_path: Path) -> None:
    late_nul = python_module(3) + "# padding\n" * 1000 + "\0\n"
    assert late_nul.index("\0") > 8192
    assert decode_source(late_nul.encode())[1] == "binary"
    tree = tmp_path / "tree"
    write(tree, "clean.py", python_module(1))
    write(tree, "late_nul.py", late_nul)
    report = run_pipeline([tree], tmp_path / "out", FAST)
    assert step(report, "basic filters")["dropped"] == {"binary": 1}
    assert set(read_output(tmp_path / "out")) == {"clean.py"}


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) from /proc, or None once the process is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1])


def _descendants(root: int) -> set[int]:
    parents = {int(p.name): _proc_stat(int(p.name)) for p in Path("/proc").iterdir() if p.name.isdigit()}
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, stat in parents.items() if stat and stat[1] in frontier} - found
        found |= frontier
    return found


def _running(pid: int) -> bool:
    stat = _proc_stat(pid)
    return stat is not None and stat[0] != "Z"  # a zombie has exited; only its parent's reaping is left


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signals are Linux-only")
def test_kill_9_of_the_cli_takes_its_helper_processes_with_it(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for seed in range(1100):  # ~8 MB in 3 units: a task of the filter stage takes seconds
        write(tree, f"m{seed}.py", python_module(seed, lines=40))
    command = [sys.executable, "-m", "train.cli", "data", "--input", str(tree), "--output", str(tmp_path / "out")]
    proc = subprocess.Popen(
        [*command, "--workers", "2", "--shard-mb", "3"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    helpers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        # manager, resource tracker, forkserver and two pool workers
        while len(helpers) < 5 and time.monotonic() < deadline:
            assert proc.poll() is None, "the run ended before it could be killed"
            helpers = _descendants(proc.pid)
            time.sleep(0.05)
        assert len(helpers) >= 5, f"the run started only {len(helpers)} helper processes"
        task_logs = tmp_path / "out" / "_work" / "logs" / "filter" / "logs"
        while not (task_logs.is_dir() and len(list(task_logs.iterdir())) >= 2) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # both workers are inside a task that runs for seconds more
        helpers |= _descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 2  # the kernel kills them at once: no task gets to finish
        while any(map(_running, helpers)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in helpers if _running(pid)]
    finally:
        proc.kill()
        for pid in helpers:  # do not leave a failed run's helpers behind
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


def test_stack_folder_of_symlinked_shards_is_still_read(tmp_path: Path) -> None:
    # a Hugging Face cache snapshot: the shard names are links to content-addressed blobs
    row = {"content": python_module(1), "max_stars_repo_path": "a.py", "lang": "Python"}
    blob = write(tmp_path / "blobs", "3f2a", json.dumps(row) + "\n")
    (tmp_path / "snapshot").mkdir()
    os.symlink(blob, tmp_path / "snapshot" / "train-0.jsonl")
    report = run_pipeline([tmp_path / "snapshot"], tmp_path / "out", FAST)
    assert set(read_output(tmp_path / "out")) == {"a.py"}
    assert report["skipped"] == {}
