"""Training checkpoints that a kill at any moment cannot corrupt.

A checkpoint is a directory `step-NNNNNNNN` holding the trainable weights (safetensors), the
optimizer/scheduler/grad-scaler/data-stream state and one RNG file per process. It is written
under a hidden temporary name, every file fsynced, then renamed into place: a rename is atomic,
so a `step-*` directory is always complete, and resuming takes the highest-numbered one.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

_NAME = re.compile(r"^step-(\d{8})$")
WEIGHTS, STATE = "trainable.safetensors", "state.pt"


@dataclass(frozen=True)
class Process:
    """Where this process stands among the training processes, and how to wait for the rest."""

    rank: int = 0
    world: int = 1
    barrier: Callable[[], None] = lambda: None

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def trainable_tensors(net: nn.Module) -> dict[str, torch.Tensor]:
    # named_parameters lists a tied tensor once (safetensors refuses shared storage).
    return {name: p.detach().cpu().contiguous() for name, p in net.named_parameters() if p.requires_grad}


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Checkpoints:
    def __init__(self, root: Path, keep: int, process: Process | None = None) -> None:
        self.root, self.keep = root, max(1, keep)
        self.process = process or Process()

    def all(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if _NAME.match(p.name) and p.is_dir())

    def latest(self) -> Path | None:
        found = self.all()
        return found[-1] if found else None

    def save(self, step: int, net: nn.Module, state: dict[str, Any]) -> Path:
        """Write checkpoint `step` (every process calls this; the main one writes the shared files)."""
        final = self.root / f"step-{step:08d}"
        tmp = self.root / f".tmp-step-{step:08d}"
        proc = self.process
        if proc.is_main:
            shutil.rmtree(tmp, ignore_errors=True)  # left by a run killed while saving
            tmp.mkdir(parents=True)
        proc.barrier()
        self._write(tmp / f"rng-{proc.rank}.pt", lambda p: torch.save(rng_state(), p))
        if proc.is_main:
            self._write(tmp / WEIGHTS, lambda p: save_file(trainable_tensors(net), str(p)))
            self._write(tmp / STATE, lambda p: torch.save(state, p))
        proc.barrier()
        if proc.is_main:
            _fsync(tmp)
            if final.exists():  # the same step saved again (a restarted run): replace it
                shutil.rmtree(final)
            tmp.rename(final)
            _fsync(self.root)
            for old in self.all()[: -self.keep]:
                shutil.rmtree(old, ignore_errors=True)
        proc.barrier()
        return final

    @staticmethod
    def _write(path: Path, writer: Callable[[Path], None]) -> None:
        writer(path)
        _fsync(path)

    def load(self, path: Path, net: nn.Module) -> dict[str, Any]:
        """Restore weights and this process's RNG; returns the saved state for the rest."""
        weights = load_file(str(path / WEIGHTS))
        params = dict(net.named_parameters())
        missing = [name for name, p in params.items() if p.requires_grad and name not in weights]
        unknown = sorted(set(weights) - set(params))
        if missing or unknown:
            raise ValueError(
                f"{path}: checkpoint does not fit the model (missing {missing[:3]}, unknown {unknown[:3]})"
            )
        with torch.no_grad():
            for name, tensor in weights.items():
                params[name].copy_(tensor)
        rng_file = path / f"rng-{self.process.rank}.pt"
        if not rng_file.is_file():  # resumed on more processes than saved: share rank 0's
            rng_file = path / "rng-0.pt"
        set_rng_state(torch.load(rng_file, weights_only=False))
        return torch.load(path / STATE, weights_only=False)
