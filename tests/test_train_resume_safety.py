"""Resuming reads only files that cannot run code, and `santa-train` reports a user's mistake
as one line with exit status 2 (no traceback)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.repo_fixture import write_repo
from tests.train_fixtures import write_recipe
from train.checkpointing import Checkpoints
from train.cli import main as santa_train

ROOT = Path(__file__).resolve().parents[1]


class PlantedCode:
    """Unpickling this runs `touch MARKER`: what a malicious checkpoint does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def trained(tmp_path: Path) -> tuple[Path, Path]:
    """A finished two-step run: (its recipe, its latest checkpoint)."""
    recipe = write_recipe(tmp_path, steps=2, save_every=1)
    assert santa_train(["pretrain", "--config", str(recipe), "--no-progress"]) == 0
    latest = Checkpoints(tmp_path / "run" / "checkpoints", 1).latest()
    assert latest is not None
    return recipe, latest


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    return lines[0]


def test_checkpoint_holds_no_pickled_code(trained: tuple[Path, Path]):
    _, latest = trained
    assert sorted(p.name for p in latest.iterdir()) == ["rng-0.json", "state.pt", "trainable.safetensors"]
    state = torch.load(latest / "state.pt", weights_only=True)  # tensors and plain values only
    assert state["step"] == 2 and state["optimizer"]["state"]


def test_planted_state_does_not_run(trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    recipe, latest = trained
    marker = tmp_path / "planted-code-ran"
    torch.save({"step": 2, "optimizer": PlantedCode(marker)}, latest / "state.pt")
    capsys.readouterr()
    assert santa_train(["pretrain", "--config", str(recipe), "--resume", "--steps", "4", "--no-progress"]) == 2
    assert not marker.exists()
    line = one_error_line(capsys)
    assert f"{latest / 'state.pt'}: " in line and "posix.system" in line and "could run code" in line


def test_planted_legacy_rng_file_does_not_run(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """Checkpoints from before rng-N.json hold a pickled rng-N.pt; it is read without running code."""
    recipe, latest = trained
    marker = tmp_path / "planted-code-ran"
    (latest / "rng-0.json").unlink()
    torch.save({"python": PlantedCode(marker)}, latest / "rng-0.pt")
    capsys.readouterr()
    assert santa_train(["pretrain", "--config", str(recipe), "--resume", "--steps", "4", "--no-progress"]) == 2
    assert not marker.exists()
    line = one_error_line(capsys)
    assert f"{latest / 'rng-0.pt'}: " in line and "could run code" in line


def test_legacy_rng_file_still_restores(tmp_path: Path):
    """An rng-0.pt as written before (numpy's state is an array) resumes the same draws."""
    net = torch.nn.Linear(3, 2)
    checkpoints = Checkpoints(tmp_path / "ckpt", keep=1)
    saved = checkpoints.save(1, net, {"step": 1})
    (saved / "rng-0.json").unlink()
    torch.save(rng_state_as_before(), saved / "rng-0.pt")
    expected = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(99), np.random.seed(99), torch.manual_seed(99)
    checkpoints.load(saved, net)
    assert (random.random(), np.random.rand(), torch.rand(1)) == expected


def rng_state_as_before() -> dict[str, object]:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def test_rng_state_round_trips_through_json(tmp_path: Path):
    net = torch.nn.Linear(3, 2)
    checkpoints = Checkpoints(tmp_path / "ckpt", keep=1)
    np.random.randn()  # numpy now holds a cached Gaussian, part of its state
    saved = checkpoints.save(1, net, {"step": 1})
    expected = (random.random(), np.random.randn(), torch.rand(3).tolist())
    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    checkpoints.load(saved, net)
    assert (random.random(), np.random.randn(), torch.rand(3).tolist()) == expected


def test_corrupt_rng_file_is_one_line(tmp_path: Path):
    net = torch.nn.Linear(3, 2)
    checkpoints = Checkpoints(tmp_path / "ckpt", keep=1)
    saved = checkpoints.save(1, net, {"step": 1})
    (saved / "rng-0.json").write_text('{"python": [3, [1, 2], null], "numpy": [], "torch": [300]}')
    from model import LoadError

    with pytest.raises(LoadError, match=r"rng-0.json: not a valid RNG state") as error:
        checkpoints.load(saved, net)
    assert "\n" not in str(error.value)


def test_rerun_without_resume_is_one_line_exit_2(trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]):
    recipe, _ = trained
    capsys.readouterr()
    assert santa_train(["pretrain", "--config", str(recipe), "--no-progress"]) == 2
    line = one_error_line(capsys)
    assert line.startswith("santa-train pretrain: error: ") and "pass --resume" in line


def test_unknown_init_model_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    recipe = write_recipe(tmp_path, steps=2)
    missing = tmp_path / "no" / "such-model"
    assert santa_train(["pretrain", "--config", str(recipe), "--init", str(missing), "--no-progress"]) == 2
    line = one_error_line(capsys)
    assert line == f"santa-train pretrain: error: {missing}: not a model directory (and not a Hub id like 'org/name')"


def test_unknown_base_model_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    missing = tmp_path / "no" / "such-model"
    args = ["finetune", "--base", str(missing), "--repo", str(write_repo(tmp_path / "repo")),
            "--output", str(tmp_path / "ft"), "--no-progress"]  # fmt: skip
    assert santa_train(args) == 2
    line = one_error_line(capsys)
    assert line.startswith("santa-train finetune: error: ") and f"{missing}: not a model directory" in line
    assert not (tmp_path / "ft").exists()  # nothing was started


def test_santa_train_process_exits_2_without_traceback(trained: tuple[Path, Path]):
    recipe, _ = trained
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "train.cli", "pretrain", "--config", str(recipe), "--no-progress"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "already has checkpoints: pass --resume" in done.stderr
