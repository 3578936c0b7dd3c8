"""Training checkpoints that a kill at any moment cannot corrupt.

A checkpoint is a directory `step-NNNNNNNN` holding the trainable weights (safetensors), the
optimizer/scheduler/grad-scaler/data-stream state (`state.pt`, read back with torch's
weights_only: tensors and plain values, never code) and one RNG file per process (JSON). It is written
under a hidden temporary name, every file fsynced, then renamed into place: a rename is atomic,
so a `step-*` directory is always complete, and resuming takes the highest-numbered one.
"""

from __future__ import annotations

import json
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
from safetensors.torch import save_file
from torch import nn

from model.checkpoint import read_safetensors, read_torch_file
from model.errors import LoadError

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
    """Every generator's state as JSON values: a JSON file can be read without running code."""
    version, python_state, gauss = random.getstate()
    name, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(python_state), gauss],
        "numpy": [name, keys.tolist(), pos, has_gauss, cached_gaussian],
        "torch": torch.get_rng_state().tolist(),
    }
    if torch.cuda.is_available():
        state["cuda"] = [s.tolist() for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, python_state, gauss = state["python"]
    random.setstate((version, tuple(python_state), gauss))
    name, keys, pos, has_gauss, cached_gaussian = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached_gaussian))
    torch.set_rng_state(_bytes(state["torch"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([_bytes(s) for s in state["cuda"]])


def _bytes(values: Any) -> torch.Tensor:
    # JSON numbers that are not bytes must fail here, not wrap around in a uint8 tensor.
    if not isinstance(values, list) or not all(isinstance(v, int) and 0 <= v < 256 for v in values):
        raise ValueError("expected a list of bytes")
    return torch.tensor(values, dtype=torch.uint8)


def write_rng(path: Path) -> None:
    path.write_text(json.dumps(rng_state()), encoding="utf-8")


def read_rng(path: Path) -> None:
    """Restore the generators from `path`: rng-N.json, or rng-N.pt from before that format."""
    try:
        state = json.loads(path.read_text(encoding="utf-8")) if path.suffix == ".json" else _legacy_rng(path)
        set_rng_state(state)
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError, RuntimeError) as exc:
        raise LoadError(f"{path}: not a valid RNG state ({type(exc).__name__}: {exc})") from None


def _legacy_rng(path: Path) -> dict[str, Any]:
    """Older checkpoints pickled numpy's state; allow exactly the globals an array of uint32 needs."""
    multiarray = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray  # numpy 2 / 1.26
    numpy_array = [multiarray._reconstruct, np.ndarray, np.dtype, np.dtypes.UInt32DType]
    return _as_json(read_torch_file(path, allowed=numpy_array))


def _as_json(value: Any) -> Any:
    """Tensors, arrays and tuples as lists, as they come back from rng-N.json."""
    if isinstance(value, torch.Tensor | np.ndarray):
        return value.tolist()
    if isinstance(value, list | tuple):
        return [_as_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    return value


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
        self._write(tmp / f"rng-{proc.rank}.json", write_rng)
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
        """Restore weights and this process's RNG; returns the saved state for the rest.

        Nothing read here can run code: weights are safetensors, RNG states JSON, and the
        optimizer/scheduler state is read with torch's weights_only (tensors and plain values).
        """
        weights = read_safetensors(path / WEIGHTS)
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
        read_rng(self._rng_file(path))
        state = read_torch_file(path / STATE)
        if not isinstance(state, dict):
            raise LoadError(f"{path / STATE}: expected a dict of training state, found {type(state).__name__}")
        return state

    def _rng_file(self, path: Path) -> Path:
        # Resumed on more processes than saved: share rank 0's. rng-N.pt: saved before rng-N.json.
        for rank in dict.fromkeys((self.process.rank, 0)):
            for suffix in (".json", ".pt"):
                if (path / f"rng-{rank}{suffix}").is_file():
                    return path / f"rng-{rank}{suffix}"
        raise LoadError(f"{path}: no RNG state (rng-0.json)")
