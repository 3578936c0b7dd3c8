"""Finding and reading training text: the one rule every reader of jsonl(.gz) shards follows.

A shard is a `.jsonl` or `.jsonl.gz` file whose lines are records with a `content` field: what
`santa-train data` writes under OUTPUT/data/ and `santa-train split` writes. A path names
either a shard or a directory to search recursively, where

- a `santa-train data` output (a folder holding `_work/`) gives its `data/` shards only: its
  `dropped/` listings and `_work/` intermediates are jsonl too, but not training text;
- folders whose names start with "_" or "." (work folders, `.git`) are skipped.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

SHARD_SUFFIXES = (".jsonl", ".jsonl.gz")
# A `santa-train data` output directory (train/data/pipeline.py writes this layout).
PIPELINE_DATA = "data"
PIPELINE_WORK = "_work"


def is_shard_name(path: Path) -> bool:
    return path.name.endswith(SHARD_SUFFIXES)


def find_shards(paths: Iterable[str | Path]) -> list[Path]:
    """The shards named by `paths` (files, or directories searched as the module says), sorted."""
    paths = [Path(p) for p in paths]
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(shards_in(path))
        elif not path.is_file():
            raise FileNotFoundError(f"{path}: no such file or directory")
        elif is_shard_name(path):
            found.add(path)
        else:
            raise ValueError(f"{path}: not a .jsonl or .jsonl.gz shard")
    if not found:
        raise FileNotFoundError(f"no .jsonl/.jsonl.gz shards in {', '.join(map(str, paths)) or 'no paths'}")
    return sorted(found)


def shards_in(root: Path) -> list[Path]:
    """The shards under the directory `root`, sorted; none is not an error here."""
    return sorted(_walk(root))


def _walk(root: Path) -> Iterator[Path]:
    for folder, subfolders, files in os.walk(root):  # symbolic links to folders are not followed
        if PIPELINE_WORK in subfolders:
            subfolders[:] = [PIPELINE_DATA] if PIPELINE_DATA in subfolders else []
        else:
            subfolders[:] = [name for name in subfolders if not name.startswith(("_", "."))]
        yield from (path for path in map(Path(folder).joinpath, files) if is_shard_name(path) and path.is_file())


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The records of one shard that have a non-empty `content`, in file order."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:  # type: ignore[operator]
        rows = (json.loads(line) for line in handle if line.strip())
        return [row for row in rows if row.get("content")]
