"""`santa-train finetune`: the recipe (flags win over the config), one-line errors, held-out text
that is the same on every run, exact match with intervals, and a whole LoRA fine-tune of a tiny
model scored before and after (FIM exact match, perplexity, keystrokes saved through the server)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import pytest

import model
from tests.repo_fixture import write_repo
from tests.test_train_resume_safety import one_error_line
from tests.tiny import make_model
from train.cli import build_parser, run_command
from train.cli import main as santa_train
from train.eval.fim_exact import file_hits, fim_tasks, interval
from train.eval.infill import InfillScore
from train.finetune import Layout, finetune_recipe, prepare_data
from train.recipe import load_recipe

EMAIL = "jane.roe@acme-robotics.io"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model(tmp_path_factory.mktemp("base"), seed=1)  # a 128-token context


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["finetune", *argv])


def test_flags_win_over_the_config_and_the_config_over_defaults(tmp_path: Path, base: Path):
    config = tmp_path / "team.toml"
    config.write_text(
        '[data]\nseq_len = 32\ntrain = ["elsewhere"]\ntokenizer = "other"\n'
        '[train]\nsteps = 5\nbatch_size = 3\ngrad_accum = 2\nlr = 0.1\nprecision = "bf16"\nthreads = 1\n'
        'output = "other"\n'
    )
    layout = Layout(tmp_path / "out")
    from_file = finetune_recipe(parse("--repo", ".", "--config", str(config)), base, layout)
    assert (from_file.data.seq_len, from_file.train.steps, from_file.train.batch_size) == (32, 5, 3)
    assert (from_file.train.grad_accum, from_file.train.lr, from_file.train.precision) == (2, 0.1, "bf16")
    flags = ["--seq-len", "64", "--steps", "7", "--batch-size", "2", "--grad-accum", "3", "--lr", "0.01",
             "--precision", "no", "--threads", "2"]  # fmt: skip
    recipe = finetune_recipe(parse("--repo", ".", "--config", str(config), *flags), base, layout)
    assert (recipe.data.seq_len, recipe.train.steps, recipe.train.batch_size, recipe.train.grad_accum) == (64, 7, 2, 3)
    assert (recipe.train.lr, recipe.train.precision, recipe.train.threads) == (0.01, "no", 2)
    # what the repository and the base model decide, whatever the recipe says
    assert recipe.data.train == [str(layout.train)] and recipe.data.tokenizer == str(base)
    assert recipe.train.output == str(layout.run) and recipe.lora is None


def test_default_recipes_are_the_shipped_cpu_ones(tmp_path: Path, base: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # shipped recipes are found by name from any directory
    layout = Layout(tmp_path / "out")
    full = finetune_recipe(parse("--repo", "."), base, layout)
    shipped = load_recipe(Path(__file__).parents[1] / "train" / "configs" / "finetune-cpu.toml")
    assert full.train == dataclasses.replace(shipped.train, output=str(layout.run))
    assert full.data.seq_len == 128 and full.lora is None  # the base model's context
    lora = finetune_recipe(parse("--repo", ".", "--lora"), base, layout)
    named = finetune_recipe(parse("--repo", ".", "--config", "finetune-cpu-lora"), base, layout)
    assert lora == named and lora.lora is not None and lora.train.lr > full.train.lr


def error_cases(tmp_path: Path, base: Path) -> dict[str, tuple[list[str], str]]:
    repo = write_repo(tmp_path / "repo")
    bad_key = tmp_path / "bad.toml"
    bad_key.write_text("[train]\nstpes = 10\n")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "finetune_report.json").write_text("{}")
    common = ["--repo", str(repo), "--base", str(base), "--no-progress"]
    return {
        "missing repo": (["--repo", str(tmp_path / "nope"), "--base", str(base)], "not a directory"),
        "unknown base": (["--repo", str(repo), "--base", str(tmp_path / "no" / "model")], "not a model directory"),
        "base without config.json": ([*common, "--base", str(repo)], "not a model directory (no config.json)"),
        "output not empty": ([*common, "--output", str(busy)], "pass --resume to continue it, or another --output"),
        "unknown recipe": ([*common, "--config", "no-such-recipe"], "no such recipe file, and not a shipped recipe"),
        "unknown key": ([*common, "--config", str(bad_key)], "unknown key(s) ['stpes']"),
        "context too long": ([*common, "--seq-len", "4096"], "exceeds the base model's context of 128 tokens"),
        "held-out share": ([*common, "--heldout-fraction", "1"], "must be between 0 and 1"),
        "no positions": ([*common, "--per-file", "0"], "--per-file 0: must be at least 1"),
    }


CASES = ["missing repo", "unknown base", "base without config.json", "output not empty", "unknown recipe",
         "unknown key", "context too long", "held-out share", "no positions"]  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_errors_are_one_line_exit_2_before_any_work(
    case: str, tmp_path: Path, base: Path, capsys: pytest.CaptureFixture[str]
):
    argv, expected = error_cases(tmp_path, base)[case]
    output = tmp_path / "ft"
    if "--output" not in argv:
        argv = [*argv, "--output", str(output)]
    assert santa_train(["finetune", *argv]) == 2
    line = one_error_line(capsys)
    assert line.startswith("santa-train finetune: error: ") and expected in line, line
    assert not output.exists()  # nothing was started


def test_ctrl_c_is_one_line_and_exit_130(capsys: pytest.CaptureFixture[str]):
    def interrupted(args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    assert run_command("santa-train finetune", argparse.Namespace(func=interrupted)) == 130
    assert one_error_line(capsys) == "santa-train finetune: interrupted"


def test_held_out_text_is_the_same_on_every_run(tmp_path: Path):
    """PII placeholders do not change between runs, so neither do the held-out files and their scores."""
    repo = write_repo(tmp_path / "repo")
    for path in repo.glob("*.py"):
        path.write_text(path.read_text().replace('service."""', f'service.\n\nOwner: {EMAIL}\n"""', 1))
    texts = []
    for run in ("one", "two"):
        layout = Layout(tmp_path / run)
        _, files = prepare_data(parse("--repo", str(repo)), layout)
        texts.append((layout.train.read_bytes(), layout.heldout.read_bytes(), files))
    assert texts[0] == texts[1]
    assert EMAIL not in str(texts[0]) and "@example.com" in texts[0][2][0][1]


def test_exact_match_interval_resamples_files():
    assert interval([(4, 4), (4, 4)]) == [1.0, 1.0]
    low, high = interval([(10, 0), (10, 10)] * 5)  # files disagree: a wide interval around 0.5
    assert low < 0.3 and high > 0.7
    assert interval([(4, 1), (4, 3)], [(4, 1), (4, 3)]) == [0.0, 0.0]  # paired: the same scores differ by 0
    assert interval([(4, 4)] * 10, [(4, 1)] * 10) == [0.75, 0.75]
    tasks = fim_tasks([("a.py", "x = 1\ny = 2\nz = 3\n"), ("b.py", "u = 1\nv = 2\n")], per_file=2)
    score = InfillScore("spm", 0.5, len(tasks), [tasks[0].task_id, tasks[2].task_id])
    assert file_hits(tasks, score) == [(2, 1), (2, 1)]


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory: pytest.TempPathFactory, base: Path) -> tuple[list[str], Path]:
    """A LoRA fine-tune of the tiny model; the server's suggestions kept short, so the bench is quick."""
    root = tmp_path_factory.mktemp("finetune")
    output = root / "ft"
    args = ["finetune", "--base", str(base), "--repo", str(write_repo(root / "repo")), "--output", str(output),
            "--lora", "--steps", "12", "--batch-size", "4", "--lr", "5e-3", "--precision", "no", "--per-file", "3",
            "--max-heldout-files", "1", "--server-settings", '{"maxNewTokens": 4}', "--no-progress"]  # fmt: skip
    assert santa_train(args) == 0
    return args, output


