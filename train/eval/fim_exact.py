"""FIM exact match on held-out files of any repository: single-line and multi-line spans.

Spans are drawn with a fixed seed, so the same files give the same tasks before and after a
fine-tune. Spans start on a non-blank line; multi-line spans cover 2..max_lines lines.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from train.eval.infill import InfillTask, mask_lines


def fim_tasks(
    files: Iterable[tuple[str, str]], per_file: int = 4, max_lines: int = 4, multi_line: bool = False,
    seed: int = 0,
) -> list[InfillTask]:  # fmt: skip
    """Up to `per_file` tasks from each (name, text) file."""
    rng = random.Random(seed)
    tasks = []
    for name, text in files:
        lines = text.splitlines(keepends=True)
        starts = [i for i, line in enumerate(lines) if line.strip()]
        if multi_line:
            starts = [i for i in starts if i + 1 < len(lines)]
        for start in sorted(rng.sample(starts, min(per_file, len(starts)))):
            end = start + 1
            if multi_line:
                end = min(len(lines), start + rng.randint(2, max(2, max_lines)))
            tasks.append(mask_lines("", lines, start, end, f"{name}:{start + 1}-{end}"))
    return tasks
