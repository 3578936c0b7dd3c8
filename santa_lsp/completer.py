"""One completion request, from a cursor to a suggestion: typed-ahead cache, prompt, model, rules.

Latest wins: a new request for a document cancels the generation still running for it, so
the model never works on text the user has already typed past. The generation runs on the local
runtime (worker.py) or on an inference server (remote.py); everything around it is the same.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import model
from santa_lsp.documents import Document, strip_end
from santa_lsp.model_host import ModelHost
from santa_lsp.postprocess import MIN_CHARS, Suggestion, block_ended, confident_part, finish
from santa_lsp.prompt import Prompt, PromptBuilder
from santa_lsp.remote import RemoteError, RemoteJob, RemoteModel, RemoteRequest
from santa_lsp.settings import Settings
from santa_lsp.syntax import valid_part
from santa_lsp.typed_ahead import Shown, TypedAhead
from santa_lsp.window import Cursor, TokenCounter
from santa_lsp.worker import Job, Worker

log = logging.getLogger(__name__)


@dataclass
class Metrics:
    """Counters since the server started (request `santa/metrics`; the benchmark reads them)."""

    requests: int = 0
    typedAheadHits: int = 0  # camelCase: sent to the client as is
    modelCalls: int = 0
    cancelled: int = 0
    promptTokens: int = 0
    reusedTokens: int = 0
    trimmedPrompts: int = 0  # prompts the engine had to cut: the prompt builder under-counted
    # What the gates took away (docs/protocol.md): generations stopped at a loop, suggestions
    # cut (or dropped) where they would break the line, and suggestions hidden as unsure.
    repetitionStops: int = 0
    syntaxCut: int = 0
    unsureDropped: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class Completer:
    def __init__(self, host: ModelHost, worker: Worker) -> None:
        self.host = host
        self.worker = worker
        self.typed_ahead = TypedAhead()
        self.metrics = Metrics()
        self._jobs: dict[str, Job | RemoteJob] = {}
        self._builder: tuple[model.Engine | RemoteModel, PromptBuilder, list[str]] | None = None

    def cancel(self, uri: str) -> None:
        job = self._jobs.pop(uri, None)
        if job is not None:
            job.cancel()

    def cancel_all(self) -> None:
        for uri in list(self._jobs):
            self.cancel(uri)

    def forget(self, uri: str) -> None:
        self.cancel(uri)
        self.typed_ahead.forget(uri)
        if self._builder is not None:
            self._builder[1].chunks.forget(uri)

    async def complete(
        self, doc: Document, cursor: Cursor, settings: Settings, others: Iterable[Document]
    ) -> Suggestion | None:
        self.metrics.requests += 1
        self.cancel(doc.uri)  # latest wins: whatever ran for this document is stale now
        line = strip_end(doc.lines[cursor.line])
        left, right = line[: cursor.column], line[cursor.column :]
        if settings.cache and (
            hit := self.typed_ahead.lookup(doc.uri, cursor.line, left, right, settings.minTokenProb)
        ):
            self.metrics.typedAheadHits += 1
            return hit
        source = self.host.remote or self.host.engine
        if source is None or not self.host.ready:
            return None
        builder, markers = self._builder_for(source)
        max_new = max(1, min(settings.maxNewTokens, source.context_length // 2))
        cross = settings.crossFileTokens if settings.crossFile else 0
        prompt = builder.build(doc, cursor, max_new, others, cross)
        if "\x00" in prompt.prefix or "\x00" in prompt.suffix:
            log.warning("%s: NUL characters near the cursor (a binary file?): no completion", doc.uri)
            return None
        config = _config(settings, prompt, max_new)
        if isinstance(source, RemoteModel):
            completion = await self._ask(doc.uri, source, _remote_request(prompt, config, settings))
        else:
            completion = await self._generate(doc.uri, source, prompt, config)
        if completion is None:
            return None
        suggestion = self._gate(
            finish(completion.text, prompt.situation, settings.stop, markers, completion.finish_reason),
            completion, doc.language_id, prompt, settings,
        )  # fmt: skip
        if suggestion is not None:
            confidence = tuple(completion.token_logprobs), tuple(completion.token_ends)
            self.typed_ahead.remember(doc.uri, Shown(cursor.line, left, right, suggestion, *confidence))
        return suggestion

    async def _generate(
        self, uri: str, engine: model.Engine, prompt: Prompt, config: _Config
    ) -> model.Completion | None:
        if engine.tokenizer.has_fim:
            job = Job(lambda: engine.stream_infill(prompt.prefix, prompt.suffix, config.fim_mode, config.gen))
        elif prompt.prefix:
            job = Job(lambda: engine.stream(prompt.prefix, config.gen))
        else:
            return None  # left-to-right with nothing to the left: nothing to go on
        self._jobs[uri] = job
        try:
            completion = await self.worker.run(job)
        except asyncio.CancelledError:  # $/cancelRequest, or the client went away
            job.cancel()
            self.metrics.cancelled += 1
            raise
        finally:
            if self._jobs.get(uri) is job:
                del self._jobs[uri]
        if completion is None or completion.finish_reason == "cancelled":
            self.metrics.cancelled += 1
            return None
        return self._count(completion)

    async def _ask(self, uri: str, remote: RemoteModel, request: RemoteRequest) -> model.Completion | None:
        """The inference server's completion; None when superseded or when the server failed
        (the host reports that once, and the next answer clears it)."""
        job = RemoteJob(asyncio.ensure_future(remote.complete(request)))
        self._jobs[uri] = job
        try:
            completion = await job.wait()
        except asyncio.CancelledError:  # $/cancelRequest, or the client went away: the request is aborted
            self.metrics.cancelled += 1
            raise
        except RemoteError as error:
            log.debug("remote completion failed: %s", error)
            self.host.remote_failed(error)
            return None
        finally:
            if self._jobs.get(uri) is job:
                del self._jobs[uri]
        if completion is None:  # a newer request (or the client) cancelled it: the connection is closed
            self.metrics.cancelled += 1
            return None
        self.host.remote_answered()
        return self._count(completion)

    def _count(self, completion: model.Completion) -> model.Completion:
        self.metrics.modelCalls += 1
        self.metrics.promptTokens += completion.prompt_tokens
        self.metrics.reusedTokens += completion.reused_tokens
        if completion.trimmed_tokens > 0:
            self.metrics.trimmedPrompts += 1
        log.debug(
            "completion: %d prompt tokens (%d reused), %d new, %s, %.0f ms",
            completion.prompt_tokens,
            completion.reused_tokens,
            len(completion.token_ids),
            completion.finish_reason,
            completion.elapsed_s * 1000,
        )
        return completion

    def _gate(
        self, suggestion: Suggestion | None, completion: model.Completion, language_id: str, prompt: Prompt,
        settings: Settings,
    ) -> Suggestion | None:  # fmt: skip
        """The suggestion if it is worth showing: the syntax check judges the model's whole line,
        then the confidence cut keeps the part the model was sure of."""
        if completion.finish_reason == "repetition":
            self.metrics.repetitionStops += 1
        if suggestion is None:
            return None
        if settings.syntaxCheck:  # also what makes the part before a loop stand alone
            text = valid_part(language_id, prompt.situation, suggestion.text)
            if text != suggestion.text:
                log.debug("cut to %r: the rest breaks the line: %r", text, suggestion.text)
                self.metrics.syntaxCut += 1
                if len(text) < MIN_CHARS:
                    return None
                suggestion = Suggestion(text, 0)
        kept = confident_part(suggestion, completion.token_logprobs, completion.token_ends, settings.minTokenProb)
        if kept is None:
            self.metrics.unsureDropped += 1
        return kept

    def _builder_for(self, source: model.Engine | RemoteModel) -> tuple[PromptBuilder, list[str]]:
        if self._builder is None or self._builder[0] is not source:
            if isinstance(source, RemoteModel):
                count, markers = source.count_tokens, special_markers(source.tokenizer) if source.tokenizer else []
            else:
                tokenizer = source.tokenizer
                count, markers = (lambda text: len(tokenizer.encode(text))), special_markers(tokenizer)
            self._builder = (source, PromptBuilder(TokenCounter(count), source.context_length), markers)
        return self._builder[1], self._builder[2]


@dataclass(frozen=True)
class _Config:
    gen: model.GenerationConfig
    fim_mode: str


def _config(settings: Settings, prompt: Prompt, max_new: int) -> _Config:
    # Finishing a line: the first line end is the end, and no token is spent past it. Writing a
    # block: the first line that leaves the cursor's scope is.
    situation = prompt.situation
    stops = settings.stop if situation.multiline else ("\n", *settings.stop)
    block_end = functools.partial(block_ended, scope_indent=situation.scope_indent) if situation.multiline else None
    gen = model.GenerationConfig(
        max_new_tokens=max_new,
        temperature=settings.temperature,
        stop=stops,
        stop_when=block_end,
        time_budget_s=settings.timeBudgetMs / 1000 if settings.timeBudgetMs else None,
        use_prefix_cache=settings.cache,
        stop_on_repetition=settings.stopRepetition,
        heal=settings.tokenHealing,
    )
    return _Config(gen, settings.fimMode)


def _remote_request(prompt: Prompt, config: _Config, settings: Settings) -> RemoteRequest:
    """What the server is asked: the local generation's limits, less what only the local runtime
    does (token healing, the loop stop, the block-end rule: postprocess still cuts at the scope's end)."""
    gen = config.gen
    return RemoteRequest(
        prefix=prompt.window,
        suffix=prompt.suffix,
        context=prompt.context,
        fim_mode=config.fim_mode,
        max_new_tokens=gen.max_new_tokens,
        temperature=gen.temperature,
        stop=tuple(gen.stop),
        time_budget_ms=settings.timeBudgetMs,
        cache_prompt=settings.cache,
    )


def special_markers(tokenizer: model.Tokenizer) -> list[str]:
    """The special tokens written out: a model can also spell them with ordinary tokens."""
    ids = [] if tokenizer.eos_id is None else [tokenizer.eos_id]
    if tokenizer.has_fim:
        fim = tokenizer.fim
        ids += [fim.prefix, fim.middle, fim.suffix]
    return [tokenizer.decode([token]) for token in ids]
