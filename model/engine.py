"""The inference engine: prompts in, completions out, with prefix-cache reuse across requests."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import torch

from model import fim
from model.config import ModelConfig
from model.decoding import Decoder
from model.gpt_bigcode import GPTBigCode, KVCache
from model.healing import Agreement, give_back
from model.prefix_cache import PrefixCache
from model.quantize import PrefillChoice
from model.repetition import loop_start
from model.sampling import next_token
from model.tokenizer import StreamDecoder, Tokenizer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerationConfig:
    max_new_tokens: int = 64
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    stop: Sequence[str] = ()  # stop sequences: the text is cut before the first one
    stop_tokens: Sequence[int] = ()  # in addition to EOS and the other special tokens
    # Ends generation (finish_reason "stop", text kept) once it returns True for the text so far:
    # for stops no fixed string can express, such as a code block that has ended.
    stop_when: Callable[[str], bool] | None = None
    time_budget_s: float | None = None  # wall clock, prefill included
    seed: int | None = None
    use_prefix_cache: bool = True
    # Ends generation where a loop began (model/repetition.py), finish_reason "repetition".
    stop_on_repetition: bool = False
    # Until the text holds a non-blank character, no token may end it: no end of text, stop
    # token or line break. None: on for a fill-in-the-middle whose cursor is on a blank line
    # (model.fim.on_blank_line), where an empty middle is never what the user asks for.
    require_code: bool | None = None
    # Completions made together in one batch, from one prefill of the prompt (each row gets a
    # copy of its keys and values: with MQA, one head's worth). Greedy: candidate i starts with
    # the i-th most likely first token and goes on greedily; sampled: candidate i draws with
    # seed + i. Generation.results holds them all, in that order.
    candidates: int = 1
    # Fill-in-the-middle: the prefix's last token is given back and generation begins by
    # writing its text again, in tokens the model chooses (model/healing.py).
    heal: bool = True


@dataclass
class Completion:
    text: str
    token_ids: list[int]
    prompt_tokens: int
    reused_tokens: int  # prompt tokens whose KV came from the prefix cache
    finish_reason: str  # "eos" | "stop" | "length" | "time" | "repetition" | "cancelled"
    elapsed_s: float
    first_token_s: float | None = None
    # Per generated token: its log-probability under the model (before temperature), and the
    # length of `text` once it was decoded; a caller can cut the text where confidence drops.
    token_logprobs: list[float] = field(default_factory=list)
    token_ends: list[int] = field(default_factory=list)
    trimmed_tokens: int = 0  # prompt tokens the engine had to cut to fit (see infill_prompt)


@dataclass
class _Row:
    """What one candidate has produced so far."""

    decoder: StreamDecoder
    generator: torch.Generator | None
    finish_reason: str = "length"
    done: bool = False
    text: str = ""
    emitted: int = 0
    fed: list[int] = field(default_factory=list)  # tokens fed back, in the order of the cache's positions
    logprobs: list[float] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)

    def finish(self, reason: str) -> None:
        if not self.done:
            self.finish_reason, self.done = reason, True


class Generation:
    """A running request: iterate it for the first candidate's streamed text pieces; `result`
    (the first candidate) and `results` (all of them) once it is done.

    `cancel()` may be called from any thread; the loop notices before its next step and
    releases the model.
    """

    def __init__(
        self, engine: Engine, prompt: list[int], config: GenerationConfig, trimmed_tokens: int = 0, given: str = ""
    ) -> None:
        self._engine, self._prompt, self._config = engine, prompt, config
        self._trimmed_tokens = trimmed_tokens  # reported in the Completion
        self._given = given  # the prompt's text given back: each row writes it first, unseen
        self._cancel = threading.Event()
        self._started = 0.0
        self._reused = 0
        self._first_token_s: float | None = None
        self.results: list[Completion] = []
        self._pieces = self._run()

    @property
    def result(self) -> Completion | None:
        return self.results[0] if self.results else None

    def cancel(self) -> None:
        self._cancel.set()

    def __iter__(self) -> Iterator[str]:
        return self._pieces

    def wait(self) -> Completion:
        for _ in self._pieces:
            pass
        assert self.result is not None
        return self.result

    def _run(self) -> Iterator[str]:
        engine, config, prompt = self._engine, self._config, self._prompt
        self._started = time.perf_counter()
        rows = [self._row(i) for i in range(config.candidates)]
        with engine.lock:
            cache = engine.decoder.cache(len(rows), len(prompt) + config.max_new_tokens)
            self._reused = self._reuse(cache)
            prefilled, logits = engine.decoder.prefill(cache, prompt[self._reused :], self._reused, self._cancel)
            try:
                if logits is None:
                    for row in rows:
                        row.finish("cancelled")
                else:
                    if len(rows) > 1:
                        cache.spread_first_row(prefilled)
                    yield from self._decode(cache, prefilled, logits.expand(len(rows), -1), rows)
            finally:
                filled = prefilled + len(rows[0].fed)
                if config.use_prefix_cache and filled:
                    kept = engine.decoder.keepable(cache, filled)
                    engine.prefix_cache.put((prompt + rows[0].fed)[:filled], kept)
        tail = rows[0].text[rows[0].emitted :]
        if tail:
            yield tail
        self.results = [self._completion(row) for row in rows]

    def _row(self, index: int) -> _Row:
        generator = None
        if self._config.seed is not None:
            generator = torch.Generator(device=self._engine.device).manual_seed(self._config.seed + index)
        return _Row(StreamDecoder(self._engine.tokenizer), generator)

    def _reuse(self, cache: KVCache) -> int:
        """Copy the longest cached prefix of the prompt into row 0; how many positions it filled."""
        if not self._config.use_prefix_cache:
            return 0
        entry, common = self._engine.prefix_cache.longest_match(self._prompt)
        # At least the last prompt token is recomputed: its logits start the generation.
        reused = min(common, len(self._prompt) - 1)
        if entry is None or reused <= 0:
            return 0
        cache.row(0).copy_prefix_from(entry.kv, reused)
        return reused

    def _completion(self, row: _Row) -> Completion:
        return Completion(
            text=row.text,
            token_ids=list(row.decoder.ids),
            prompt_tokens=len(self._prompt),
            reused_tokens=self._reused,
            finish_reason=row.finish_reason,
            elapsed_s=time.perf_counter() - self._started,
            first_token_s=self._first_token_s,
            token_logprobs=row.logprobs[: len(row.ends)],
            token_ends=[min(end, len(row.text)) for end in row.ends],
            trimmed_tokens=self._trimmed_tokens,
        )

    def _decode(self, cache: KVCache, position: int, logits: torch.Tensor, rows: list[_Row]) -> Iterator[str]:
        """Sample, stream the first row, feed back: until every row stopped, the budget, a cancel
        or max_new_tokens. `logits` `[rows, vocab]` start at the prompt's end, at `position`."""
        engine, config = self._engine, self._config
        stop_ids = engine.tokenizer.special_ids | set(config.stop_tokens)
        ending = self._ending_mask(stop_ids) if config.require_code else None
        for step in range(config.max_new_tokens):
            if self._over_budget(rows):
                return
            logits = self._agreeing(logits, rows)
            tokens = self._choose(logits, rows, ending, first=step == 0)
            if self._first_token_s is None:
                self._first_token_s = time.perf_counter() - self._started
            logprobs = _logprobs(logits, tokens)
            for row, token, logprob in zip(rows, tokens, logprobs, strict=True):
                piece = "" if row.done else self._accept(row, token, logprob, stop_ids)
                if piece and row is rows[0]:
                    yield piece
            if all(row.done for row in rows) or step + 1 == config.max_new_tokens:
                return
            logits = engine.decoder.step(cache, tokens, position)
            position += 1
            for row, token in zip(rows, tokens, strict=True):
                row.fed.append(token)

    def _pending(self, row: _Row) -> str:
        """What a row has still to write of the given-back text."""
        return self._given[len(row.decoder.text) :]

    def _agreeing(self, logits: torch.Tensor, rows: list[_Row]) -> torch.Tensor:
        """Logits where a row still writing the given-back text keeps only the tokens that agree.

        The log-probabilities then reported are among those tokens: the given-back text is the
        user's, not the model's choice, so the model is judged on how it goes on from it.
        """
        pending = [self._pending(row) for row in rows]
        if not any(pending):
            return logits
        agreement, code_next = self._engine.agreement, bool(self._config.require_code)
        free = torch.ones(logits.shape[-1], dtype=torch.bool, device=logits.device)
        masks = [agreement.allowed(p, code_next) if p else free for p in pending]
        return logits.masked_fill(~torch.stack(masks), -torch.inf)

    def _choose(self, logits: torch.Tensor, rows: list[_Row], ending: torch.Tensor | None, first: bool) -> list[int]:
        """One token per row: sampled, or greedy with distinct first tokens across candidates."""
        config = self._config
        if ending is not None:  # a row still writing the given-back text is held by its agreement
            blank = torch.tensor(
                [not row.text.strip() and not self._pending(row) for row in rows], device=logits.device
            )
            logits = logits.masked_fill(blank.unsqueeze(1) & ending, -torch.inf)
        if config.temperature > 0:
            pairs = zip(logits, rows, strict=True)
            return [next_token(scores, config.temperature, config.top_p, row.generator) for scores, row in pairs]
        if first and len(rows) > 1:
            return logits[0].topk(len(rows)).indices.tolist()
        return logits.argmax(dim=-1).tolist()

    def _ending_mask(self, stop_ids: set[int]) -> torch.Tensor:
        """True for each vocabulary entry that would end a middle still without code."""
        engine = self._engine
        mask = torch.zeros(engine.config.vocab_size, dtype=torch.bool)
        ids = [i for i in stop_ids | engine.tokenizer.line_break_ids if i < len(mask)]
        mask[ids] = True
        return mask.to(engine.device)

    def _over_budget(self, rows: list[_Row]) -> bool:
        reason, budget = None, self._config.time_budget_s
        if self._cancel.is_set():
            reason = "cancelled"
        elif budget is not None and time.perf_counter() - self._started > budget:
            reason = "time"
        for row in rows if reason else ():
            row.finish(reason)
        return reason is not None

    def _accept(self, row: _Row, token: int, logprob: float, stop_ids: set[int]) -> str:
        """Add a token to a row; return the text that is now safe to stream."""
        if token in stop_ids:
            row.finish("eos")
            return ""
        row.logprobs.append(logprob)
        row.text = row.decoder.push(token)[len(self._given) :]
        row.ends.append(len(row.text))
        loop = loop_start(row.decoder.ids, row.ends, row.text) if self._config.stop_on_repetition else None
        if loop is not None:
            row.text = row.text[:loop]
            row.finish("repetition")
            return ""
        stops = self._config.stop
        cut = min((i for i in (row.text.find(s) for s in stops if s) if i >= 0), default=-1)
        if cut >= 0:
            row.text = row.text[:cut]
            row.finish("stop")
            return ""
        if self._config.stop_when is not None and self._config.stop_when(row.text):
            row.finish("stop")
        # Hold back a tail that could still become a stop sequence, and a split character.
        safe = len(row.text) - _pending_stop_len(row.text, stops)
        if row.text[:safe].endswith("\ufffd"):
            return ""
        piece, row.emitted = row.text[row.emitted : safe], max(safe, row.emitted)
        return piece


