"""GPT-BigCode (SantaCoder/StarCoder) in plain PyTorch, multi-query or multi-head attention.

Module names mirror transformers' `GPTBigCodeForCausalLM`, so its state dict loads as is and
ours saves as is. The KV cache is preallocated and keeps MQA's single K/V head unexpanded:
that is what makes MQA's cache 16x smaller than MHA's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from model.config import ModelConfig


class KVCache:
    """Keys and values of one sequence (or a batch sharing positions), preallocated.

    Shape `[layer, batch, kv_heads, capacity, head_dim]`; `length` positions are valid.
    """

    def __init__(
        self, config: ModelConfig, capacity: int, dtype: torch.dtype, device: torch.device,
        batch: int = 1,
    ) -> None:  # fmt: skip
        shape = (config.n_layer, batch, config.kv_heads, capacity, config.head_dim)
        self.keys = torch.empty(shape, dtype=dtype, device=device)
        self.values = torch.empty(shape, dtype=dtype, device=device)
        self.length = 0

    @property
    def capacity(self) -> int:
        return self.keys.shape[3]

    @property
    def nbytes(self) -> int:
        return 2 * self.keys.numel() * self.keys.element_size()

    def copy_prefix_from(self, other: KVCache, length: int) -> None:
        self.keys[:, :, :, :length] = other.keys[:, :, :, :length]
        self.values[:, :, :, :length] = other.values[:, :, :, :length]
        self.length = length


class Attention(nn.Module):
    def __init__(self, config: ModelConfig, layer: int) -> None:
        super().__init__()
        self.layer = layer
        self.n_head, self.kv_heads, self.head_dim = config.n_head, config.kv_heads, config.head_dim
        self.scale = self.head_dim**-0.5 if config.scale_attn_weights else 1.0
        kv_dim = self.kv_heads * self.head_dim
        self.c_attn = nn.Linear(config.n_embd, config.n_embd + 2 * kv_dim)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)

    def forward(self, x: torch.Tensor, cache: KVCache | None) -> torch.Tensor:
        batch, steps, width = x.shape
        q, k, v = self._split_qkv(self.c_attn(x), batch, steps)  # [B, heads, T, d]
        past = 0
        if cache is not None:
            past = cache.length
            end = past + steps
            cache.keys[self.layer, :, :, past:end] = k
            cache.values[self.layer, :, :, past:end] = v
            k, v = cache.keys[self.layer, :, :, :end], cache.values[self.layer, :, :, :end]
        if steps == 1 and self.kv_heads == 1:
            # One new token and one K/V head: fold the query heads into the query length,
            # so attention is a single [H, d] x [d, S] product against the unexpanded cache.
            out = F.scaled_dot_product_attention(q.transpose(1, 2), k, v, scale=self.scale)
            return self.c_proj(out.reshape(batch, 1, width))
        mask = None if past == 0 else _causal_mask(steps, past, q.dtype, x.device)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=past == 0 and steps > 1, scale=self.scale,
            enable_gqa=self.kv_heads != self.n_head,
        )  # fmt: skip
        return self.c_proj(out.transpose(1, 2).reshape(batch, steps, width))

    def _split_qkv(
        self, fused: torch.Tensor, batch: int, steps: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.kv_heads == 1:
            width = self.n_head * self.head_dim
            q, k, v = fused.split((width, self.head_dim, self.head_dim), dim=-1)
            q = q.view(batch, steps, self.n_head, self.head_dim).transpose(1, 2)
            return q, k.unsqueeze(1), v.unsqueeze(1)
        # Multi-head checkpoints store c_attn per head as (head, q/k/v, head_dim).
        per_head = fused.view(batch, steps, self.n_head, 3 * self.head_dim).transpose(1, 2)
        q, k, v = per_head.split(self.head_dim, dim=-1)
        return q, k, v


def _causal_mask(steps: int, past: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """New token i (at position past+i) sees every cached position and new ones up to i.

    Additive (0 / -inf) rather than boolean: SDPA's CPU kernel is about twice as fast with it.
    """
    rows = torch.arange(steps, device=device).unsqueeze(1) + past
    hidden = torch.arange(past + steps, device=device).unsqueeze(0) > rows
    return torch.zeros(hidden.shape, dtype=dtype, device=device).masked_fill_(hidden, float("-inf"))


class MLP(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, config.n_inner)
        self.c_proj = nn.Linear(config.n_inner, config.n_embd)
        self.approximate = "tanh" if config.tanh_gelu else "none"
        self.relu = config.activation_function == "relu"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.c_fc(x)
        h = F.relu(h) if self.relu else F.gelu(h, approximate=self.approximate)
        return self.c_proj(h)


class Block(nn.Module):
    def __init__(self, config: ModelConfig, layer: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.attn = Attention(config, layer)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cache: KVCache | None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.n_positions, config.n_embd)
        self.h = nn.ModuleList(Block(config, i) for i in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)


class GPTBigCode(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.transformer = Transformer(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied, as in every SantaCoder

    def forward(
        self, ids: torch.Tensor, cache: KVCache | None = None, last_only: bool = False
    ) -> torch.Tensor:
        """Logits for `ids` `[batch, steps]`, continuing `cache` if given (which it extends).

        `last_only` computes logits for the final position only: during generation the
        vocabulary projection of every prompt token would be wasted work.
        """
        past = cache.length if cache is not None else 0
        if past + ids.shape[1] > self.config.n_positions:
            raise ValueError(
                f"sequence of {past + ids.shape[1]} tokens exceeds the model's context of "
                f"{self.config.n_positions}"
            )
        positions = torch.arange(past, past + ids.shape[1], device=ids.device)
        x = self.transformer.wte(ids) + self.transformer.wpe(positions)
        for block in self.transformer.h:
            x = block(x, cache)
        if cache is not None:
            cache.length += ids.shape[1]
        if last_only:
            x = x[:, -1:]
        return self.lm_head(self.transformer.ln_f(x))


@torch.no_grad()
def init_weights(net: GPTBigCode, std: float = 0.022, seed: int | None = None) -> None:
    """SantaCoder's initialisation: normal(0, std), residual projections scaled by depth.

    The two c_proj layers of each block add into the residual stream, so their std is divided
    by sqrt(2 * n_layer) to keep the stream's variance independent of depth (GPT-2's rule).
    """
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    residual_std = std / (2 * net.config.n_layer) ** 0.5
    for name, param in net.named_parameters():
        if name.endswith("bias"):
            param.zero_()
        elif ".ln_" in name or name.startswith("transformer.ln_f"):
            param.fill_(1.0)
        else:
            scale = residual_std if name.endswith("c_proj.weight") else std
            param.copy_(torch.randn(param.shape, generator=generator) * scale)
