"""`santa-train ship`: store a trained model as the package's default model, in fp16.

fp16 halves the download and the repository size; the runtime widens the weights to the
dtype it runs in (fp32 on CPU by default), so nothing is lost at inference time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import model
from model.checkpoint import save_checkpoint
from train.tokenizer_config import write_tokenizer_config


def ship(source: Path, out: Path) -> Path:
    net, _ = model.load_network(source)
    save_checkpoint(out, net.config, net.half().state_dict(), tokenizer_dir=source)
    write_tokenizer_config(out, net.config.n_positions)
    return out


def run(args: argparse.Namespace) -> int:
    out = ship(args.model, args.out)
    size = sum(f.stat().st_size for f in out.iterdir()) / 1e6
    print(f"wrote {out} ({size:.1f} MB)")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("ship", help="store a trained model in fp16 as the package's default model")
    parser.add_argument("--model", type=Path, required=True, help="an exported model directory")
    parser.add_argument("--out", type=Path, default=model.DEFAULT_MODEL, help="default: model/default_model")
    parser.set_defaults(func=run)
