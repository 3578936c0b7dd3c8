"""Decontamination against HumanEval (from the installed package) and user benchmark files."""

from __future__ import annotations

import json
from pathlib import Path

from datatrove.data import Document

from tests.test_data_helpers import drop_reason, python_module
from train.data.config import DecontamConfig
from train.data.decontaminate import (
    DecontaminationFilter,
    SubstringIndex,
    benchmark_strings,
    humaneval_strings,
)


def doc(text: str) -> Document:
    return Document(text=text, id="x", metadata={"lang": "python"})


def test_humaneval_is_read_from_the_installed_package() -> None:
    strings = list(humaneval_strings())
    assert len(strings) == 2 * 164
    assert any("def has_close_elements" in s for s in strings)


def test_file_containing_a_humaneval_prompt_is_dropped() -> None:
    prompt = next(s for s in humaneval_strings() if "def has_close_elements" in s)
    step = DecontaminationFilter(DecontamConfig())
    assert drop_reason(step, doc(python_module(1) + prompt + "    pass\n")) == "benchmark"
    assert drop_reason(step, doc(python_module(1))) is None


def test_file_containing_a_canonical_solution_is_dropped() -> None:
    solution = max(list(humaneval_strings())[1::2], key=len)
    assert drop_reason(DecontaminationFilter(DecontamConfig()), doc("def f(x):\n" + solution)) == "benchmark"


def test_short_strings_are_ignored() -> None:
    strings = benchmark_strings(DecontamConfig())
    assert "    return len(string)\n" not in strings
    assert all(len(s.strip()) >= 50 for s in strings)


def test_user_benchmark_file(tmp_path: Path) -> None:
    leaked = "def solve(grid):\n    return sum(map(sum, grid)) % 1_000_000_007  # mod prime\n"
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps(leaked) + "\n" + json.dumps({"id": 3, "code": "x" * 60}) + "\n")
    cfg = DecontamConfig(humaneval=False, extra_files=(str(bench),))
    assert benchmark_strings(cfg) == sorted([leaked, "x" * 60])
    step = DecontaminationFilter(cfg)
    assert drop_reason(step, doc("import os\n" + leaked)) == "benchmark"
    assert drop_reason(step, doc("import os\n" + leaked.replace("mod prime", "modulo"))) is None


def test_index_matches_exactly_like_substring_search() -> None:
    needles = ["a\nbb\nccc\n", "single line needle that is long enough", "x\n\ny"]
    index = SubstringIndex(needles)
    for text in ["zz a\nbb\nccc\n zz", "a\nbb\ncc", "pre single line needle that is long enough", "x\n\ny"]:
        expected = next((n for n in needles if n in text), None)
        assert index.find(text) == expected
