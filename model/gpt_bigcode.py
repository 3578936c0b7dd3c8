"""GPT-BigCode (SantaCoder/StarCoder) in plain PyTorch, multi-query or multi-head attention.

Module names mirror transformers' `GPTBigCodeForCausalLM`, so its state dict loads as is and
ours saves as is. The KV cache is preallocated and keeps MQA's single K/V head unexpanded:
that is what makes MQA's cache 16x smaller than MHA's. As in gpt-fast, the caller passes the
positions of each call: the cache holds keys and values, not a length.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from model.config import ModelConfig


@dataclass
class KVCache:
    """Keys and values of `batch` sequences that share positions, preallocated.

    Shape `[layer, batch, kv_heads, capacity, head_dim]`. Which positions hold valid entries is
    the caller's to know: it passes each call's positions to the network.
    """

    keys: torch.Tensor
    values: torch.Tensor

    @classmethod
    def allocate(
        cls, config: ModelConfig, capacity: int, dtype: torch.dtype, device: torch.device, batch: int = 1,
        zeroed: bool = False,
    ) -> KVCache:  # fmt: skip
        """`zeroed` for a cache attended with `fixed_shape`: the masked positions it has never
        written are still multiplied (by 0), and uninitialised memory can hold NaN."""
        shape = (config.n_layer, batch, config.kv_heads, capacity, config.head_dim)
        make = torch.zeros if zeroed else torch.empty
        return cls(make(shape, dtype=dtype, device=device), make(shape, dtype=dtype, device=device))

    @property
    def capacity(self) -> int:
        return self.keys.shape[3]

    @property
    def batch(self) -> int:
        return self.keys.shape[1]

    @property
    def nbytes(self) -> int:
        return 2 * self.keys.numel() * self.keys.element_size()

    def row(self, index: int) -> KVCache:
        """One sequence of the batch, as a view: writing to it writes to this cache."""
        return KVCache(self.keys[:, index : index + 1], self.values[:, index : index + 1])

    def copy_prefix_from(self, other: KVCache, length: int) -> None:
        self.keys[:, :, :, :length] = other.keys[:, :, :, :length]
        self.values[:, :, :, :length] = other.values[:, :, :, :length]

    def spread_first_row(self, length: int) -> None:
        """Copy row 0's first `length` positions into every other row: candidates share a prompt."""
        self.keys[:, 1:, :, :length] = self.keys[:, :1, :, :length]
        self.values[:, 1:, :, :length] = self.values[:, :1, :, :length]

    def prefix(self, length: int) -> KVCache:
        """A copy of the first `length` positions: to keep after this cache is reused."""
        return KVCache(self.keys[:, :, :, :length].clone(), self.values[:, :, :, :length].clone())


@dataclass(frozen=True)
class Visible:
    """What the queries of one call attend to: the same for every layer, so computed once."""

    positions: torch.Tensor  # [steps]: where this call's keys and values are written
    span: int  # cache positions attended: the first `span`
    mask: torch.Tensor | None  # additive [steps, span], or None
    causal: bool  # SDPA's own causal mask (queries and keys both start at position 0)


def visible(positions: torch.Tensor, cache: KVCache | None, fixed_shape: bool, dtype: torch.dtype) -> Visible:
    """Each query sees every position up to its own.

    Without a cache the call's own tokens are all there is. With one, either the cache up to the
    last position written (read on the host: cheap on CPU, a synchronisation on a GPU), or, with
    `fixed_shape`, the whole cache with the positions after each query masked: the shapes then do
    not depend on the position, which CUDA graphs and torch.compile need.
    """
    steps = positions.shape[0]
    if cache is None:
        return Visible(positions, steps, None, steps > 1)
    if fixed_shape:
        return Visible(positions, cache.capacity, _mask_after(positions, cache.capacity, dtype), False)
    span = int(positions[-1]) + 1
    if steps == 1 or span == steps:  # one token sees everything; a prompt from 0 is plain causal
        return Visible(positions, span, None, steps > 1)
    return Visible(positions, span, _mask_after(positions, span, dtype), False)


def _mask_after(positions: torch.Tensor, span: int, dtype: torch.dtype) -> torch.Tensor:
    """Additive (0 / -inf) rather than boolean: SDPA's CPU kernel is about twice as fast with it."""
    hidden = torch.arange(span, device=positions.device).unsqueeze(0) > positions.unsqueeze(1)
    return torch.zeros(hidden.shape, dtype=dtype, device=positions.device).masked_fill_(hidden, float("-inf"))


class Attention(nn.Module):
    def __init__(self, config: ModelConfig, layer: int) -> None:
        super().__init__()
        self.layer = layer
        self.n_head, self.kv_heads, self.head_dim = config.n_head, config.kv_heads, config.head_dim
        self.scale = self.head_dim**-0.5 if config.scale_attn_weights else 1.0
        kv_dim = self.kv_heads * self.head_dim
        self.c_attn = nn.Linear(config.n_embd, config.n_embd + 2 * kv_dim)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)

    def forward(self, x: torch.Tensor, cache: KVCache | None, seen: Visible) -> torch.Tensor:
        batch, steps, width = x.shape
        q, k, v = self._split_qkv(self.c_attn(x), batch, steps)  # [B, heads, T, d]
        if cache is not None:
            keys, values = cache.keys[self.layer], cache.values[self.layer]
            keys.index_copy_(2, seen.positions, k)
            values.index_copy_(2, seen.positions, v)
            k, v = keys[:, :, : seen.span], values[:, :, : seen.span]
        if steps == 1 and self.kv_heads == 1:
            # One new token and one K/V head: fold the query heads into the query length,
            # so attention is a single [H, d] x [d, S] product against the unexpanded cache.
            out = F.scaled_dot_product_attention(q.transpose(1, 2), k, v, attn_mask=seen.mask, scale=self.scale)
            return self.c_proj(out.reshape(batch, 1, width))
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=seen.mask, is_causal=seen.causal, scale=self.scale,
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

    def forward(self, x: torch.Tensor, cache: KVCache | None, seen: Visible) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache, seen)
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
        self, ids: torch.Tensor, positions: torch.Tensor | None = None, cache: KVCache | None = None,
        last_only: bool = False, fixed_shape: bool = False,
    ) -> torch.Tensor:  # fmt: skip
        """Logits for `ids` `[batch, steps]` at `positions` `[steps]` (by default 0 to steps-1).

        With `cache`, each layer writes its keys and values at `positions` and attends over the
        cache (see `visible`). `last_only` computes logits for the final position only: during
        generation the vocabulary projection of every prompt token would be wasted work.
        """
        if positions is None:
            if ids.shape[1] > self.config.n_positions:
                raise ValueError(
                    f"sequence of {ids.shape[1]} tokens exceeds the model's context of {self.config.n_positions}"
                )
            positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.transformer.wte(ids) + self.transformer.wpe(positions)
        seen = visible(positions, cache, fixed_shape, x.dtype)
        for block in self.transformer.h:
            x = block(x, cache, seen)
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
