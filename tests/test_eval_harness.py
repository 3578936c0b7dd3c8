"""The evaluation harness against oracles: perfect answers score 1, wrong ones 0."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

import model
from tests.tiny import make_model
from train.eval.cli import build_parser, evaluate, heldout_metrics
from train.eval.fim_exact import by_language, fim_tasks
from train.eval.humaneval_infill import infill_tasks, problems
from train.eval.infill import EngineInfiller, InfillTask, exact_match, score_infill
from train.eval.pass_at_k import evaluate_pass_at_k, pass_at_k
from train.eval.perplexity import perplexity
from train.eval.sandbox import run_python


def echo(task: InfillTask, mode: str) -> str:
    """A model that knows the answer, then keeps talking (the harness must cut the extra lines)."""
    return task.target + "\n    extra()\n"


def wrong(task: InfillTask, mode: str) -> str:
    return "pass  # not it"


def test_humaneval_infill_has_1033_tasks_that_rebuild_the_solution():
    tasks = infill_tasks()
    assert len(tasks) == 1033
    by_id = problems()
    for task in tasks[:50]:
        problem = by_id[task.task_id.rsplit("/line", 1)[0]]
        assert task.prefix + task.target + task.suffix == problem["prompt"] + problem["canonical_solution"]
        assert task.target.strip() and "\n" not in task.target


@pytest.mark.parametrize("mode", ["psm", "spm"])
def test_infill_oracles(mode: str):
    tasks = infill_tasks()
    assert score_infill(tasks, echo, mode, progress=False).exact_match == 1.0
    assert score_infill(tasks, wrong, mode, progress=False).exact_match == 0.0


def test_fim_exact_tasks_single_and_multi_line():
    text = "import os\n\n\ndef f(x):\n    y = x + 1\n    return y\n\nprint(f(2))\n"
    for multi in (False, True):
        tasks = fim_tasks([("a.py", text)], per_file=3, multi_line=multi, seed=1)
        assert tasks and all(t.prefix + t.target + t.suffix == text for t in tasks)
        assert all((t.lines > 1) == multi for t in tasks)
        assert score_infill(tasks, echo, "spm", progress=False).exact_match == 1.0
        assert score_infill(tasks, wrong, "psm", progress=False).exact_match == 0.0
    assert fim_tasks([("a.py", text)], seed=1) == fim_tasks([("a.py", text)], seed=1)
    assert exact_match("  y = x + 1  \nmore", InfillTask("t", "", "", "y = x + 1"))


def test_fim_exact_match_per_language():
    files = [("lib/a.py", "x = 1\ny = 2\n"), ("src/B.java", "int x;\nint y;\n"), ("web/c.js", "let z;\n"),
             ("notes.txt", "hello\n")]  # fmt: skip
    tasks = fim_tasks(files, per_file=2)

    def knows_python(task: InfillTask, mode: str) -> str:
        return echo(task, mode) if task.task_id.startswith("lib/") else wrong(task, mode)

    score = score_infill(tasks, knows_python, "psm", progress=False)
    assert by_language(tasks, score) == {
        "java": {"exact_match": 0.0, "n": 2}, "javascript": {"exact_match": 0.0, "n": 1},
        "other": {"exact_match": 0.0, "n": 1}, "python": {"exact_match": 1.0, "n": 2},
    }  # fmt: skip


def test_pass_at_k_estimator():
    assert pass_at_k(10, 0, 1) == 0.0 and pass_at_k(10, 10, 5) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(10, 3, 5) == pytest.approx(1 - math.comb(7, 5) / math.comb(10, 5))
    assert pass_at_k(5, 4, 2) == 1.0  # fewer than k failures: some pair always passes


@pytest.mark.slow
def test_canonical_solutions_pass_every_humaneval_problem():
    every = list(problems().values())
    result = evaluate_pass_at_k(every, lambda p, s: p["canonical_solution"], 1, [1], workers=2, progress=False)
    failures = {k: o[0].detail for k, o in result.per_problem.items() if not o[0].passed}
    assert result.scores == {"pass@1": 1.0}, failures
    bad = evaluate_pass_at_k(every[:10], lambda p, s: "    return None\n", 2, [1, 2], progress=False)
    assert bad.scores == {"pass@1": 0.0, "pass@2": 0.0}


def test_sandbox_limits(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:1")
    assert run_python("print('ok')").passed
    assert run_python("import os\nassert not any('PROXY' in k.upper() for k in os.environ)").passed
    assert run_python("raise SystemExit(3)").status == "failed"
    assert run_python("while True: pass", timeout=1.0).status == "timeout"
    memory = run_python("x = bytearray(2 * 2**30)", memory_mb=256)
    assert memory.status == "failed" and "MemoryError" in memory.detail
    net = run_python("import socket\nsocket.create_connection(('127.0.0.1', 9))")
    assert net.status == "failed" and "disabled" in net.detail
    assert run_python("import socket\nsocket.socket()").status == "failed"
    assert run_python("import subprocess\nsubprocess.run(['true'])").status == "failed"
    assert "disabled" in run_python("import os\nos.system('true')").detail
    assert run_python("open('scratch.txt', 'w').write('x')").passed  # its own temp dir is writable
    assert not Path(os.getcwd(), "scratch.txt").exists()


def test_engine_runs_every_metric(tmp_path: Path):
    engine = model.load(make_model(tmp_path / "m"), device="cpu")
    tasks = infill_tasks(limit=3)
    for mode in ("psm", "spm"):
        score = score_infill(tasks, EngineInfiller(engine, max_new_tokens=8), mode, progress=False)
        assert score.n == 3 and 0.0 <= score.exact_match <= 1.0
    ppl = perplexity(engine, ["def add(a, b):\n    return a + b\n" * 20], progress=False)
    assert ppl.tokens > engine.context_length and math.isfinite(ppl.perplexity) and ppl.perplexity > 1


def test_heldout_metrics_computes_only_the_tasks_asked_for(tmp_path: Path):
    engine = model.load(make_model(tmp_path / "m"), device="cpu")
    files = [("a.py", "def add(a, b):\n    total = a + b\n    return total\n" * 4)]
    fim = {"fim_single_line", "fim_multi_line"}
    assert set(heldout_metrics(engine, files, ["spm"], per_file=2, progress=False)) == {*fim, "perplexity"}
    assert set(heldout_metrics(engine, files, ["spm"], 2, False, tasks=["fim"])) == fim
    assert set(heldout_metrics(engine, files, ["spm"], 2, False, tasks=["perplexity"])) == {"perplexity"}


def test_santa_eval_infills_under_the_servers_blank_line_rule_unless_told_not_to(tmp_path: Path):
    engine = model.load(make_model(tmp_path / "m"), device="cpu")
    task = InfillTask("blank", "def add(a, b):\n    ", "\n\nprint(add(1, 2))\n", "return a + b")
    assert EngineInfiller(engine).config(task).require_code is None  # the engine's rule: code on a blank line
    assert EngineInfiller(engine, require_code=False).config(task).require_code is False
    report = evaluate(build_parser().parse_args([str(tmp_path / "m"), "--limit", "1", "--no-require-code"]))
    assert report["require_code"] == "off" and "humaneval_infill" in report["results"]
