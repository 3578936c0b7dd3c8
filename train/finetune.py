"""`santa-train finetune --repo DIR`: adapt a model (the shipped one by default) to a team's own code.

1. The data pipeline runs on the repository (filters, PII redaction, dedup, decontamination).
2. A fixed share of its files (chosen by a hash of the path, so reruns agree) is held out.
3. The held-out files are scored before training: FIM exact match at many seeded positions per
   file (single- and multi-line, PSM and SPM, with 95% intervals over files) and perplexity.
4. The model is fine-tuned with FIM, fully or with LoRA adapters, resumably.
5. The exported checkpoint (adapters merged) is scored again, and both models type the same
   held-out regions through the language server (`santa-lsp bench --quality`: keystrokes saved).
   Before/after go to OUTPUT/finetune_report.json and to the terminal.

The recipe is a shipped one (`finetune-cpu`, `finetune-cpu-lora`: train/configs/) or a TOML
file; flags given on the command line win over it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from train.cli import run_command
from train.eval.keystrokes import BENCH_SUFFIXES
from train.recipe import Recipe, find_recipe_file, recipe_from_dict

# The recipe used without --config: the whole model trains, or LoRA adapters with --lora.
DEFAULT_RECIPES = {False: "finetune-cpu", True: "finetune-cpu-lora"}


@dataclass(frozen=True)
class Layout:
    """Where a fine-tune keeps its work under OUTPUT; everything but `before` is rebuilt or resumed."""

    output: Path

    @property
    def data(self) -> Path:  # the data pipeline's output (resumable by itself)
        return self.output / "data"

    @property
    def train(self) -> Path:
        return self.output / "split" / "train.jsonl"

    @property
    def heldout(self) -> Path:  # the held-out files as a shard (training's eval loss)...
        return self.output / "split" / "heldout.jsonl"

    @property
    def heldout_tree(self) -> Path:  # ...and as files (the keystrokes bench types files)
        return self.output / "split" / "heldout"

    @property
    def run(self) -> Path:
        return self.output / "run"

    @property
    def before(self) -> Path:  # the base model's scores: a resumed fine-tune does not score again
        return self.output / "before.json"

    @property
    def keystrokes(self) -> Path:
        return self.output / "keystrokes.json"

    @property
    def report(self) -> Path:
        return self.output / "finetune_report.json"


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


def write_tree(root: Path, files: list[tuple[str, str]]) -> list[Path]:
    """The files under `root` at their repository paths (parts that could leave `root` dropped)."""
    written = []
    for name, text in files:
        parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("/", "..", ".")]
        path = root.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def prepare_data(args: argparse.Namespace, layout: Layout) -> tuple[int, list[tuple[str, str]]]:
    """Run the data pipeline on the repository and write the train/held-out split: (training
    files, the held-out files that are scored as (path, text), at most --max-heldout-files)."""
    from train.data.config import DataConfig
    from train.data.pipeline import run_pipeline
    from train.shards import find_shards, read_rows

    run_pipeline([args.repo], layout.data, DataConfig(languages=args.languages), workers=args.workers)
    rows = [row for shard in find_shards([layout.data]) for row in read_rows(shard)]
    train_rows, heldout_rows = split_heldout(rows, args.heldout_fraction)
    write_jsonl(layout.train, train_rows)
    write_jsonl(layout.heldout, heldout_rows)
    scored = [(str(r.get("path") or f"heldout-{i}"), r["content"]) for i, r in enumerate(heldout_rows)]
    return len(train_rows), scored[: args.max_heldout_files]


def finetune_recipe(args: argparse.Namespace, base_dir: Path, layout: Layout) -> Recipe:
    """The base model's context, then the recipe file, then the command line: later ones win."""
    from model.config import load_config

    context = load_config(base_dir / "config.json").n_positions
    raw: dict[str, dict[str, Any]] = {"data": {"seq_len": context}}
    config = find_recipe_file(args.config or DEFAULT_RECIPES[args.lora])
    for table, values in tomllib.loads(config.read_text()).items():
        raw[table] = {**raw.get(table, {}), **values}
    if args.lora:
        raw.setdefault("lora", {})
    flags = {
        "data": {"seq_len": args.seq_len},
        "train": {"steps": args.steps, "batch_size": args.batch_size, "grad_accum": args.grad_accum,
                  "lr": args.lr, "precision": args.precision, "threads": args.threads},
    }  # fmt: skip
    for table, values in flags.items():
        raw.setdefault(table, {}).update({k: v for k, v in values.items() if v is not None})
    # What the repository and the base model decide: no recipe can point these elsewhere.
    raw["data"].update(train=[str(layout.train)], eval=[str(layout.heldout)], tokenizer=str(base_dir))
    raw.setdefault("train", {})["output"] = str(layout.run)
    recipe = recipe_from_dict(raw)
    if recipe.data.seq_len > context:
        raise ValueError(f"seq_len {recipe.data.seq_len} exceeds the base model's context of {context} tokens")
    return recipe


