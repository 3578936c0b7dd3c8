"""Packed streaming dataset: every document once per epoch, deterministic, exact resume."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import torch

from model.tokenizer import Tokenizer
from tests.tiny import CORPUS
from train.dataset import IGNORE_INDEX, PackedStream, fixed_batches
from train.shards import find_shards


def write_shards(directory: Path, docs: list[str], shards: int = 3) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(shards):
        rows = [{"content": d, "lang": "python", "path": f"f{j}.py"} for j, d in enumerate(docs) if j % shards == i]
        opener = gzip.open if i % 2 else open
        with opener(directory / f"part-{i}.jsonl{'.gz' if i % 2 else ''}", "wt", encoding="utf-8") as fh:
            fh.write("".join(json.dumps(r) + "\n" for r in rows))
    (directory / "empty.jsonl").write_text("")
    return find_shards([directory])


DOCS = [f"# doc {i}\n" + CORPUS[i % len(CORPUS)] for i in range(23)]


def test_one_epoch_holds_every_document_once(tmp_path: Path, tok: Tokenizer):
    stream = PackedStream(write_shards(tmp_path, DOCS), tok, seq_len=31, seed=5, fim_rate=0.0)
    ids: list[int] = []
    for row, valid in stream:
        assert len(row) == 32 and valid == 32
        ids += row
        if stream.position.epoch == 1:
            break
    texts = tok.decode(ids).split("<|endoftext|>")
    assert sorted(texts[: len(DOCS)]) == sorted(DOCS)
    assert texts[: len(DOCS)] != DOCS  # shuffled


@pytest.mark.parametrize("window", [1, 5])
def test_resume_continues_exactly(tmp_path: Path, tok: Tokenizer, window: int):
    shards = write_shards(tmp_path, DOCS)
    first = PackedStream(shards, tok, seq_len=24, seed=1, shuffle_window=window)
    for _ in range(7):
        first.next_batch(2)
    saved = json.loads(json.dumps(first.state_dict()))
    expected = [first.next_batch(2) for _ in range(10)]  # runs into the second epoch
    assert first.position.epoch >= 1
    resumed = PackedStream(shards, tok, seq_len=24, seed=1, shuffle_window=window)
    resumed.load_state_dict(saved)
    for want in expected:
        got = resumed.next_batch(2)
        assert torch.equal(got.inputs, want.inputs) and torch.equal(got.labels, want.labels)


def test_shuffle_window_spreads_a_long_documents_contexts(tmp_path: Path, tok: Tokenizer):
    """One long file must not fill consecutive steps: the window scatters its contexts."""
    shards = write_shards(tmp_path, ["zzz = 1\n" * 300, *DOCS], shards=1)

    def first_contexts(window: int) -> list[str]:
        stream = PackedStream(shards, tok, seq_len=16, seed=3, fim_rate=0.0, shuffle_window=window)
        return [tok.decode(stream.next_batch(1).inputs[0].tolist()) for _ in range(64)]

    def runs_of_the_long_file(contexts: list[str]) -> int:
        flags = ["zzz" in text for text in contexts]
        return sum(flag and not before for flag, before in zip(flags, [False, *flags[:-1]], strict=True))

    packed, shuffled = first_contexts(1), first_contexts(64)
    assert sorted(packed) == sorted(shuffled)  # the same contexts, in another order
    assert runs_of_the_long_file(packed) <= 2  # 300 lines in a row (wrapping at most once)
    assert runs_of_the_long_file(shuffled) > 5


def test_ranks_split_one_stream(tmp_path: Path, tok: Tokenizer):
    shards = write_shards(tmp_path, DOCS)
    whole = PackedStream(shards, tok, seq_len=16, seed=2).next_batch(4)
    parts = [PackedStream(shards, tok, seq_len=16, seed=2).next_batch(2, rank=r, world=2) for r in range(2)]
    assert torch.equal(torch.cat([p.inputs for p in parts]), whole.inputs)


def test_fim_contexts_have_sentinels_and_masked_padding(tmp_path: Path, tok: Tokenizer):
    stream = PackedStream(write_shards(tmp_path, DOCS), tok, seq_len=200, seed=0, fim_rate=1.0)
    batch = stream.next_batch(4)
    fim = tok.fim
    assert (batch.inputs == fim.prefix).any() and (batch.inputs == fim.middle).any()
    assert batch.inputs.shape == batch.labels.shape == (4, 200)
    assert (batch.labels[batch.labels != IGNORE_INDEX] != fim.pad).all()
    held_out = fixed_batches(PackedStream(stream.shards, tok, seq_len=64, seed=9), contexts=100, batch_size=3)
    assert 1 <= len(held_out) < 40  # stops after one epoch
