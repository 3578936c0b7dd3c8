"""Checkpoint files in every supported arrangement, the Hub cache, and clear errors for bad ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import model
from tests.tiny import make_model, make_tokenizer

PROMPT = "for i in range(10):\n"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.Tensor]:
    directory = make_model(tmp_path_factory.mktemp("ref"))
    engine = model.load(directory)
    return directory, engine.logits(engine.tokenizer.encode(PROMPT))


def copy_without_weights(source: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "special_tokens_map.json"):
        (target / name).write_bytes((source / name).read_bytes())
    return target


def assert_same_logits(directory: Path, expected: torch.Tensor) -> None:
    engine = model.load(directory)
    assert (engine.logits(engine.tokenizer.encode(PROMPT)) - expected).abs().max() < 1e-6


def test_sharded_safetensors(reference, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source, expected = reference
    tensors = load_file(str(source / "model.safetensors"))
    target = copy_without_weights(source, tmp_path)
    names = sorted(tensors)
    halves = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    for shard, keys in halves.items():
        save_file({k: tensors[k] for k in keys}, str(target / shard))
    weight_map = {k: shard for shard, keys in halves.items() for k in keys}
    (target / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    assert_same_logits(target, expected)


def test_pytorch_bin_with_stray_buffers(reference, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source, expected = reference
    tensors = load_file(str(source / "model.safetensors"))
    tensors["transformer.h.0.attn.masked_bias"] = torch.tensor(-1e4)
    target = copy_without_weights(source, tmp_path)
    torch.save(tensors, target / "pytorch_model.bin")
    assert_same_logits(target, expected)


def test_pickle_that_runs_code_is_refused(reference, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = copy_without_weights(reference[0], tmp_path)
    torch.save({"weights": _Evil()}, target / "pytorch_model.bin")
    with pytest.raises(model.LoadError, match=r"pytorch_model.bin: corrupt or unsafe"):
        model.load(target)


class _Evil:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, ("echo pwned",))


@pytest.mark.slow
def test_hub_id_resolves_from_the_offline_cache(reference, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A Hub id is looked up in huggingface_hub's cache layout, with HF_HUB_OFFLINE honoured."""
    source, _ = reference
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--acme--tiny-coder"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for file in source.iterdir():
        (snapshot / file.name).write_bytes(file.read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")}
    code = "import model; e = model.load('acme/tiny-coder'); print(e.config.n_layer)"
    found = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "2"
    code = "import model\ntry: model.load('acme/missing')\nexcept model.LoadError as e: print(e)"
    missing = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert "acme/missing: not a local directory and not in the Hugging Face cache" in missing.stdout


def _break_config(directory: Path, **changes: object) -> None:
    path = directory / "config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))


BROKEN = {
    "missing config": (lambda d: (d / "config.json").unlink(), r"config.json: missing"),
    "corrupt config": (lambda d: (d / "config.json").write_text("{oops"), r"config.json: not valid JSON"),
    "unknown architecture": (
        lambda d: _break_config(d, model_type="llama"),
        r"config.json: unknown architecture \(model_type='llama'",
    ),
    "config deeper than weights": (
        lambda d: _break_config(d, n_layer=3),
        r"weights do not match config.json: missing transformer.h.2",
    ),
    "config wider than weights": (
        lambda d: _break_config(d, n_inner=512),
        r"mlp.c_fc.weight has shape \(256, 64\), config implies \(512, 64\)",
    ),
    "missing weights": (lambda d: (d / "model.safetensors").unlink(), r"no weights"),
    "corrupt weights": (
        lambda d: (d / "model.safetensors").write_bytes(b"\x10\x00garbage"),
        r"model.safetensors: corrupt or unreadable safetensors file",
    ),
    "missing tokenizer": (lambda d: (d / "tokenizer.json").unlink(), r"tokenizer.json: missing"),
    "corrupt tokenizer": (
        lambda d: (d / "tokenizer.json").write_text("[]"),
        r"tokenizer.json: not a valid tokenizers file",
    ),
    "vocabulary larger than the model": (
        lambda d: _break_config(d, vocab_size=100),
        r"tokenizer.json: \d+ tokens, but config.json's vocab_size is 100",
    ),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_bad_checkpoint_gives_one_clear_line(reference, tmp_path: Path, case: str) -> None:  # type: ignore[no-untyped-def]
    directory = tmp_path / "m"
    directory.mkdir()
    for file in reference[0].iterdir():
        (directory / file.name).write_bytes(file.read_bytes())
    breakage, message = BROKEN[case]
    breakage(directory)
    with pytest.raises(model.LoadError, match=message) as error:
        model.load(directory)
    assert "\n" not in str(error.value)


def test_not_a_directory_nor_a_hub_id(tmp_path: Path) -> None:
    with pytest.raises(model.LoadError, match="not a model directory"):
        model.load(tmp_path / "nowhere" / "at" / "all")


@pytest.mark.parametrize(("device", "dtype"), [("tpu", "auto"), ("cpu", "fp8")])
def test_unknown_device_or_dtype(reference, device: str, dtype: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(model.LoadError, match="unknown"):
        model.load(reference[0], device=device, dtype=dtype)


@pytest.mark.parametrize("family", ["santacoder", "starcoder"])
def test_fim_tokens_discovered_for_both_families(tmp_path: Path, family: str) -> None:
    engine = model.load(make_model(tmp_path, family=family))
    sep = "-" if family == "santacoder" else "_"
    fim = engine.tokenizer.fim
    assert engine.tokenizer.decode([fim.prefix, fim.suffix, fim.middle]) == (
        f"<fim{sep}prefix><fim{sep}suffix><fim{sep}middle>"
    )
    assert engine.tokenizer.decode([engine.tokenizer.eos_id]) == "<|endoftext|>"


def test_infilling_without_fim_tokens_is_reported(tmp_path: Path) -> None:
    engine = model.load(make_model(tmp_path, family="nofim"))
    with pytest.raises(model.FimUnsupportedError, match="no FIM tokens"):
        engine.infill("def f(", ")")
    assert engine.generate("def f(", model.GenerationConfig(max_new_tokens=3)).token_ids


def test_tokenizer_without_special_tokens_map_still_finds_eos(tmp_path: Path) -> None:
    make_tokenizer(tmp_path)
    (tmp_path / "special_tokens_map.json").unlink()
    from model.tokenizer import load_tokenizer

    assert load_tokenizer(tmp_path).decode([load_tokenizer(tmp_path).eos_id]) == "<|endoftext|>"
