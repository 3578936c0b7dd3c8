"""Completions from an inference server over HTTP (docs/backends.md).

Two protocols, chosen by the `backend` setting:
- `llama.cpp`: llama-server's `/infill`. The server lays out the FIM prompt with the FIM tokens
  of its GGUF, in its own order: PSM, which is SantaCoder's, unless it was started with
  `--spm-infill` (its SPM is not SantaCoder's). Cross-file chunks go as `input_extra`.
- `openai`: `/v1/completions` of any OpenAI-compatible server (vLLM, TGI, llama.cpp, Ollama).
  The FIM prompt is built here from the model's own tokenizer (model.fim's order and budget)
  and sent as text, its FIM tokens spelled out, which these servers read back as the tokens.

HTTP goes through httpx2 (httpx's successor, already installed as huggingface_hub's
dependency): async, so a superseded request is aborted by cancelling its task, which closes the
connection (llama-server then stops generating); and with timeouts. Answers are streamed
(server-sent events), so that when the time budget runs out the text so far is kept and the
connection closed, as the local runtime keeps what it generated within the budget.

The prompt window is sized by the served model's tokenizer when `model` names it. Without one
(llama.cpp only: the OpenAI protocol needs the FIM tokens), tokens are estimated as
`CHARS_PER_TOKEN` characters of a `DEFAULT_CONTEXT`-token context, and llama-server cuts what
does not fit its own context. The API key is read from the environment variable named by
`backendApiKeyEnv` when a request is made; it is never logged, and an error message that would
quote it has it replaced.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from dataclasses import dataclass
from typing import Any

import httpx2

import model
from model import fim
from santa_lsp.settings import Settings

CHARS_PER_TOKEN = 3  # code runs 3 to 4 characters a token in BPE vocabularies: 3 errs short
DEFAULT_CONTEXT = 2048  # SantaCoder's, when no tokenizer says
_BODY_QUOTE = 120  # characters of a bad answer quoted in the error


class RemoteError(Exception):
    """The server could not give a completion: one line for the user, without the API key."""


@dataclass(frozen=True)
class RemoteRequest:
    prefix: str  # the prefix window, without the cross-file context
    suffix: str
    context: str  # cross-file chunks
    fim_mode: str
    max_new_tokens: int
    temperature: float
    stop: tuple[str, ...]
    time_budget_ms: int  # 0: none
    cache_prompt: bool


class RemoteJob:
    """One request in flight, cancellable from the event loop like a local generation (worker.Job)."""

    def __init__(self, task: asyncio.Future[model.Completion]) -> None:
        self._task = task

    def cancel(self) -> None:
        self._task.cancel()  # httpx2 closes the connection: the server stops generating

    async def wait(self) -> model.Completion | None:
        """The completion; None when cancelled; RemoteError when the server failed. When the
        caller itself is cancelled ($/cancelRequest), so is the request."""
        try:
            await asyncio.wait({self._task})
        except asyncio.CancelledError:
            self.cancel()
            raise
        return None if self._task.cancelled() else self._task.result()


class RemoteModel:
    """One inference server: its address, protocol and the served model's tokenizer, if known."""

    def __init__(self, settings: Settings, tokenizer: model.Tokenizer | None, context_length: int) -> None:
        if settings.backend == "openai" and (tokenizer is None or not tokenizer.has_fim):
            raise RemoteError(
                "the openai backend builds FIM prompts from the served model's FIM tokens: set `model` to that "
                "model's directory or Hub id (its tokenizer.json is read, not its weights)"
            )
        self.protocol = settings.backend
        self.url = settings.backendUrl.rstrip("/")
        self.model_name = settings.backendModel
        self.key_env = settings.backendApiKeyEnv
        self.timeout_s = settings.backendTimeoutMs / 1000 if settings.backendTimeoutMs else None
        self.tokenizer = tokenizer
        self.context_length = context_length
        self._client = httpx2.AsyncClient(timeout=httpx2.Timeout(self.timeout_s), trust_env=False)

    def describe(self) -> str:
        sizing = "by its tokenizer" if self.tokenizer else f"by characters ({CHARS_PER_TOKEN} a token)"
        return f"{self.protocol} server at {self.url}, prompts sized {sizing}, context {self.context_length} tokens"

    def count_tokens(self, text: str) -> int:
        if self.tokenizer is not None:
            return len(self.tokenizer.encode(text))
        return math.ceil(len(text) / CHARS_PER_TOKEN)

    async def close(self) -> None:
        await self._client.aclose()

    async def complete(self, request: RemoteRequest) -> model.Completion:
        """The server's completion; RemoteError when there is none. Cancelling the awaiting task
        closes the connection."""
        started = time.perf_counter()
        budget_s = request.time_budget_ms / 1000 if request.time_budget_ms else None
        if self.protocol == "llama.cpp":
            url = self.url + "/infill"
            events, cut = await self._stream(url, self._infill(request), budget_s)
            return _from_infill(events, url, cut, request, time.perf_counter() - started)
        url = self.url + "/v1/completions"
        body, trimmed = self._openai(request)
        events, cut = await self._stream(url, body, budget_s)
        return _from_openai(events, url, cut, time.perf_counter() - started, trimmed)

    # --- requests --------------------------------------------------------------------------

    def _infill(self, request: RemoteRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "input_prefix": request.prefix,
            "input_suffix": request.suffix,
            "input_extra": [{"filename": "", "text": request.context}] if request.context else [],
            "n_predict": request.max_new_tokens,
            "temperature": request.temperature,
            # llama-server samples with top-k 40, top-p 0.95 and min-p 0.05 unless told otherwise;
            # our runtime samples from the whole distribution.
            "top_k": 0,
            "top_p": 1.0,
            "min_p": 0.0,
            "stop": list(request.stop),
            "cache_prompt": request.cache_prompt,
            "n_probs": 1,  # the chosen token's log-probability, for the confidence gate
            "stream": True,
        }
        if request.time_budget_ms:
            # llama-server stops at the first line end after this long (measured from its first token).
            body["t_max_predict_ms"] = request.time_budget_ms
        return body

    def _openai(self, request: RemoteRequest) -> tuple[dict[str, Any], int]:
        """The request body, and how many prompt tokens had to be cut to fit the context."""
        assert self.tokenizer is not None  # checked in __init__
        prefix = self.tokenizer.encode(request.context + request.prefix)
        suffix = self.tokenizer.encode(request.suffix)
        budget = fim.prompt_budget(self.context_length, request.max_new_tokens)
        fitted_prefix, fitted_suffix = fim.fit_prefix_suffix(prefix, suffix, budget)
        ids = fim.arrange(fitted_prefix, fitted_suffix, request.fim_mode, self.tokenizer.fim)
        body: dict[str, Any] = {
            "prompt": self.tokenizer.decode(ids),
            "max_tokens": request.max_new_tokens,
            "temperature": request.temperature,
            "stop": list(request.stop)[:4] or None,  # OpenAI's limit; postprocess applies all of them
            "logprobs": 1,
            "stream": True,
        }
        if self.model_name:
            body["model"] = self.model_name
        return body, len(prefix) + len(suffix) - len(fitted_prefix) - len(fitted_suffix)

    async def _stream(
        self, url: str, body: dict[str, Any], budget_s: float | None
    ) -> tuple[list[dict[str, Any]], bool]:
        """The answer's events (a single one from a server that does not stream), and whether
        the time budget cut them short. Errors, a timeout and bad bodies raise RemoteError."""
        key = os.environ.get(self.key_env, "") if self.key_env else ""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        events: list[dict[str, Any]] = []
        deadline = None if budget_s is None else asyncio.get_running_loop().time() + budget_s
        try:
            async with (
                asyncio.timeout(self.timeout_s),
                self._client.stream("POST", url, json=body, headers=headers) as response,
            ):
                if response.status_code >= 400:
                    await response.aread()
                    raise self._error(f"{url} answered HTTP {response.status_code}: {_quote(response.text)}", key)
                if not response.headers.get("content-type", "").startswith("text/event-stream"):
                    await response.aread()
                    return [self._json(response.text, response.headers.get("content-type"), url, key)], False
                try:
                    async with asyncio.timeout_at(deadline):
                        async for line in response.aiter_lines():
                            data = line.removeprefix("data:").strip() if line.startswith("data:") else ""
                            if data == "[DONE]":
                                break
                            if data:
                                events.append(self._json(data, "an event", url, key))
                except TimeoutError:
                    return events, True  # leaving the block closes the connection
        except TimeoutError:
            raise self._error(f"{url}: no answer within {self.timeout_s:g} s (backendTimeoutMs)", key) from None
        except httpx2.HTTPError as exc:
            raise self._error(f"{url}: {type(exc).__name__}: {exc}", key) from None
        return events, False

    def _json(self, text: str, kind: str | None, url: str, key: str) -> dict[str, Any]:
        try:
            answer = json.loads(text)
        except json.JSONDecodeError:
            raise self._error(f"{url} answered {kind or 'no content type'}, not JSON: {_quote(text)}", key) from None
        if not isinstance(answer, dict):
            raise self._error(f"{url} answered JSON that is not an object: {_quote(text)}", key)
        return answer

    @staticmethod
    def _error(message: str, key: str) -> RemoteError:
        return RemoteError(message.replace(key, "***") if key else message)


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat[:_BODY_QUOTE] + ("..." if len(flat) > _BODY_QUOTE else ""))


