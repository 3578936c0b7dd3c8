"""Training batches made ahead by worker processes, for accelerators that outrun one CPU core.

One `PackedStream` packs, tokenizes and FIM-transforms about a quarter of a million tokens a
second on one core; a small model on a GPU trains on several times that. `ParallelStreams`
runs `workers` PackedStreams in processes of their own, each over its own share of the
training shards (shard k, k + workers, ...; stream k seeded `seed * 1000 + k`), and hands out
batch j from stream j % workers. Each stream is the same deterministic, resumable stream as
in-process training uses, so the whole is too: its state is every stream's state after the
last batch taken from it, plus which stream is next, and a resumed run sees the same batches.

With `[data] workers = 0` (the default) training uses one PackedStream in its own process.
"""

from __future__ import annotations

import multiprocessing
import queue
import traceback
from pathlib import Path
from typing import Any, Protocol

import torch

from model.tokenizer import Tokenizer, load_tokenizer
from train.dataset import Batch, PackedStream
from train.recipe import DataSettings

MAX_WORKERS = 1000  # streams are seeded seed * MAX_WORKERS + k
AHEAD = 4  # batches each worker keeps ready


class TrainingStream(Protocol):
    def next_batch(self, batch_size: int, rank: int = 0, world: int = 1) -> Batch: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def packed_stream(
    data: DataSettings, tokenizer: Tokenizer, shards: list[Path], seed: int, shuffle_window: int = 1
) -> PackedStream:
    """The stream over `shards` that `[data]` describes (FIM rates, context length)."""
    return PackedStream(
        shards, tokenizer, data.seq_len, seed=seed, fim_rate=data.fim_rate, fim_spm_rate=data.fim_spm_rate,
        fim_span_rate=data.fim_span_rate, shuffle_window=shuffle_window,
    )  # fmt: skip


def stream_seed(seed: int, k: int) -> int:
    return seed * MAX_WORKERS + k


def _work(
    data: DataSettings, tokenizer_dir: str, shards: list[Path], seed: int, state: dict[str, Any] | None,
    shape: tuple[int, int, int], out: multiprocessing.Queue,
) -> None:  # fmt: skip
    """A worker's life: make batches of its stream until the queue's reader stops it."""
    from train.data.lifetime import die_with_parent  # the data pipeline's helpers die the same way

    die_with_parent()  # even if training is killed with SIGKILL
    torch.set_num_threads(1)  # the batches are Python work; leave the cores to the other workers
    try:
        stream = packed_stream(data, load_tokenizer(Path(tokenizer_dir)), shards, seed, data.shuffle_window)
        if state is not None:
            stream.load_state_dict(state)
        while True:
            batch = stream.next_batch(*shape)
            out.put((batch.inputs.numpy(), batch.labels.numpy(), stream.state_dict()))
    except Exception:
        out.put(traceback.format_exc(limit=3))


class ParallelStreams:
    def __init__(self, data: DataSettings, tokenizer_dir: Path, shards: list[Path], seed: int, workers: int) -> None:
        if not 1 <= workers <= MAX_WORKERS:
            raise ValueError(f"[data] workers must be within 1..{MAX_WORKERS}, not {workers}")
        if len(shards) < workers:
            raise ValueError(f"[data] workers = {workers} needs as many training shards; found {len(shards)}")
        self.data, self.tokenizer_dir, self.seed = data, tokenizer_dir, seed
        self.groups = [shards[k::workers] for k in range(workers)]
        self.states: list[dict[str, Any] | None] = [None] * workers  # after the last batch taken from each
        self.next = 0
        self._shape: tuple[int, int, int] | None = None
        self._workers: list[tuple[multiprocessing.process.BaseProcess, multiprocessing.Queue]] = []

    def next_batch(self, batch_size: int, rank: int = 0, world: int = 1) -> Batch:
        shape = (batch_size, rank, world)
        if self._workers and shape != self._shape:
            self.close()
        if not self._workers:
            self._start(shape)
        k = self.next
        inputs, labels, self.states[k] = self._take(k)
        self.next = (k + 1) % len(self.groups)
        return Batch(torch.from_numpy(inputs), torch.from_numpy(labels))

    def state_dict(self) -> dict[str, Any]:
        return {"streams": list(self.states), "next": self.next}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        streams = state.get("streams")
        if not isinstance(streams, list) or len(streams) != len(self.groups):
            found = len(streams) if isinstance(streams, list) else "no"
            raise ValueError(
                f"the checkpoint's data position is for {found} data workers; [data] workers is {len(self.groups)}"
            )
        self.close()  # the workers ran ahead of the position being restored
        self.states, self.next = list(streams), int(state["next"])

    def close(self) -> None:
        """Stop the workers (they start again, from the current position, at the next batch)."""
        for process, _ in self._workers:
            process.terminate()
        for process, _ in self._workers:
            process.join()
        self._workers = []

    def _start(self, shape: tuple[int, int, int]) -> None:
        # spawn, not fork: the training process may hold CUDA and accelerate's threads.
        context = multiprocessing.get_context("spawn")
        self._shape = shape
        for k, shards in enumerate(self.groups):
            out = context.Queue(maxsize=AHEAD)
            args = (self.data, str(self.tokenizer_dir), shards, stream_seed(self.seed, k), self.states[k], shape, out)
            process = context.Process(target=_work, args=args, name=f"data-worker-{k}", daemon=True)
            process.start()
            self._workers.append((process, out))

    def _take(self, k: int) -> tuple[Any, Any, dict[str, Any]]:
        process, out = self._workers[k]
        while True:
            try:
                item = out.get(timeout=1.0)
            except queue.Empty:
                if not process.is_alive():
                    raise RuntimeError(f"data worker {k} died (exit code {process.exitcode})") from None
                continue
            if isinstance(item, str):
                self.close()
                raise RuntimeError(f"data worker {k} failed:\n{item}")
            return item
