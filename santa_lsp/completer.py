"""One completion request, from a cursor to a suggestion: typed-ahead cache, prompt, model, rules.

Latest wins: a new request for a document cancels the generation still running for it, so
the model never works on text the user has already typed past (unless it agrees with that text:
`keepAgreeing`, below). The generation runs on the local
runtime (worker.py) or on an inference server (remote.py); everything around it is the same. What a
request leaves behind for the next one (the running job, local or remote, the suggestions shown, the
prompt window) is kept in the document's record (santa_lsp/workspace.py), not here.

Warm-up (`santa/prefill`): when the editor puts the cursor where the user is about to type, the
prompt there is prefilled in idle time, generating nothing, so that the first request there finds
its keys and values in the prefix cache. It never delays a request: it starts only when no
request is in flight, and every request cancels it first.

Generations ahead of their request (santa_lsp/ahead.py): with `keepAgreeing`, a request or an edit
spares the document's generation when the text typed since it was asked agrees with what it
writes, and a request there waits for it instead of starting another; with `prefetchNext`, the
suggestion that would follow accepting the one just shown is made in idle time (with none shown
at the end of a line, the one after Enter and the editor's indentation). A prefetch is
background work like a warm-up: a request anywhere else cancels it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from copy import copy
from dataclasses import asdict, dataclass

import model
from santa_lsp import typed_ahead
from santa_lsp.ahead import Ahead, accepted
from santa_lsp.documents import strip_end
from santa_lsp.model_host import ModelHost
from santa_lsp.postprocess import MIN_CHARS, Suggestion, block_ended, confident_part, finish
from santa_lsp.prompt import Prompt, PromptBuilder
from santa_lsp.remote import RemoteError, RemoteJob, RemoteModel, RemoteRequest
from santa_lsp.settings import Settings
from santa_lsp.situation import indent_after_enter
from santa_lsp.syntax import valid_part
from santa_lsp.typed_ahead import Shown
from santa_lsp.window import Cursor, TokenCounter
from santa_lsp.worker import Job, Worker
from santa_lsp.workspace import OpenDocument, Workspace

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
    duplicateCandidates: int = 0  # candidates that came out of the rules as an earlier one's text
    warmUps: int = 0  # prompts prefilled ahead of a request (santa/prefill) to the end
    recentEditPrompts: int = 0  # prompts of requests that carried recently edited regions (recentEdits)
    copiedTexts: int = 0  # copied texts taken into the ring of recent edits (santa/copied, recentEdits)
    keptAlive: int = 0  # requests given a suggestion by an earlier request's generation, kept alive (keepAgreeing)
    prefetchHits: int = 0  # requests given a suggestion by a generation made before the accept (prefetchNext)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class Completer:
    def __init__(self, host: ModelHost, worker: Worker) -> None:
        self.host = host
        self.worker = worker
        self.metrics = Metrics()
        self._builder: tuple[model.Engine | RemoteModel, PromptBuilder, list[str]] | None = None
        self._requests_in_flight = 0
        self._background: set[Job] = set()  # warm-ups and prefetches, running or queued: requests cancel them
        self._tasks: set[asyncio.Task[None]] = set()  # prefetches waiting for the answer to go out

    async def complete(
        self, entry: OpenDocument, cursor: Cursor, settings: Settings, workspace: Workspace
    ) -> list[Suggestion]:
        """The suggestions worth showing at the cursor, best first and distinct (none: [])."""
        self.metrics.requests += 1
        version = entry.doc.version
        self._requests_in_flight += 1
        try:
            suggestions = await self._complete(entry, cursor, settings, workspace)
        finally:
            self._requests_in_flight -= 1
        if (
            settings.prefetchNext
            and entry.doc.version == version  # else the user has moved on from what was answered
            and (following := self._following(entry, cursor, suggestions)) is not None
        ):
            task = asyncio.ensure_future(self._prefetch(entry, cursor, following, settings, workspace))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return suggestions

    @staticmethod
    def _following(entry: OpenDocument, cursor: Cursor, suggestions: list[Suggestion]) -> Suggestion | None:
        """What the user likely writes next at the cursor, whose outcome is worth prefetching: the
        suggestion shown; with none at the end of a line that an accept completed (this answer is
        the accept's prefetch), Enter and the indentation the editor adds. None: nothing to go on.
        (While the user types a line by hand the cursor is at its end at every keystroke, and a
        prefetch of the next line would be thrown away at the next one.)"""
        if suggestions:
            return suggestions[0]
        doc, ahead = entry.doc, entry.ahead
        if doc.lines[cursor.line][cursor.column :].strip():
            return None
        if ahead is None or not ahead.prefetched or not ahead.answers(doc, cursor):
            return None
        return Suggestion("\n" + indent_after_enter(doc.lines, cursor.line, doc.language_id), replace=0)

    async def _complete(
        self, entry: OpenDocument, cursor: Cursor, settings: Settings, workspace: Workspace
    ) -> list[Suggestion]:
        doc, version = entry.doc, entry.doc.version
        line = strip_end(doc.lines[cursor.line])
        left, right = line[: cursor.column], line[cursor.column :]
        ahead = entry.ahead  # spared if the text typed since it was asked agrees with it
        if ahead is not None and not ahead.agrees(ahead.typed(doc)):
            ahead = None
        self._stop_background(spare=ahead)  # a request never waits behind a warm-up or a prefetch
        if ahead is None:
            entry.cancel()  # latest wins: whatever ran for this document is stale now
        elif ahead.beyond_cache and ahead.answers(doc, cursor):
            hits = await self._take(ahead, doc.lines, cursor.line, left, right, settings)
            # A prefetch made at this very place had this request's prompt: nothing is nothing.
            exact = ahead.prefetched and ahead.typed(doc) == ahead.given
            if hits or exact or entry.doc.version != version:  # (or a newer request has the document now)
                return hits[: settings.candidates]
        # else a prefetch, while the user types through the suggestion it follows: the cache answers
        if settings.cache and (
            hits := typed_ahead.lookup(entry.shown, cursor.line, left, right, settings.minTokenProb, doc.lines)
        ):
            self.metrics.typedAheadHits += 1
            return hits[: settings.candidates]
        entry.cancel()
        source = self._source()
        if source is None or not self.host.ready:
            return []
        prompt, config = self._prompt(source, entry, cursor, settings, workspace)
        if prompt is None:
            return []
        if prompt.recent_tokens:
            self.metrics.recentEditPrompts += 1
        if isinstance(source, RemoteModel):  # one candidate: the servers' FIM endpoints give one
            completions = await self._ask(entry, source, _remote_request(prompt, config, settings))
            kept = self._worth_showing(completions, prompt, source, doc.language_id, settings)
            if kept and self._source() is source:  # not a model (or server) replaced meanwhile
                entry.shown = [_shown(cursor.line, left, right, s, c) for s, c in kept]
            return [suggestion for suggestion, _ in kept]
        started = self._start(entry, source, prompt, config, settings, (cursor.line, left, right))
        if started is None:
            return []
        job, shown = started
        if settings.keepAgreeing:
            entry.ahead = Ahead(job, cursor.line, left, right, "", len(doc.lines), shown)
        try:
            return [s.suggestion for s in await asyncio.shield(shown)]
        except asyncio.CancelledError:  # $/cancelRequest, or the client went away
            if not settings.keepAgreeing:  # else it lives on for the next request, if that one agrees
                job.cancel()
            raise

    async def _take(
        self, ahead: Ahead, lines: list[str], line: int, left: str, right: str, settings: Settings
    ) -> list[Suggestion]:
        """The suggestions of a generation ahead of this request, once it is done."""
        if not ahead.job.done:
            ahead.kept = True
        shown = await asyncio.shield(ahead.suggestions)
        hits = typed_ahead.lookup(shown, line, left, right, settings.minTokenProb, lines)
        if hits and ahead.prefetched:
            self.metrics.prefetchHits += 1
        elif hits:
            self.metrics.keptAlive += 1
        return hits

    def _start(
        self, entry: OpenDocument, engine: model.Engine, prompt: Prompt, config: _Config, settings: Settings,
        place: tuple[int, str, str],
    ) -> tuple[Job, asyncio.Future[list[Shown]]] | None:  # fmt: skip
        """Start a local generation for the document: its job, and the future of the suggestions
        it will show at `place` (the cursor's line, and the text left and right of it). None with
        nothing to go on."""
        job = _job(engine, prompt, config.gen, config.fim_mode)
        if job is None:
            return None
        entry.job = job
        return job, asyncio.ensure_future(self._generate(entry, engine, job, prompt, settings, place))

    async def warm(self, entry: OpenDocument, cursor: Cursor, settings: Settings, workspace: Workspace) -> None:
        """Prefill the prompt a request at the cursor would have, if the local model is idle."""
        engine = self._idle_engine(entry)
        if engine is None:
            return
        prompt, config = self._prompt(engine, entry, cursor, settings, workspace)
        prefill_only = dataclasses.replace(config.gen, max_new_tokens=0)
        job = _job(engine, prompt, prefill_only, config.fim_mode) if prompt else None
        if job is None:
            return
        self._background.add(job)
        try:
            completions = await self.worker.run(job)
        finally:
            self._background.discard(job)
        if completions and completions[0].finish_reason != "cancelled":
            self.metrics.warmUps += 1
            log.debug("warm-up: %d prompt tokens prefilled", completions[0].prompt_tokens)

    async def _prefetch(
        self, entry: OpenDocument, cursor: Cursor, suggestion: Suggestion, settings: Settings,
        workspace: Workspace,
    ) -> None:  # fmt: skip
        """Make, in idle time, the suggestions a request would get once `suggestion` (just shown
        at the cursor) is accepted; a request or an edit anywhere else cancels it."""
        version = entry.doc.version
        await asyncio.sleep(0)  # the answer that shows the suggestion goes out first
        doc = entry.doc
        engine = self._idle_engine(entry)
        if engine is None or doc.version != version:
            return
        after, at = accepted(doc, cursor, suggestion)
        if entry.ahead is not None and entry.ahead.prefetched and entry.ahead.answers(after, at):
            return  # the rest of a suggestion whose acceptance is prefetched already
        # A copy of the window: the prompt is the one a request there would build, and the real
        # document's window stays where it is if the suggestion is not taken.
        prompt, config = self._prompt(engine, OpenDocument(after, window=copy(entry.window)), at, settings, workspace)
        if prompt is None:
            return
        then = strip_end(after.lines[at.line])
        started = self._start(entry, engine, prompt, config, settings, (at.line, then[: at.column], then[at.column :]))
        if started is None:
            return
        job, shown = started
        line = strip_end(doc.lines[cursor.line])
        left, right = line[: cursor.column], line[cursor.column + suggestion.replace :]
        entry.ahead = Ahead(job, cursor.line, left, right, suggestion.text, len(doc.lines), shown)
        self._background.add(job)
        try:
            await asyncio.shield(shown)
        finally:
            self._background.discard(job)

    def _idle_engine(self, entry: OpenDocument) -> model.Engine | None:
        """The local model, if no request is in flight and nothing else runs or waits for it."""
        engine = self.host.engine if self.host.remote is None and self.host.ready else None
        if self._requests_in_flight or self._background or entry.job is not None:
            return None
        return engine

    def _stop_background(self, spare: Ahead | None) -> None:
        for job in self._background:
            if spare is None or job is not spare.job:
                job.cancel()

    def _prompt(
        self, source: model.Engine | RemoteModel, entry: OpenDocument, cursor: Cursor, settings: Settings,
        workspace: Workspace,
    ) -> tuple[Prompt | None, _Config]:  # fmt: skip
        """The prompt at the cursor and its generation settings (no prompt: nothing to ask)."""
        builder = self._builder_for(source)[0]
        max_new = max(1, min(settings.maxNewTokens, source.context_length // 2))
        cross = settings.crossFileTokens if settings.crossFile else 0
        recent = settings.recentEditsTokens if settings.recentEdits else 0
        prompt = builder.build(entry, cursor, max_new, workspace, cross, workspace.recent, recent)
        config = _config(settings, prompt, max_new)
        if "\x00" in prompt.prefix or "\x00" in prompt.suffix:
            log.warning("%s: NUL characters near the cursor (a binary file?): no completion", entry.uri)
            return None, config
        return prompt, config

    def _source(self) -> model.Engine | RemoteModel | None:
        """Where completions come from now: the inference server, or else the local model."""
        return self.host.remote or self.host.engine

    def _worth_showing(
        self, completions: list[model.Completion], prompt: Prompt, source: model.Engine | RemoteModel,
        language_id: str, settings: Settings,
    ) -> list[tuple[Suggestion, model.Completion]]:  # fmt: skip
        """Each candidate through the same rules and gates; those left, distinct, best first."""
        markers = self._builder_for(source)[1]
        kept: list[tuple[Suggestion, model.Completion]] = []
        for completion in completions:
            raw = finish(completion.text, prompt.situation, settings.stop, markers, completion.finish_reason)
            suggestion = self._gate(raw, completion, language_id, prompt, settings)
            if suggestion is None:
                continue
            if any(suggestion.text == earlier.text for earlier, _ in kept):
                self.metrics.duplicateCandidates += 1
                continue
            kept.append((dataclasses.replace(suggestion, candidate=len(kept)), completion))
        return kept

    async def _generate(
        self, entry: OpenDocument, engine: model.Engine, job: Job, prompt: Prompt, settings: Settings,
        place: tuple[int, str, str],
    ) -> list[Shown]:  # fmt: skip
        """Run a generation on the worker; the suggestions it makes at its place, best first
        (none when cancelled or when nothing is worth showing), in the typed-ahead cache too."""
        try:
            completions = await self.worker.run(job)
        finally:
            if entry.job is job:
                entry.job = None
        if not completions or completions[0].finish_reason == "cancelled":  # rows stop together
            self.metrics.cancelled += 1
            return []
        kept = self._worth_showing(self._count(completions), prompt, engine, entry.doc.language_id, settings)
        shown = [_shown(*place, suggestion, completion) for suggestion, completion in kept]
        if shown and self._source() is engine:  # not a model replaced meanwhile
            # A prefetch adds to what is shown: the user may still type through it instead.
            prefetched = entry.ahead is not None and entry.ahead.job is job and entry.ahead.prefetched
            entry.shown = [*entry.shown, *shown] if prefetched else shown
        return shown

    async def _ask(self, entry: OpenDocument, remote: RemoteModel, request: RemoteRequest) -> list[model.Completion]:
        """The inference server's completion, as the only candidate; [] when superseded or when
        the server failed (the host reports that once, and the next answer clears it)."""
        job = RemoteJob(asyncio.ensure_future(remote.complete(request)))
        entry.job = job
        try:
            completion = await job.wait()
        except asyncio.CancelledError:  # $/cancelRequest, or the client went away: the request is aborted
            self.metrics.cancelled += 1
            raise
        except RemoteError as error:
            log.debug("remote completion failed: %s", error)
            self.host.remote_failed(error)
            return []
        finally:
            if entry.job is job:
                entry.job = None
        if completion is None:  # a newer request (or the client) cancelled it: the connection is closed
            self.metrics.cancelled += 1
            return []
        self.host.remote_answered()
        return self._count([completion])

    def _count(self, completions: list[model.Completion]) -> list[model.Completion]:
        first = completions[0]  # the prompt and the timing are the batch's
        self.metrics.modelCalls += 1
        self.metrics.promptTokens += first.prompt_tokens
        self.metrics.reusedTokens += first.reused_tokens
        if first.trimmed_tokens > 0:
            self.metrics.trimmedPrompts += 1
        log.debug(
            "completion: %d prompt tokens (%d reused), %d new, %s, %.0f ms, %d candidates",
            first.prompt_tokens,
            first.reused_tokens,
            len(first.token_ids),
            first.finish_reason,
            first.elapsed_s * 1000,
            len(completions),
        )
        return completions

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


def _shown(line: int, left: str, right: str, suggestion: Suggestion, completion: model.Completion) -> Shown:
    return Shown(line, left, right, suggestion, tuple(completion.token_logprobs), tuple(completion.token_ends))


def _job(engine: model.Engine, prompt: Prompt, gen: model.GenerationConfig, fim_mode: str) -> Job | None:
    """The generation for a prompt, to run on the worker; None with nothing to go on (left to
    right with nothing to the left)."""
    if engine.tokenizer.has_fim:
        return Job(lambda: engine.stream_infill(prompt.prefix, prompt.suffix, fim_mode, gen))
    if prompt.prefix:
        return Job(lambda: engine.stream(prompt.prefix, gen))
    return None


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
        candidates=settings.candidates,
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
