"""Exact and near deduplication building blocks (the full stage chain runs in test_data_pipeline)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from datatrove.data import Document

from tests.test_data_helpers import near_duplicate, python_module
from train.data.config import DedupConfig
from train.data.dedup import (
    CodeMinhashSignature,
    DuplicateFilter,
    ExactDuplicateFinder,
    ExactHashRecorder,
    code_tokens,
    lsh_bands,
)


def docs(*texts: str) -> list[Document]:
    return [Document(text=t, id=str(i), metadata={"lang": "python"}) for i, t in enumerate(texts)]


def test_code_tokens_split_on_non_identifier_characters() -> None:
    assert code_tokens("self.x_1 = foo(Bar[2])  # ok") == ["self", "x_1", "foo", "Bar", "2", "ok"]


@pytest.mark.parametrize("threshold", [0.7, 0.85])
def test_band_layout_matches_datasketch(threshold: float) -> None:
    lsh = MinHashLSH(threshold=threshold, num_perm=256)
    assert lsh_bands(threshold, 256) == (lsh.b, lsh.r)


def test_short_files_get_no_signature_and_case_matters(tmp_path: Path) -> None:
    step = CodeMinhashSignature(str(tmp_path), DedupConfig())
    assert step.get_shingles("a b c d e f g h i").size == 0  # 9 tokens < min 10
    text = "One two three four five six seven eight nine ten eleven"
    assert step.get_shingles(text).size == 7
    assert not np.array_equal(np.sort(step.get_shingles(text)), np.sort(step.get_shingles(text.lower())))


def _jaccard(a: str, b: str) -> float:
    def grams(text: str) -> set[str]:
        tokens = code_tokens(text)
        return {" ".join(tokens[i : i + 5]) for i in range(len(tokens) - 4)}

    return len(grams(a) & grams(b)) / len(grams(a) | grams(b))


def test_fixture_near_duplicates_are_similar_and_others_not() -> None:
    base = python_module(1)
    assert _jaccard(base, near_duplicate(base)) > 0.8
    assert _jaccard(base, python_module(2)) < 0.3
    # datasketch's own estimate agrees on the near-duplicate pair
    m1, m2 = MinHash(num_perm=256), MinHash(num_perm=256)
    for m, text in ((m1, base), (m2, near_duplicate(base))):
        tokens = code_tokens(text)
        m.update_batch([" ".join(tokens[i : i + 5]).encode() for i in range(len(tokens) - 4)])
    assert m1.jaccard(m2) > 0.7


def test_exact_dedup_keeps_first_copy_across_shards(tmp_path: Path) -> None:
    hashes, removals = tmp_path / "hashes", tmp_path / "remove"
    a, b, c = python_module(1), python_module(2), python_module(3)
    shards = [docs(a, b, a), docs(c, b)]
    for rank, shard in enumerate(shards):
        assert len(list(ExactHashRecorder(str(hashes)).run(iter(shard), rank))) == len(shard)
    ExactDuplicateFinder(str(hashes), str(removals), shards=2).run(None)
    steps = [DuplicateFilter(str(removals), "exact") for _ in shards]
    kept = [list(step.run(iter(shard), rank)) for rank, (step, shard) in enumerate(zip(steps, shards, strict=True))]
    assert [[d.text for d in part] for part in kept] == [[a, b], [c]]
    assert [step.stats["dropped_exact"].total for step in steps] == [1, 1]
    assert not any("filter_reason" in d.metadata for part in kept for d in part)  # only dropped ones keep it
