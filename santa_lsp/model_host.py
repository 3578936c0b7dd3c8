"""The model in the background: loading it off the event loop, and its state for the client.

Requests that come while the model loads (or after it failed) get empty results; the state
changes are reported through `on_state` so the server can tell the client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import model
from santa_lsp.settings import Settings
from santa_lsp.worker import Worker

log = logging.getLogger(__name__)

NO_MODEL = (
    "no model configured and none shipped with this installation: "
    "start santa-lsp with --model PATH or set santaLsp.model"
)


@dataclass(frozen=True)
class State:
    state: str  # "loading" | "ready" | "error"
    message: str


class ModelHost:
    def __init__(self, worker: Worker, on_state: Callable[[State], None], *, log_errors: bool = True) -> None:
        self._worker = worker
        self._on_state = on_state
        # False when the caller reports the error state itself (`santa-lsp complete` prints it):
        # logging it as well would show the same line twice on the same terminal.
        self._log_errors = log_errors
        self._loads = 0  # only the latest load's outcome counts
        self.engine: model.Engine | None = None
        self.state = State("loading", "")

    @property
    def ready(self) -> bool:
        return self.engine is not None and self.state.state == "ready"

    async def load(self, settings: Settings) -> None:
        self._loads += 1
        ticket = self._loads
        self.engine = None
        path = settings.model or model.default_model()
        if not path:
            self._set(State("error", NO_MODEL))
            return
        self._set(State("loading", f"loading {path} ({settings.device}, {settings.dtype})"))
        try:
            engine = await self._worker.run(lambda: _load(settings, str(path)))
        except model.LoadError as exc:
            if ticket == self._loads:
                self._set(State("error", f"cannot load the model: {exc}"))
            return
        if ticket == self._loads:
            self.engine = engine
            where = f"{path}: context {engine.context_length} tokens"
            fim = "" if engine.tokenizer.has_fim else " (no FIM tokens: left-to-right completion only)"
            self._set(State("ready", where + fim))

    def _set(self, state: State) -> None:
        self.state = state
        if state.state != "error":
            log.info("model %s: %s", state.state, state.message)
        elif self._log_errors:
            log.error("model %s: %s", state.state, state.message)
        self._on_state(state)


def _load(settings: Settings, path: str) -> model.Engine:
    try:
        return model.load(path, settings.device, settings.dtype, prefix_cache_mb=settings.prefixCacheMb)
    except model.LoadError:
        raise
    except Exception as exc:  # a loader bug must not take the server down: report it the same way
        log.exception("unexpected error while loading %s", path)
        raise model.LoadError(f"{type(exc).__name__}: {exc}") from exc
