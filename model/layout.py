"""Weight memory layouts for CPU: fp32 wide weights input-major, bf16 weights oneDNN-packed.

Decoding multiplies one row of activations by each weight matrix. On this class of CPU the
fp32 GEMV streams a weight stored input-major (`[in, out]`, as GPT-2's Conv1D) up to 2.5x
faster than the usual `[out, in]` when the layer widens (out >= in): measured 26 against
10 GB/s for SantaCoder's vocabulary projection. Narrowing layers are faster as they are,
prefill is unaffected, and bf16 GEMV prefers `[out, in]`; so only wide fp32 weights move.

The parameter keeps its `[out, in]` shape as a transposed view of `[in, out]` storage:
`F.linear` then multiplies by the contiguous storage directly, state dicts keep their names
and shapes, and tied weights stay one tensor.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def input_major(weight: nn.Parameter) -> nn.Parameter:
    return nn.Parameter(weight.detach().t().contiguous().t(), requires_grad=weight.requires_grad)


def relayout_wide_linears(net: nn.Module) -> None:
    """Store every widening nn.Linear weight input-major, in place, keeping ties."""
    relaid: dict[int, nn.Parameter] = {}
    for module in net.modules():
        if isinstance(module, nn.Linear) and module.out_features >= module.in_features:
            old = module.weight
            module.weight = relaid.setdefault(id(old), input_major(old))
    for module in net.modules():  # an embedding tied to a moved weight follows it
        if isinstance(module, nn.Embedding) and id(module.weight) in relaid:
            module.weight = relaid[id(module.weight)]


def is_input_major(weight: torch.Tensor) -> bool:
    return weight.dim() == 2 and weight.stride() == (1, weight.shape[0])


# bf16 on CPU: oneDNN's matmul reads a weight fastest in its own blocked layout. Reordering
# each weight once at load time (what inductor's CPU freezing does) lifts the decode GEMV from
# ~14 to ~18 GB/s on this machine's 2 cores, and prefill GEMMs are as fast or faster (measured
# on SantaCoder's 2048x8192 shapes). Results are bit-identical to F.linear.


def can_pack_bf16() -> bool:
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


class PackedLinear(nn.Module):
    """An inference-only bf16 nn.Linear whose weight oneDNN has reordered once."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        weight = linear.weight.detach().to(torch.bfloat16).contiguous()
        self.register_buffer("weight", torch.ops.mkldnn._reorder_linear_weight(weight, 1))
        bias = linear.bias
        self.register_buffer("bias", None if bias is None else bias.detach().to(torch.bfloat16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, "none", [], "")


def pack_bf16_linears(net: nn.Module) -> None:
    """Replace every untied bf16 nn.Linear by a PackedLinear, in place.

    A projection tied to the embedding stays as it is: the lookup needs the plain table, and
    a packed copy would hold the vocabulary matrix twice.
    """
    embeddings = {id(m.weight) for m in net.modules() if isinstance(m, nn.Embedding)}
    replace_linears(net, lambda linear: linear if id(linear.weight) in embeddings else PackedLinear(linear))


def replace_linears(net: nn.Module, replacement: Callable[[nn.Linear], nn.Module]) -> None:
    """Put `replacement(linear)` in place of every nn.Linear of `net` (returning it keeps it)."""
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.Linear):
                setattr(module, name, replacement(child))
