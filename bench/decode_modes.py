"""Decode modes (model/decoding.py) against each other, in one process, in interleaved rounds.

    OMP_NUM_THREADS=1 python -m bench.decode_modes --model model/default_model --modes eager,static,compile

Prints, per mode, the median time per decoded token and the median of the per-round ratios
against the first mode. `--clock cpu` (the default) counts the process's CPU seconds: on a host
shared with busy neighbours wall-clock figures swing by 2x, while CPU time counts the work done.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import model
from bench.runtime import sample_text
from model import GenerationConfig

PROMPT_TOKENS = 128
DECODE_TOKENS = 32
CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}


def ms_per_token(engine: model.Engine, prompt: list[int], clock: Callable[[], float], repeats: int = 3) -> float:
    """The best of `repeats`: a run's time less a one-token run's, over the tokens after the first."""
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        run = engine.generate(prompt, GenerationConfig(max_new_tokens=DECODE_TOKENS + 1, use_prefix_cache=False))
        middle = clock()
        engine.generate(prompt, GenerationConfig(max_new_tokens=1, use_prefix_cache=False))
        first = clock() - middle
        best = min(best, (middle - start - first) / max(1, len(run.token_ids) - 1))
    return 1000 * best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.decode_modes", description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--modes", default="eager,static,compile")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu")
    args = parser.parse_args(argv)
    clock, modes = CLOCKS[args.clock], args.modes.split(",")
    engines = {}
    for mode in modes:
        started = time.perf_counter()
        engines[mode] = model.load(args.model, args.device, args.dtype, decode=mode)
        engines[mode].generate("x = 1\n", GenerationConfig(max_new_tokens=3))  # captures or compiles
        fallback = engines[mode].decoder.fallback
        print(
            f"{mode}: loaded, first decode done in {time.perf_counter() - started:.1f} s"
            + (f"; {fallback}" if fallback else "")
        )
    prompt = engines[modes[0]].tokenizer.encode(sample_text())[:PROMPT_TOKENS]
    series: dict[str, list[float]] = {mode: [] for mode in modes}
    for _ in range(args.rounds):
        for mode in modes:
            series[mode].append(ms_per_token(engines[mode], prompt, clock))
    for mode in modes:
        ratios = [base / own for base, own in zip(series[modes[0]], series[mode], strict=True)]
        print(
            f"{mode:8} {statistics.median(series[mode]):8.3f} ms/token ({args.clock})   vs {modes[0]}: "
            f"{statistics.median(ratios):.2f}x  [{' '.join(f'{r:.2f}' for r in ratios)}]"
        )


if __name__ == "__main__":
    main()
