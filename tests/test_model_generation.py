"""Generation: prefix-cache reuse, cancellation, budgets, stop sequences, streaming, FIM prompts."""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import model
from model import GenerationConfig
from model.decoding import CHUNK_STEP, FIRST_PREFILL_CHUNK, MAX_PREFILL_CHUNK, MIN_PREFILL_CHUNK, next_chunk
from model.fim import fit_prefix_suffix
from model.layout import can_pack_bf16
from model.quantize import Int8Linear
from tests.tiny import make_model

PREFIX = "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        "
SUFFIX = "\n\n    def norm(self):\n        return 0\n"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model(tmp_path_factory.mktemp("gen"), n_positions=256)


@pytest.fixture
def engine(model_dir: Path) -> model.Engine:
    return model.load(model_dir)


def no_cache(**kw: object) -> GenerationConfig:
    return GenerationConfig(use_prefix_cache=False, **kw)  # type: ignore[arg-type]


def test_prefix_cache_reuse_gives_the_same_output(engine: model.Engine) -> None:
    first = engine.infill(PREFIX, SUFFIX, config=GenerationConfig(max_new_tokens=12))
    typed = PREFIX + "self.y"  # the user typed on: only the end of the SPM prompt changes
    cached = engine.infill(typed, SUFFIX, config=GenerationConfig(max_new_tokens=12))
    cold = engine.infill(typed, SUFFIX, config=no_cache(max_new_tokens=12))
    assert first.reused_tokens == 0
    assert cached.reused_tokens >= cached.prompt_tokens - 4
    assert cold.reused_tokens == 0
    assert cached.token_ids == cold.token_ids


def test_generated_tokens_are_reused_when_the_user_types_them(engine: model.Engine) -> None:
    first = engine.generate(PREFIX, GenerationConfig(max_new_tokens=8))
    prompt = engine.tokenizer.encode(PREFIX) + first.token_ids[:5]
    again = engine.generate(prompt, GenerationConfig(max_new_tokens=4))
    assert again.reused_tokens == len(prompt) - 1


def test_psm_prompt_reuses_the_prefix_before_the_suffix(engine: model.Engine) -> None:
    engine.infill(PREFIX, SUFFIX, mode="psm", config=GenerationConfig(max_new_tokens=2))
    edited = engine.infill(PREFIX, SUFFIX + "# more\n", mode="psm", config=GenerationConfig(max_new_tokens=2))
    assert edited.reused_tokens >= len(engine.tokenizer.encode(PREFIX))


def test_prefix_cache_evicts_least_recently_used_within_budget(engine: model.Engine) -> None:
    engine.generate("0\n" + PREFIX, GenerationConfig(max_new_tokens=2))
    entry_bytes = engine.prefix_cache.nbytes
    engine.prefix_cache.budget_bytes = 3 * entry_bytes
    for i in range(1, 10):
        engine.generate(f"{i}\n" + PREFIX, GenerationConfig(max_new_tokens=2))
    assert len(engine.prefix_cache) == 3
    assert engine.prefix_cache.nbytes <= 3 * entry_bytes
    newest = engine.generate("9\n" + PREFIX, GenerationConfig(max_new_tokens=2))
    evicted = engine.generate("0\n" + PREFIX, GenerationConfig(max_new_tokens=2))
    assert newest.reused_tokens == newest.prompt_tokens - 1
    assert evicted.reused_tokens == 0  # digits are single tokens: nothing else matches


def test_an_entry_over_the_budget_is_not_kept(model_dir: Path) -> None:
    engine = model.load(model_dir, prefix_cache_mb=0)
    engine.generate(PREFIX, GenerationConfig(max_new_tokens=2))
    assert len(engine.prefix_cache) == 0


def test_streamed_pieces_make_up_the_text(engine: model.Engine) -> None:
    generation = engine.stream_infill(PREFIX, SUFFIX, config=GenerationConfig(max_new_tokens=20))
    pieces = list(generation)
    assert "".join(pieces) == generation.result.text  # type: ignore[union-attr]
    assert len(pieces) > 1


