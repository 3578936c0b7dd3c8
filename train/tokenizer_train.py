"""Train a SantaCoder-style tokenizer: byte-level BPE with one token per digit.

The special tokens come *after* the BPE vocabulary (ids vocab_size .. vocab_size + 4), as in
SantaCoder, so a model's embedding rows for ordinary tokens do not depend on them.

    santa-train tokenizer --input DATA_DIR --output TOKENIZER_DIR --vocab-size 49152
"""

from __future__ import annotations

import argparse
import json
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from train.data.sources import decode_source, list_tree
from train.shards import find_shards, read_rows, shards_in
from train.tokenizer_config import write_tokenizer_config

END_OF_TEXT = "<|endoftext|>"
SPECIAL_TOKENS = (END_OF_TEXT, "<fim-prefix>", "<fim-middle>", "<fim-suffix>", "<fim-pad>")
DEFAULT_VOCAB_SIZE = 49152


def new_tokenizer() -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def iter_corpus(paths: Iterable[str | Path]) -> Iterator[str]:
    """Texts of shards (found as train/shards.py says) or, from a directory holding none, of its
    source files."""
    for path in map(Path, paths):
        if path.is_dir() and not shards_in(path):
            for rel in list_tree(path):
                text, problem = decode_source((path / rel).read_bytes())
                if problem is None:
                    yield text
            continue
        for shard in find_shards([path]):
            yield from (row["content"] for row in read_rows(shard))


def train_tokenizer(
    texts: Iterable[str],
    vocab_size: int = DEFAULT_VOCAB_SIZE,
    out_dir: str | Path | None = None,
    min_frequency: int = 2,
    show_progress: bool = False,
) -> Tokenizer:
    """Trains on an iterable of documents; with `out_dir`, also writes the three HF files."""
    tokenizer = new_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=show_progress,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    learned = tokenizer.get_vocab_size()
    if learned < vocab_size:
        warnings.warn(
            f"corpus too small for {vocab_size} BPE entries: got {learned}; special tokens start at id {learned}",
            stacklevel=2,
        )
    tokenizer.add_special_tokens(list(SPECIAL_TOKENS))
    if out_dir is not None:
        save_tokenizer(tokenizer, Path(out_dir))
    return tokenizer


def save_tokenizer(tokenizer: Tokenizer, out_dir: Path) -> None:
    """tokenizer.json plus the two files transformers reads next to it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(out_dir / "tokenizer.json"))
    roles = {role: END_OF_TEXT for role in ("bos_token", "eos_token", "pad_token", "unk_token")}
    special_map = {"additional_special_tokens": list(SPECIAL_TOKENS), **roles}
    (out_dir / "special_tokens_map.json").write_text(json.dumps(special_map, indent=2) + "\n")
    write_tokenizer_config(out_dir, context=None)  # no model yet: its context is the export's to write


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("tokenizer", help="train a byte-level BPE tokenizer (SantaCoder layout)")
    parser.add_argument(
        "--input", nargs="+", required=True, metavar="DIR", help="`santa-train data` output or source trees"
    )
    parser.add_argument("--output", required=True, help="directory for tokenizer.json and configs")
    parser.add_argument(
        "--vocab-size",
        type=int,
        default=DEFAULT_VOCAB_SIZE,
        help="BPE entries, special tokens excluded (default 49152)",
    )
    parser.add_argument("--min-frequency", type=int, default=2)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for path in args.input:
        if not Path(path).exists():
            raise FileNotFoundError(f"no such input: {path}")
    tokenizer = train_tokenizer(
        iter_corpus(args.input), args.vocab_size, args.output, args.min_frequency, show_progress=True
    )
    print(f"wrote {args.output}/tokenizer.json ({tokenizer.get_vocab_size()} tokens)")
    return 0
