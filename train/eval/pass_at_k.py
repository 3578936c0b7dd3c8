"""HumanEval pass@k: sample completions, run each against the problem's tests in the sandbox,
and estimate pass@k without bias (Chen et al. 2021): 1 - C(n - c, k) / C(n, k) per problem."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from model import Engine, GenerationConfig
from train.eval.sandbox import Outcome, run_python

# The Codex paper's stop sequences: the function body ends where top-level code starts.
STOP = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
Completer = Callable[[dict[str, Any], int], str]  # (problem, sample index) -> completion


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn from n (c of them correct) passes.

    Computed as a product, 1 - prod_{i=n-c+1}^{n} (1 - k/i), which never forms the binomials.
    """
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def program(problem: dict[str, Any], completion: str) -> str:
    return f"{problem['prompt']}{completion}\n\n{problem['test']}\n\ncheck({problem['entry_point']})\n"


class EngineCompleter:
    """Left-to-right sampling with our runtime; the prompt is cut from the left to fit."""

    def __init__(
        self, engine: Engine, temperature: float = 0.2, top_p: float = 0.95, max_new_tokens: int = 256
    ) -> None:
        self.engine, self.temperature, self.top_p = engine, temperature, top_p
        self.max_new_tokens = min(max_new_tokens, engine.context_length // 2)

    def __call__(self, problem: dict[str, Any], sample: int) -> str:
        ids = self.engine.tokenizer.encode(problem["prompt"])
        ids = ids[-(self.engine.context_length - self.max_new_tokens) :]
        config = GenerationConfig(
            max_new_tokens=self.max_new_tokens, temperature=self.temperature, top_p=self.top_p,
            stop=STOP, seed=sample,
        )  # fmt: skip
        return self.engine.generate(ids, config).text


@dataclass
class PassAtK:
    scores: dict[str, float]  # "pass@1" -> mean over problems
    samples: int
    problems: int
    per_problem: dict[str, list[Outcome]]


def evaluate_pass_at_k(
    problems: Sequence[dict[str, Any]], complete: Completer, samples: int, ks: Sequence[int],
    workers: int = 2, timeout: float = 10.0, progress: bool = True,
) -> PassAtK:  # fmt: skip
    """Generate `samples` completions per problem (in this process) and execute them in parallel."""
    jobs = [
        (problem["task_id"], program(problem, complete(problem, s)))
        for problem in tqdm(problems, desc="sampling", disable=not progress, unit="problem")
        for s in range(samples)
    ]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [(task_id, pool.submit(run_python, code, timeout)) for task_id, code in jobs]
        per_problem: dict[str, list[Outcome]] = {}
        for task_id, future in tqdm(futures, desc="executing", disable=not progress, unit="program"):
            per_problem.setdefault(task_id, []).append(future.result())
    scores = {}
    for k in (k for k in ks if k <= samples):
        values = [pass_at_k(len(o), sum(x.passed for x in o), k) for o in per_problem.values()]
        scores[f"pass@{k}"] = float(np.mean(values))
    return PassAtK(scores, samples, len(per_problem), per_problem)
