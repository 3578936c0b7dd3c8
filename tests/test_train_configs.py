"""The shipped example recipes parse, and typos in a recipe are errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from train.recipe import load_recipe, recipe_from_dict, with_overrides

# Training recipes (other files there, e.g. corpus.toml, configure other commands).
CONFIGS = sorted(
    p for p in (Path(__file__).resolve().parents[1] / "train" / "configs").glob("*.toml") if "[train]" in p.read_text()
)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_example_configs_parse(path: Path):
    recipe = load_recipe(path)
    assert recipe.data.seq_len <= recipe.model.n_positions or path.name.startswith("lora")


def test_santacoder_recipe_is_the_published_one():
    recipe = load_recipe(next(p for p in CONFIGS if p.name == "santacoder-1b.toml"))
    assert (recipe.model.n_embd, recipe.model.n_layer, recipe.model.n_head, recipe.model.multi_query) == (
        2048, 24, 16, True,
    )  # fmt: skip
    assert (recipe.train.lr, recipe.train.warmup_ratio, recipe.train.grad_clip, recipe.data.fim_rate) == (
        2e-4, 0.02, 1.0, 0.5,
    )  # fmt: skip


def test_unknown_keys_are_errors():
    with pytest.raises(ValueError, match="unknown key"):
        recipe_from_dict({"train": {"stpes": 10}})
    with pytest.raises(ValueError, match="unknown table"):
        recipe_from_dict({"optimiser": {}})
    assert with_overrides(recipe_from_dict({}), train={"steps": 7}).train.steps == 7


def test_any_key_can_be_set_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    import argparse

    from train.cli import main
    from train.pretrain import setting

    assert setting("data.fim_span_rate=0.5") == ("data", "fim_span_rate", 0.5)
    assert setting('train.output = "runs/x"') == ("train", "output", "runs/x")
    for bad in ("fim_rate=0.5", "data.fim_rate", "data.output=runs/x"):
        with pytest.raises(argparse.ArgumentTypeError):
            setting(bad)
    config = Path(__file__).parent.parent / "train" / "configs" / "tiny-cpu.toml"
    assert main(["pretrain", "--config", str(config), "--set", "data.no_such_key=1"]) == 2
    assert "no_such_key" in capsys.readouterr().err