def test_cancel_from_another_thread_stops_and_frees_the_model(engine: model.Engine) -> None:
    generation = engine.stream(PREFIX, no_cache(max_new_tokens=100))
    pieces = iter(generation)
    next(pieces)
    threading.Thread(target=generation.cancel).start()
    result = generation.wait()
    assert result.finish_reason == "cancelled"
    assert len(result.token_ids) < 100
    assert not engine.lock.locked()
    assert engine.generate(PREFIX, GenerationConfig(max_new_tokens=3)).token_ids


def test_cancel_before_start_does_no_work(engine: model.Engine) -> None:
    generation = engine.stream(PREFIX, no_cache(max_new_tokens=10))
    generation.cancel()
    result = generation.wait()
    assert (result.finish_reason, result.token_ids) == ("cancelled", [])


def test_prefill_chunks_take_about_the_target_time() -> None:
    assert next_chunk(1024, 0.5) == 576  # 614 tokens fit 0.3 s: rounded down to a multiple of 64
    assert (next_chunk(256, 100.0), next_chunk(1024, 0.001)) == (MIN_PREFILL_CHUNK, MAX_PREFILL_CHUNK)


def test_prefill_chunk_follows_the_measured_speed(engine: model.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = itertools.count()
    clock = SimpleNamespace(perf_counter=lambda: 0.0625 * next(ticks))  # every chunk takes 1/16 s
    monkeypatch.setattr("model.decoding.time", clock)
    decoder = engine.decoder
    assert decoder.prefill_chunk == FIRST_PREFILL_CHUNK
    decoder.prefill_chunk = 128  # the tiny model's context is too short for two first chunks
    engine.generate(list(range(200)), no_cache(max_new_tokens=1))  # chunks of 128, then 72 (too short to time)
    assert decoder.prefill_chunk == 576  # 128 tokens per 1/16 s: 614 fit 0.3 s, rounded down to 64s


def test_prefill_in_chunks_matches_one_pass_and_stops_between_chunks(engine: model.Engine) -> None:
    decoder, ids = engine.decoder, list(range(200))
    decoder.chunk_target_s, decoder.prefill_chunk = None, CHUNK_STEP
    filled, logits = decoder.prefill(decoder.cache(1, len(ids)), ids, 0, threading.Event())
    assert filled == len(ids) and logits is not None
    assert (logits - engine.logits(ids)[-1]).abs().max() < 1e-4
    cancel, run = threading.Event(), engine.net.forward

    def cancel_after_one_chunk(*args: object, **kwargs: object) -> torch.Tensor:
        cancel.set()
        return run(*args, **kwargs)

    engine.net.forward = cancel_after_one_chunk  # type: ignore[method-assign]
    assert decoder.prefill(decoder.cache(1, len(ids)), ids, 0, cancel) == (CHUNK_STEP, None)


def test_time_budget(engine: model.Engine) -> None:
    expired = engine.generate(PREFIX, no_cache(max_new_tokens=50, time_budget_s=0.0))
    assert (expired.finish_reason, expired.text) == ("time", "")
    roomy = engine.generate(PREFIX, no_cache(max_new_tokens=5, time_budget_s=60.0))
    assert roomy.finish_reason in ("length", "eos")


def test_stop_sequence_cuts_the_text_and_is_never_streamed(engine: model.Engine) -> None:
    free = engine.generate(PREFIX, no_cache(max_new_tokens=24))
    assert len(free.text) > 6
    stop = free.text[3:6]
    generation = engine.stream(PREFIX, no_cache(max_new_tokens=24, stop=[stop]))
    streamed = "".join(generation)
    result = generation.result
    assert result is not None
    assert result.finish_reason == "stop"
    assert result.text == free.text[: free.text.find(stop)]
    assert streamed == result.text


def test_stop_when_ends_generation_and_keeps_the_text(engine: model.Engine) -> None:
    free = engine.generate(PREFIX, no_cache(max_new_tokens=24))
    assert len(free.token_ids) > 4
    seen: list[str] = []

    def after_three_tokens(text: str) -> bool:
        seen.append(text)
        return len(seen) == 3

    generation = engine.stream(PREFIX, no_cache(max_new_tokens=24, stop_when=after_three_tokens))
    streamed = "".join(generation)
    result = generation.result
    assert result is not None and result.finish_reason == "stop"
    assert result.token_ids == free.token_ids[:3] and result.text == seen[-1] == streamed


def test_stop_tokens(engine: model.Engine) -> None:
    free = engine.generate(PREFIX, no_cache(max_new_tokens=8))
    stopped = engine.generate(PREFIX, no_cache(max_new_tokens=8, stop_tokens=[free.token_ids[2]]))
    assert stopped.token_ids == free.token_ids[:2]
    assert stopped.finish_reason == "eos"


def test_max_new_tokens(engine: model.Engine) -> None:
    result = engine.generate(PREFIX, no_cache(max_new_tokens=3))
    assert len(result.token_ids) <= 3


def test_sampling_is_seeded_and_top_p_near_zero_is_greedy(engine: model.Engine) -> None:
    greedy = engine.generate(PREFIX, no_cache(max_new_tokens=10))
    nucleus = engine.generate(PREFIX, no_cache(max_new_tokens=10, temperature=1.0, top_p=1e-6, seed=1))
    assert nucleus.token_ids == greedy.token_ids
    a = engine.generate(PREFIX, no_cache(max_new_tokens=10, temperature=1.5, seed=7))
    b = engine.generate(PREFIX, no_cache(max_new_tokens=10, temperature=1.5, seed=7))
    assert a.token_ids == b.token_ids


def test_fim_prompt_orders(engine: model.Engine) -> None:
    fim, encode = engine.tokenizer.fim, engine.tokenizer.encode
    pre, suf = encode("a = 1\n"), encode("\nb = 2")
    psm, spm = (engine.infill_prompt("a = 1\n", "\nb = 2", mode) for mode in ("psm", "spm"))
    assert psm == [fim.prefix, *pre, fim.suffix, *suf, fim.middle]
    assert spm == [fim.prefix, fim.suffix, *suf, fim.middle, *pre]
    with pytest.raises(ValueError, match="unknown FIM mode"):
        engine.infill_prompt("a", "b", "pms")


def test_long_inputs_are_truncated_to_leave_room_for_the_output(engine: model.Engine) -> None:
    prompt = engine.infill_prompt(PREFIX * 30, SUFFIX * 30, "spm", max_new_tokens=40)
    assert len(prompt) == engine.context_length - 40
    result = engine.infill(PREFIX * 30, SUFFIX * 30, config=GenerationConfig(max_new_tokens=40))
    assert result.prompt_tokens + 40 <= engine.context_length


def test_fit_keeps_the_text_near_the_cursor() -> None:
    prefix, suffix = list(range(100)), list(range(100, 200))
    kept_prefix, kept_suffix = fit_prefix_suffix(prefix, suffix, 80)
    assert (kept_prefix, kept_suffix) == (prefix[-60:], suffix[:20])
    short_prefix, long_suffix = fit_prefix_suffix(prefix[:10], suffix, 80)
    assert (short_prefix, long_suffix) == (prefix[:10], suffix[:70])


def test_bad_requests(engine: model.Engine) -> None:
    with pytest.raises(ValueError, match="empty prompt"):
        engine.generate("")
    with pytest.raises(ValueError, match="exceeds the context"):
        engine.generate("x " * 400, GenerationConfig(max_new_tokens=10))


@pytest.mark.parametrize("dtype", ["bf16", "fp16"])
def test_half_precision_tracks_fp32(model_dir: Path, engine: model.Engine, dtype: str) -> None:
    half = model.load(model_dir, dtype=dtype)
    ids = engine.tokenizer.encode(PREFIX)
    similarity = torch.cosine_similarity(half.logits(ids), engine.logits(ids), dim=-1)
    assert similarity.min() > 0.99


def test_int8_weights_track_fp32(model_dir: Path, engine: model.Engine) -> None:
    quantized = model.load(model_dir, dtype="int8")
    ids = engine.tokenizer.encode(PREFIX)
    similarity = torch.cosine_similarity(quantized.logits(ids), engine.logits(ids), dim=-1)
    assert similarity.min() > 0.99
    assert isinstance(quantized.net.transformer.h[0].mlp.c_fc, Int8Linear)
    assert isinstance(quantized.net.lm_head, Int8Linear)
    assert quantized.generate(PREFIX, GenerationConfig(max_new_tokens=4)).token_ids


def test_int8_linear_quantises_each_row_on_its_own() -> None:
    """A prompt row 1000x larger than the others must not coarsen their quantisation."""
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 96)
    layer = Int8Linear(linear)
    x = torch.randn(8, 64)
    x[0] *= 1000
    together = layer(x)
    one_by_one = torch.cat([layer(row[None]) for row in x])
    exact = linear(x).detach()
    assert torch.cosine_similarity(together, exact, dim=-1).min() > 0.999
    row_error = (together - one_by_one).abs().amax(dim=-1) / exact.abs().amax(dim=-1)
    # A prompt and decoding agree (the bound allows the 7-bit activations of CPUs without VNNI:
    # model/quantize.py, REDUCE_RANGE); without the per-row ranges the error is about 1.
    assert row_error.max() < 0.04


