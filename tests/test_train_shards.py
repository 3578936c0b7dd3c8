"""Shard discovery: one rule (train/shards.py) for every reader of training text."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from train.eval.fim_exact import read_files
from train.shards import find_shards, read_rows
from train.tokenizer_train import iter_corpus


def shard(path: Path, *rows: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(row) + "\n" for row in rows)
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def pipeline_output(root: Path, content: str) -> Path:
    """The layout `santa-train data` leaves: training text in data/, jsonl listings beside it."""
    kept = shard(root / "data" / "00000.jsonl.gz", {"content": content, "path": f"{content}.py"})
    shard(root / "dropped" / "basic_filters" / "00000.jsonl.gz", {"path": "empty.py", "reason": "empty"})
    shard(root / "dropped" / "skipped.jsonl", {"path": "link.py", "reason": "symlink"})
    shard(root / "_work" / "filtered" / "00000.jsonl.gz", {"content": "before dedup"})
    return kept


def test_a_pipeline_output_gives_its_data_shards_only(tmp_path: Path) -> None:
    first = pipeline_output(tmp_path / "runs" / "a", "alpha")
    second = pipeline_output(tmp_path / "runs" / "b", "beta")
    assert find_shards([tmp_path / "runs" / "a"]) == [first]
    assert find_shards([tmp_path / "runs"]) == [first, second]  # outputs side by side in one folder


def test_a_plain_tree_skips_hidden_and_underscore_folders(tmp_path: Path) -> None:
    wanted = [shard(tmp_path / "b.jsonl", {"content": "b"}), shard(tmp_path / "sub" / "a.jsonl.gz", {"content": "a"})]
    shard(tmp_path / ".git" / "x.jsonl", {"content": "x"})
    shard(tmp_path / "_scratch" / "y.jsonl", {"content": "y"})
    (tmp_path / "notes.json").write_text("{}")
    assert find_shards([tmp_path]) == sorted(wanted)
    assert find_shards([wanted[0], tmp_path / "sub"]) == sorted(wanted)  # files and folders mix


def test_bad_paths_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "notes.json").write_text("{}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no such file"):
        find_shards([tmp_path / "missing"])
    with pytest.raises(ValueError, match=r"not a \.jsonl or \.jsonl\.gz shard"):
        find_shards([tmp_path / "notes.json"])
    with pytest.raises(FileNotFoundError, match=r"no \.jsonl/\.jsonl\.gz shards in"):
        find_shards([tmp_path / "empty"])


def test_rows_without_content_are_left_out(tmp_path: Path) -> None:
    path = shard(tmp_path / "s.jsonl", {"content": "x = 1\n"}, {"content": ""}, {"path": "listing"})
    path.write_text(path.read_text() + "\n")  # a blank line too
    assert read_rows(path) == [{"content": "x = 1\n"}]


def test_every_reader_follows_the_rule(tmp_path: Path) -> None:
    """The tokenizer's corpus and the held-out files of the FIM benchmark read what training reads."""
    pipeline_output(tmp_path / "out", "alpha")
    assert list(iter_corpus([tmp_path / "out"])) == ["alpha"]
    assert read_files([tmp_path / "out"]) == [("alpha.py", "alpha")]