def check_arguments(args: argparse.Namespace) -> Path:
    """Everything a user can get wrong, before any work starts; the base model's directory."""
    import model
    from model.checkpoint import resolve_model_dir

    if not args.repo.is_dir():
        raise ValueError(f"--repo {args.repo}: not a directory")
    if not 0 < args.heldout_fraction < 1:
        raise ValueError(f"--heldout-fraction {args.heldout_fraction}: must be between 0 and 1")
    for flag in ("per_file", "per_kind", "max_heldout_files"):
        if getattr(args, flag) < 1:
            raise ValueError(f"--{flag.replace('_', '-')} {getattr(args, flag)}: must be at least 1")
    if not args.resume and args.output.exists() and any(args.output.iterdir()):
        raise FileExistsError(
            f"{args.output} is not empty (an earlier fine-tune?): pass --resume to continue it, or another --output"
        )
    base = args.base or model.default_model()
    if base is None:
        raise ValueError("no --base given, and this installation has no shipped model")
    base_dir = resolve_model_dir(base)
    if not (base_dir / "config.json").is_file():
        raise model.LoadError(f"{base}: not a model directory (no config.json)")
    return base_dir


def run(args: argparse.Namespace) -> int:
    import model
    from train.eval.cli import heldout_metrics
    from train.eval.keystrokes import keystrokes_saved
    from train.loop import train

    base_dir = check_arguments(args)
    layout, progress = Layout(args.output), not args.no_progress
    cost: dict[str, dict[str, float]] = {"wall_s": {}, "cpu_s": {}}
    recipe = finetune_recipe(args, base_dir, layout)  # a bad recipe is reported before any work
    args.output.mkdir(parents=True, exist_ok=True)
    with timed(cost, "data"):
        train_files, files = prepare_data(args, layout)
        tree = write_tree(layout.heldout_tree, files)

    def score(directory: Path) -> dict[str, Any]:
        engine = model.load(directory, device=args.device)
        return heldout_metrics(engine, files, args.modes, args.per_file, progress)

    if not (args.resume and layout.before.is_file()):
        with timed(cost, "score_before"):
            write_json(layout.before, score(base_dir))
    with timed(cost, "train"):
        result = train(recipe, resume=args.resume, base=base_dir, progress=progress)
    with timed(cost, "score_after"):
        after = score(result.export)
    benched, keys = [path for path in tree if path.suffix in BENCH_SUFFIXES], None
    if benched:
        with timed(cost, "keystrokes"):
            keys = keystrokes_saved([base_dir, result.export], benched, layout.keystrokes, per_kind=args.per_kind,
                                    device=args.device, settings=args.server_settings)  # fmt: skip
    report = {
        "base": str(base_dir), "export": str(result.export), "steps": result.steps, "lora": recipe.lora is not None,
        "recipe": recipe.to_dict(), "train_files": train_files, "heldout_files": [name for name, _ in files],
        "per_file": args.per_file, **cost, "before": json.loads(layout.before.read_text()), "after": after,
        "keystrokes_saved": keystrokes_summary(keys) if keys else None,
    }  # fmt: skip
    write_json(layout.report, report)
    print(compare(report))
    for kind in ("wall", "cpu"):
        phases = cost[f"{kind}_s"]
        each = ", ".join(f"{phase} {seconds / 60:.1f}" for phase, seconds in phases.items())
        print(f"{kind} minutes: {sum(phases.values()) / 60:.1f} ({each})")
    print(f"fine-tuned model: {result.export}\nreport: {layout.report}")
    return 0


@contextmanager
def timed(cost: dict[str, dict[str, float]], phase: str) -> Iterator[None]:
    """Wall and CPU seconds of a phase (child processes included), for the report: what a
    fine-tune of this size costs. On a shared machine the CPU seconds say more than the wall."""
    wall, cpu = time.perf_counter(), _cpu_seconds()
    yield
    cost["wall_s"][phase] = round(time.perf_counter() - wall, 1)
    cost["cpu_s"][phase] = round(_cpu_seconds() - cpu, 1)


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n")


