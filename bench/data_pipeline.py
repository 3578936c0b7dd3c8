"""Throughput of the data pipeline on real code.

    python -m bench.data_pipeline --input DIR [DIR...] [--workers N] [--output DIR]

Runs the full pipeline (default settings) into a scratch directory and prints, per step, the
megabytes it consumed, the CPU time spent inside it (summed over tasks) and the resulting
per-core rate, then the overall wall-clock rate (input megabytes / total wall time).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from train.data.config import DataConfig
from train.data.pipeline import run_pipeline


def throughput_table(report: dict[str, Any]) -> str:
    rows = [f"{'step':<20}{'MB in':>10}{'cpu s':>10}{'MB/s/core':>12}"]
    for step in report["steps"]:
        side = "bytes_out" if not step["files_in"] else "bytes_in"
        mb = sum(step[side].values()) / 1e6
        rate = mb / step["seconds"] if step["seconds"] else float("inf")
        rows.append(f"{step['step']:<20}{mb:>10.1f}{step['seconds']:>10.1f}{rate:>12.2f}")
    rows.append(f"{'stage (wall s)':<20}" + ", ".join(f"{k} {v:.1f}" for k, v in report["stage_seconds"].items()))
    total = report["total"]
    rows.append(
        f"overall: {total['bytes_read'] / 1e6:.1f} MB in {total['wall_seconds']:.1f} s wall "
        f"= {total['mb_per_second']:.2f} MB/s"
    )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.data_pipeline", description=__doc__.split("\n")[0])
    parser.add_argument("--input", nargs="+", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output", help="keep the run here (default: a deleted scratch dir)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(args.output or scratch)
        report = run_pipeline(args.input, output, DataConfig(), workers=args.workers)
    print("\n=== throughput ===")
    print(throughput_table(report))


if __name__ == "__main__":
    main()
