"""int8 linear layers for CPU: half of bf16's bytes per token, so nearly twice the decode speed.

Decoding one token reads every weight once, so on a CPU its speed is memory bandwidth over
weight bytes. Weights are stored as int8 with one scale per output channel (symmetric), packed
once for FBGEMM. Activations stay fp32 between layers and are quantised to 8 bits inside each
matmul, which then runs on the CPU's int8 dot-product units (VNNI): the same scheme as
CTranslate2's int8 and llama.cpp's q8_0. Measured on SantaCoder's shapes (2 cores), FBGEMM's
int8 matrix-vector product streams weights ~1.4x faster than `torch._weight_int8pack_mm`
(which keeps activations in floating point), and a 1024-token prefill spends 1.45x less time
in its GEMMs than in bf16's (1.27x less overall).

FBGEMM picks one activation scale per call. For a prompt that would let one large row coarsen
every other row's quantisation, so rows are first scaled to a max-abs of 1 and the output
scaled back (exact, since the layer is linear): each row gets its own 8-bit range.

A prompt is many rows, and there the fastest GEMM depends on the CPU: with AMX or AVX-512 BF16,
a bf16 GEMM on the weight cast from int8 (one layer at a time) can beat FBGEMM's int8 GEMM.
`choose_prefill` times the candidates at load and keeps the fastest; decoding stays int8.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from model.layout import can_pack_bf16, replace_linears

log = logging.getLogger(__name__)

# How a multi-row (prefill) input is multiplied; one row (decode) always takes FBGEMM int8.
# "int8": FBGEMM's int8 GEMM. "fp32"/"bf16": a plain GEMM on the weight cast from int8 for
# that call only (freed after it), so memory stays int8-sized and the numbers are those of the
# int8 weights exactly: int8 values are exact in bf16, and the per-channel scale is applied to
# the output in fp32. Which is fastest depends on the CPU: FBGEMM's int8 kernels need no more
# than AVX2, while a bf16 GEMM is fast only with native bf16 (AVX-512 BF16, AMX).
PREFILL_PATHS = ("int8", "fp32", "bf16")
FLOAT_PATHS = {"fp32": torch.float32, "bf16": torch.bfloat16}
# The probe's prompt chunk: GEMMs of this many rows already run at their long-prompt speed.
PROBE_ROWS = 256
# A cast path must beat int8 by this much to be chosen: close timings then always choose int8,
# and the choice does not flip from one load to the next with the host's noise.
MARGIN = 0.9
# Without VNNI, FBGEMM multiplies u8 x s8 pairs with AVX2's vpmaddubsw, whose int16 sums
# saturate: full 8-bit activations then clip large products (measured on an AVX2-only Zen 3:
# logits cosine vs fp32 0.956 on the tiny test model, one layer 0.986). 7-bit activations
# ("reduce_range") cannot overflow. torch's check is for AVX-512 VNNI, the one FBGEMM uses.
REDUCE_RANGE = not torch.cpu._is_vnni_supported()


class Int8Linear(nn.Module):
    """An inference-only fp32 nn.Linear whose weight is int8, per output channel."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        weight = linear.weight.detach().float()
        scales = weight.abs().amax(dim=1).clamp(min=1e-8) / 127.0
        zero_points = torch.zeros(self.out_features, dtype=torch.long)
        with warnings.catch_warnings():
            # torch 2.13 marks quantised-tensor constructors deprecated; FBGEMM's prepack still
            # takes only that form, and the quantised tensor lives only until it is packed.
            warnings.simplefilter("ignore", UserWarning)
            quantized = torch.quantize_per_channel(weight, scales.double(), zero_points, 0, torch.qint8)
        self.packed = torch.ops.quantized.linear_prepack(quantized, None)
        # A plain copy of the int8 weight for the cast paths (FBGEMM's packed form unpacks
        # slowly: as long as the GEMM itself on small layers). Dropped if int8 is chosen.
        self.register_buffer("weight_int8", quantized.int_repr())
        self.register_buffer("scales", scales)
        self.prefill = "int8"
        # The bias is added after the per-row rescale, so it is not packed with the weight.
        bias = linear.bias
        self.register_buffer("bias", None if bias is None else bias.detach().float())

    @property
    def weight_bytes(self) -> int:
        """int8 weights plus fp32 scales: what one decoding step reads from memory."""
        return self.out_features * (self.in_features + 4)

    def use_prefill(self, path: str) -> None:
        """Multiply multi-row inputs by `path` (PREFILL_PATHS) from now on."""
        if self.weight_int8 is None and path != "int8":
            raise ValueError("this layer's int8 copy was dropped: it can only run int8")
        self.prefill = path
        if path == "int8":
            self.weight_int8 = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() == x.shape[-1]:  # one row: FBGEMM's own range is already per row
            out = torch.ops.quantized.linear_dynamic(x, self.packed, REDUCE_RANGE)
        elif self.prefill == "int8":
            out = self._int8_rows(x)
        else:
            dtype = FLOAT_PATHS[self.prefill]
            out = F.linear(x.to(dtype), self.weight_int8.to(dtype)).float().mul_(self.scales)
        return out if self.bias is None else out.add_(self.bias)  # in place: one buffer less

    def _int8_rows(self, x: torch.Tensor) -> torch.Tensor:
        row_range = x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-12)
        return torch.ops.quantized.linear_dynamic(x / row_range, self.packed, REDUCE_RANGE).mul_(row_range)


