"""Small synthetic code files for the data-pipeline tests (no tests in this module)."""

from __future__ import annotations

import random
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

WORDS = ["alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "theta", "lambda_", "zeta"]


def python_module(seed: int, lines: int = 12) -> str:
    """A plausible, filter-passing Python module; different seeds give unrelated files."""
    rng = random.Random(seed)
    parts = [f'"""Helpers for task {seed}."""\n', "import math\n\n"]
    for i in range(lines):
        name = f"{rng.choice(WORDS)}_{rng.randrange(10**6)}"
        a, b = rng.randrange(1, 999), rng.randrange(1, 999)
        parts.append(
            f"def {name}(value_{i}, scale={a}):\n"
            f"    # combine the inputs with offset {b}\n"
            f"    total = value_{i} * scale + {b} - math.floor(value_{i} / {a + b})\n"
            f"    return total if total > {rng.randrange(100)} else -total\n\n\n"
        )
    return "".join(parts)


def java_class(seed: int) -> str:
    rng = random.Random(seed)
    methods = "".join(
        f"    /** Returns a scaled value. */\n"
        f"    public int m{rng.randrange(10**6)}(int x) {{\n"
        f"        return x * {rng.randrange(1, 99)} + {rng.randrange(99)}; // offset\n"
        f"    }}\n"
        for _ in range(8)
    )
    return f"package demo;\n\npublic class C{seed} {{\n{methods}}}\n"


def near_duplicate(text: str) -> str:
    """The same file with one line edited: Jaccard similarity far above 0.7."""
    lines = text.splitlines(keepends=True)
    middle = len(lines) // 2
    lines[middle] = lines[middle].rstrip("\n") + "  # tweaked\n"
    return "".join(lines)


def write(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def drop_reason(step: BaseFilter, doc: Document) -> str | None:
    """Why `step` drops `doc`, from its BaseFilter verdict; None when it keeps it."""
    verdict = step.filter(doc)
    if verdict is True:
        return None
    kept, reason = verdict
    assert not kept and reason, f"a filter drops with a reason, not {verdict!r}"
    return reason
