"""Local acceptance statistics: how many suggestions were shown and accepted, and how fast.

Opt-in (setting `stats`), kept in one JSON file under the user's data directory, and never
sent anywhere. SANTA_LSP_DATA_DIR moves the directory (tests, portable installs).
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import tempfile
from collections import OrderedDict, deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import platformdirs

log = logging.getLogger(__name__)

ENV_DIR = "SANTA_LSP_DATA_DIR"
KEEP_LATENCIES = 1000
KEEP_PENDING = 200  # shown suggestions that may still be accepted
SAVE_EVERY = 20  # shown suggestions between writes, so typing does not mean writing files


def stats_path() -> Path:
    base = os.environ.get(ENV_DIR) or platformdirs.user_data_dir("santa-lsp", appauthor=False)
    return Path(base) / "stats.json"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


class Stats:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.shown = 0
        self.accepted = 0
        self.latencies: deque[float] = deque(maxlen=KEEP_LATENCIES)
        # Accepted suggestions by the place of the accepted item among its request's candidates
        # (setting `candidates`): whether the ones after the first are worth their compute.
        self.accepted_by_candidate: list[int] = []
        # Item id -> (the first item id of its request, the place of its candidate).
        self._pending: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self._unsaved = 0

    @classmethod
    def load(cls, path: Path | None = None) -> Stats:
        stats = cls(path or stats_path())
        try:
            raw = json.loads(stats.path.read_text(encoding="utf-8"))
            stats.shown, stats.accepted = int(raw["shown"]), int(raw["accepted"])
            stats.latencies.extend(float(x) for x in raw["latenciesMs"])
            stats.accepted_by_candidate = [int(x) for x in raw.get("acceptedByCandidate", [])]
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("stats: %s unreadable (%s); starting from zero", stats.path, exc)
        return stats

    def record_shown(self, items: Sequence[tuple[str, int]], latency_ms: float) -> None:
        """One request's items, each an id and the place of its candidate: one suggestion shown
        (the editor shows one at a time)."""
        self.shown += 1
        self.latencies.append(latency_ms)
        for item_id, place in items:
            self._pending[item_id] = (items[0][0], place)
        while len(self._pending) > KEEP_PENDING:
            self._pending.popitem(last=False)
        self._unsaved += 1
        if self._unsaved >= SAVE_EVERY:
            self.save()

    def record_accepted(self, item_id: str) -> bool:
        found = self._pending.pop(item_id, None)
        if found is None:
            log.info("stats: accepted id %r was never shown (or is too old); not counted", item_id)
            return False
        request, place = found
        for other in [key for key, (first, _) in self._pending.items() if first == request]:
            del self._pending[other]  # one accept per request: its other candidates are gone
        self.accepted += 1
        self.accepted_by_candidate += [0] * (place + 1 - len(self.accepted_by_candidate))
        self.accepted_by_candidate[place] += 1
        self.save()
        return True

    def summary(self) -> dict[str, Any]:
        values = list(self.latencies)
        return {
            "shown": self.shown,
            "accepted": self.accepted,
            "acceptedByCandidate": list(self.accepted_by_candidate),
            "latencyMs": {"p50": percentile(values, 50), "p95": percentile(values, 95)},
        }

    def save(self) -> None:
        data = {
            "shown": self.shown,
            "accepted": self.accepted,
            "acceptedByCandidate": self.accepted_by_candidate,
            "latenciesMs": list(self.latencies),
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Written beside and renamed over: a crash never leaves half a file.
            with tempfile.NamedTemporaryFile("w", dir=self.path.parent, delete=False) as tmp:
                json.dump(data, tmp)
            os.replace(tmp.name, self.path)
            self._unsaved = 0
        except OSError as exc:
            log.warning("stats: could not write %s (%s)", self.path, exc)
