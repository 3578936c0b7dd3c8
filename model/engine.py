"""The inference engine: prompts in, completions out, with prefix-cache reuse across requests."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import torch

from model import fim
from model.config import ModelConfig
from model.gpt_bigcode import GPTBigCode, KVCache
from model.prefix_cache import PrefixCache
from model.repetition import loop_start
from model.sampling import next_token
from model.tokenizer import StreamDecoder, Tokenizer

log = logging.getLogger(__name__)

# Long prompts are prefilled in chunks so that cancellation is noticed between them and the
# attention scores of a 2k-token prompt never have to exist all at once.
PREFILL_CHUNK = 1024


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
class _State:
    """What one running generation has produced so far."""

    decoder: StreamDecoder
    started: float
    reused: int = 0
    finish_reason: str = "length"
    first_token_s: float | None = None
    text: str = ""
    emitted: int = 0
    stop_hit: bool = False
    logprobs: list[float] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)


class Generation:
    """A running request: iterate it for streamed text pieces; `result` once it is done.

    `cancel()` may be called from any thread; the loop notices before its next step and
    releases the model.
    """

    def __init__(self, engine: Engine, prompt: list[int], config: GenerationConfig) -> None:
        self._engine, self._prompt, self._config = engine, prompt, config
        self._cancel = threading.Event()
        self.result: Completion | None = None
        self.trimmed_tokens = 0  # set by Engine.stream_infill, reported in the Completion
        self._pieces = self._run()

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
        engine, config = self._engine, self._config
        state = _State(StreamDecoder(engine.tokenizer), time.perf_counter())
        with engine.lock:
            kv, logits = engine.prefill(self._prompt, config, state, self._cancel)
            try:
                if kv is not None and logits is not None:
                    yield from self._decode(kv, logits, state)
            finally:
                if kv is not None and config.use_prefix_cache:
                    # Every token whose K/V is in `kv`: the prompt and the tokens fed back so far.
                    engine.prefix_cache.put((self._prompt + state.decoder.ids)[: kv.length], kv)
        tail = state.text[state.emitted :]
        if tail:
            yield tail
        self.result = Completion(
            text=state.text,
            token_ids=list(state.decoder.ids),
            prompt_tokens=len(self._prompt),
            reused_tokens=state.reused,
            finish_reason=state.finish_reason,
            elapsed_s=time.perf_counter() - state.started,
            first_token_s=state.first_token_s,
            token_logprobs=state.logprobs[: len(state.ends)],
            token_ends=[min(end, len(state.text)) for end in state.ends],
            trimmed_tokens=self.trimmed_tokens,
        )

    def _decode(self, kv: KVCache, logits: torch.Tensor, state: _State) -> Iterator[str]:
        """Sample, stream, feed back: until a stop, the budget, a cancel or max_new_tokens."""
        engine, config = self._engine, self._config
        stop_ids = engine.tokenizer.special_ids | set(config.stop_tokens)
        ending = self._ending_mask(stop_ids) if config.require_code else None
        generator = None
        if config.seed is not None:
            generator = torch.Generator(device=engine.device).manual_seed(config.seed)
        for step in range(config.max_new_tokens):
            if self._over_budget(state):
                return
            row = logits[0, -1]
            allowed = row if ending is None or state.text.strip() else row.masked_fill(ending, -torch.inf)
            token = next_token(allowed, config.temperature, config.top_p, generator)
            if state.first_token_s is None:
                state.first_token_s = time.perf_counter() - state.started
            if token in stop_ids:
                state.finish_reason = "eos"
                return
            state.logprobs.append(float(row[token].float() - torch.logsumexp(row.float(), dim=-1)))
            piece = self._accept(state, token)
            if piece:
                yield piece
            if state.stop_hit:
                return
            if step + 1 < config.max_new_tokens:
                logits = engine.step(token, kv)

    def _ending_mask(self, stop_ids: set[int]) -> torch.Tensor:
        """True for each vocabulary entry that would end a middle still without code."""
        engine = self._engine
        mask = torch.zeros(engine.config.vocab_size, dtype=torch.bool)
        ids = [i for i in stop_ids | engine.tokenizer.line_break_ids if i < len(mask)]
        mask[ids] = True
        return mask.to(engine.device)

    def _over_budget(self, state: _State) -> bool:
        if self._cancel.is_set():
            state.finish_reason = "cancelled"
            return True
        budget = self._config.time_budget_s
        if budget is not None and time.perf_counter() - state.started > budget:
            state.finish_reason = "time"
            return True
        return False

    def _accept(self, state: _State, token: int) -> str:
        """Add a token; return the text that is now safe to stream."""
        state.decoder.push(token)
        state.text = state.decoder.text
        state.ends.append(len(state.text))
        loop = loop_start(state.decoder.ids, state.ends, state.text) if self._config.stop_on_repetition else None
        if loop is not None:
            state.text, state.stop_hit, state.finish_reason = state.text[:loop], True, "repetition"
            return ""
        stops = self._config.stop
        cut = min((i for i in (state.text.find(s) for s in stops if s) if i >= 0), default=-1)
        if cut >= 0:
            state.text, state.stop_hit, state.finish_reason = state.text[:cut], True, "stop"
            return ""
        if self._config.stop_when is not None and self._config.stop_when(state.text):
            state.stop_hit, state.finish_reason = True, "stop"
        # Hold back a tail that could still become a stop sequence, and a split character.
        safe = len(state.text) - _pending_stop_len(state.text, stops)
        if state.text[:safe].endswith("\ufffd"):
            return ""
        piece, state.emitted = state.text[state.emitted : safe], max(safe, state.emitted)
        return piece


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
        prefix_cache_bytes: int,
    ) -> None:  # fmt: skip
        self.net = net
        self.tokenizer = tokenizer
        self.config: ModelConfig = net.config
        self.device, self.dtype = device, dtype
        self.prefix_cache = PrefixCache(prefix_cache_bytes)
        self.lock = threading.Lock()  # one generation at a time owns the model

    @property
    def context_length(self) -> int:
        return self.config.n_positions

    # --- requests -------------------------------------------------------------------------

    def stream(self, prompt: str | list[int], config: GenerationConfig | None = None) -> Generation:
        ids = self.tokenizer.encode(prompt) if isinstance(prompt, str) else list(prompt)
        config = config or GenerationConfig()
        if not ids:
            raise ValueError("empty prompt")
        if len(ids) + config.max_new_tokens > self.context_length:
            raise ValueError(
                f"prompt of {len(ids)} tokens + {config.max_new_tokens} new tokens exceeds the "
                f"context of {self.context_length}"
            )
        return Generation(self, ids, config)

    def generate(self, prompt: str | list[int], config: GenerationConfig | None = None) -> Completion:
        return self.stream(prompt, config).wait()

    def infill_prompt(self, prefix: str, suffix: str, mode: str = "spm", max_new_tokens: int = 64) -> list[int]:
        """The FIM prompt in SantaCoder's training orders (model.fim), fitted to the context.

        SPM is the default because the prefix, which grows as the user types, comes last:
        everything before it stays in the prefix cache from one keystroke to the next.
        """
        return self._fitted_infill(prefix, suffix, mode, max_new_tokens)[0]

    def _fitted_infill(self, prefix: str, suffix: str, mode: str, max_new_tokens: int) -> tuple[list[int], int]:
        """The FIM prompt and how many prompt tokens were cut to fit it."""
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
        return fim.arrange(pre, suf, mode, ids), cut_pre + cut_suf

    def stream_infill(
        self, prefix: str, suffix: str, mode: str = "spm", config: GenerationConfig | None = None
    ) -> Generation:
        config = config or GenerationConfig()
        if config.require_code is None:
            config = replace(config, require_code=fim.on_blank_line(prefix, suffix))
        prompt, trimmed = self._fitted_infill(prefix, suffix, mode, config.max_new_tokens)
        generation = self.stream(prompt, config)
        generation.trimmed_tokens = trimmed
        return generation

    def infill(self, prefix: str, suffix: str, mode: str = "spm", config: GenerationConfig | None = None) -> Completion:
        return self.stream_infill(prefix, suffix, mode, config).wait()

    @torch.inference_mode()
    def logits(self, ids: list[int]) -> torch.Tensor:
        """Full-sequence logits `[len(ids), vocab]` in fp32 (no cache): for tests and eval."""
        batch = torch.tensor([ids], device=self.device)
        return self.net(batch)[0].float()

    # --- the two model calls generation is made of ------------------------------------------

    @torch.inference_mode()
    def prefill(
        self, prompt: list[int], config: GenerationConfig, state: _State, cancel: threading.Event
    ) -> tuple[KVCache | None, torch.Tensor | None]:
        kv = KVCache(self.config, len(prompt) + config.max_new_tokens, self.dtype, self.device)
        if config.use_prefix_cache:
            entry, common = self.prefix_cache.longest_match(prompt)
            # At least the last prompt token is recomputed: its logits start the generation.
            state.reused = min(common, len(prompt) - 1)
            if entry is not None and state.reused > 0:
                kv.copy_prefix_from(entry.kv, state.reused)
        logits = None
        for start in range(state.reused, len(prompt), PREFILL_CHUNK):
            if cancel.is_set():
                state.finish_reason = "cancelled"
                return (kv if kv.length else None), None
            chunk = torch.tensor([prompt[start : start + PREFILL_CHUNK]], device=self.device)
            logits = self.net(chunk, kv, last_only=True)
        return kv, logits

    @torch.inference_mode()
    def step(self, token: int, kv: KVCache) -> torch.Tensor:
        return self.net(torch.tensor([[token]], device=self.device), kv)
