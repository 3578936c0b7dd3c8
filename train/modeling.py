"""The network a run trains: freshly initialised from [model], or a base checkpoint's weights."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import model
from model.config import ModelConfig
from model.gpt_bigcode import GPTBigCode, init_weights
from train.recipe import ModelSettings


def new_config(settings: ModelSettings, vocab_size: int) -> ModelConfig:
    # A vocabulary padded to a multiple of 128 (as SantaCoder's 49280) keeps matmuls aligned.
    return ModelConfig(
        vocab_size=vocab_size + (-vocab_size % 128),
        n_positions=settings.n_positions,
        n_embd=settings.n_embd,
        n_layer=settings.n_layer,
        n_head=settings.n_head,
        n_inner=settings.n_inner or 4 * settings.n_embd,
        multi_query=settings.multi_query,
    )


def fresh_network(settings: ModelSettings, vocab_size: int, seed: int) -> GPTBigCode:
    net = GPTBigCode(new_config(settings, vocab_size))
    init_weights(net, std=settings.init_std, seed=seed)
    return net


def base_network(path: Path) -> GPTBigCode:
    """A checkpoint (either SantaCoder layout, or a Hub id) as a trainable fp32 network.

    Loaded without the serving steps of `model.load`: no CPU weight layouts for decoding, no
    malloc settings for the whole process."""
    net, _ = model.load_network(path)
    return net.float().requires_grad_(True).train()


def add_residual_dropout(net: GPTBigCode, p: float) -> None:
    """Dropout where GPT-2/SantaCoder apply it outside attention: on the embeddings and on each
    residual branch (attention and MLP outputs). Done with hooks so the runtime's module stays
    inference-only; the hooks follow `net.training`, so evaluation and export are unaffected.
    (Dropout on the attention probabilities is left out: SDPA fuses them away.)
    """
    if p <= 0:
        return

    def on_output(module: nn.Module, _inputs: object, output: torch.Tensor) -> torch.Tensor:
        return F.dropout(output, p, module.training)

    def on_embeddings(module: nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        return (F.dropout(args[0], p, module.training), *args[1:])

    blocks = net.transformer.h
    blocks[0].register_forward_pre_hook(on_embeddings)
    for block in blocks:
        block.attn.register_forward_hook(on_output)
        block.mlp.register_forward_hook(on_output)