def test_lora_finetune_reports_before_and_after_with_intervals(finetuned: tuple[list[str], Path], base: Path):
    args, output = finetuned
    report = json.loads((output / "finetune_report.json").read_text())
    assert report["lora"] and len(report["heldout_files"]) == 1 and report["train_files"] == 18
    phases = ["data", "score_before", "train", "score_after", "keystrokes"]
    assert list(report["wall_s"]) == list(report["cpu_s"]) == phases
    assert report["after"]["perplexity"]["perplexity"] < report["before"]["perplexity"]["perplexity"]
    for kind in ("fim_single_line", "fim_multi_line"):
        for side in ("before", "after"):
            score = report[side][kind]["spm"]
            low, high = score["ci95"]
            assert score["n"] == 3 and score["per_file"] == [[3, round(3 * score["exact_match"])]]
            assert low <= score["exact_match"] <= high
    keys = report["keystrokes_saved"]
    assert keys["files"] == 1 and keys["regions"] == 3  # a whole line, a block and a line's end
    for side in ("before", "after"):
        low, high = keys[side]["ci95"]
        assert low <= keys[side]["saved"] <= high
    bench = json.loads((output / "keystrokes.json").read_text())
    typed_with = [(arm["options"]["model"], arm["options"]["maxNewTokens"]) for arm in bench["arms"]]
    assert typed_with == [(str(base), 4), (report["export"], 4)]
    merged = model.load(report["export"], device="cpu")
    assert not any("lora" in name for name, _ in merged.net.named_parameters())
    assert santa_train(args) == 2  # a finished fine-tune is not overwritten without --resume


@pytest.mark.slow
def test_resumed_finetune_does_not_score_the_base_again(finetuned: tuple[list[str], Path]):
    args, output = finetuned
    report = json.loads((output / "finetune_report.json").read_text())
    before = (output / "before.json").stat().st_mtime_ns
    assert santa_train([*args, "--resume"]) == 0
    assert (output / "before.json").stat().st_mtime_ns == before
    resumed = json.loads((output / "finetune_report.json").read_text())
    assert resumed["before"] == report["before"] and "score_before" not in resumed["wall_s"]
