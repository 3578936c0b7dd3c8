"""Shipping a trained model: fp16 on disk, same predictions when loaded."""

from __future__ import annotations

from pathlib import Path

import torch

import model
from tests.tiny import make_model
from train.ship import ship


def test_shipped_copy_is_fp16_and_predicts_the_same(tmp_path: Path) -> None:
    source = make_model(tmp_path / "trained")
    shipped = ship(source, tmp_path / "shipped")
    from safetensors.torch import load_file

    assert {t.dtype for t in load_file(str(shipped / "model.safetensors")).values()} == {torch.float16}
    original, copy = model.load(source), model.load(shipped)
    ids = original.tokenizer.encode("def add(a, b):\n    return a + b\n")
    assert torch.cosine_similarity(copy.logits(ids), original.logits(ids), dim=-1).min() > 0.999
    assert (shipped / "tokenizer.json").is_file()