# --- answers -----------------------------------------------------------------------------------


def _field(answer: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = answer.get(key)
    if not isinstance(value, kind):
        raise RemoteError(f"{where}: the answer has no valid {key!r} (got {_quote(json.dumps(value))})")
    return value


def _from_infill(
    events: list[dict[str, Any]], url: str, cut: bool, request: RemoteRequest, elapsed: float
) -> model.Completion:
    text = "".join(_field(event, "content", str, url) for event in events)
    last = events[-1] if events else {}
    timings = last.get("timings") if isinstance(last.get("timings"), dict) else {}
    reason = {"eos": "eos", "word": "stop"}.get(last.get("stop_type"), "length")
    # llama-server's own time limit (t_max_predict_ms) also ends with stop_type "limit".
    limited = bool(request.time_budget_ms) and timings.get("predicted_ms", 0) >= request.time_budget_ms
    if cut or (reason == "length" and limited):
        reason = "time"
    probs = [p for event in events for p in event.get("completion_probabilities") or [] if isinstance(p, dict)]
    pieces = [_piece(p) for p in probs]
    return _completion(text, pieces, last.get("tokens_evaluated"), timings.get("cache_n"), reason, elapsed, 0)


def _from_openai(events: list[dict[str, Any]], url: str, cut: bool, elapsed: float, trimmed: int) -> model.Completion:
    # A stream's last events may carry no choice, only the usage (vLLM).
    choices = [choice for event in events for choice in _field(event, "choices", list, url)[:1]]
    if not choices and not cut:
        raise RemoteError(f"{url}: the answer has no choice")
    if not all(isinstance(choice, dict) for choice in choices):
        raise RemoteError(f"{url}: a choice is not an object")
    text = "".join(_field(choice, "text", str, url) for choice in choices)
    ends = [choice["finish_reason"] for choice in choices if choice.get("finish_reason")]
    reason = "time" if cut else "length" if ends[-1:] == ["length"] else "stop"
    usages = [event["usage"] for event in events if isinstance(event.get("usage"), dict)]
    usage = usages[-1] if usages else {}
    details = usage.get("prompt_tokens_details") if isinstance(usage.get("prompt_tokens_details"), dict) else {}
    pieces = [piece for choice in choices for piece in _openai_pieces(choice.get("logprobs"))]
    return _completion(text, pieces, usage.get("prompt_tokens"), details.get("cached_tokens"), reason, elapsed, trimmed)


def _openai_pieces(logprobs: object) -> list[tuple[object, bytes]]:
    """(log-probability, bytes) per token, from either shape servers use: the completions API's
    parallel lists (vLLM, TGI) or the chat API's list of objects (llama.cpp)."""
    if not isinstance(logprobs, dict):
        return []
    if isinstance(logprobs.get("token_logprobs"), list) and isinstance(logprobs.get("tokens"), list):
        pairs = zip(logprobs["token_logprobs"], logprobs["tokens"], strict=False)
        return [(logprob, str(token).encode()) for logprob, token in pairs]
    content = logprobs.get("content")
    if isinstance(content, list):
        return [_piece(p) for p in content if isinstance(p, dict)]
    return []


def _piece(prob: dict[str, Any]) -> tuple[object, bytes]:
    """llama.cpp's token object: its log-probability and bytes (a token may hold part of a character)."""
    return prob.get("logprob"), bytes(prob.get("bytes") or str(prob.get("token", "")).encode())


def _completion(
    text: str, pieces: list[tuple[object, bytes]], prompt_tokens: object, cached: object, reason: str,
    elapsed: float, trimmed: int,
) -> model.Completion:  # fmt: skip
    """A Completion as the local runtime gives it; the token log-probabilities and text ends
    only when every token has a number (else the confidence gate has nothing to judge)."""
    logprobs: list[float] = []
    ends: list[int] = []
    seen = b""
    for logprob, piece in pieces:
        if not isinstance(logprob, int | float) or isinstance(logprob, bool):
            logprobs, ends = [], []
            break
        seen += piece
        logprobs.append(float(logprob))
        ends.append(min(len(seen.decode("utf-8", errors="ignore")), len(text)))
    return model.Completion(
        text=text,
        token_ids=[],
        prompt_tokens=prompt_tokens if isinstance(prompt_tokens, int) else 0,
        reused_tokens=cached if isinstance(cached, int) else 0,
        finish_reason=reason,
        elapsed_s=elapsed,
        token_logprobs=logprobs,
        token_ends=ends,
        trimmed_tokens=trimmed,
    )
