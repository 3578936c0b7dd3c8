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
    return run_command(f"santa-train {args.command}", args)


def run_command(prog: str, args: argparse.Namespace) -> int:
    """Call the subcommand; a user's mistake ends as one line on stderr and exit status 2.

    These are errors the user fixes (a wrong path, an output that already holds a run, a model
    that cannot be loaded): a traceback would only hide the one line that says what to do.
    """
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        # Ctrl-C is how a long run is stopped: what was saved (checkpoints, finished data tasks)
        # stays, and the same command continues it (with --resume for pretrain and finetune).
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if not isinstance(err, _user_errors()):
            raise
        print(f"{prog}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2


def _user_errors() -> tuple[type[Exception], ...]:
    # model.LoadError is looked up, not imported: importing model loads torch, which the light
    # subcommands never need; and if model was never imported, no LoadError can have been raised.
    errors = sys.modules.get("model.errors")
    return (ValueError, OSError) + ((errors.LoadError,) if errors else ())


if __name__ == "__main__":
    sys.exit(main())
