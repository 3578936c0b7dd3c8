"""The package layout of docs/architecture.md: which way imports go, and safe top-level names."""

from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

import model
import santa_lsp
import train

REPO = Path(__file__).resolve().parents[1]
# What each package must never import, at the top of a module or inside a function.
# The benchmarks (bench/) and the peers they measure against stay out of every shipped package.
BENCH_ONLY = {"bench", "transformers", "ctranslate2", "llama_cpp"}
FORBIDDEN = {
    "model": {"santa_lsp", "train", "pygls", "lsprotocol"} | BENCH_ONLY,  # nothing of LSP or training
    "santa_lsp": {"train", "torch", "numpy"} | BENCH_ONLY,  # no tensor code; training's extras are not installed
    "train": BENCH_ONLY,
}


def imported_packages(path: Path) -> set[str]:
    """Top-level names of the absolute imports in one file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def sources(package: str) -> list[Path]:
    # santa_lsp/heldout is the quality bench's held-out code: data that is never imported.
    return [p for p in sorted((REPO / package).rglob("*.py")) if "heldout" not in p.parts]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_go_one_way(package: str) -> None:
    files = sources(package)
    assert len(files) > 5
    wrong = {
        str(path.relative_to(REPO)): sorted(bad)
        for path in files
        if (bad := imported_packages(path) & FORBIDDEN[package])
    }
    assert not wrong, f"imports against docs/architecture.md: {wrong}"


def test_bench_imports_the_product_and_is_left_out_of_the_wheel() -> None:
    """bench/ measures the shipped packages from a clone; a wheel installs no top-level `bench`."""
    assert {"model"} <= set().union(*(imported_packages(path) for path in sources("bench")))
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    assert any(fnmatch("santa_lsp", pattern) for pattern in include)
    assert not any(fnmatch(name, pattern) for name in ("bench", "bench.runtime") for pattern in include)


def test_the_import_check_sees_lazy_imports(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text("import os.path\nfrom . import x\n\ndef f():\n    from train.shards import find_shards\n")
    assert imported_packages(path) == {"os", "train"}


def test_our_top_level_names_are_ours_alone() -> None:
    """No other installed distribution puts a `model`, `train` or `santa_lsp` on the path, and the
    three that are imported are this distribution's, installed side by side."""
    ours = set(importlib.metadata.distribution("santa-lsp").read_text("top_level.txt").split())
    assert ours == {"model", "santa_lsp", "train"}
    claims = importlib.metadata.packages_distributions()
    others = {name: sorted(set(claims.get(name, [])) - {"santa-lsp"}) for name in ours}
    assert not any(others.values()), f"other distributions install these names too: {others}"
    homes = {Path(package.__file__).resolve().parents[1] for package in (model, santa_lsp, train)}
    assert len(homes) == 1, homes


def test_python_m_santa_lsp_ignores_modules_in_the_working_directory(tmp_path: Path) -> None:
    """Editors start the server in the user's project, which may have its own model.py."""
    (tmp_path / "model.py").write_text("raise ImportError('the project own model.py was imported')\n")
    (tmp_path / "fib.py").write_text("def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        \n")
    run = subprocess.run(
        [sys.executable, "-m", "santa_lsp", "complete", "fib.py:4:9"], cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 0 and "ImportError" not in run.stderr, run.stderr