def test_fp32_cpu_stores_wide_weights_input_major_and_keeps_ties(engine: model.Engine) -> None:
    from model.layout import is_input_major

    net = engine.net
    assert net.lm_head.weight is net.transformer.wte.weight and is_input_major(net.lm_head.weight)
    assert is_input_major(net.transformer.h[0].mlp.c_fc.weight)  # widening: moved
    assert not is_input_major(net.transformer.h[0].mlp.c_proj.weight)  # narrowing: kept
    assert net.transformer.h[0].mlp.c_fc.weight.shape == (256, 64)  # shapes and names unchanged


@pytest.mark.skipif(not can_pack_bf16(), reason="oneDNN bf16 is not available on this CPU")
def test_bf16_cpu_packs_untied_linears_with_identical_results(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from model.layout import PackedLinear

    packed = model.load(model_dir, dtype="bf16")
    blocks = packed.net.transformer.h
    assert isinstance(blocks[0].attn.c_attn, PackedLinear) and isinstance(blocks[-1].mlp.c_proj, PackedLinear)
    assert packed.net.lm_head.weight is packed.net.transformer.wte.weight  # tied: left plain
    monkeypatch.setattr(model, "can_pack_bf16", lambda: False)
    plain = model.load(model_dir, dtype="bf16")
    assert isinstance(plain.net.transformer.h[0].attn.c_attn, torch.nn.Linear)
    ids = packed.tokenizer.encode(PREFIX)
    assert torch.equal(packed.logits(ids), plain.logits(ids))
    config = no_cache(max_new_tokens=8)
    assert packed.generate(ids, config).token_ids == plain.generate(ids, config).token_ids


def test_prefix_cache_keeps_a_bounded_number_of_entries(engine: model.Engine) -> None:
    engine.prefix_cache.max_entries = 4
    for i in range(10):
        engine.generate(f"{i}\n" + PREFIX, GenerationConfig(max_new_tokens=1))
    assert len(engine.prefix_cache) == 4
    assert engine.generate("9\n" + PREFIX, GenerationConfig(max_new_tokens=1)).reused_tokens > 0
    assert engine.generate("0\n" + PREFIX, GenerationConfig(max_new_tokens=1)).reused_tokens == 0


@pytest.mark.parametrize("decode", ["eager", "static"])
def test_greedy_candidates_equal_single_runs(model_dir: Path, decode: str) -> None:
    """Candidate i starts with the i-th likeliest first token, then goes on as a single greedy run."""
    engine = model.load(model_dir, decode=decode)
    generation = engine.stream(PREFIX, no_cache(max_new_tokens=10, candidates=3))
    streamed = "".join(generation)
    results = generation.results
    assert streamed == results[0].text  # the first candidate is the one streamed
    assert len({result.token_ids[0] for result in results}) == 3
    assert results[0].token_ids == engine.generate(PREFIX, no_cache(max_new_tokens=10)).token_ids
    prompt = engine.tokenizer.encode(PREFIX)
    for result in results[1:]:
        rest = engine.generate(prompt + result.token_ids[:1], no_cache(max_new_tokens=9))
        assert result.token_ids == result.token_ids[:1] + rest.token_ids


@pytest.mark.parametrize("decode", ["eager", "static"])
def test_sampled_candidates_equal_single_runs_with_their_seeds(model_dir: Path, decode: str) -> None:
    engine = model.load(model_dir, decode=decode)
    config = no_cache(max_new_tokens=10, temperature=1.0, seed=11, candidates=3)
    results = engine.candidates(PREFIX, config)
    for i, result in enumerate(results):
        single = engine.generate(PREFIX, replace(config, candidates=1, seed=11 + i))
        assert result.token_ids == single.token_ids
        assert result.token_logprobs == pytest.approx(single.token_logprobs, abs=1e-4)
    assert len({tuple(result.token_ids) for result in results}) > 1


def test_candidates_leave_the_first_one_in_the_prefix_cache(engine: model.Engine) -> None:
    first = engine.candidates(PREFIX, GenerationConfig(max_new_tokens=6, candidates=4))[0]
    prompt = engine.tokenizer.encode(PREFIX) + first.token_ids[:4]
    again = engine.generate(prompt, GenerationConfig(max_new_tokens=5))
    assert again.reused_tokens == len(prompt) - 1
    assert again.token_ids == engine.generate(prompt, no_cache(max_new_tokens=5)).token_ids


def test_static_cache_decodes_as_the_eager_one_and_reuses_the_prefix_cache(
    model_dir: Path, engine: model.Engine
) -> None:
    static = model.load(model_dir, decode="static")
    static.infill(PREFIX, SUFFIX, config=GenerationConfig(max_new_tokens=12))
    cached = static.infill(PREFIX + "self.y", SUFFIX, config=GenerationConfig(max_new_tokens=12))
    eager = engine.infill(PREFIX + "self.y", SUFFIX, config=no_cache(max_new_tokens=12))
    assert cached.reused_tokens >= cached.prompt_tokens - 4
    assert cached.token_ids == eager.token_ids
    assert cached.token_logprobs == pytest.approx(eager.token_logprobs, abs=1e-4)


@pytest.mark.slow
def test_compiled_step_decodes_as_the_eager_one(model_dir: Path, engine: model.Engine) -> None:
    compiled = model.load(model_dir, decode="compile")
    for config in (no_cache(max_new_tokens=12), no_cache(max_new_tokens=8, candidates=2)):
        assert compiled.generate(PREFIX, config).token_ids == engine.generate(PREFIX, config).token_ids
    assert compiled.decoder.fallback is None


def test_bad_decode_modes_are_one_line_load_errors(model_dir: Path) -> None:
    with pytest.raises(model.LoadError, match="unknown decode mode 'warp'"):
        model.load(model_dir, decode="warp")
    with pytest.raises(model.LoadError, match="needs a CUDA device"):
        model.load(model_dir, device="cpu", decode="graph")
    with pytest.raises(ValueError, match="candidates must be at least 1"):
        model.load(model_dir).generate(PREFIX, GenerationConfig(candidates=0))
