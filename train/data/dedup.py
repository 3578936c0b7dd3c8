"""Exact and near deduplication, as datatrove pipeline steps.

Exact: a pass-through step records a 64-bit content hash per document; one task then keeps the
first copy of each hash (lowest shard, then position) and writes per-shard removal lists.

Near: datatrove's MinHash LSH stages (signatures -> buckets -> clusters), which keep their state
on disk and split across tasks, so they scale from this laptop to a Slurm/Ray cluster; we only
swap its English-text shingling for BigCode's code shingling (5-grams of the tokens left after
splitting on [^A-Za-z_0-9], no lower-casing) and choose its band layout from the Jaccard
threshold the way datasketch's MinHashLSH does (b=25 bands x r=10 rows for 0.7 and 256 perms).

Exact duplicates are removed *before* MinHash signatures are computed: otherwise a cluster's
survivor could be a copy that the exact step deletes, losing the whole cluster.
"""

from __future__ import annotations

import hashlib
import re
import struct
from functools import cache
from pathlib import Path

import numpy as np
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupFilter, MinhashDedupSignature
from datatrove.utils.hashing import HashConfig
from datatrove.utils.typeshelper import StatHints
from datatrove.utils.word_tokenizers import WordTokenizer

from train.data.config import DedupConfig

_TOKEN_SPLIT = re.compile(r"[^A-Za-z_0-9]+")
_EXACT_RECORD = struct.Struct("<QI")  # content hash, position of the document in its shard


def code_tokens(text: str) -> list[str]:
    return [token for token in _TOKEN_SPLIT.split(text) if token]


@cache
def lsh_bands(threshold: float, num_perm: int, steps: int = 500) -> tuple[int, int]:
    """(bands, rows) minimising false positives + false negatives around `threshold`.

    The probability that two documents with Jaccard similarity s share a band is
    1 - (1 - s**r)**b; we integrate its error on both sides of the threshold, as datasketch does.
    """
    below = np.linspace(0.0, threshold, steps)
    above = np.linspace(threshold, 1.0, steps)
    best: tuple[float, int, int] | None = None
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            false_pos = np.trapezoid(1 - (1 - below**rows) ** bands, below)
            false_neg = np.trapezoid((1 - above**rows) ** bands, above)
            error = float(false_pos + false_neg)
            if best is None or error < best[0]:
                best = (error, bands, rows)
    assert best is not None
    return best[1], best[2]


def minhash_config(cfg: DedupConfig) -> MinhashConfig:
    bands, rows = lsh_bands(cfg.threshold, cfg.num_perm)
    return MinhashConfig(
        n_grams=cfg.ngram_size,
        num_buckets=bands,
        hashes_per_bucket=rows,
        seed=cfg.seed,
        hash_config=HashConfig(precision=64, hash_fc="xxhash"),
    )


class CodeWordTokenizer(WordTokenizer):
    """BigCode's code tokenization, in the shape datatrove's MinHash step expects."""

    def word_tokenize(self, text: str) -> list[str]:
        return code_tokens(text)

    def sent_tokenize(self, text: str) -> list[str]:
        return [text]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in re.finditer(r"[A-Za-z_0-9]+", text)]


class CodeMinhashSignature(MinhashDedupSignature):
    name = "near-dedup signatures"

    def __init__(self, output_folder: str, cfg: DedupConfig):
        super().__init__(output_folder, minhash_config(cfg), language=CodeWordTokenizer())
        self.min_tokens = cfg.min_tokens

    def get_shingles(self, text: str) -> np.ndarray:
        """Hashed n-grams of the raw code tokens; none (never a near-duplicate) below min_tokens."""
        tokens = code_tokens(text)
        if len(tokens) < self.min_tokens:
            return np.empty((0, 1), dtype=np.uint64)
        n = self.config.n_grams
        grams = {" ".join(tokens[i : i + n]).encode() for i in range(len(tokens) - n + 1)}
        return np.fromiter(map(self._hash_func, grams), dtype=np.uint64, count=len(grams)).reshape(-1, 1)


def content_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


class ExactHashRecorder(PipelineStep):
    """Passes documents through, writing `{rank:05d}.exact` with (hash, position) records."""

    type = "🫂 - DEDUP"
    name = "exact-dedup hashes"

    def __init__(self, folder: str):
        super().__init__()
        self.folder = folder

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        path = Path(self.folder) / f"{rank:05d}.exact"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            for position, doc in enumerate(data):
                out.write(_EXACT_RECORD.pack(content_hash(doc.text), position))
                yield doc


class ExactDuplicateFinder(PipelineStep):
    """Single task: for every hash seen more than once, marks all but the first copy."""

    type = "🫂 - DEDUP"
    name = "exact-dedup find"

    def __init__(self, hashes_folder: str, removal_folder: str, shards: int):
        super().__init__()
        self.hashes_folder = hashes_folder
        self.removal_folder = removal_folder
        self.shards = shards

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        record = np.dtype([("hash", "<u8"), ("position", "<u4")])
        hashes, shards, positions = [], [], []
        for shard in range(self.shards):
            path = Path(self.hashes_folder) / f"{shard:05d}.exact"
            records = np.fromfile(path, dtype=record) if path.exists() else np.empty(0, record)
            hashes.append(records["hash"])
            positions.append(records["position"])
            shards.append(np.full(len(records), shard, dtype=np.uint32))
        all_hashes, all_shards, all_positions = map(np.concatenate, (hashes, shards, positions))
        order = np.lexsort((all_positions, all_shards, all_hashes))
        repeated = np.zeros(len(order), dtype=bool)
        repeated[1:] = all_hashes[order][1:] == all_hashes[order][:-1]
        self.stat_update("duplicates", value=int(repeated.sum()))
        removed_shards, removed_positions = all_shards[order][repeated], all_positions[order][repeated]
        out = Path(self.removal_folder)
        out.mkdir(parents=True, exist_ok=True)
        for shard in range(self.shards):
            np.sort(removed_positions[removed_shards == shard]).astype("<u4").tofile(out / f"{shard:06d}.remove")
        return None  # a sink, like datatrove's own MinHash clustering step


class DuplicateFilter(MinhashDedupFilter):
    """Drops the documents listed (by position in the shard) in `{rank:06d}.remove`: datatrove's
    own MinHash removal step, which serves both dedup flavours (the exact step writes its lists
    in the same format). It counts its drops only as a total and writes a dropped document as it
    came; this names them, like the filters do."""

    def __init__(self, folder: str, reason: str):
        super().__init__(folder)
        self.name = reason
        self.reason = reason

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if not self.data_folder.isfile(f"{rank:06d}.remove"):
            yield from data  # no duplicates in this shard (datatrove's step would warn about it)
            return

        def with_reason() -> DocumentsPipeline:
            for doc in data:
                doc.metadata["filter_reason"] = self.reason  # in case it goes to the exclusion writer
                yield doc

        for doc in super().run(with_reason(), rank, world_size):
            del doc.metadata["filter_reason"]
            yield doc
        if dropped := self.stats[StatHints.dropped].total:
            self.stat_update(f"dropped_{self.reason}", value=dropped)
