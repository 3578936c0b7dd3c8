"""tokenizer_config.json: its model_max_length is the model's context, wherever a model is written."""

from __future__ import annotations

import json
from pathlib import Path

import model
from model.config import load_config
from model.gpt_bigcode import GPTBigCode
from tests.tiny import make_model, make_tokenizer, tiny_config
from train.export import export_model
from train.ship import ship
from train.tokenizer_config import write_tokenizer_config
from train.tokenizer_train import train_tokenizer


def max_length(directory: Path) -> int | None:
    return json.loads((directory / "tokenizer_config.json").read_text()).get("model_max_length")


def test_the_shipped_model_agrees_with_its_config() -> None:
    assert max_length(model.DEFAULT_MODEL) == load_config(model.DEFAULT_MODEL / "config.json").n_positions


def test_export_writes_the_model_context_over_the_tokenizer_s(tmp_path: Path) -> None:
    tok = make_tokenizer(tmp_path / "tok")
    write_tokenizer_config(tok, 2048)  # a tokenizer that came with another model's context
    config = tiny_config(512)
    out = export_model(GPTBigCode(config), tok, tmp_path / "export")
    assert max_length(out) == config.n_positions != 2048
    assert json.loads((out / "tokenizer_config.json").read_text())["eos_token"] == "<|endoftext|>"


def test_ship_writes_the_model_context(tmp_path: Path) -> None:
    source = make_model(tmp_path / "trained")
    write_tokenizer_config(source, 4096)  # stale
    shipped = ship(source, tmp_path / "shipped")
    assert max_length(shipped) == load_config(shipped / "config.json").n_positions != 4096


def test_a_tokenizer_alone_names_no_context(tmp_path: Path) -> None:
    train_tokenizer(["def f(x):\n    return x + 1\n"] * 50, vocab_size=270, out_dir=tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert "model_max_length" not in config
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast" and config["eos_token"] == "<|endoftext|>"


def test_a_base_model_s_own_fields_are_kept(tmp_path: Path) -> None:
    own = {"tokenizer_class": "GPT2TokenizerFast", "model_max_length": 8192, "vocab_file": None}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(own))
    write_tokenizer_config(tmp_path, 2048)
    assert json.loads((tmp_path / "tokenizer_config.json").read_text()) == {**own, "model_max_length": 2048}
