"""Our runtime against transformers' GPTBigCodeForCausalLM on the same random weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from transformers import GPTBigCodeConfig, GPTBigCodeForCausalLM

import model
from model.checkpoint import save_checkpoint
from model.config import ModelConfig
from model.gpt_bigcode import KVCache
from tests.tiny import make_tokenizer

PROMPT = "def fib(n):\n    if n < 2:\n        return n\n"


def hf_model(directory: Path, multi_query: bool, seed: int = 0) -> GPTBigCodeForCausalLM:
    """A random transformers model saved with our tiny tokenizer."""
    make_tokenizer(directory)
    torch.manual_seed(seed)
    config = GPTBigCodeConfig(
        vocab_size=400, n_positions=128, n_embd=64, n_layer=2, n_head=4, n_inner=256,
        multi_query=multi_query, initializer_range=0.2, eos_token_id=388, bos_token_id=388,
    )  # fmt: skip
    net = GPTBigCodeForCausalLM(config).eval()
    net.save_pretrained(directory)
    return net


@pytest.fixture(params=[True, False], ids=["mqa", "mha"])
def pair(request, tmp_path):  # type: ignore[no-untyped-def]
    theirs = hf_model(tmp_path, request.param)
    return model.load(tmp_path), theirs, tmp_path


def test_logits_match(pair) -> None:  # type: ignore[no-untyped-def]
    ours, theirs, _ = pair
    ids = ours.tokenizer.encode(PROMPT)
    with torch.no_grad():
        expected = theirs(torch.tensor([ids])).logits[0]
    assert (ours.logits(ids) - expected).abs().max() < 1e-4


def test_greedy_generation_matches_generate(pair) -> None:  # type: ignore[no-untyped-def]
    ours, theirs, _ = pair
    ids = ours.tokenizer.encode(PROMPT)
    specials = sorted(ours.tokenizer.special_ids)
    with torch.no_grad():
        out = theirs.generate(
            torch.tensor([ids]), max_new_tokens=32, do_sample=False, eos_token_id=specials,
            pad_token_id=specials[0],
        )  # fmt: skip
    expected = [t for t in out[0, len(ids) :].tolist() if t not in specials]
    result = ours.generate(ids, model.GenerationConfig(max_new_tokens=32))
    assert result.token_ids == expected
    assert len(expected) >= 16  # the comparison is over a real stretch of text


def test_our_checkpoint_loads_in_transformers(tmp_path: Path) -> None:
    make_tokenizer(tmp_path)
    config = ModelConfig(vocab_size=400, n_positions=64, n_embd=32, n_layer=2, n_head=4, n_inner=64)
    net = model.build(config, _random_tensors(config))
    save_checkpoint(tmp_path, config, net.state_dict(), tokenizer_dir=None)
    theirs = GPTBigCodeForCausalLM.from_pretrained(tmp_path).eval()
    ours = model.load(tmp_path)
    ids = ours.tokenizer.encode(PROMPT)
    with torch.no_grad():
        expected = theirs(torch.tensor([ids])).logits[0]
    assert (ours.logits(ids) - expected).abs().max() < 1e-4


def _random_tensors(config: ModelConfig) -> dict[str, torch.Tensor]:
    from model.checkpoint import expected_shapes

    torch.manual_seed(1)
    tensors = {k: torch.randn(shape) * 0.1 for k, shape in expected_shapes(config).items()}
    tensors["lm_head.weight"] = tensors["transformer.wte.weight"]
    return tensors


def santacoder_layout(tensors: dict[str, torch.Tensor], config: GPTBigCodeConfig) -> dict[str, torch.Tensor]:
    """Rewrite gpt_bigcode weights the way the original SantaCoder code stored them."""
    out: dict[str, torch.Tensor] = {}
    width, head_dim = config.n_embd, config.n_embd // config.n_head
    for key, value in tensors.items():
        if key == "lm_head.weight":
            continue
        layer_prefix = key.rsplit("attn.c_attn.", 1)[0]
        if "attn.c_attn." in key and config.multi_query:
            q, kv = value.split((width, 2 * head_dim), dim=0)
            kind = key.rsplit(".", 1)[1]
            out[f"{layer_prefix}attn.q_attn.{kind}"] = q.t().contiguous() if kind == "weight" else q
            out[f"{layer_prefix}attn.kv_attn.{kind}"] = kv.t().contiguous() if kind == "weight" else kv
            continue
        if "attn.c_attn." in key:  # per-head (head, q/k/v, dim) back to GPT-2's [Q | K | V]
            rest = value.shape[1:]
            value = value.reshape(config.n_head, 3, head_dim, *rest).transpose(0, 1).reshape(value.shape)
        is_conv = key.endswith(".weight") and (".attn." in key or ".mlp." in key)
        out[key] = value.t().contiguous() if is_conv else value
    for layer in range(config.n_layer):  # stray buffers the custom code saved
        out[f"transformer.h.{layer}.attn.bias"] = torch.tril(torch.ones(1, 1, 8, 8, dtype=torch.uint8))
        out[f"transformer.h.{layer}.attn.masked_bias"] = torch.tensor(-1e4)
    return out


def test_original_santacoder_layout_gives_same_logits(pair, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    ours, theirs, _ = pair
    directory = tmp_path_factory.mktemp("santacoder")
    make_tokenizer(directory)
    config = theirs.config
    save_file(santacoder_layout(theirs.state_dict(), config), str(directory / "model.safetensors"))
    custom = {
        "model_type": "gpt2", "architectures": ["GPT2LMHeadCustomModel"],
        "attention_head_type": "multiquery" if config.multi_query else "multihead",
        "activation_function": "gelu_fast", "vocab_size": config.vocab_size,
        "n_positions": config.n_positions, "n_embd": config.n_embd, "n_layer": config.n_layer,
        "n_head": config.n_head, "n_inner": config.n_inner, "layer_norm_epsilon": 1e-5,
    }  # fmt: skip
    (directory / "config.json").write_text(json.dumps(custom))
    converted = model.load(directory)
    ids = ours.tokenizer.encode(PROMPT)
    assert (converted.logits(ids) - ours.logits(ids)).abs().max() < 1e-5


@pytest.mark.parametrize("fixed_shape", [False, True], ids=["span", "fixed"])
def test_incremental_forward_matches_full_forward(pair, fixed_shape: bool) -> None:  # type: ignore[no-untyped-def]
    """Chunks and single steps at explicit positions; `fixed_shape` attends over the whole cache."""
    ours, _, _ = pair
    ids = ours.tokenizer.encode(PROMPT)
    full = ours.logits(ids)
    cache = KVCache.allocate(ours.config, len(ids) + 9, ours.dtype, ours.device, zeroed=fixed_shape)
    pieces = [ids[:7], ids[7:8], ids[8:15], *([t] for t in ids[15:])]  # chunk, step, chunk, steps
    starts = [sum(map(len, pieces[:i])) for i in range(len(pieces))]
    with torch.no_grad():
        stepped = torch.cat([
            ours.net(torch.tensor([p]), torch.arange(s, s + len(p)), cache, fixed_shape=fixed_shape)[0]
            for p, s in zip(pieces, starts, strict=True)
        ])  # fmt: skip
    assert (stepped - full).abs().max() < 1e-4
