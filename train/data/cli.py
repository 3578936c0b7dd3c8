"""`santa-train data`: run (or resume) the data pipeline from the command line."""

from __future__ import annotations

import argparse
from dataclasses import replace

from train.data.config import DataConfig
from train.data.languages import parse_languages


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    defaults = DataConfig()
    parser = subparsers.add_parser(
        "data",
        help="filter, deduplicate, decontaminate and redact code into jsonl.gz shards",
        description="Rerunning the same command on the same --output resumes an interrupted run.",
    )
    parser.add_argument(
        "--input",
        nargs="+",
        required=True,
        metavar="PATH",
        help="Stack shards (.parquet/.jsonl[.gz|.zst]), folders of them, "
        "or source trees (git repos: tracked files only)",
    )
    parser.add_argument("--output", required=True, help="output directory")
    parser.add_argument("--workers", type=int, default=1, help="parallel tasks (default 1)")
    parser.add_argument(
        "--languages",
        type=parse_languages,
        default=defaults.languages,
        help="comma-separated, default python,java,javascript",
    )
    parser.add_argument(
        "--shard-mb",
        type=float,
        default=defaults.shard_bytes / 2**20,
        help="size of a work unit cut from source trees (MiB)",
    )
    b = defaults.basic
    parser.add_argument("--max-line-length", type=int, default=b.max_line_length)
    parser.add_argument("--max-avg-line-length", type=float, default=b.max_avg_line_length)
    parser.add_argument("--min-alphanum-fraction", type=float, default=b.min_alphanum_fraction)
    parser.add_argument("--max-file-bytes", type=int, default=b.max_file_bytes)
    c = defaults.comments
    parser.add_argument("--min-comment-ratio", type=float, default=c.min_ratio)
    parser.add_argument("--max-comment-ratio", type=float, default=c.max_ratio)
    parser.add_argument("--no-comment-filter", action="store_true")
    parser.add_argument("--min-stars", type=int, default=None, help="enable the stars filter")
    parser.add_argument(
        "--fertility-tokenizer", default=None, help="tokenizer.json; enables the chars-per-token filter"
    )
    d = defaults.dedup
    parser.add_argument("--no-exact-dedup", action="store_true")
    parser.add_argument("--no-near-dedup", action="store_true")
    parser.add_argument("--dedup-threshold", type=float, default=d.threshold)
    parser.add_argument("--dedup-num-perm", type=int, default=d.num_perm)
    parser.add_argument("--dedup-ngram", type=int, default=d.ngram_size)
    parser.add_argument("--dedup-min-tokens", type=int, default=d.min_tokens)
    parser.add_argument("--no-pii", action="store_true")
    parser.add_argument("--no-decontamination", action="store_true")
    parser.add_argument("--no-humaneval", action="store_true", help="skip HumanEval strings")
    parser.add_argument(
        "--benchmark",
        nargs="*",
        default=[],
        metavar="JSONL",
        help="extra benchmark files: one JSON string (or object) per line",
    )
    parser.add_argument("--decontam-min-chars", type=int, default=defaults.decontam.min_chars)
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> DataConfig:
    d = DataConfig()
    return DataConfig(
        languages=args.languages,
        shard_bytes=int(args.shard_mb * 2**20),
        basic=replace(
            d.basic,
            max_line_length=args.max_line_length,
            max_avg_line_length=args.max_avg_line_length,
            min_alphanum_fraction=args.min_alphanum_fraction,
            max_file_bytes=args.max_file_bytes,
        ),
        comments=replace(
            d.comments,
            enabled=not args.no_comment_filter,
            min_ratio=args.min_comment_ratio,
            max_ratio=args.max_comment_ratio,
        ),
        stars=replace(d.stars, min_stars=args.min_stars),
        fertility=replace(d.fertility, tokenizer_path=args.fertility_tokenizer),
        dedup=replace(
            d.dedup,
            exact=not args.no_exact_dedup,
            near=not args.no_near_dedup,
            threshold=args.dedup_threshold,
            num_perm=args.dedup_num_perm,
            ngram_size=args.dedup_ngram,
            min_tokens=args.dedup_min_tokens,
        ),
        decontam=replace(
            d.decontam,
            enabled=not args.no_decontamination,
            humaneval=not args.no_humaneval,
            extra_files=tuple(args.benchmark),
            min_chars=args.decontam_min_chars,
        ),
        pii=replace(d.pii, enabled=not args.no_pii),
    )


def run(args: argparse.Namespace) -> int:
    from train.data.pipeline import run_pipeline  # heavy imports only when the command runs

    run_pipeline(args.input, args.output, config_from_args(args), workers=args.workers)
    return 0
