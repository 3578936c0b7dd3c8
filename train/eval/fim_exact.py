"""FIM exact match on held-out files of any repository: single-line and multi-line spans.

Spans are drawn with a fixed seed, so the same files give the same tasks before and after a
fine-tune. Spans start on a non-blank line; multi-line spans cover 2..max_lines lines.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from train.data.languages import language_of_path
from train.eval.infill import InfillScore, InfillTask, mask_lines
from train.shards import find_shards, is_shard_name, read_rows


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


def task_file(task: InfillTask) -> str:
    """The file a task was cut from (its id is "path:first-last")."""
    return task.task_id.rsplit(":", 1)[0]


def task_language(task: InfillTask) -> str:
    return language_of_path(task_file(task)) or "other"


def file_hits(tasks: Sequence[InfillTask], score: InfillScore) -> list[tuple[int, int]]:
    """(tasks, exact matches) of each file of `score`, computed over `tasks`, in the files' order."""
    correct, counts = set(score.correct), dict[str, tuple[int, int]]()
    for task in tasks:
        n, hits = counts.get(task_file(task), (0, 0))
        counts[task_file(task)] = (n + 1, hits + (task.task_id in correct))
    return list(counts.values())


def interval(files: Sequence[Sequence[int]], baseline: Sequence[Sequence[int]] | None = None) -> list[float]:
    """95% interval of exact match over `files` ((tasks, hits) each), or of its difference with
    `baseline` scored on the same tasks (paired), resampling files: one file's tasks are not
    independent of each other.

    Exact match is 1 - misses / tasks, the ratio the keystrokes bench bootstraps as
    1 - keystrokes / characters, so its bootstrap serves as is."""
    from santa_lsp.bench_quality import saved_interval

    arms = [files] if baseline is None else [files, baseline]
    return saved_interval([[(n, n - hits) for n, hits in arm] for arm in arms])


def by_language(tasks: Sequence[InfillTask], score: InfillScore) -> dict[str, dict[str, float | int]]:
    """Exact match per language of `score`, which was computed over `tasks`."""
    correct, hits = set(score.correct), defaultdict(list)
    for task in tasks:
        hits[task_language(task)].append(task.task_id in correct)
    return {lang: {"exact_match": sum(h) / len(h), "n": len(h)} for lang, h in sorted(hits.items())}


def read_files(paths: Sequence[str | Path]) -> list[tuple[str, str]]:
    """(name, text) of held-out files: jsonl(.gz) shards (`content`, `path`) or plain source files."""
    out: list[tuple[str, str]] = []
    shard_paths = [p for p in map(Path, paths) if p.is_dir() or is_shard_name(p)]
    for path in map(Path, paths):
        if path.is_file() and not is_shard_name(path):
            out.append((str(path), path.read_text(encoding="utf-8", errors="replace")))
    for shard in find_shards(shard_paths) if shard_paths else []:
        out.extend(
            (str(row.get("path") or f"{shard.name}#{i}"), row["content"]) for i, row in enumerate(read_rows(shard))
        )
    return out
