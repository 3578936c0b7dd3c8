"""santa-lsp's model runtime: GPT-BigCode (SantaCoder/StarCoder) inference in PyTorch.

    engine = model.load("path/or/org-name", device="auto", dtype="auto")
    engine.infill(prefix, suffix).text
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from model.checkpoint import (
    check_against_config,
    read_state_dict,
    resolve_model_dir,
    to_bigcode_layout,
)
from model.config import ModelConfig, load_config
from model.decoding import check_mode
from model.engine import Completion, Engine, Generation, GenerationConfig
from model.errors import FimUnsupportedError, LoadError
from model.gpt_bigcode import GPTBigCode
from model.layout import can_pack_bf16, pack_bf16_linears, relayout_wide_linears
from model.memory import keep_freed_memory
from model.quantize import check_prefill_path, choose_prefill, quantize_int8
from model.tokenizer import Tokenizer, load_tokenizer

__all__ = [
    "DEFAULT_MODEL",
    "Completion",
    "Engine",
    "FimUnsupportedError",
    "Generation",
    "GenerationConfig",
    "LoadError",
    "ModelConfig",
    "Tokenizer",
    "default_model",
    "load",
    "load_network",
    "load_tokenizer_only",
]

# The small model trained by train/ and shipped inside the package (see its MODEL_CARD.md).
DEFAULT_MODEL = Path(__file__).parent / "default_model"
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
DEFAULT_PREFIX_CACHE_MB = 1024


def load(
    path: str | os.PathLike[str],
    device: str = "auto",
    dtype: str = "auto",
    *,
    revision: str | None = None,
    prefix_cache_mb: int = DEFAULT_PREFIX_CACHE_MB,
    decode: str = "auto",
    int8_prefill: str = "auto",
) -> Engine:
    """Load a checkpoint directory or Hub id into an Engine.

    dtype: "auto" (fp16 on CUDA, fp32 on CPU), "fp32", "bf16", "fp16", or "int8"
    (CPU: int8 linear weights, fp32 activations quantised per row inside each matmul).
    decode: how the one-token step runs (model/decoding.py): "auto" ("graph" on CUDA, "eager"
    on CPU), "eager", "static", "graph" (CUDA) or "compile".
    int8_prefill: with dtype int8, how prompts (multi-row inputs) are multiplied: "auto" times
    each path this CPU runs well and takes the fastest (model/quantize.py), or force "int8"
    (FBGEMM), "fp32" or "bf16" (weights cast from int8 per call). Decoding is int8 either way.
    Raises LoadError with one clear line. On CPU, the process keeps freed memory for reuse
    (model/memory.py): long prompts prefill up to a quarter faster.
    """
    torch_device = _device(device)
    decode_mode = _decode_mode(decode, torch_device)
    if torch_device.type == "cpu":
        keep_freed_memory()
    weight_dtype, int8 = _dtype(dtype, torch_device)
    try:
        check_prefill_path(int8_prefill)
    except ValueError as error:
        raise LoadError(str(error)) from None
    net, tokenizer = load_network(path, revision=revision)
    net = net.to(device=torch_device, dtype=weight_dtype).eval()
    prefill = None
    if int8:
        quantize_int8(net)
        prefill = choose_prefill(net, net.transformer.h, int8_prefill)
    elif torch_device.type == "cpu" and weight_dtype == torch.float32:
        relayout_wide_linears(net)
    elif torch_device.type == "cpu" and weight_dtype == torch.bfloat16 and can_pack_bf16():
        pack_bf16_linears(net)
    return Engine(
        net, tokenizer, device=torch_device, dtype=weight_dtype,
        prefix_cache_bytes=prefix_cache_mb * 2**20, decode=decode_mode, int8_prefill=prefill,
    )  # fmt: skip


def load_network(path: str | os.PathLike[str], *, revision: str | None = None) -> tuple[GPTBigCode, Tokenizer]:
    """A checkpoint's network, on CPU with its weights as stored (dtype and layout), and its
    tokenizer: what training starts from. Unlike `load`, it changes nothing else in the process
    and leaves out the serving steps (CPU weight layouts, quantisation, malloc settings).
    Raises LoadError with one clear line."""
    directory = resolve_model_dir(path, revision)
    config = load_config(directory / "config.json")
    tokenizer = load_tokenizer(directory)
    if tokenizer.vocab_size > config.vocab_size:
        raise LoadError(
            f"{directory / 'tokenizer.json'}: {tokenizer.vocab_size} tokens, but config.json's "
            f"vocab_size is {config.vocab_size}"
        )
    tensors = to_bigcode_layout(read_state_dict(directory), config)
    check_against_config(tensors, config, directory)
    return build(config, tensors), tokenizer


def load_tokenizer_only(path: str | os.PathLike[str], *, revision: str | None = None) -> tuple[Tokenizer, int]:
    """A checkpoint's tokenizer and context length, without its weights: what a client of an
    inference server that runs this model needs to size and lay out prompts. Raises LoadError."""
    directory = resolve_model_dir(path, revision, weights=False)
    return load_tokenizer(directory), load_config(directory / "config.json").n_positions


def default_model() -> Path | None:
    """The model shipped in the package, if this installation has it."""
    return DEFAULT_MODEL if (DEFAULT_MODEL / "config.json").is_file() else None


def build(config: ModelConfig, tensors: dict[str, torch.Tensor]) -> GPTBigCode:
    """The network with `tensors` (gpt_bigcode names) as its weights, without a copy."""
    with torch.device("meta"):
        net = GPTBigCode(config)
    net.load_state_dict(tensors, assign=True)
    if tensors["lm_head.weight"] is tensors["transformer.wte.weight"]:
        net.lm_head.weight = net.transformer.wte.weight  # keep one tensor through .to()
    return net


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise LoadError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise LoadError(f"device {name!r} asked for, but CUDA is not available on this machine")
    return device


def _dtype(name: str, device: torch.device) -> tuple[torch.dtype, bool]:
    """The floating dtype of weights/activations, and whether linear weights become int8."""
    if name == "auto":
        return (torch.float16 if device.type == "cuda" else torch.float32), False
    if name == "int8":
        if device.type != "cpu":
            raise LoadError("dtype int8 is the CPU path; use fp16 or bf16 on GPU")
        return torch.float32, True
    if name not in DTYPES:
        raise LoadError(f"unknown dtype {name!r}: use auto, fp32, bf16, fp16 or int8")
    return DTYPES[name], False


def _decode_mode(name: str, device: torch.device) -> str:
    if name == "auto":
        # CUDA: one graph launch per token instead of a launch per op. CPU: the per-request cache
        # attends only to what is written, and nothing to capture or compile (docs/performance.md).
        return "graph" if device.type == "cuda" else "eager"
    try:
        check_mode(name, device)
    except ValueError as error:
        raise LoadError(str(error)) from None
    return name
