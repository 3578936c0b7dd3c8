"""`santa-train split`: hold out a deterministic fraction of a cleaned corpus for evaluation."""

from __future__ import annotations

import argparse
from pathlib import Path

from train.finetune import split_heldout, write_jsonl
from train.shards import find_shards, read_rows


def run(args: argparse.Namespace) -> int:
    if args.train_shards is not None and args.train_shards < 1:
        raise ValueError(f"--train-shards must be at least 1, not {args.train_shards}")
    rows = [row for shard in find_shards(args.input) for row in read_rows(shard)]
    train_rows, heldout_rows = split_heldout(rows, args.fraction)
    if args.train_shards is None:
        write_jsonl(args.output / "train.jsonl", train_rows)
    else:  # in turn, so that every shard gets an even share of the files (ranked by path hash)
        for k in range(args.train_shards):
            write_jsonl(args.output / "train" / f"{k:05d}.jsonl", train_rows[k :: args.train_shards])
    write_jsonl(args.output / "heldout.jsonl", heldout_rows)
    print(f"{len(train_rows)} training files, {len(heldout_rows)} held out -> {args.output}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("split", help="split cleaned data into train.jsonl and heldout.jsonl")
    parser.add_argument("--input", nargs="+", type=Path, required=True, help="`santa-train data` output(s)")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--fraction", type=float, default=0.02, help="share held out (default 0.02)")
    parser.add_argument(
        "--train-shards", type=int, metavar="N",
        help="write the training files as N shards OUTPUT/train/NNNNN.jsonl, for N data workers "
        "([data] workers); without it: OUTPUT/train.jsonl",
    )  # fmt: skip
    parser.set_defaults(func=run)