def quantize_int8(net: nn.Module) -> None:
    """Replace every nn.Linear (the tied lm_head included) by an Int8Linear, in place.

    The embedding table stays fp32: a lookup reads one row per token. Multi-row inputs run
    int8 until `choose_prefill` says otherwise.
    """
    replace_linears(net, Int8Linear)


@dataclass(frozen=True)
class PrefillChoice:
    path: str
    forced: bool  # asked for by the caller, not measured
    block_ms: dict[str, float]  # per candidate: one block's linears on PROBE_ROWS rows
    probe_s: float  # how long measuring took

    def describe(self) -> str:
        if self.forced:
            return f"int8 prefill: {self.path} (forced)"
        timings = ", ".join(f"{path} {ms:.0f} ms" for path, ms in self.block_ms.items())
        return (
            f"int8 prefill: {self.path} (one block's linears on {PROBE_ROWS} rows: {timings}; "
            f"probe {self.probe_s:.2f} s)"
        )


def check_prefill_path(path: str) -> None:
    if path != "auto" and path not in PREFILL_PATHS:
        raise ValueError(f"unknown int8 prefill path {path!r}: use auto, {', '.join(PREFILL_PATHS)}")


def choose_prefill(net: nn.Module, blocks: nn.ModuleList, path: str = "auto") -> PrefillChoice:
    """Set how every Int8Linear of `net` multiplies multi-row inputs, and say why.

    "auto" times the first of `blocks` (every block has the same shapes) with each path this
    CPU runs natively and takes the fastest, preferring int8 unless another beats it by
    1 - MARGIN; any of PREFILL_PATHS forces that path.
    """
    check_prefill_path(path)
    started, timings = time.perf_counter(), {}
    if path == "auto":
        # bf16 only where oneDNN runs it natively: emulated, it is slower than fp32.
        candidates = ["int8", "fp32"] + (["bf16"] if can_pack_bf16() else [])
        layers = [m for m in blocks[0].modules() if isinstance(m, Int8Linear)]
        timings = {candidate: _block_ms(layers, candidate) for candidate in candidates}
        fastest = min(timings, key=timings.__getitem__)
        path = fastest if timings[fastest] < MARGIN * timings["int8"] else "int8"
    for layer in net.modules():
        if isinstance(layer, Int8Linear):
            layer.use_prefill(path)
    choice = PrefillChoice(path, not timings, timings, time.perf_counter() - started)
    log.info("%s", choice.describe())
    return choice


@torch.inference_mode()
def _block_ms(layers: list[Int8Linear], path: str, repeats: int = 2) -> float:
    """The best of `repeats` timings of `layers` on PROBE_ROWS rows by `path`, after a warm-up."""
    for layer in layers:
        layer.prefill = path
    generator = torch.Generator().manual_seed(0)
    inputs = [torch.randn(PROBE_ROWS, layer.in_features, generator=generator) for layer in layers]
    best = float("inf")
    for attempt in range(repeats + 1):
        start = time.perf_counter()
        for layer, x in zip(layers, inputs, strict=True):
            layer(x)
        if attempt:  # the first run warms up: allocations, kernel selection
            best = min(best, time.perf_counter() - start)
    return 1000 * best
