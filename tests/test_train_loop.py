"""Training loop: loss goes down, a killed run resumes exactly, checkpoints survive a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import model
from tests.train_fixtures import write_recipe
from train.checkpointing import Checkpoints
from train.loop import train
from train.recipe import load_recipe
from train.runlog import read_log

ROOT = Path(__file__).resolve().parents[1]


def pretrain(recipe: Path, output: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [
        sys.executable,
        "-m",
        "train.pretrain",
        "--config",
        str(recipe),
        "--output",
        str(output),
        "--no-progress",
    ]
    return subprocess.Popen([*args, *extra], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen[bytes]) -> None:
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()[-3000:]


@pytest.mark.slow
def test_kill_and_resume_matches_uninterrupted_run(tmp_path: Path):
    recipe = write_recipe(tmp_path, steps=30)
    whole = pretrain(recipe, tmp_path / "whole")
    killed = pretrain(recipe, tmp_path / "killed")
    target = tmp_path / "killed" / "checkpoints" / "step-00000010"
    deadline = time.monotonic() + 240
    while not target.exists() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    killed.send_signal(signal.SIGKILL)
    killed.communicate()
    assert killed.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    finish(whole)
    finish(pretrain(recipe, tmp_path / "killed", "--resume"))

    expected, resumed = (
        read_log(tmp_path / "whole" / "log.jsonl"),
        read_log(tmp_path / "killed" / "log.jsonl"),
    )
    assert [r["step"] for r in resumed] == list(range(1, 31))
    for want, got in zip(expected, resumed, strict=True):
        assert (got["loss"], got["grad_norm"], got["lr"], got.get("eval_loss")) == (
            want["loss"], want["grad_norm"], want["lr"], want.get("eval_loss"),
        )  # fmt: skip
    assert expected[-1]["loss"] < expected[0]["loss"] - 1.0
    a = load_file(str(tmp_path / "whole" / "final" / "model.safetensors"))
    b = load_file(str(tmp_path / "killed" / "final" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_crash_while_saving_keeps_the_last_good_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    net = torch.nn.Linear(3, 2)
    checkpoints = Checkpoints(tmp_path / "ckpt", keep=2)
    good = checkpoints.save(1, net, {"step": 1})
    import train.checkpointing as module

    def crash(*args: object, **kwargs: object) -> None:
        Path(str(args[1])).write_bytes(b"half a file")
        raise KeyboardInterrupt  # what a kill looks like from inside the process

    monkeypatch.setattr(module, "save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        checkpoints.save(2, net, {"step": 2})
    assert checkpoints.latest() == good
    assert checkpoints.load(good, net) == {"step": 1}
    monkeypatch.undo()
    for step in (2, 3, 4):
        checkpoints.save(step, net, {"step": step})
    assert [p.name for p in checkpoints.all()] == ["step-00000003", "step-00000004"]
    assert not list((tmp_path / "ckpt").glob(".tmp-*"))


def test_refuses_to_overwrite_a_run_without_resume(tmp_path: Path):
    recipe = load_recipe(write_recipe(tmp_path, steps=2, save_every=1))
    result = train(recipe, progress=False)
    assert result.steps == 2 and len(result.log) == 2
    with pytest.raises(FileExistsError):
        train(recipe, progress=False)
    engine = model.load(result.export, device="cpu")
    assert engine.tokenizer.has_fim and engine.config.n_layer == 2


@pytest.mark.usefixtures("fresh_accelerate_state")
def test_bf16_mixed_precision_runs(tmp_path: Path):
    recipe = load_recipe(write_recipe(tmp_path, steps=3, precision="bf16", save_every=3))
    result = train(recipe, progress=False)
    assert all(r["loss"] == r["loss"] for r in result.log) and len(result.log) == 3  # no NaN
    state = torch.load(Checkpoints(tmp_path / "run" / "checkpoints", 1).latest() / "state.pt", weights_only=False)
    stream = state["stream"]  # where its shuffle window began, plus the contexts taken from it
    assert state["step"] == 3 and stream["contexts"] + stream["taken"] == 3 * 4 * 2


@pytest.mark.usefixtures("fresh_accelerate_state")
def test_compiled_training_matches_eager(tmp_path: Path):
    """[train] compile = true: the same losses, and checkpoints and exports keep plain names."""
    recipes = {c: load_recipe(write_recipe(tmp_path / str(c), steps=3, dropout=0.0, compile=c)) for c in (False, True)}
    runs = {c: train(recipe, progress=False) for c, recipe in recipes.items()}
    eager, compiled = ([r["loss"] for r in runs[c].log] for c in (False, True))
    assert compiled == pytest.approx(eager, rel=1e-3)
    ids = list(range(5, 25))
    logits = [model.load(runs[c].export, device="cpu").logits(ids) for c in (False, True)]
    assert torch.allclose(logits[0], logits[1], atol=1e-3)
