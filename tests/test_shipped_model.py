"""The model shipped in the package: it loads, infills, and serves README's first command."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import model

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_model_is_found_and_infills() -> None:
    path = model.default_model()
    assert path is not None and path == model.DEFAULT_MODEL
    engine = model.load(path)
    assert engine.tokenizer.has_fim and engine.context_length == 512
    result = engine.infill("def add(a, b):\n    return ", "\n", config=model.GenerationConfig(max_new_tokens=8))
    assert result.prompt_tokens > 5 and result.finish_reason in ("eos", "stop", "length")


def test_every_file_of_the_shipped_model_is_package_data() -> None:
    """pyproject's package-data globs cover the whole model directory, so a wheel carries it."""
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["model"]
    for file in model.DEFAULT_MODEL.iterdir():
        name = file.relative_to(ROOT / "model").as_posix()
        assert any(fnmatch(name, pattern) for pattern in globs), f"{name} would be left out of the wheel"


def test_readme_first_command_completes_with_the_shipped_model() -> None:
    """`santa-lsp complete examples/fib.py:16:9`, without --model, as README.md gives it."""
    done = subprocess.run(
        [sys.executable, "-m", "santa_lsp.cli", "complete", "examples/fib.py:16:9"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() or "no suggestion" in done.stderr
