"""The model in the background: loading it off the event loop, and its state for the client.

Requests that come while the model loads (or after it failed) get empty results; the state
changes are reported through `on_state` so the server can tell the client.

With a remote backend (santa_lsp/remote.py) there is no network to load, only the served
model's tokenizer; a server that stops answering turns the state to "error" once, and its next
answer turns it back to "ready": requests keep going to it meanwhile, so it recovers by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import model
from santa_lsp.remote import DEFAULT_CONTEXT, RemoteError, RemoteModel
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
        self.remote: RemoteModel | None = None
        self.state = State("loading", "")

    @property
    def ready(self) -> bool:
        return self.remote is not None or (self.engine is not None and self.state.state == "ready")

    async def load(self, settings: Settings) -> None:
        self._loads += 1
        ticket = self._loads
        self.engine = None
        await self.close()
        if settings.backend != "local":
            await self._connect(settings, ticket)
            return
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

    async def close(self) -> None:
        if self.remote is not None:
            remote, self.remote = self.remote, None
            await remote.close()

    async def _connect(self, settings: Settings, ticket: int) -> None:
        path = settings.model
        if path:
            self._set(State("loading", f"reading the tokenizer of {path}"))
        try:
            tokenizer, context = (
                await self._worker.run(lambda: model.load_tokenizer_only(path)) if path else (None, DEFAULT_CONTEXT)
            )
            remote = RemoteModel(settings, tokenizer, context)
        except (model.LoadError, RemoteError) as exc:
            if ticket == self._loads:
                self._set(State("error", f"cannot use the {settings.backend} backend: {exc}"))
            return
        if ticket != self._loads:
            await remote.close()
            return
        self.remote = remote
        self._set(State("ready", remote.describe()))

    def remote_failed(self, error: RemoteError) -> None:
        """The server gave no completion: said once, until it answers again."""
        if self.state.state != "error":
            self._set(State("error", f"{error} (completions resume when the server answers)"))

    def remote_answered(self) -> None:
        if self.remote is not None and self.state.state == "error":
            self._set(State("ready", f"answering again: {self.remote.describe()}"))

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
