"""`santa-train`: the training toolkit's command line.

Each subcommand lives in its own module exposing `add_parser(subparsers)`, which registers the
subcommand and sets `func` (called with the parsed arguments, returns an exit code). To add one,
append its module to SUBCOMMANDS.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS = (
    "train.data.cli",
    "train.tokenizer_train",
    "train.pretrain",
    "train.finetune",
    "train.corpus",
    "train.split",
    "train.ship",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="santa-train", description=__doc__.split("\n")[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        importlib.import_module(module).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as err:
        print(f"santa-train {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
