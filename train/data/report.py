"""The run report: files and bytes in/out per step and language, drop reasons, step timings,
entries of the input trees skipped while planning, and where the dropped files are listed.

Built from datatrove's per-task stats files (`logs/<stage>/stats/NNNNN.json`), so tasks
finished by an earlier, interrupted invocation are counted too.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

COUNTERS = ("files_in", "bytes_in", "files_out", "bytes_out", "dropped", "redacted")


def _total(value: float | dict[str, Any]) -> float:
    return value["total"] if isinstance(value, dict) else value


def _empty_step(name: str) -> dict[str, Any]:
    return {"step": name, **{key: Counter() for key in COUNTERS}, "seconds": 0.0}


def _add_task_stats(steps: dict[str, dict[str, Any]], task_stats: list[dict[str, Any]]) -> None:
    for block in task_stats:
        stats = block.get("stats", {})
        if "seconds" not in stats:  # not a measured step (readers of intermediates, writers)
            continue
        name = block["name"].split(": ", 1)[-1]  # datatrove prefixes the step type
        step = steps.setdefault(name, _empty_step(name))
        for key, value in stats.items():
            if key == "seconds":
                step["seconds"] += _total(value)
            elif counter := _counter(key):
                step[counter[0]][counter[1]] += _total(value)


def _counter(key: str) -> tuple[str, str] | None:
    """(counter, label) of a stats key: ours are `files_in/python`, `redacted/EMAIL`; datatrove's
    filters count drops as `dropped_<reason>` (and their total as `dropped`, left out here)."""
    prefix, slash, label = key.partition("/")
    if slash and prefix in COUNTERS:
        return prefix, label
    if key.startswith("dropped_"):
        return "dropped", key.removeprefix("dropped_")
    return None


def build_report(
    stage_log_dirs: list[Path],
    stage_seconds: dict[str, float],
    skipped: dict[str, int],
    dropped_files: str,
) -> dict[str, Any]:
    """`skipped`: entries never read, per reason; `dropped_files`: the folder (relative to the
    output) listing each dropped or skipped file with its reason."""
    steps: dict[str, dict[str, Any]] = {}
    for log_dir in stage_log_dirs:
        for stats_file in sorted((log_dir / "stats").glob("*.json")):
            _add_task_stats(steps, json.loads(stats_file.read_text()))
    step_list = [{**step, **{key: dict(sorted(step[key].items())) for key in COUNTERS}} for step in steps.values()]
    read_bytes = sum(step_list[0]["bytes_out"].values()) if step_list else 0
    kept_bytes = sum(step_list[-1]["bytes_out"].values()) if step_list else 0
    wall = sum(stage_seconds.values())
    return {
        "steps": step_list,
        "skipped": skipped,
        "dropped_files": dropped_files,
        "stage_seconds": stage_seconds,
        "total": {
            "bytes_read": read_bytes,
            "bytes_kept": kept_bytes,
            "wall_seconds": wall,
            "mb_per_second": read_bytes / 1e6 / wall if wall else None,
        },
    }


def write_report(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))


def _sum(counter: dict[str, float]) -> float:
    return sum(counter.values())


def _row(label: str, files_in: float, files_out: float, bytes_in: float, bytes_out: float) -> str:
    return f"{label:<24}{files_in:>10.0f}{files_out:>10.0f}{bytes_in / 1e6:>10.2f}{bytes_out / 1e6:>10.2f}"


def _step_rows(step: dict[str, Any]) -> list[str]:
    is_source = not step["files_in"]  # the reader has no input side
    seconds = step["seconds"]
    measured = _sum(step["bytes_out" if is_source else "bytes_in"])
    speed = measured / 1e6 / seconds if seconds else 0.0
    counters = [step[key] for key in ("files_in", "files_out", "bytes_in", "bytes_out")]
    rows = [_row(step["step"], *map(_sum, counters)) + f"{seconds:>9.1f}{speed:>9.1f}"]
    for lang in sorted(set(step["files_in"]) | set(step["files_out"])):
        rows.append(_row(f"  {lang}", *(c.get(lang, 0) for c in counters)))
    notes = ", ".join(f"{k}={v:.0f}" for k, v in {**step["dropped"], **step["redacted"]}.items())
    if notes:
        rows.append(f"    {notes}")
    return rows


def format_report(report: dict[str, Any]) -> str:
    header = (
        f"{'step / language':<24}{'files in':>10}{'files out':>10}{'MB in':>10}{'MB out':>10}{'cpu s':>9}{'MB/s':>9}"
    )
    lines = [header, "-" * len(header)]
    for step in report["steps"]:
        lines += _step_rows(step)
    total = report["total"]
    skipped = ", ".join(f"{reason}={count}" for reason, count in report["skipped"].items())
    stages = ", ".join(f"{name} {sec:.1f}s" for name, sec in report["stage_seconds"].items())
    lines += [
        "-" * len(header),
        f"skipped while planning (never read): {skipped or 'nothing'}",
        f"dropped and skipped files, with reasons: {report['dropped_files']}/",
        f"stages (wall, this invocation): {stages}",
        f"overall: {total['bytes_read'] / 1e6:.1f} MB read, {total['bytes_kept'] / 1e6:.1f} MB kept, "
        f"{total['wall_seconds']:.1f} s wall"
        + (f", {total['mb_per_second']:.2f} MB/s" if total["mb_per_second"] else ""),
        "(cpu s: time inside the step summed over tasks; MB/s: its input rate per core)",
    ]
    return "\n".join(lines)
