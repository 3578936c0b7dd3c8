"""Training loads a base network without the runtime's serving steps (train/modeling.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import model
from model.layout import PackedLinear, is_input_major
from train.modeling import base_network

REPO = Path(__file__).resolve().parents[1]

# Whether glibc serves a 64 MiB block with its own mapping (its default above 32 MiB), as seen
# by mallinfo2, after training's load and then after the runtime's (which raises the threshold).
PROBE = """
import ctypes, json
import model
from train.modeling import base_network

libc = ctypes.CDLL(None)
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype, libc.malloc.argtypes, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_size_t], [ctypes.c_void_p]

def big_blocks_mapped():
    before = libc.mallinfo2().hblkhd
    block = libc.malloc(64 << 20)
    mapped = libc.mallinfo2().hblkhd - before >= 64 << 20
    libc.free(block)
    return mapped

base_network(model.DEFAULT_MODEL)
after_training_load = big_blocks_mapped()
model.load(model.DEFAULT_MODEL, device="cpu", prefix_cache_mb=0)
print(json.dumps([after_training_load, big_blocks_mapped()]))
"""


def _has_mallinfo2() -> bool:
    import ctypes

    return sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None), "mallinfo2")


@pytest.mark.skipif(not _has_mallinfo2(), reason="glibc's malloc settings are what is checked")
def test_training_s_load_leaves_the_process_malloc_settings_alone() -> None:
    # A fresh process: this one may have loaded a model for serving already.
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=True)
    after_training_load, after_serving_load = json.loads(result.stdout.splitlines()[-1])
    assert after_training_load, "loading for training changed glibc's mmap threshold"
    assert not after_serving_load  # the probe sees the setting where it is made


def test_training_s_load_keeps_the_stored_weight_layout() -> None:
    net = base_network(model.DEFAULT_MODEL)
    stored = load_file(model.DEFAULT_MODEL / "model.safetensors")
    assert net.training and not any(isinstance(m, PackedLinear) for m in net.modules())
    assert net.lm_head.weight is net.transformer.wte.weight  # still one tied tensor
    for name, param in net.named_parameters():
        assert param.dtype == torch.float32 and param.requires_grad and param.is_contiguous(), name
        assert not (param.dim() == 2 and param.shape[0] != param.shape[1] and is_input_major(param)), name
        torch.testing.assert_close(param.detach(), stored[name].float(), rtol=0, atol=0)
