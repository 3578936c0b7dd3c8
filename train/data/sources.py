"""Inputs: The Stack's shard files and local source trees, cut into numbered work units.

A *plan* (the list of units) is computed once per output directory and saved, so a resumed run
hands task N exactly the same files as the interrupted one, even if the tree changed since.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
from collections import Counter
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


@dataclass
class WorkUnit:
    kind: str  # "stack" (one shard file) or "tree" (files of a local directory)
    root: str
    files: list[str] = field(default_factory=list)


@dataclass
class Skipped:
    """An entry of an input tree that is never read (symlink, socket, unreadable folder...)."""

    repo: str
    path: str
    reason: str


def is_stack_shard(path: Path) -> bool:
    return path.name.endswith(STACK_SUFFIXES)


def display_name(name: str) -> str:
    """A file name as valid UTF-8 text: bytes that are not UTF-8 (kept by Python as lone surrogates,
    which JSON writers refuse) are shown as `\\xNN` escapes."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def build_plan(
    inputs: list[Path], languages: tuple[str, ...], shard_bytes: int, skipped: list[Skipped] | None = None
) -> list[WorkUnit]:
    """Work units for the inputs; tree entries that will not be read are appended to `skipped`."""
    units: list[WorkUnit] = []
    for path in inputs:
        if path.is_file() and is_stack_shard(path):
            units.append(WorkUnit("stack", str(path.resolve())))
        elif path.is_dir():
            units.extend(_units_for_directory(path.resolve(), languages, shard_bytes, skipped))
        else:
            raise FileNotFoundError(f"input {path} is neither a directory nor a Stack shard file")
    return units


def save_skipped(skipped: list[Skipped], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(asdict(entry)) + "\n" for entry in skipped))


def skipped_counts(path: Path) -> dict[str, int]:
    """Skipped entries per reason (none for an output planned before skips were listed)."""
    lines = path.read_text().splitlines() if path.exists() else []
    return dict(sorted(Counter(json.loads(line)["reason"] for line in lines).items()))


def save_plan(units: list[WorkUnit], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(unit) for unit in units]))


def load_plan(path: Path) -> list[WorkUnit]:
    return [WorkUnit(**unit) for unit in json.loads(path.read_text())]


def _units_for_directory(
    root: Path, languages: tuple[str, ...], shard_bytes: int, skipped: list[Skipped] | None
) -> list[WorkUnit]:
    shards = _stack_shards(root)
    if shards:
        return [WorkUnit("stack", str(root / rel)) for rel in shards]
    wanted = tuple(ext for lang in languages for ext in EXTENSIONS[lang])
    files = [rel for rel in list_tree(root, skipped) if rel.lower().endswith(wanted)]
    return _chunk_by_size(root, files, shard_bytes)


def _stack_shards(root: Path) -> list[str]:
    """The shards of a folder that holds nothing else, else none. Symlinks count: a Hugging Face
    cache snapshot of The Stack is a tree of links to its blobs."""
    names = [rel for rel, problem in _walk(root) if problem is None]
    if not all(is_stack_shard(Path(rel)) for rel in names):
        return []
    return sorted(rel for rel in names if (root / rel).is_file())


def list_tree(root: Path, skipped: list[Skipped] | None = None) -> list[str]:
    """Regular files of a tree, relative to it: tracked files for a git work tree, else a walk.

    Everything else met on the way (symlinks, submodules, sockets, unreadable folders) is
    appended to `skipped` with the reason, so that a report can account for it.
    """
    tracked = _git_tracked_files(root)
    found = list(_walk(root)) if tracked is None else [(rel, None) for rel in tracked]
    files = []
    for rel, problem in found:
        problem = problem or _not_regular(root / rel)
        if problem is None:
            files.append(rel)
        elif skipped is not None:
            skipped.append(Skipped(display_name(root.name), display_name(rel), problem))
    return sorted(files)


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


def _walk(root: Path) -> Iterator[tuple[str, str | None]]:
    """(path relative to root, problem) of every non-folder entry, and of folders that cannot be listed.

    A loop over a stack of folders rather than os.walk, which recurses once per level in
    Python 3.11 and so fails on trees about 1000 levels deep.
    """
    pending = [""]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(root / folder) as listing:
                entries = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in listing]
        except OSError:
            yield folder, "unreadable_folder"
            continue
        for name, is_dir in entries:
            rel = os.path.join(folder, name)
            if not is_dir:
                yield rel, None
            elif not name.startswith(".") and name not in SKIPPED_DIRS:
                pending.append(rel)


def _not_regular(path: Path) -> str | None:
    """Why a listed path is not read as a source file; None for a regular file."""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return "missing"  # tracked by git but deleted, or gone since it was listed
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "symlink"
    return "submodule" if stat.S_ISDIR(mode) else "special_file"  # git lists a submodule as one path


def inputs_digest(units: list[WorkUnit]) -> str:
    """A digest of the bytes of every file the plan reads, in plan order (paths and places left
    out: the same code moved elsewhere gives the same digest)."""
    digest = hashlib.sha256()
    for unit in units:
        paths = [Path(unit.root)] if unit.kind == "stack" else [Path(unit.root) / rel for rel in unit.files]
        for path in paths:
            try:
                with path.open("rb") as handle:
                    digest.update(hashlib.file_digest(handle, "sha256").digest())
            except OSError:
                continue  # unreadable: the reader reports it, and it adds no bytes to the output
    return digest.hexdigest()


def _chunk_by_size(root: Path, files: list[str], shard_bytes: int) -> list[WorkUnit]:
    units: list[WorkUnit] = []
    current: list[str] = []
    size = 0
    for rel in files:
        current.append(rel)
        size += _size(root / rel)
        if size >= shard_bytes:
            units.append(WorkUnit("tree", str(root), current))
            current, size = [], 0
    if current:
        units.append(WorkUnit("tree", str(root), current))
    return units


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0  # gone since it was listed: the reader reports it as vanished


def decode_source(raw: bytes) -> tuple[str, str | None]:
    """Returns (text, problem): problem is "empty", "binary" or "not_utf8" when text is unusable."""
    if not raw:
        return "", "empty"
    # The whole file, not just its head: a NUL deep inside would otherwise reach the shards.
    # `in` on bytes is a memchr, far cheaper than the decode that follows.
    if b"\0" in raw:
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


def _read_file(path: Path) -> tuple[bytes, str | None]:
    """(content, problem): a file of the plan that cannot be read still yields a document, so the
    basic filters drop it with a reason instead of it silently missing from the report."""
    try:
        return path.read_bytes(), None
    except FileNotFoundError:
        return b"", "vanished"
    except OSError as err:
        logger.warning(f"cannot read {display_name(str(path))}: {err}")
        return b"", "unreadable"


def _read_tree_files(root: Path, files: list[str]) -> Iterator[Document]:
    repo = display_name(root.name)
    for rel in files:
        raw, problem = _read_file(root / rel)
        text, problem = ("", problem) if problem else decode_source(raw)
        path = display_name(rel)
        metadata: dict[str, object] = {
            "lang": language_of_path(rel) or "unknown",
            "path": path,
            "repo": repo,
            "raw_bytes": len(raw),
        }
        if problem:
            metadata["problem"] = problem
        yield Document(text=text, id=f"{repo}/{path}", metadata=metadata)


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
