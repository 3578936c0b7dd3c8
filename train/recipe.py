"""A training run's settings, read from a TOML file: [model], [data], [train] and [lora] tables.

Defaults are SantaCoder's recipe; paths are relative to the working directory. Unknown keys
are errors, so a typo cannot silently leave a default in place.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar


@dataclass(frozen=True)
class ModelSettings:
    n_embd: int = 2048
    n_layer: int = 24
    n_head: int = 16
    n_inner: int | None = None  # 4 * n_embd
    n_positions: int = 2048
    multi_query: bool = True
    init_std: float = 0.022
    dropout: float = 0.1  # on the residual branches (attention and MLP outputs)


@dataclass(frozen=True)
class DataSettings:
    train: list[str] = field(default_factory=list)  # jsonl(.gz) shards or directories of them
    eval: list[str] = field(default_factory=list)  # held-out shards; empty: no periodic eval
    tokenizer: str = ""  # a directory with tokenizer.json
    seq_len: int = 2048
    fim_rate: float = 0.5
    fim_spm_rate: float = 0.5
    fim_span_rate: float = 0.0  # of FIM documents, the share cut where editors ask (train/spans.py)
    shuffle_window: int = 1024  # packed contexts shuffled together, so a long file is spread out
    seed: int = 0
    workers: int = 0  # processes making training batches ahead (train/streams.py); 0: the training process


@dataclass(frozen=True)
class TrainSettings:
    output: str = "runs/default"
    steps: int = 1000  # optimiser steps
    batch_size: int = 8  # contexts per device per micro-step
    grad_accum: int = 1
    lr: float = 2e-4
    min_lr_ratio: float = 0.1
    warmup_ratio: float = 0.02
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    precision: str = "no"  # accelerate's mixed precision: "no", "fp16" or "bf16"
    compile: bool = False  # torch.compile (inductor) through accelerate; ~40 s first step, parity on CPU
    save_every: int = 500
    keep_checkpoints: int = 2
    eval_every: int = 500
    eval_contexts: int = 64
    seed: int = 0
    threads: int | None = None  # torch CPU threads; None keeps torch's default


@dataclass(frozen=True)
class LoraSettings:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    targets: list[str] = field(default_factory=lambda: ["c_attn", "c_proj", "c_fc"])


@dataclass(frozen=True)
class Recipe:
    model: ModelSettings = field(default_factory=ModelSettings)
    data: DataSettings = field(default_factory=DataSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    lora: LoraSettings | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


T = TypeVar("T")

SHIPPED = Path(__file__).parent / "configs"  # the recipes that come with the package


def find_recipe_file(name: str | Path) -> Path:
    """A recipe file: a path, or the name of a shipped one (`finetune-cpu` is
    train/configs/finetune-cpu.toml), so that a recipe is found from any directory."""
    path = Path(name).expanduser()
    if path.is_file():
        return path
    shipped = SHIPPED / f"{path.name.removesuffix('.toml')}.toml"
    if path.parent == Path(".") and shipped.is_file():
        return shipped
    names = ", ".join(sorted(p.stem for p in SHIPPED.glob("*.toml")))
    raise FileNotFoundError(f"{name}: no such recipe file, and not a shipped recipe ({names})")


def _section(kind: type[T], raw: dict[str, Any], name: str) -> T:
    known = {f.name for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"[{name}]: unknown key(s) {unknown}; known: {sorted(known)}")
    return kind(**raw)


def recipe_from_dict(raw: dict[str, Any]) -> Recipe:
    unknown = sorted(set(raw) - {"model", "data", "train", "lora"})
    if unknown:
        raise ValueError(f"unknown table(s) {unknown}; expected [model], [data], [train], [lora]")
    lora = raw.get("lora")
    return Recipe(
        model=_section(ModelSettings, raw.get("model", {}), "model"),
        data=_section(DataSettings, raw.get("data", {}), "data"),
        train=_section(TrainSettings, raw.get("train", {}), "train"),
        lora=None if lora is None else _section(LoraSettings, lora, "lora"),
    )


def load_recipe(path: Path) -> Recipe:
    with path.open("rb") as handle:
        return recipe_from_dict(tomllib.load(handle))


def with_overrides(recipe: Recipe, **tables: dict[str, Any]) -> Recipe:
    """A copy with some keys replaced, e.g. with_overrides(r, train={"steps": 10})."""
    raw = recipe.to_dict()
    for table, values in tables.items():
        raw[table] = {**(raw.get(table) or {}), **values}
    return recipe_from_dict(raw)