def _logprobs(logits: torch.Tensor, tokens: list[int]) -> list[float]:
    """Each row's log-probability of its token under the model (before temperature)."""
    chosen = logits.gather(1, torch.tensor(tokens, device=logits.device).unsqueeze(1)).squeeze(1).float()
    return (chosen - torch.logsumexp(logits.float(), dim=-1)).tolist()  # one transfer for all rows


def _pending_stop_len(text: str, stops: Sequence[str]) -> int:
    """Length of the longest end of `text` that is the beginning of a stop sequence."""
    longest = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:n]):
                longest = n
                break
    return longest


class Engine:
    def __init__(
        self, net: GPTBigCode, tokenizer: Tokenizer, *, device: torch.device, dtype: torch.dtype,
        prefix_cache_bytes: int, decode: str = "eager", int8_prefill: PrefillChoice | None = None,
    ) -> None:  # fmt: skip
        self.net = net
        self.tokenizer = tokenizer
        self.config: ModelConfig = net.config
        self.device, self.dtype = device, dtype
        self.int8_prefill = int8_prefill  # how an int8 network multiplies prompts, and why
        self.prefix_cache = PrefixCache(prefix_cache_bytes)
        self.decoder = Decoder(net, device, dtype, decode)  # model.decoding: the modes
        self.lock = threading.Lock()  # one generation at a time owns the model and the decoder

    @property
    def context_length(self) -> int:
        return self.config.n_positions

    # --- requests -------------------------------------------------------------------------

    def stream(self, prompt: str | list[int], config: GenerationConfig | None = None) -> Generation:
        ids = self.tokenizer.encode(prompt) if isinstance(prompt, str) else list(prompt)
        return self._start(ids, config or GenerationConfig())

    @cached_property
    def agreement(self) -> Agreement:
        """Token healing's masks (built on first use: one decode per vocabulary entry)."""
        return Agreement(self.tokenizer, self.config.vocab_size, self.device)

    def _start(self, ids: list[int], config: GenerationConfig, trimmed_tokens: int = 0, given: str = "") -> Generation:
        if not ids:
            raise ValueError("empty prompt")
        if len(ids) + config.max_new_tokens > self.context_length:
            raise ValueError(
                f"prompt of {len(ids)} tokens + {config.max_new_tokens} new tokens exceeds the "
                f"context of {self.context_length}"
            )
        if config.candidates < 1:
            raise ValueError(f"candidates must be at least 1, got {config.candidates}")
        return Generation(self, ids, config, trimmed_tokens, given)

    def generate(self, prompt: str | list[int], config: GenerationConfig | None = None) -> Completion:
        return self.stream(prompt, config).wait()

    def candidates(self, prompt: str | list[int], config: GenerationConfig) -> list[Completion]:
        """`config.candidates` completions of one prompt, made in one batch."""
        generation = self.stream(prompt, config)
        generation.wait()
        return generation.results

    def infill_prompt(self, prefix: str, suffix: str, mode: str = "spm", max_new_tokens: int = 64) -> list[int]:
        """The FIM prompt in SantaCoder's training orders (model.fim), fitted to the context.

        SPM is the default because the prefix, which grows as the user types, comes last:
        everything before it stays in the prefix cache from one keystroke to the next.
        """
        return self._fitted_infill(prefix, suffix, mode, max_new_tokens)[0]

    def _fitted_infill(
        self, prefix: str, suffix: str, mode: str, max_new_tokens: int, heal: bool = False
    ) -> tuple[list[int], int, str]:
        """The FIM prompt, how many prompt tokens were cut to fit it, and the text given back."""
        fim.check_mode(mode)
        ids = self.tokenizer.fim
        budget = fim.prompt_budget(self.context_length, max_new_tokens)
        if budget <= 0:
            raise ValueError(f"max_new_tokens {max_new_tokens} leaves no room for a prompt")
        full_pre, full_suf = self.tokenizer.encode(prefix), self.tokenizer.encode(suffix)
        pre, suf = fim.fit_prefix_suffix(full_pre, full_suf, budget)
        cut_pre, cut_suf = len(full_pre) - len(pre), len(full_suf) - len(suf)
        if cut_pre or cut_suf:
            # The server sizes its prompts to fit (model.fim): a cut here moves the prompt's
            # start under its window anchor and costs the prefix cache. Callers that pass whole
            # files (evaluation) are cut on every call: info, not a warning.
            log.info(
                "FIM prompt over its budget of %d tokens: cut %d prefix and %d suffix tokens "
                "(a caller that fits its prompt with model.fim is never cut)",
                budget, cut_pre, cut_suf,
            )  # fmt: skip
        pre, given = give_back(pre, self.tokenizer) if heal else (pre, "")
        return fim.arrange(pre, suf, mode, ids), cut_pre + cut_suf, given

    def stream_infill(
        self, prefix: str, suffix: str, mode: str = "spm", config: GenerationConfig | None = None
    ) -> Generation:
        config = config or GenerationConfig()
        if config.require_code is None:
            config = replace(config, require_code=fim.on_blank_line(prefix, suffix))
        prompt, trimmed, given = self._fitted_infill(prefix, suffix, mode, config.max_new_tokens, config.heal)
        return self._start(prompt, config, trimmed, given)

    def infill(self, prefix: str, suffix: str, mode: str = "spm", config: GenerationConfig | None = None) -> Completion:
        return self.stream_infill(prefix, suffix, mode, config).wait()

    @torch.inference_mode()
    def logits(self, ids: list[int]) -> torch.Tensor:
        """Full-sequence logits `[len(ids), vocab]` in fp32 (no cache): for tests and eval."""
        batch = torch.tensor([ids], device=self.device)
        return self.net(batch)[0].float()
