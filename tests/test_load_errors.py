"""A checkpoint that cannot be loaded gives one line naming the file, the field or tensor, and the
problem: from model.load, in the editor's status, and once from `santa-lsp complete`."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import model
from santa_lsp.model_host import ModelHost, State
from santa_lsp.settings import Settings
from santa_lsp.worker import Worker
from tests.tiny import make_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model(tmp_path_factory.mktemp("good"))


def copy_model(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def set_config(directory: Path, **fields: object) -> None:
    path = directory / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))


def load_error(directory: Path) -> str:
    with pytest.raises(model.LoadError) as error:
        model.load(directory)
    message = str(error.value)
    assert "\n" not in message
    return message


class PlantedCode:
    """Unpickling this runs `touch MARKER`: what a malicious checkpoint does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("layer_norm_epsilon", "abc", "must be a positive number, got 'abc'"),
        ("layer_norm_epsilon", -1.0, "must be a positive number, got -1.0"),
        ("n_inner", "wide", "must be a positive integer, got 'wide'"),
        ("multi_query", "yes", "must be true or false, got 'yes'"),
        ("eos_token_id", "<eos>", "must be a token id"),
        ("activation_function", ["gelu"], "unsupported activation_function"),
    ],
)
def test_bad_config_field_names_file_and_field(good: Path, tmp_path: Path, field: str, value: object, expected: str):
    directory = copy_model(good, tmp_path / "m")
    set_config(directory, **{field: value})
    message = load_error(directory)
    assert message.startswith(f"{directory / 'config.json'}: ")
    assert field in message and expected in message


def test_integer_weights_of_the_right_shapes(good: Path, tmp_path: Path):
    directory = copy_model(good, tmp_path / "m")
    tensors = load_file(str(directory / "model.safetensors"))
    save_file({k: (v * 100).to(torch.int64) for k, v in tensors.items()}, str(directory / "model.safetensors"))
    message = load_error(directory)
    assert message.startswith(f"{directory / 'model.safetensors'}: tensor transformer.")
    assert "dtype int64" in message and "floating point" in message


def test_old_integer_mask_buffers_are_still_ignored(good: Path, tmp_path: Path):
    """SantaCoder-era checkpoints carry a bool causal mask; it is dropped, not refused."""
    directory = copy_model(good, tmp_path / "m")
    tensors = load_file(str(directory / "model.safetensors"))
    tensors["transformer.h.0.attn.bias"] = torch.ones(8, 8, dtype=torch.bool)
    save_file(tensors, str(directory / "model.safetensors"))
    assert model.load(directory).config.n_layer == 2


def test_refused_pickle_is_one_line_and_runs_nothing(good: Path, tmp_path: Path):
    directory = copy_model(good, tmp_path / "m")
    (directory / "model.safetensors").unlink()
    marker = tmp_path / "planted-code-ran"
    torch.save({"transformer.wte.weight": PlantedCode(marker)}, directory / "pytorch_model.bin")
    message = load_error(directory)
    assert not marker.exists()
    assert message.startswith(f"{directory / 'pytorch_model.bin'}: ")
    assert "posix.system" in message and "could run code" in message
    assert "weights_only" not in message and "Re-running" not in message  # no advice to load it unsafely


def test_the_editor_gets_the_one_line(good: Path, tmp_path: Path):
    directory = copy_model(good, tmp_path / "m")
    set_config(directory, layer_norm_epsilon="abc")
    states: list[State] = []
    worker = Worker()
    host = ModelHost(worker, states.append)
    asyncio.run(host.load(Settings(model=str(directory), device="cpu")))
    worker.close()
    assert states[-1].state == "error" and "\n" not in states[-1].message
    assert f"{directory / 'config.json'}: field 'layer_norm_epsilon'" in states[-1].message


def test_complete_prints_a_load_error_once(good: Path, tmp_path: Path):
    directory = copy_model(good, tmp_path / "m")
    set_config(directory, layer_norm_epsilon="abc")
    source = tmp_path / "a.py"
    source.write_text("def add(a, b):\n    return a\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "santa_lsp.cli", "complete", "--model", str(directory), f"{source}:2:13"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("santa-lsp: cannot load the model: ")
    assert f"{directory / 'config.json'}: field 'layer_norm_epsilon'" in lines[0]
