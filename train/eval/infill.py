"""Infilling tasks (mask lines of a file, ask the model for them) and exact-match scoring.

A task masks whole lines i..j of a text: prefix = everything above them, target = the lines
(without their last newline), suffix = that newline and everything below. The prediction is
cut to as many lines as the target has and compared after `.strip()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tqdm import tqdm

from model import Engine, GenerationConfig

MODES = ("psm", "spm")


@dataclass(frozen=True)
class InfillTask:
    task_id: str
    prefix: str
    suffix: str
    target: str

    @property
    def lines(self) -> int:
        return self.target.count("\n") + 1


class Infiller(Protocol):
    def __call__(self, task: InfillTask, mode: str) -> str:
        """The model's middle for the task's prefix and suffix."""
        ...


def mask_lines(head: str, lines: Sequence[str], start: int, end: int, task_id: str) -> InfillTask:
    """Mask `lines[start:end]` (lines with their newlines) of the text `head + "".join(lines)`."""
    middle = "".join(lines[start:end])
    target = middle.removesuffix("\n")
    newline = "\n" if middle.endswith("\n") else ""
    return InfillTask(task_id, head + "".join(lines[:start]), newline + "".join(lines[end:]), target)


def first_lines(text: str, count: int) -> str:
    return "\n".join(text.split("\n")[:count])


def exact_match(prediction: str, task: InfillTask) -> bool:
    return first_lines(prediction, task.lines).strip() == task.target.strip()


class EngineInfiller:
    """Greedy infilling with our runtime; a one-line target stops at the first newline."""

    def __init__(self, engine: Engine, max_new_tokens: int = 128, require_code: bool | None = None) -> None:
        # require_code: None is the engine's rule (a middle on a blank line must hold code), False lets it end at once.
        self.engine, self.max_new_tokens, self.require_code = engine, max_new_tokens, require_code

    def __call__(self, task: InfillTask, mode: str) -> str:
        return self.engine.infill(task.prefix, task.suffix, mode=mode, config=self.config(task)).text

    def config(self, task: InfillTask) -> GenerationConfig:
        stop = ("\n",) if task.lines == 1 else ()
        # Room for the target plus slack (a bound keeps a rambling model from costing seconds),
        # and at most half the context, so that a small model still sees a prompt.
        wanted = len(self.engine.tokenizer.encode(task.target)) + 32
        budget = min(self.max_new_tokens, wanted, self.engine.context_length // 2)
        return GenerationConfig(max_new_tokens=budget, temperature=0.0, stop=stop, require_code=self.require_code)


@dataclass
class InfillScore:
    mode: str
    exact_match: float
    n: int
    correct: list[str]  # task ids answered exactly

    def summary(self) -> dict[str, float | int]:
        return {"exact_match": self.exact_match, "n": self.n}


def score_infill(
    tasks: Sequence[InfillTask], infiller: Infiller, mode: str, progress: bool = True, label: str = ""
) -> InfillScore:
    if mode not in MODES:
        raise ValueError(f"unknown FIM mode {mode!r}: use {' or '.join(MODES)}")
    correct = [
        task.task_id
        for task in tqdm(tasks, desc=f"{label} {mode}".strip(), disable=not progress, unit="task")
        if exact_match(infiller(task, mode), task)
    ]
    return InfillScore(mode, len(correct) / len(tasks) if tasks else 0.0, len(tasks), correct)
