"""End to end on CPU: repository -> data pipeline -> tokenizer -> pretraining -> export ->
runtime and transformers agree -> santa-eval (`santa-train finetune`: tests/test_train_finetune.py)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch

import model
from tests.repo_fixture import write_repo
from tests.tiny import make_model
from train.cli import main as santa_train
from train.eval.cli import main as santa_eval
from train.eval.cli import table
from train.recipe import recipe_from_dict
from train.runlog import read_log

pytestmark = pytest.mark.slow  # corpus to trained, exported and evaluated checkpoint


def test_corpus_to_evaluated_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from train.data.pipeline import run_pipeline
    from train.loop import train
    from train.tokenizer_train import iter_corpus, train_tokenizer

    run_pipeline([write_repo(tmp_path / "repo")], tmp_path / "data")
    with warnings.catch_warnings():  # a 20-file corpus cannot fill the BPE vocabulary; that is fine
        warnings.simplefilter("ignore")
        train_tokenizer(iter_corpus([tmp_path / "data"]), vocab_size=600, out_dir=tmp_path / "tok")
    recipe = recipe_from_dict({
        "model": {"n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 64, "dropout": 0.0},
        "data": {"train": [str(tmp_path / "data")], "eval": [str(tmp_path / "data")],
                 "tokenizer": str(tmp_path / "tok"), "seq_len": 64},
        "train": {"output": str(tmp_path / "run"), "steps": 200, "batch_size": 8, "lr": 3e-3,
                  "save_every": 100, "eval_every": 100, "eval_contexts": 16, "threads": 2},
    })  # fmt: skip
    result = train(recipe, progress=False)
    losses = [r["loss"] for r in read_log(result.output / "log.jsonl")]
    assert len(losses) == 200 and (result.output / "log.csv").is_file()
    assert sum(losses[-20:]) / 20 < 0.5 * sum(losses[:5]) / 5

    transformers = pytest.importorskip("transformers")
    engine = model.load(result.export, device="cpu")
    ids = engine.tokenizer.encode("def golf_area(radius):\n    return math.pi")
    hf = transformers.GPTBigCodeForCausalLM.from_pretrained(result.export).eval()
    with torch.no_grad():
        theirs = hf(torch.tensor([ids])).logits[0]
    torch.testing.assert_close(engine.logits(ids), theirs, rtol=1e-5, atol=1e-5)

    out = tmp_path / "eval.json"
    args = [str(result.export), "--tasks", "humaneval-infill,fim,perplexity,pass-at-k", "--limit", "3",
            "--data", str(tmp_path / "data"), "--per-file", "1", "--no-progress", "--output", str(out)]  # fmt: skip
    capsys.readouterr()  # only what santa-eval prints, below
    assert santa_eval(args) == 0
    report = json.loads(out.read_text())
    assert capsys.readouterr().out == table(report) + "\n"  # the table of what it wrote
    results = report["results"]
    assert results["humaneval_infill"]["spm"]["n"] == 3 and "pass@1" in results["humaneval_pass_at_k"]
    assert results["fim_single_line"]["psm"]["n"] == 20
    assert sum(g["n"] for g in results["fim_single_line"]["psm"]["by_language"].values()) == 20
    assert results["perplexity"]["perplexity"] < 10  # the model has seen these files


def test_pretrain_can_start_from_an_existing_model(tmp_path: Path):
    base = make_model(tmp_path / "base", seed=3)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"content": f"def f{i}(x):\n    return x + {i}\n"}) + "\n" for i in range(40)))
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(
        f'[data]\ntrain = ["{corpus}"]\ntokenizer = "{base}"\nseq_len = 32\n'
        f'[train]\noutput = "{tmp_path / "run"}"\nsteps = 3\nbatch_size = 2\nsave_every = 3\n'
    )
    assert santa_train(["pretrain", "--config", str(recipe), "--init", str(base), "--no-progress"]) == 0
    continued = model.load(tmp_path / "run" / "final")
    assert continued.config.n_embd == model.load(base).config.n_embd == 64  # the base's shape, not [model]'s
