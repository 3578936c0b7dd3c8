"""Prefill chunk sizes: what a cancellation waits for, and what chunking costs a whole prefill.

    python -m bench.prefill_chunks --model bench-models/santacoder --dtype int8 --chunks 1024,256,adaptive

A newer request cancels the one in flight (latest wins), but the prefill notices only between
chunks. For each arm, in interleaved rounds: the time of an uncancelled prefill of `--tokens`
tokens, and the wait from a cancel, sent a fixed share into a prefill, to the prefill's return.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable

import torch

import model
from bench.runtime import IDLE_BETWEEN_RUNS_S, interleaved, sample_text
from model.decoding import CHUNK_TARGET_S

# When each round's cancel is sent, as a share of the arm's uncancelled prefill time: spread
# over the chunk so that the median wait is about half a chunk.
CANCEL_AT = (0.15, 0.35, 0.55, 0.75)


def set_chunking(engine: model.Engine, arm: str) -> None:
    """`adaptive` sizes chunks by the measured speed; a number fixes the chunk size."""
    decoder = engine.decoder
    decoder.chunk_target_s = CHUNK_TARGET_S if arm == "adaptive" else None
    if arm != "adaptive":
        decoder.prefill_chunk = int(arm)


def prefill_s(engine: model.Engine, ids: list[int], cancel_after_s: float | None = None) -> float:
    """Seconds from the start of a prefill (or from its cancel) to its return."""
    cache = engine.decoder.cache(1, len(ids))
    cancel, cancelled_at = threading.Event(), []

    def cancel_later() -> None:
        time.sleep(cancel_after_s or 0.0)
        cancelled_at.append(time.perf_counter())
        cancel.set()

    if cancel_after_s is not None:
        threading.Thread(target=cancel_later, daemon=True).start()
    start = time.perf_counter()
    engine.decoder.prefill(cache, ids, 0, cancel)
    end = time.perf_counter()
    if cancel_after_s is None:
        return end - start
    return end - cancelled_at[0] if cancelled_at else 0.0  # done before the cancel: nothing waited


def arm_round(engine: model.Engine, arm: str, ids: list[int], round_index: list[int]) -> dict[str, float]:
    set_chunking(engine, arm)
    whole = prefill_s(engine, ids)
    time.sleep(IDLE_BETWEEN_RUNS_S)
    share = CANCEL_AT[round_index[0] % len(CANCEL_AT)]
    round_index[0] += 1
    wait = prefill_s(engine, ids, share * whole)
    return {"prefill_s": whole, "cancel_wait_s": wait, "chunk": float(engine.decoder.prefill_chunk)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.prefill_chunks", description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--dtype", default="int8")
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--chunks", default="1024,256,adaptive", help="comma-separated chunk sizes and 'adaptive'")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    engine = model.load(args.model, device="cpu", dtype=args.dtype)
    ids = engine.tokenizer.encode(sample_text())[: args.tokens]
    print(f"{args.dtype}, {len(ids)} tokens, torch threads {torch.get_num_threads()}")
    runners: dict[str, Callable[[], dict[str, float]]] = {}
    for arm in args.chunks.split(","):
        counter = [0]
        runners[arm] = lambda arm=arm, counter=counter: arm_round(engine, arm, ids, counter)
    results = interleaved(args.rounds, runners)
    print(f"{'chunk':>10} {'prefill s (median)':>19} {'vs first arm':>13} {'cancel wait s (median, max)':>28}")
    first = [run["prefill_s"] for run in next(iter(results.values()))]
    for arm, runs in results.items():
        whole = [run["prefill_s"] for run in runs]
        waits = [run["cancel_wait_s"] for run in runs]
        ratio = statistics.median(a / b for a, b in zip(whole, first, strict=True))
        label = arm if arm != "adaptive" else f"adaptive ({int(runs[-1]['chunk'])})"
        print(
            f"{label:>10} {statistics.median(whole):19.2f} {ratio:12.2f}x "
            f"{statistics.median(waits):17.2f} {max(waits):9.2f}   runs: {' '.join(f'{w:.2f}' for w in whole)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
