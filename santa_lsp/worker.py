"""The one thread that does model work (loading, generating), off the event loop.

The engine runs one generation at a time anyway; a single worker thread keeps loads and
generations in order and leaves the event loop free to answer every message meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import model

log = logging.getLogger(__name__)
T = TypeVar("T")


class Worker:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="santa-model")

    async def run(self, fn: Callable[[], T]) -> T:
        return await asyncio.wrap_future(self._pool.submit(fn))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass(eq=False)  # a job is itself: kept in sets, compared by identity
class Job:
    """One generation, cancellable from the event loop before or while the worker runs it."""

    start: Callable[[], model.Generation]
    # What the first candidate has written so far (read on the event loop: a kept-alive
    # generation lives on while the user types what it writes, santa_lsp/ahead.py).
    text: str = ""
    done: bool = False
    _cancelled: bool = False
    _generation: model.Generation | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._generation is not None:
                self._generation.cancel()

    def __call__(self) -> list[model.Completion] | None:
        """Run on the worker: every candidate, best first; None if cancelled before it could start."""
        try:
            return self._run()
        finally:
            self.done = True

    def _run(self) -> list[model.Completion] | None:
        with self._lock:
            if self._cancelled:
                log.debug("generation cancelled before it started")
                return None
            generation = self._generation = self.start()
        for piece in generation:
            self.text += piece
        completion = generation.wait()
        if completion.finish_reason == "cancelled":
            log.debug("generation cancelled after %d new tokens", len(completion.token_ids))
        return generation.results