def keystrokes_summary(bench: dict[str, Any]) -> dict[str, Any]:
    """The bench's overall figures for the base (first arm) and the fine-tuned model (second)."""
    first, second = (arm["overall"] for arm in bench["arms"])
    figures = {arm: {"saved": o["keystrokes_saved"], "ci95": o["keystrokes_saved_ci95"]}
               for arm, o in (("before", first), ("after", second))}  # fmt: skip
    change = bench["arms"][1]["saved_vs_first"]
    return {**figures, "difference": {"value": change["difference"], "ci95": change["ci95"]},
            "files": bench["files"], "regions": bench["regions"]}  # fmt: skip


def compare(report: dict[str, Any]) -> str:
    """A before/after table: every held-out metric, with 95% intervals and the paired difference."""
    from train.eval.fim_exact import interval

    before, after = report["before"], report["after"]
    rows = [("metric", "mode", "n", "before", "after", "after - before")]
    for metric, modes in after.items():
        if metric == "perplexity":
            rows.append((metric, "-", str(modes["tokens"]), f"{before[metric]['perplexity']:.2f}",
                         f"{modes['perplexity']:.2f}", ""))  # fmt: skip
            continue
        for mode, score in modes.items():
            old = before[metric][mode]
            change = score["exact_match"] - old["exact_match"]
            rows.append((metric, mode, str(score["n"]), _with_interval(old["exact_match"], old["ci95"]),
                         _with_interval(score["exact_match"], score["ci95"]),
                         _with_interval(change, interval(score["per_file"], old["per_file"]))))  # fmt: skip
    keys = report["keystrokes_saved"]
    if keys:
        rows.append(("keystrokes_saved", "server", f"{keys['regions']} regions",
                     *(_with_interval(keys[k]["saved"], keys[k]["ci95"]) for k in ("before", "after")),
                     _with_interval(keys["difference"]["value"], keys["difference"]["ci95"])))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def _with_interval(value: float, ci95: list[float]) -> str:
    return f"{value:.1%} [{ci95[0]:.1%}, {ci95[1]:.1%}]"


def configure(parser: argparse.ArgumentParser) -> None:
    from train.data.config import DEFAULT_LANGUAGES
    from train.data.languages import parse_languages

    parser.add_argument("--repo", required=True, type=Path, help="the team's repository (a source tree)")
    parser.add_argument("--base", help="base model directory or Hub id (default: the shipped model)")
    parser.add_argument("--output", type=Path, default=Path("runs/finetune"), help="work and result directory")
    parser.add_argument("--lora", action="store_true", help="train LoRA adapters (merged at export)")
    parser.add_argument(
        "--config", help=f"recipe: a TOML file or a shipped name (default: {DEFAULT_RECIPES[False]}, "
        f"with --lora {DEFAULT_RECIPES[True]}); the flags below win over it",
    )  # fmt: skip
    parser.add_argument("--steps", type=int, help="[train] steps")
    parser.add_argument("--batch-size", type=int, help="[train] batch_size")
    parser.add_argument("--grad-accum", type=int, help="[train] grad_accum")
    parser.add_argument("--lr", type=float, help="[train] lr")
    parser.add_argument("--precision", choices=["no", "fp16", "bf16"], help="[train] precision")
    parser.add_argument("--threads", type=int, help="[train] threads")
    parser.add_argument("--seq-len", type=int, help="[data] seq_len (default: the base model's context)")
    parser.add_argument("--languages", type=parse_languages, default=DEFAULT_LANGUAGES)
    parser.add_argument("--heldout-fraction", type=float, default=0.1, help="share of files held out (default 0.1)")
    parser.add_argument("--max-heldout-files", type=int, default=30, help="held-out files scored (default 30)")
    parser.add_argument("--per-file", type=int, default=12, help="FIM positions per file, each kind (default 12)")
    parser.add_argument(
        "--modes", type=fim_modes, default=["spm"], help="FIM orders scored: spm (the server's), psm, or psm,spm"
    )
    parser.add_argument("--per-kind", type=int, default=1, help="bench regions per file and kind (default 1)")
    parser.add_argument(
        "--server-settings", type=json_object, metavar="JSON",
        help="server settings of both models in the keystrokes bench, e.g. '{\"fimMode\": \"psm\"}' (default: none)",
    )  # fmt: skip
    parser.add_argument("--workers", type=int, default=1, help="data pipeline workers")
    parser.add_argument("--device", default="auto", help="device for the before/after evaluation")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted fine-tune in --output")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=run)


def fim_modes(text: str) -> list[str]:
    from train.eval.infill import MODES

    modes = [m for m in text.split(",") if m]
    if not modes or set(modes) - set(MODES):
        raise argparse.ArgumentTypeError(f"{text!r}: a comma list of {', '.join(MODES)}")
    return modes


def json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"{text!r}: not JSON ({err})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a JSON object of server settings")
    return value


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
