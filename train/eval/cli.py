"""`santa-eval MODEL`: evaluate a checkpoint; results as a table and as JSON.

santa-eval runs/tiny/final                                   # HumanEval infilling, PSM and SPM
santa-eval MODEL --tasks fim,perplexity --data heldout/      # a repository's held-out files
santa-eval MODEL --tasks pass-at-k --samples 20 --k 1,10     # execution-based, sandboxed
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TASKS = ("humaneval-infill", "fim", "pass-at-k", "perplexity")


def heldout_metrics(
    engine: Any, files: list[tuple[str, str]], modes: list[str], per_file: int = 4, progress: bool = True,
    tasks: Sequence[str] = ("fim", "perplexity"), require_code: bool | None = None,
) -> dict[str, Any]:  # fmt: skip
    """FIM exact match (single- and multi-line) and perplexity on a repository's held-out files,
    each only when in `tasks`.

    Each exact match comes with its 95% interval over files (`ci95`) and the (tasks, hits) of
    every file (`per_file`, in the order of `files`), which pairs two models' scores."""
    from train.eval.fim_exact import by_language, file_hits, fim_tasks, interval
    from train.eval.infill import EngineInfiller, score_infill
    from train.eval.perplexity import perplexity

    infiller = EngineInfiller(engine, require_code=require_code)
    results: dict[str, Any] = {}
    for kind, multi in (("fim_single_line", False), ("fim_multi_line", True)) if "fim" in tasks else ():
        positions = fim_tasks(files, per_file=per_file, multi_line=multi)
        scores = {m: score_infill(positions, infiller, m, progress, kind) for m in modes}
        hits = {m: file_hits(positions, s) for m, s in scores.items()}
        results[kind] = {
            m: {**s.summary(), "ci95": interval(hits[m]), "per_file": hits[m], "by_language": by_language(positions, s)}
            for m, s in scores.items()
        }
    if "perplexity" in tasks:
        ppl = perplexity(engine, [text for _, text in files], progress)
        results["perplexity"] = {"perplexity": ppl.perplexity, "loss": ppl.loss, "tokens": ppl.tokens}
    return results


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    import model
    from train.eval.fim_exact import read_files

    engine = model.load(args.model, device=args.device, dtype=args.dtype)
    tasks, modes, progress = args.tasks, args.modes, not args.no_progress
    require_code = False if args.no_require_code else None  # None: the engine's rule, as the server has it
    results: dict[str, Any] = {}
    if "humaneval-infill" in tasks:
        from train.eval.humaneval_infill import infill_tasks
        from train.eval.infill import EngineInfiller, score_infill

        he = infill_tasks(args.limit)
        infiller = EngineInfiller(engine, args.max_new_tokens, require_code)
        results["humaneval_infill"] = {m: score_infill(he, infiller, m, progress, "humaneval").summary() for m in modes}
    if "pass-at-k" in tasks:
        results["humaneval_pass_at_k"] = _pass_at_k(engine, args)
    if {"fim", "perplexity"} & set(tasks):
        if not args.data:
            raise ValueError("--tasks fim/perplexity need --data (held-out files or shards)")
        files = read_files(args.data)
        results.update(heldout_metrics(engine, files, modes, args.per_file, progress, tasks, require_code))
    rule = "off" if args.no_require_code else "on blank lines"
    return {"model": str(args.model), "require_code": rule, "results": results}


def _pass_at_k(engine: Any, args: argparse.Namespace) -> dict[str, Any]:
    from train.eval.humaneval_infill import problems
    from train.eval.pass_at_k import EngineCompleter, evaluate_pass_at_k

    chosen = list(problems().values())[: args.limit]
    completer = EngineCompleter(engine, args.temperature, args.top_p, args.max_new_tokens)
    result = evaluate_pass_at_k(
        chosen, completer, args.samples, args.k, workers=args.workers, timeout=args.timeout,
        progress=not args.no_progress,
    )  # fmt: skip
    return {**result.scores, "samples": result.samples, "n": result.problems, "temperature": args.temperature}


def table(report: dict[str, Any]) -> str:
    """One row per (metric, mode): a flat, readable view of the JSON results."""
    rows = [("metric", "mode", "score", "n")]
    for metric, value in report["results"].items():
        if metric == "perplexity":
            rows.append((metric, "-", f"{value['perplexity']:.3f}", str(value["tokens"])))
        elif metric == "humaneval_pass_at_k":
            rows += [(k, f"T={value['temperature']}", f"{v:.4f}", str(value["n"])) for k, v in value.items()
                     if k.startswith("pass@")]  # fmt: skip
        else:
            for mode, score in value.items():
                groups = [(metric, score), *((f"  {lang}", g) for lang, g in score.get("by_language", {}).items())]
                rows += [(name, mode, f"{g['exact_match']:.4f}", str(g["n"])) for name, g in groups]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    if "require_code" in report:
        lines.append(f"infilling requires code {report['require_code']} (GenerationConfig.require_code)")
    return "\n".join(lines)


def _csv(kind: type) -> Any:
    return lambda text: [kind(x) for x in text.split(",") if x]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="santa-eval", description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 1)[1],
    )  # fmt: skip
    parser.add_argument("model", help="checkpoint directory or Hub id")
    parser.add_argument("--tasks", type=_csv(str), default=["humaneval-infill"], help=f"comma list of {TASKS}")
    parser.add_argument("--modes", type=_csv(str), default=["psm", "spm"], help="FIM prompt orders")
    parser.add_argument("--limit", type=int, help="first N HumanEval tasks/problems only (quick runs)")
    parser.add_argument("--data", nargs="*", default=[], help="held-out shards or source files (fim, perplexity)")
    parser.add_argument("--per-file", type=int, default=4, help="FIM tasks per held-out file")
    parser.add_argument("--samples", type=int, default=1, help="completions per problem (pass@k)")
    parser.add_argument("--k", type=_csv(int), default=[1], help="comma list of k (pass@k)")
    parser.add_argument("--temperature", type=float, default=0.2)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per executed program")
    parser.add_argument("--workers", type=int, default=2, help="programs executed in parallel")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--output", type=Path, help="write the results JSON here too")
    parser.add_argument(
        "--no-require-code", action="store_true",
        help="let a middle on a blank line end at once (default: it must hold code, as in the server)",
    )  # fmt: skip
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    unknown = sorted(set(args.tasks) - set(TASKS))
    if unknown:
        print(f"santa-eval: error: unknown task(s) {unknown}; choose from {TASKS}", file=sys.stderr)
        return 2
    from model.errors import LoadError

    try:
        report = evaluate(args)
    except (ValueError, FileNotFoundError, LoadError) as err:
        print(f"santa-eval: error: {err}", file=sys.stderr)
        return 2
    print(table(report))
    text = json.dumps(report, indent=2)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
