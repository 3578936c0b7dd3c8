"""Inputs: The Stack's shard files and local source trees, cut into numbered work units.

A *plan* (the list of units) is computed once per output directory and saved, so a resumed run
hands task N exactly the same files as the interrupted one, even if the tree changed since.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.readers import JsonlReader, ParquetReader
from datatrove.utils.logging import logger

from train.data.languages import EXTENSIONS, canonical, language_of_path

STACK_SUFFIXES = (".parquet", ".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz")
# Vendored or tool directories that a directory walk should not mistake for the team's code.
SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "site-packages"})
# Only the head of a file is checked for NUL bytes: enough to spot binaries cheaply.
BINARY_SNIFF_BYTES = 8192


@dataclass
class WorkUnit:
    kind: str  # "stack" (one shard file) or "tree" (files of a local directory)
    root: str
    files: list[str] = field(default_factory=list)


def is_stack_shard(path: Path) -> bool:
    return path.name.endswith(STACK_SUFFIXES)


def build_plan(inputs: list[Path], languages: tuple[str, ...], shard_bytes: int) -> list[WorkUnit]:
    units: list[WorkUnit] = []
    for path in inputs:
        if path.is_file() and is_stack_shard(path):
            units.append(WorkUnit("stack", str(path.resolve())))
        elif path.is_dir():
            units.extend(_units_for_directory(path.resolve(), languages, shard_bytes))
        else:
            raise FileNotFoundError(f"input {path} is neither a directory nor a Stack shard file")
    return units


def save_plan(units: list[WorkUnit], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(unit) for unit in units]))


def load_plan(path: Path) -> list[WorkUnit]:
    return [WorkUnit(**unit) for unit in json.loads(path.read_text())]


def _units_for_directory(root: Path, languages: tuple[str, ...], shard_bytes: int) -> list[WorkUnit]:
    stack_files = sorted(p for p in root.rglob("*") if p.is_file() and is_stack_shard(p))
    if stack_files and all(is_stack_shard(p) for p in _visible_files(root)):
        return [WorkUnit("stack", str(p)) for p in stack_files]
    wanted = tuple(ext for lang in languages for ext in EXTENSIONS[lang])
    files = [rel for rel in list_tree(root) if rel.lower().endswith(wanted)]
    return _chunk_by_size(root, files, shard_bytes)


def _visible_files(root: Path) -> Iterator[Path]:
    for rel in _walk(root):
        yield root / rel


def list_tree(root: Path) -> list[str]:
    """Files of a tree, relative to it: tracked files for a git work tree, else a walk."""
    tracked = _git_tracked_files(root)
    candidates = tracked if tracked is not None else list(_walk(root))
    # Symlinks, submodules and sockets are not source files of this tree.
    return sorted(rel for rel in candidates if _is_regular(root / rel))


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes] | None:
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None


def _git_tracked_files(root: Path) -> list[str] | None:
    """None when root is not in a git work tree, or is a folder that its enclosing repo ignores
    (e.g. a virtualenv or a pyenv install inside a cloned tool): then it is a plain directory."""
    if _git(root, "check-ignore", "-q", ".") is not None:
        return None
    listing = _git(root, "ls-files", "-z")
    if listing is None:
        return None
    return [name for name in listing.stdout.decode("utf-8", "surrogateescape").split("\0") if name]


def _walk(root: Path) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in SKIPPED_DIRS]
        for name in filenames:
            yield os.path.relpath(os.path.join(dirpath, name), root)


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _chunk_by_size(root: Path, files: list[str], shard_bytes: int) -> list[WorkUnit]:
    units: list[WorkUnit] = []
    current: list[str] = []
    size = 0
    for rel in files:
        current.append(rel)
        size += (root / rel).lstat().st_size
        if size >= shard_bytes:
            units.append(WorkUnit("tree", str(root), current))
            current, size = [], 0
    if current:
        units.append(WorkUnit("tree", str(root), current))
    return units


def decode_source(raw: bytes) -> tuple[str, str | None]:
    """Returns (text, problem): problem is "empty", "binary" or "not_utf8" when text is unusable."""
    if not raw:
        return "", "empty"
    if b"\0" in raw[:BINARY_SNIFF_BYTES]:
        return "", "binary"
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return "", "not_utf8"


class UnitReader(PipelineStep):
    """Task N reads work unit N of the saved plan."""

    type = "📖 - READER"
    name = "read"

    def __init__(self, plan_path: str):
        super().__init__()
        self.plan_path = plan_path

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        unit = load_plan(Path(self.plan_path))[rank]
        if unit.kind == "stack":
            yield from _read_stack_shard(Path(unit.root))
        else:
            yield from _read_tree_files(Path(unit.root), unit.files)


def _read_tree_files(root: Path, files: list[str]) -> Iterator[Document]:
    for rel in files:
        try:
            raw = (root / rel).read_bytes()
        except OSError as err:
            logger.warning(f"skipping unreadable {root / rel}: {err}")
            continue
        text, problem = decode_source(raw)
        metadata: dict[str, object] = {
            "lang": language_of_path(rel) or "unknown",
            "path": rel,
            "repo": root.name,
            "raw_bytes": len(raw),
        }
        if problem:
            metadata["problem"] = problem
        yield Document(text=text, id=f"{root.name}/{rel}", metadata=metadata)


def _stack_adapter(self: object, data: dict, path: str, id_in_file: int | str) -> dict:
    """Maps a row of The Stack (v1 column names, or plain `path`/`licenses`) to a Document."""
    file_path = data.get("max_stars_repo_path") or data.get("path") or ""
    lang = data.get("lang") or language_of_path(file_path) or "unknown"
    metadata = {
        "lang": canonical(lang),
        "path": file_path,
        "repo": data.get("max_stars_repo_name") or data.get("repo_name") or "",
        "stars": data.get("max_stars_count"),
        "licenses": data.get("max_stars_repo_licenses") or data.get("licenses") or [],
    }
    return {
        "text": data.get("content") or "",
        "id": data.get("hexsha") or f"{path}/{id_in_file}",
        "metadata": metadata,
    }


def _read_stack_shard(path: Path) -> DocumentsPipeline:
    reader_cls = ParquetReader if path.name.endswith(".parquet") else JsonlReader
    reader = reader_cls(str(path.parent), adapter=_stack_adapter, text_key="content")
    reader.add_file_path = False  # the adapter already records the file's own path
    return reader.read_file(path.name)


class ShardFileReader(PipelineStep):
    """Task N reads `{N:05d}.jsonl.gz` of an intermediate folder (absent when N kept nothing)."""

    type = "📖 - READER"
    name = "read intermediate"

    def __init__(self, folder: str):
        super().__init__()
        self.folder = folder

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        name = f"{rank:05d}.jsonl.gz"
        if (Path(self.folder) / name).exists():
            yield from JsonlReader(self.folder, add_file_path=False).read_file(name)
