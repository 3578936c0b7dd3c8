"""The server's settings: defaults, the CLI's overrides, and updates from the client.

Clients send settings as `initializationOptions` and in `workspace/didChangeConfiguration`,
either flat or nested under `santaLsp`. A bad value never takes the server down: unknown keys
and wrong types are logged and skipped, keeping the previous value.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

SECTION = "santaLsp"
# Changing one of these means loading another model.
MODEL_KEYS = frozenset({"model", "device", "dtype", "prefixCacheMb"})
DTYPES = ("auto", "fp32", "bf16", "fp16", "int8")
_CHOICES = {"fimMode": ("spm", "psm"), "dtype": DTYPES}
_AT_MOST = {"minTokenProb": 1.0}  # a probability


@dataclass(frozen=True)
class Settings:
    model: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    maxNewTokens: int = 64  # camelCase: the protocol's keys
    timeBudgetMs: int = 1500
    fimMode: str = "spm"
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    enabled: bool = True
    disabledLanguages: tuple[str, ...] = ()
    crossFile: bool = True
    crossFileTokens: int = 256
    stats: bool = False
    # Gates on what is shown (docs/protocol.md); the defaults are chosen by `santa-lsp bench --quality`.
    minTokenProb: float = 0.05  # drop an unsure start, cut unsure later lines (postprocess.confident_part)
    stopRepetition: bool = True  # stop generating where a loop begins
    syntaxCheck: bool = True  # drop a suggestion that leaves the line syntactically broken
    # Extensions (docs/protocol.md): the latency caches, off only to measure what they bring.
    cache: bool = True
    prefixCacheMb: int = 1024

    def update(self, raw: object) -> Settings:
        """These settings with the valid keys of `raw` (flat or under `santaLsp`) applied."""
        if raw is None:
            return self
        if not isinstance(raw, dict):
            log.warning("settings: expected an object, got %s; ignored", type(raw).__name__)
            return self
        if isinstance(raw.get(SECTION), dict):
            raw = raw[SECTION]
        changes: dict[str, Any] = {}
        for key, value in raw.items():
            checked = _check(key, value)
            if checked is not _INVALID:
                changes[key] = checked
        return dataclasses.replace(self, **changes)

    def model_changed(self, other: Settings) -> bool:
        return any(getattr(self, key) != getattr(other, key) for key in MODEL_KEYS)


_INVALID = object()
_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _check(key: str, value: object) -> object:
    """The value to store for `key`, or _INVALID (with a log line saying why)."""
    if key not in _FIELDS:
        log.warning("settings: unknown key %r ignored", key)
        return _INVALID
    kind = _FIELDS[key].type
    checked = _coerce(str(kind), value)
    if checked is _INVALID:
        reason = f"must be {kind}"
    elif key in _CHOICES and checked not in _CHOICES[key]:
        reason = f"must be one of {', '.join(_CHOICES[key])}"
    elif isinstance(checked, int | float) and checked < 0:
        reason = "must not be negative"
    elif key in _AT_MOST and checked > _AT_MOST[key]:  # type: ignore[operator]
        reason = f"must be at most {_AT_MOST[key]}"
    else:
        return checked
    log.warning("settings: %s %s, got %r; keeping the old value", key, reason, value)
    return _INVALID


def _coerce(kind: str, value: object) -> object:
    # bool is a subclass of int in Python, but `true` is not a token budget.
    if kind == "bool":
        return value if isinstance(value, bool) else _INVALID
    if kind == "int":
        return value if isinstance(value, int) and not isinstance(value, bool) else _INVALID
    if kind == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if ok else _INVALID  # type: ignore[arg-type]
    if kind == "str":
        return value if isinstance(value, str) else _INVALID
    if kind == "str | None":
        return value if value is None or isinstance(value, str) else _INVALID
    if kind == "tuple[str, ...]":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return tuple(value) if ok else _INVALID  # type: ignore[arg-type]
    return _INVALID
