"""SantaCoder's optimiser recipe: AdamW(0.9, 0.95, eps 1e-8), weight decay 0.1 on matrices only,
and a cosine learning-rate schedule after a linear warmup (2% of the steps by default)."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR


def param_groups(net: nn.Module, weight_decay: float) -> list[dict[str, object]]:
    """Decay the weight matrices of linear layers; not norms, biases or embeddings.

    Decaying a LayerNorm gain or a bias pulls it towards 0, which is not a simpler model; an
    embedding row is only updated when its token occurs, so decay would shrink rare tokens.
    Only trainable parameters are included (LoRA freezes the base model).
    """
    embeddings = {id(m.weight) for m in net.modules() if isinstance(m, nn.Embedding)}
    decay, plain = [], []
    for name, param in net.named_parameters():
        if not param.requires_grad:
            continue
        no_decay = param.ndim < 2 or id(param) in embeddings or ".ln_" in name or "ln_f" in name
        (plain if no_decay else decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": plain, "weight_decay": 0.0},
    ]


def make_optimizer(
    net: nn.Module, lr: float, weight_decay: float = 0.1, betas: tuple[float, float] = (0.9, 0.95),
    eps: float = 1e-8,
) -> torch.optim.AdamW:  # fmt: skip
    # The fused kernel (CPU and CUDA) updates every tensor in one pass: for a small model the
    # per-tensor Python loop of the default implementation is a large share of the step.
    return torch.optim.AdamW(param_groups(net, weight_decay), lr=lr, betas=betas, eps=eps, fused=True)


def cosine_factor(step: int, total: int, warmup: int, min_ratio: float) -> float:
    """Multiplier of the peak learning rate at optimiser step `step` (0-based)."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_scheduler(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_ratio: float = 0.02, min_ratio: float = 0.1
) -> LambdaLR:
    warmup = max(1, round(total_steps * warmup_ratio)) if warmup_ratio > 0 else 0
    return LambdaLR(optimizer, lambda step: cosine_factor(step, total_steps, warmup, min_ratio))
