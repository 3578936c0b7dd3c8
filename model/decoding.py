"""The network calls a generation is made of: a chunked prefill, then one-token decode steps.

Two ways to hold the KV cache, chosen by the decode mode:
- "eager" (the CPU default): each generation gets a cache sized to its prompt and budget, and
  attention reads only the positions written so far;
- fixed-shape ("static", "graph", "compile"): one cache per batch size, allocated once at the
  context length (a slot); the decode step attends over all of it with a mask, so its shapes
  never change and it can be captured. "graph" replays a CUDA graph of the step (the CUDA
  default: one launch per token instead of hundreds), "compile" runs it through torch.compile
  (mode "reduce-overhead" on CUDA, which adds CUDA graphs; inductor's C++ on CPU), "static"
  runs it as it is.
Prefill is eager in every mode: its length varies, and one launch per layer op is cheap next to
a prompt's matrix products.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import torch

from model.gpt_bigcode import GPTBigCode, KVCache

log = logging.getLogger(__name__)

DECODE_MODES = ("eager", "static", "graph", "compile")
# Long prompts are prefilled in chunks so that cancellation is noticed between them and the
# attention scores of a 2k-token prompt never have to exist all at once. A chunk is sized to take
# about CHUNK_TARGET_S at the speed the last chunk ran at, so a newer request (latest wins) waits
# less for the one it cancels. But each chunk reads every weight again: below 256 tokens that
# cost 1.25-1.4x on a whole SantaCoder-shaped int8 prefill on 2 AVX2 cores, 256 cost 1.02x
# (docs/performance.md), so a slow host gets 256-token chunks rather than 0.3 s ones.
# Sizes are multiples of CHUNK_STEP tokens.
CHUNK_TARGET_S = 0.3
CHUNK_STEP = 64
MIN_PREFILL_CHUNK = 256
MAX_PREFILL_CHUNK = 1024
FIRST_PREFILL_CHUNK = MIN_PREFILL_CHUNK  # before any speed is known


def check_mode(mode: str, device: torch.device) -> None:
    """ValueError unless `mode` is a decode mode that runs on `device`."""
    if mode not in DECODE_MODES:
        raise ValueError(f"unknown decode mode {mode!r}: use auto, {', '.join(DECODE_MODES)}")
    if mode == "graph" and device.type != "cuda":
        raise ValueError("decode mode 'graph' replays CUDA graphs: it needs a CUDA device")


def next_chunk(tokens: int, seconds: float, target_s: float = CHUNK_TARGET_S) -> int:
    """The chunk that would take about `target_s` at `tokens` per `seconds`.

    On a GPU the time is only the launches' (nothing waits for the kernels): the chunk then
    grows to the largest, which a GPU's speed calls for anyway.
    """
    fitting = int(target_s * tokens / max(seconds, 1e-6)) // CHUNK_STEP * CHUNK_STEP
    return min(max(fitting, MIN_PREFILL_CHUNK), MAX_PREFILL_CHUNK)


class Decoder:
    """Runs the network for generation on one device; owns the slots and the captured steps.

    Not thread-safe: the engine's lock gives one generation at a time the decoder.
    """

    def __init__(self, net: GPTBigCode, device: torch.device, dtype: torch.dtype, mode: str) -> None:
        check_mode(mode, device)
        self.net, self.device, self.dtype, self.mode = net, device, dtype, mode
        self.fixed_shape = mode != "eager"
        self.fallback: str | None = None  # why a captured step fell back to the plain one, if it did
        self._slots: dict[int, KVCache] = {}
        self._steps: dict[int, Callable[[list[int], int], torch.Tensor]] = {}
        self.prefill_chunk = FIRST_PREFILL_CHUNK  # tokens; follows the measured prefill speed
        self.chunk_target_s: float | None = CHUNK_TARGET_S  # None: prefill_chunk stays as set

    def cache(self, batch: int, capacity: int) -> KVCache:
        """A KV cache for `batch` rows of up to `capacity` positions: the slot in fixed-shape modes."""
        if not self.fixed_shape:
            return KVCache.allocate(self.net.config, capacity, self.dtype, self.device, batch)
        if batch not in self._slots:
            slot = KVCache.allocate(self.net.config, self.net.config.n_positions, self.dtype, self.device, batch, True)
            if self.mode == "compile":  # mutated in place by the step: CUDA graphs must not copy it
                torch._dynamo.mark_static_address(slot.keys)
                torch._dynamo.mark_static_address(slot.values)
            self._slots[batch] = slot
        return self._slots[batch]

    def keepable(self, cache: KVCache, length: int) -> KVCache:
        """Row 0's first `length` positions, in a cache that nothing else will write to."""
        if not self.fixed_shape and cache.batch == 1:
            return cache  # a per-generation cache: kept as it is, no copy
        return cache.row(0).prefix(length)

    @torch.inference_mode()
    def prefill(
        self, cache: KVCache, ids: list[int], start: int, cancel: threading.Event
    ) -> tuple[int, torch.Tensor | None]:
        """Write `ids` at positions from `start` into row 0 of `cache`, chunk by chunk.

        Returns the positions now filled, and the logits `[vocab]` after the last id (None if
        `cancel` was set before the end).
        """
        row, logits, end = cache.row(0), None, start
        while end - start < len(ids):
            if cancel.is_set():
                return end, None
            chunk = ids[end - start : end - start + self.prefill_chunk]
            positions = torch.arange(end, end + len(chunk), device=self.device)
            began = time.perf_counter()
            logits = self.net(torch.tensor([chunk], device=self.device), positions, row, last_only=True)[0, -1]
            # A shorter (last) chunk's time says less about the GEMMs' speed.
            if self.chunk_target_s is not None and len(chunk) == self.prefill_chunk:
                self.prefill_chunk = next_chunk(len(chunk), time.perf_counter() - began, self.chunk_target_s)
            end += len(chunk)
        return end, logits

    @torch.inference_mode()
    def step(self, cache: KVCache, tokens: list[int], position: int) -> torch.Tensor:
        """Logits `[batch, vocab]` after feeding `tokens` (one per row) at `position`."""
        if not self.fixed_shape:
            ids = torch.tensor(tokens, device=self.device).unsqueeze(1)
            return self.net(ids, torch.tensor([position], device=self.device), cache)[:, -1]
        if len(tokens) not in self._steps:
            assert cache is self._slots[len(tokens)], "a fixed-shape step runs on its slot (Decoder.cache)"
            self._steps[len(tokens)] = self._fixed_step(cache)
        return self._steps[len(tokens)](tokens, position)

    def _fixed_step(self, slot: KVCache) -> Callable[[list[int], int], torch.Tensor]:
        """The decode step on static buffers over `slot`, captured as the mode asks."""
        ids = torch.zeros((slot.batch, 1), dtype=torch.long, device=self.device)
        # Capturing runs the step: at the last position, which any generation that reaches it
        # writes before it reads.
        position = torch.full((1,), slot.capacity - 1, dtype=torch.long, device=self.device)

        def forward() -> torch.Tensor:
            return self.net(ids, position, slot, fixed_shape=True)[:, -1]

        run = forward
        try:
            if self.mode == "graph":
                run = _cuda_graph(forward)
            elif self.mode == "compile":
                run = _compiled(forward, self.device)
        except Exception as error:  # a failed capture costs speed, never a completion
            self.fallback = f"{self.mode} capture failed, plain fixed-shape step used: {type(error).__name__}: {error}"
            log.warning("%s", self.fallback)

        def step(tokens: list[int], at: int) -> torch.Tensor:
            ids.copy_(torch.tensor(tokens).unsqueeze(1))
            position.fill_(at)
            return run()

        return step


def _cuda_graph(forward: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor]:
    """Record `forward` once as a CUDA graph; replaying it costs one launch."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm up outside the graph: kernel choice, workspaces
        for _ in range(2):
            forward()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = forward()

    def replay() -> torch.Tensor:
        graph.replay()
        return out

    return replay


def _compiled(forward: Callable[[], torch.Tensor], device: torch.device) -> Callable[[], torch.Tensor]:
    """torch.compile of the step, compiled now (the first call), not inside a user's request."""
    mode = "reduce-overhead" if device.type == "cuda" else None
    compiled = torch.compile(forward, mode=mode, fullgraph=True, dynamic=False)

    def run() -> torch.Tensor:
        if device.type == "cuda":
            torch.compiler.cudagraph_mark_step_begin()  # the previous step's logits are consumed
        return compiled()

    run()
    return run
