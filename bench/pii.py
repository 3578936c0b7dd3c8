"""Precision/recall of the PII detector per class on the labelled fixture shipped with it.

    python -m bench.pii [FIXTURE.jsonl]

Each fixture line is {"text": ..., "pii": [{"label": "EMAIL"|"IP_ADDRESS"|"KEY", "value": ...}]};
a prediction counts as correct when its (label, value) pair is among the line's gold pairs.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from train.data.pii import LABELS, find_pii

FIXTURE = Path(__file__).parent / "fixtures" / "pii_fixture.jsonl"


@dataclass
class ClassScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def evaluate(path: Path = FIXTURE) -> dict[str, ClassScore]:
    scores = {label: ClassScore() for label in LABELS}
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        gold = Counter((item["label"], item["value"]) for item in record["pii"])
        predicted = Counter({(m.label, m.value): 1 for m in find_pii(record["text"])})
        for (label, _), count in (predicted & gold).items():
            scores[label].tp += count
        for (label, _), count in (predicted - gold).items():
            scores[label].fp += count
        for (label, _), count in (gold - predicted).items():
            scores[label].fn += count
    return scores


def format_scores(scores: dict[str, ClassScore]) -> str:
    rows = [f"{'class':<12}{'tp':>5}{'fp':>5}{'fn':>5}{'precision':>11}{'recall':>8}"]
    rows += [
        f"{label:<12}{s.tp:>5}{s.fp:>5}{s.fn:>5}{s.precision:>11.2f}{s.recall:>8.2f}" for label, s in scores.items()
    ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pii", description=__doc__.split("\n")[0])
    parser.add_argument("fixture", nargs="?", type=Path, default=FIXTURE)
    print(format_scores(evaluate(parser.parse_args(argv).fixture)))


if __name__ == "__main__":
    main()
