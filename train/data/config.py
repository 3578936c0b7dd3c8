"""Settings of the data pipeline: every threshold lives here, with BigCode's values as defaults."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_LANGUAGES = ("python", "java", "javascript")


@dataclass(frozen=True)
class BasicFilterConfig:
    max_line_length: int = 1000
    max_avg_line_length: float = 100.0
    min_alphanum_fraction: float = 0.25
    # The Stack itself excludes files above 1 MB; keep the same ceiling for local trees.
    max_file_bytes: int = 1_000_000
    min_file_bytes: int = 1
    # Number of leading lines searched for "generated, do not edit" style markers.
    autogen_header_lines: int = 5


@dataclass(frozen=True)
class CommentFilterConfig:
    enabled: bool = True
    min_ratio: float = 0.01
    max_ratio: float = 0.8


@dataclass(frozen=True)
class StarsFilterConfig:
    # Off by default: BigCode found that keeping only starred repositories hurt the model.
    min_stars: int | None = None


@dataclass(frozen=True)
class FertilityFilterConfig:
    # Off unless a tokenizer file is given (characters per token need a tokenizer).
    tokenizer_path: str | None = None
    min_chars_per_token: dict[str, float] = field(
        default_factory=lambda: {"python": 2.5, "java": 2.9, "javascript": 2.6}
    )


@dataclass(frozen=True)
class DedupConfig:
    exact: bool = True
    near: bool = True
    ngram_size: int = 5
    num_perm: int = 256
    threshold: float = 0.7
    min_tokens: int = 10
    seed: int = 42


@dataclass(frozen=True)
class PiiConfig:
    enabled: bool = True


@dataclass(frozen=True)
class DecontamConfig:
    enabled: bool = True
    humaneval: bool = True
    extra_files: tuple[str, ...] = ()
    # HumanEval has one-line solutions such as "    return len(string)\n"; matching those
    # verbatim would drop thousands of innocent files, so strings shorter than this are ignored.
    min_chars: int = 50


@dataclass(frozen=True)
class DataConfig:
    """Everything that decides which bytes end up in the output (so it is part of the resume key)."""

    languages: tuple[str, ...] = DEFAULT_LANGUAGES
    # Local trees are cut into work units of about this many bytes (one unit = one task).
    shard_bytes: int = 16 * 1024 * 1024
    basic: BasicFilterConfig = field(default_factory=BasicFilterConfig)
    comments: CommentFilterConfig = field(default_factory=CommentFilterConfig)
    stars: StarsFilterConfig = field(default_factory=StarsFilterConfig)
    fertility: FertilityFilterConfig = field(default_factory=FertilityFilterConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    decontam: DecontamConfig = field(default_factory=DecontamConfig)
    pii: PiiConfig = field(default_factory=PiiConfig)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    def fingerprint(self, inputs: list[Path]) -> str:
        key = self.to_json() + "\n" + "\n".join(str(p.resolve()) for p in inputs)
        return hashlib.sha256(key.encode()).hexdigest()[:16]
