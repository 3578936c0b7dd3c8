"""Weight memory layout for fp32 decoding on CPU.

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
