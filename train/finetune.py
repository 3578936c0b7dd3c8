"""`santa-train finetune --base PATH --repo DIR`: adapt a model to a team's own code.

1. The data pipeline runs on the repository (filters, PII redaction, dedup, decontamination).
2. A fixed share of its files (chosen by a hash of the path, so reruns agree) is held out.
3. The held-out files are scored before training: FIM exact match (single- and multi-line,
   PSM and SPM) and perplexity.
4. The model is fine-tuned with FIM, fully or with LoRA adapters, resumably.
5. The exported checkpoint (adapters merged) is scored again; before/after go to
   OUTPUT/finetune_report.json and to the terminal.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from train.cli import run_command
from train.recipe import Recipe, recipe_from_dict

# Fine-tuning defaults: a lower peak LR than pretraining (the base model is already good),
# a higher one for LoRA (only small, zero-initialised adapters move).
FULL_LR, LORA_LR = 5e-5, 2e-4


def split_heldout(rows: list[dict[str, Any]], fraction: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train, held-out): files whose path hashes lowest are held out; at least one of each."""
    if len(rows) < 2:
        raise ValueError(f"the repository yielded {len(rows)} usable file(s); at least 2 are needed")
    ranked = sorted(rows, key=lambda r: hashlib.sha256(str(r.get("path", r["content"])).encode()).hexdigest())
    count = min(len(rows) - 1, max(1, round(len(rows) * fraction)))
    return ranked[count:], ranked[:count]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def prepare_data(args: argparse.Namespace, output: Path) -> tuple[Path, Path]:
    """Run the data pipeline on the repository and write the train/held-out split."""
    from train.data.config import DataConfig
    from train.data.pipeline import run_pipeline
    from train.shards import find_shards, read_rows

    cleaned = output / "data"
    run_pipeline([args.repo], cleaned, DataConfig(languages=args.languages), workers=args.workers)
    rows = [row for shard in find_shards([cleaned]) for row in read_rows(shard)]
    train_rows, heldout_rows = split_heldout(rows, args.heldout_fraction)
    split = output / "split"
    return write_jsonl(split / "train.jsonl", train_rows), write_jsonl(split / "heldout.jsonl", heldout_rows)


def finetune_recipe(args: argparse.Namespace, base_dir: Path, train: Path, heldout: Path) -> Recipe:
    from model.config import load_config

    context = load_config(base_dir / "config.json").n_positions
    raw: dict[str, Any] = {
        "model": {"dropout": 0.1},
        "data": {"train": [str(train)], "eval": [str(heldout)], "tokenizer": str(base_dir),
                 "seq_len": min(args.seq_len or context, context)},
        "train": {"output": str(args.output / "run"), "steps": 200, "batch_size": 8, "save_every": 50,
                  "eval_every": 50, "lr": LORA_LR if args.lora else FULL_LR},
    }  # fmt: skip
    if args.lora:
        raw["lora"] = {}
    if args.config:
        import tomllib

        for table, values in tomllib.loads(args.config.read_text()).items():
            raw[table] = {**raw.get(table, {}), **values}
    flags = {"steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "precision": args.precision,
             "grad_accum": args.grad_accum}  # fmt: skip
    raw["train"].update({k: v for k, v in flags.items() if v is not None})
    return recipe_from_dict(raw)


def compare(before: dict[str, Any], after: dict[str, Any]) -> str:
    """A before/after table of every held-out metric."""
    rows = [("metric", "mode", "before", "after")]
    for metric, modes in after.items():
        if metric == "perplexity":
            rows.append((metric, "-", f"{before[metric]['perplexity']:.3f}", f"{modes['perplexity']:.3f}"))
            continue
        for mode, score in modes.items():
            rows.append((metric, mode, f"{before[metric][mode]['exact_match']:.4f}", f"{score['exact_match']:.4f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def run(args: argparse.Namespace) -> int:
    import model
    from model.checkpoint import resolve_model_dir
    from train.eval.cli import heldout_metrics
    from train.eval.fim_exact import read_files
    from train.loop import train

    if not args.resume and any((args.output / "run" / "checkpoints").glob("step-*")):
        raise FileExistsError(f"{args.output} holds an earlier fine-tune: pass --resume, or another --output")
    base_dir = resolve_model_dir(args.base)  # before any work: an unknown base is a one-line error
    args.output.mkdir(parents=True, exist_ok=True)
    train_path, heldout_path = prepare_data(args, args.output)
    files = read_files([heldout_path])[: args.max_heldout_files]
    recipe = finetune_recipe(args, base_dir, train_path, heldout_path)
    progress, modes = not args.no_progress, ["psm", "spm"]
    before = heldout_metrics(model.load(base_dir, device=args.device), files, modes, args.per_file, progress)
    result = train(recipe, resume=args.resume, base=base_dir, progress=progress)
    after = heldout_metrics(model.load(result.export, device=args.device), files, modes, args.per_file, progress)
    report = {
        "base": str(args.base), "export": str(result.export), "steps": result.steps,
        "train_files": len(read_files([train_path])), "heldout_files": len(files),
        "lora": recipe.lora is not None, "before": before, "after": after,
    }  # fmt: skip
    (args.output / "finetune_report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(compare(before, after))
    print(f"fine-tuned model: {result.export}\nreport: {args.output / 'finetune_report.json'}")
    return 0


def configure(parser: argparse.ArgumentParser) -> None:
    from train.data.config import DEFAULT_LANGUAGES
    from train.data.languages import parse_languages

    parser.add_argument("--base", required=True, help="base checkpoint directory or Hub id")
    parser.add_argument("--repo", required=True, type=Path, help="the team's repository (a source tree)")
    parser.add_argument("--output", type=Path, default=Path("runs/finetune"), help="work and result directory")
    parser.add_argument("--lora", action="store_true", help="train LoRA adapters (merged at export)")
    parser.add_argument("--config", type=Path, help="TOML with [train]/[data]/[lora]/[model] overrides")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--grad-accum", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--seq-len", type=int, help="context length (default: the base model's, at most)")
    parser.add_argument("--precision", choices=["no", "fp16", "bf16"])
    parser.add_argument("--languages", type=parse_languages, default=DEFAULT_LANGUAGES)
    parser.add_argument("--heldout-fraction", type=float, default=0.1)
    parser.add_argument("--max-heldout-files", type=int, default=50)
    parser.add_argument("--per-file", type=int, default=2, help="FIM tasks per held-out file")
    parser.add_argument("--workers", type=int, default=1, help="data pipeline workers")
    parser.add_argument("--device", default="auto", help="device for the before/after evaluation")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted fine-tune")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=run)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    parser = subparsers.add_parser("finetune", help="fine-tune a model on a repository (full or LoRA)")
    configure(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.finetune", description=__doc__.split("\n")[0])
    configure(parser)
    args = parser.parse_args(argv)
    return run_command(parser.prog, args)


if __name__ == "__main__":
    sys.exit(main())
