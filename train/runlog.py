"""The per-step training log, as JSON lines (`log.jsonl`) and CSV (`log.csv`).

A resumed run first drops the records written after its checkpoint by the interrupted run, so
the log reads as one uninterrupted run.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

FIELDS = ("step", "tokens", "loss", "lr", "grad_norm", "tokens_per_s", "eval_loss", "eval_ppl", "elapsed_s")


def read_log(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # the half-written last line of a killed run
            break
    return records


class RunLog:
    def __init__(self, directory: Path, resume_step: int, enabled: bool = True) -> None:
        self.jsonl, self.csv = directory / "log.jsonl", directory / "log.csv"
        self.enabled = enabled
        if not enabled:
            return
        directory.mkdir(parents=True, exist_ok=True)
        kept = [r for r in read_log(self.jsonl) if r["step"] <= resume_step] if resume_step else []
        self.jsonl.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
        with self.csv.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, FIELDS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(kept)

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self.jsonl.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        with self.csv.open("a", newline="", encoding="utf-8") as handle:
            csv.DictWriter(handle, FIELDS, extrasaction="ignore").writerow(record)
