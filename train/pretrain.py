"""`santa-train pretrain --config CONFIG`: train a model from scratch as a TOML recipe says."""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from train.cli import run_command
from train.recipe import load_recipe, with_overrides


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    parser = subparsers.add_parser("pretrain", help="train a model from scratch (TOML recipe)")
    configure(parser)
    return parser


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, required=True, help="TOML recipe (see train/configs/)")
    parser.add_argument("--resume", action="store_true", help="continue from the output's latest checkpoint")
    parser.add_argument(
        "--init",
        type=Path,
        help="start from this model's weights with a fresh schedule ([model]: only dropout is read)",
    )
    parser.add_argument("--output", help="override [train] output")
    parser.add_argument("--steps", type=int, help="override [train] steps")
    parser.add_argument(
        "--set", action="append", default=[], metavar="TABLE.KEY=VALUE", type=setting,
        help="override any key, VALUE in TOML (e.g. --set data.fim_span_rate=0.5); repeatable",
    )  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def setting(text: str) -> tuple[str, str, Any]:
    """`TABLE.KEY=VALUE` with VALUE in TOML: ("data", "fim_rate", 0.5)."""
    name, sep, value = text.partition("=")
    table, dot, key = name.strip().partition(".")
    if not (sep and dot and table and key):
        raise argparse.ArgumentTypeError(f"expected TABLE.KEY=VALUE (e.g. data.fim_rate=0.5), got {text!r}")
    try:
        return table, key, tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        raise argparse.ArgumentTypeError(f'{text!r}: VALUE is not TOML (quote strings: "...")') from None


def run(args: argparse.Namespace) -> int:
    from model.checkpoint import resolve_model_dir
    from train.loop import train  # torch/accelerate load only when a run starts

    recipe = load_recipe(args.config)
    tables: dict[str, dict[str, Any]] = {}
    for table, key, value in args.set:
        tables.setdefault(table, {})[key] = value
    train_flags = {k: v for k, v in (("output", args.output), ("steps", args.steps)) if v is not None}
    tables["train"] = {**tables.get("train", {}), **train_flags}
    recipe = with_overrides(recipe, **tables)
    # Resolved first: an unknown --init is then reported as such, not as a missing tokenizer.json.
    base = resolve_model_dir(args.init) if args.init is not None else None
    result = train(recipe, resume=args.resume, base=base, progress=not args.no_progress)
    last = result.log[-1] if result.log else {}
    summary = {"output": str(result.output), "export": str(result.export), "steps": result.steps, **last}
    print(json.dumps(summary, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.pretrain", description=__doc__)
    configure(parser)
    args = parser.parse_args(argv)
    return run_command(parser.prog, args)


if __name__ == "__main__":
    sys.exit(main())
