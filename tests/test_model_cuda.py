"""The runtime on a CUDA GPU: fp16 against fp32, against transformers, the prefix cache, cancellation.

Every test here is marked `cuda` and skipped without a GPU. scripts/device-check runs this file
on a GPU machine without tests/conftest.py (`--noconftest`), which imports the language server's
test support: that machine has torch, transformers and tokenizers, not pygls. So this file skips
on its own and imports nothing outside `model/` and `tests/tiny.py`.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

import model
from model import GenerationConfig
from tests.tiny import make_model

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

PROMPTS = [
    "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        ",
    "def fib(n):\n    if n < 2:\n        return n\n",
    "for i in range(10):\n    print(",
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model(tmp_path_factory.mktemp("cuda"), n_positions=256)


@pytest.fixture(scope="module")
def cpu(model_dir: Path) -> model.Engine:
    return model.load(model_dir, device="cpu", dtype="fp32")


@pytest.fixture
def gpu(model_dir: Path) -> model.Engine:
    return model.load(model_dir, device="cuda")


def greedy(**fields: object) -> GenerationConfig:
    return GenerationConfig(use_prefix_cache=False, **fields)  # type: ignore[arg-type]


def test_auto_dtype_on_cuda_is_fp16(gpu: model.Engine) -> None:
    assert gpu.dtype == torch.float16 and gpu.device.type == "cuda"


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_half_precision_logits_track_fp32(model_dir: Path, cpu: model.Engine, dtype: str) -> None:
    half = model.load(model_dir, device="cuda", dtype=dtype)
    for prompt in PROMPTS:
        ids = cpu.tokenizer.encode(prompt)
        ours, exact = half.logits(ids).cpu(), cpu.logits(ids)
        # bf16 keeps 8 bits of mantissa to fp16's 11: the same bounds as the CPU test for it.
        assert torch.cosine_similarity(ours, exact, dim=-1).min() > (0.999 if dtype == "fp16" else 0.99)
        assert (ours - exact).abs().max() < (5e-2 if dtype == "fp16" else 2e-1)


def test_fp16_greedy_matches_fp32_on_cpu(gpu: model.Engine, cpu: model.Engine) -> None:
    config = greedy(max_new_tokens=16)
    for prompt in PROMPTS:
        assert gpu.generate(prompt, config).token_ids == cpu.generate(prompt, config).token_ids


def test_fp16_greedy_matches_transformers_fp16(model_dir: Path, gpu: model.Engine) -> None:
    from transformers import GPTBigCodeForCausalLM

    theirs = GPTBigCodeForCausalLM.from_pretrained(model_dir, dtype=torch.float16).cuda().eval()
    specials = sorted(gpu.tokenizer.special_ids)
    for prompt in PROMPTS:
        ids = gpu.tokenizer.encode(prompt)
        with torch.inference_mode():
            out = theirs.generate(
                torch.tensor([ids], device="cuda"), max_new_tokens=24, do_sample=False, eos_token_id=specials,
                pad_token_id=specials[0],
            )  # fmt: skip
        expected = [t for t in out[0, len(ids) :].tolist() if t not in specials]
        assert gpu.generate(ids, greedy(max_new_tokens=24)).token_ids == expected
        assert len(expected) >= 8  # a real stretch of text is compared


def test_prefix_cache_reuse_gives_the_same_tokens(gpu: model.Engine) -> None:
    prompt = PROMPTS[0]
    gpu.generate(prompt, GenerationConfig(max_new_tokens=8))
    cached = gpu.generate(prompt + "self.y", GenerationConfig(max_new_tokens=12))
    cold = gpu.generate(prompt + "self.y", greedy(max_new_tokens=12))
    assert cached.reused_tokens >= len(gpu.tokenizer.encode(prompt)) - 2
    assert cached.token_ids == cold.token_ids


def test_cancel_from_another_thread_stops_and_frees_the_model(gpu: model.Engine) -> None:
    generation = gpu.stream(PROMPTS[1], greedy(max_new_tokens=100))
    pieces = iter(generation)
    next(pieces)
    threading.Thread(target=generation.cancel).start()
    result = generation.wait()
    assert result.finish_reason == "cancelled" and len(result.token_ids) < 100
    assert not gpu.lock.locked()
    assert gpu.generate(PROMPTS[1], GenerationConfig(max_new_tokens=3)).token_ids


@pytest.mark.parametrize("decode", ["static", "compile"])
def test_other_decode_modes_decode_as_the_default_graph(model_dir: Path, gpu: model.Engine, decode: str) -> None:
    """The default on CUDA replays a CUDA graph of the fixed-shape step; eager is the reference."""
    assert gpu.decoder.mode == "graph"
    eager = model.load(model_dir, device="cuda", decode="eager")
    other = model.load(model_dir, device="cuda", decode=decode)
    for prompt in PROMPTS:
        expected = eager.generate(prompt, greedy(max_new_tokens=16)).token_ids
        assert gpu.generate(prompt, greedy(max_new_tokens=16)).token_ids == expected
        assert other.generate(prompt, greedy(max_new_tokens=16)).token_ids == expected
    assert gpu.decoder.fallback is None and other.decoder.fallback is None


def test_batched_candidates_equal_single_runs(gpu: model.Engine) -> None:
    prompt = gpu.tokenizer.encode(PROMPTS[0])
    results = gpu.candidates(prompt, greedy(max_new_tokens=12, candidates=4))
    assert results[0].token_ids == gpu.generate(prompt, greedy(max_new_tokens=12)).token_ids
    for result in results[1:]:
        rest = gpu.generate(prompt + result.token_ids[:1], greedy(max_new_tokens=11))
        assert result.token_ids == result.token_ids[:1] + rest.token_ids
    sampled = greedy(max_new_tokens=12, temperature=1.0, seed=3, candidates=4)
    for i, result in enumerate(gpu.candidates(prompt, sampled)):
        single = gpu.generate(prompt, greedy(max_new_tokens=12, temperature=1.0, seed=3 + i))
        assert result.token_ids == single.token_ids
