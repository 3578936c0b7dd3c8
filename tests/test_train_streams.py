"""Batches made ahead in worker processes: the same deterministic, resumable streams, in parallel;
and the training loop's deadline."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch

from model.tokenizer import load_tokenizer
from tests.test_train_dataset import DOCS, write_shards
from tests.tiny import make_tokenizer
from tests.train_fixtures import write_corpus, write_recipe
from train.checkpointing import Checkpoints
from train.loop import Trainer
from train.recipe import DataSettings, load_recipe, with_overrides
from train.shards import find_shards
from train.streams import ParallelStreams, packed_stream, stream_seed

DATA = DataSettings(seq_len=24, shuffle_window=3, seed=2)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("streams")
    return make_tokenizer(root / "tok"), write_shards(root / "data", DOCS, shards=4)


def test_batches_are_the_streams_of_each_share_in_turn(setup: tuple[Path, list[Path]]) -> None:
    tok_dir, shards = setup
    tok = load_tokenizer(tok_dir)
    parallel = ParallelStreams(DATA, tok_dir, shards, DATA.seed, workers=2)
    try:
        got = [parallel.next_batch(2) for _ in range(6)]
    finally:
        parallel.close()
    streams = [packed_stream(DATA, tok, shards[k::2], stream_seed(DATA.seed, k), 3) for k in range(2)]
    for j, batch in enumerate(got):
        want = streams[j % 2].next_batch(2)
        assert torch.equal(batch.inputs, want.inputs) and torch.equal(batch.labels, want.labels)


def test_resume_continues_exactly(setup: tuple[Path, list[Path]]) -> None:
    tok_dir, shards = setup
    first = ParallelStreams(DATA, tok_dir, shards, DATA.seed, workers=2)
    try:
        for _ in range(4):
            first.next_batch(2)
        saved = json.loads(json.dumps(first.state_dict()))
        expected = [first.next_batch(2) for _ in range(5)]
    finally:
        first.close()
    resumed = ParallelStreams(DATA, tok_dir, shards, DATA.seed, workers=2)
    resumed.load_state_dict(saved)
    try:
        for want in expected:
            got = resumed.next_batch(2)
            assert torch.equal(got.inputs, want.inputs) and torch.equal(got.labels, want.labels)
    finally:
        resumed.close()
    with pytest.raises(ValueError, match="for 2 data workers; \\[data\\] workers is 3"):
        ParallelStreams(DATA, tok_dir, shards, DATA.seed, workers=3).load_state_dict(saved)


def test_bad_settings_and_a_failing_worker_are_one_line_errors(setup: tuple[Path, list[Path]], tmp_path: Path) -> None:
    tok_dir, shards = setup
    with pytest.raises(ValueError, match="needs as many training shards; found 5"):
        ParallelStreams(DATA, tok_dir, shards, DATA.seed, workers=6)
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    parallel = ParallelStreams(DATA, tok_dir, [broken], DATA.seed, workers=1)
    with pytest.raises(RuntimeError, match="data worker 0 failed"):
        parallel.next_batch(2)
    assert not parallel._workers  # the failed stream's workers are stopped


def test_training_with_data_workers_and_a_deadline(tmp_path: Path) -> None:
    """A run with workers stops at its deadline, saves where it stopped and exports the model."""
    recipe = with_overrides(load_recipe(write_recipe(tmp_path, steps=100_000)), data={"workers": 1})
    trainer = Trainer(recipe, progress=False)
    result = trainer.run(deadline=time.monotonic() + 3.0)
    assert 0 < result.steps < 100_000 and len(result.log) == result.steps
    latest = Checkpoints(tmp_path / "run" / "checkpoints", 2).latest()
    assert latest is not None and latest.name == f"step-{result.steps:08d}"
    assert (result.export / "model.safetensors").is_file()
    assert not trainer.stream._workers  # type: ignore[attr-defined]  # stopped with the run


def test_split_writes_training_shards_for_the_workers(tmp_path: Path) -> None:
    from train.cli import main
    from train.shards import read_rows

    source = write_corpus(tmp_path / "clean", 40, "doc")
    assert main(["split", "--input", str(source), "--output", str(tmp_path / "split"), "--train-shards", "3"]) == 0
    shards = find_shards([tmp_path / "split" / "train"])
    assert [p.name for p in shards] == ["00000.jsonl", "00001.jsonl", "00002.jsonl"]
    train_paths = [row["path"] for shard in shards for row in read_rows(shard)]
    held = [row["path"] for row in read_rows(tmp_path / "split" / "heldout.jsonl")]
    assert sorted(train_paths + held) == sorted(row["path"] for row in read_rows(source)) and len(held) == 1
    assert main(["split", "--input", str(source), "--output", str(tmp_path / "x"), "--train-shards", "0"]) == 2
