"""Recent prompts' KV caches, reused for the longest common token prefix of a new prompt.

Positions are learned and absolute, so a cached K/V is valid only for an identical token
prefix starting at position 0: reuse is exactly "longest common prefix", nothing cleverer.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from model.gpt_bigcode import KVCache


@dataclass
class CachedPrompt:
    tokens: list[int]  # the prompt plus what was generated after it: all valid in `kv`
    kv: KVCache


# Every lookup compares the new prompt with each entry, so the count is bounded as well as
# the bytes: a small model's entries are tiny, and thousands of them made lookups the cost.
MAX_ENTRIES = 32


class PrefixCache:
    """LRU of KV caches bounded by a memory budget in bytes and by MAX_ENTRIES."""

    def __init__(self, budget_bytes: int, max_entries: int = MAX_ENTRIES) -> None:
        self.budget_bytes = budget_bytes
        self.max_entries = max_entries
        self._entries: OrderedDict[int, CachedPrompt] = OrderedDict()
        self._next_key = 0
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        return sum(entry.kv.nbytes for entry in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def longest_match(self, tokens: list[int]) -> tuple[CachedPrompt | None, int]:
        """The entry sharing the longest token prefix with `tokens`, and that length."""
        best, best_len = None, 0
        with self._lock:
            for key, entry in self._entries.items():
                common = common_prefix_len(entry.tokens, tokens)
                if common > best_len:
                    best, best_len, best_key = entry, common, key
            if best is not None:
                self._entries.move_to_end(best_key)
        return best, best_len

    def put(self, tokens: list[int], kv: KVCache) -> None:
        if kv.nbytes > self.budget_bytes:
            return
        with self._lock:
            # An entry whose tokens the new one extends is now useless: drop it.
            for key in [k for k, e in self._entries.items() if _is_prefix(e.tokens, tokens)]:
                del self._entries[key]
            self._entries[self._next_key] = CachedPrompt(tokens, kv)
            self._next_key += 1
            while self.nbytes > self.budget_bytes or len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def common_prefix_len(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


def _is_prefix(short: list[int], long: list[int]) -> bool:
    return len(short) <= len(long) and long[: len(short)] == short
