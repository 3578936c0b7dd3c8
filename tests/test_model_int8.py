"""int8 models: each prefill path tracks fp32, decoding stays FBGEMM int8, and the load-time choice."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import model
from model import GenerationConfig
from model.layout import can_pack_bf16
from model.quantize import PREFILL_PATHS, PROBE_ROWS, Int8Linear, choose_prefill
from tests.tiny import make_model

PROMPT = "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = y\n"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model(tmp_path_factory.mktemp("int8"), n_positions=256)


@pytest.fixture(scope="module")
def fp32_logits(model_dir: Path) -> torch.Tensor:
    reference = model.load(model_dir, dtype="fp32")
    return reference.logits(reference.tokenizer.encode(PROMPT))


def fbgemm_rows(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The row count of every FBGEMM int8 matmul from now on."""
    rows: list[int] = []
    fbgemm = torch.ops.quantized.linear_dynamic

    def counted(x: torch.Tensor, packed: object, reduce_range: bool) -> torch.Tensor:
        rows.append(x.numel() // x.shape[-1])
        return fbgemm(x, packed, reduce_range)

    monkeypatch.setattr(torch.ops.quantized, "linear_dynamic", counted)
    return rows


@pytest.mark.parametrize("path", PREFILL_PATHS)
def test_each_prefill_path_tracks_fp32_and_decodes_int8(
    model_dir: Path, fp32_logits: torch.Tensor, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = model.load(model_dir, dtype="int8", int8_prefill=path)
    assert engine.int8_prefill is not None and (engine.int8_prefill.path, engine.int8_prefill.forced) == (path, True)
    ids = engine.tokenizer.encode(PROMPT)
    assert torch.cosine_similarity(engine.logits(ids), fp32_logits, dim=-1).min() > 0.99
    rows = fbgemm_rows(monkeypatch)
    engine.generate(ids, GenerationConfig(max_new_tokens=3, use_prefix_cache=False))
    linears = sum(isinstance(m, Int8Linear) for m in engine.net.modules())
    decode_calls = 2 * linears + 1  # two decode steps through every layer, and the prefill's last row in lm_head
    if path == "int8":
        assert max(rows) == len(ids)  # the prompt went through FBGEMM
    else:
        assert rows == [1] * decode_calls  # the prompt did not; every decode step did


def test_cast_paths_give_the_int8_weights_numbers() -> None:
    """fp32 and bf16 multiply the int8 weights exactly as stored: only the activations' precision differs."""
    torch.manual_seed(0)
    layer = Int8Linear(torch.nn.Linear(64, 96))
    x = torch.randn(8, 64)
    exact = (x.double() @ (layer.weight_int8.double() * layer.scales.double()[:, None]).t() + layer.bias).float()
    layer.use_prefill("fp32")
    assert (layer(x) - exact).abs().max() < 1e-4
    layer.use_prefill("bf16")
    assert torch.cosine_similarity(layer(x), exact, dim=-1).min() > 0.9999
    layer.use_prefill("int8")
    assert layer.weight_int8 is None  # int8 chosen: the plain copy is freed, memory stays int8-sized
    with pytest.raises(ValueError, match="dropped"):
        layer.use_prefill("fp32")


def test_auto_times_the_candidates_and_keeps_int8_unless_clearly_beaten(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = model.load(model_dir, dtype="int8")
    choice = engine.int8_prefill
    assert choice is not None and not choice.forced and choice.path in choice.block_ms
    assert set(choice.block_ms) == {"int8", "fp32"} | ({"bf16"} if can_pack_bf16() else set())
    assert f"on {PROBE_ROWS} rows" in choice.describe()

    def choose_with(timings: dict[str, float]) -> str:
        monkeypatch.setattr("model.quantize._block_ms", lambda layers, path: timings[path])
        net = model.load(model_dir, dtype="int8", int8_prefill="int8").net
        for layer in net.modules():  # as quantize_int8 leaves them: every copy still there
            if isinstance(layer, Int8Linear):
                layer.weight_int8 = layer.packed.unpack()[0].int_repr()
        return choose_prefill(net, net.transformer.h).path

    assert choose_with({"int8": 10.0, "fp32": 5.0, "bf16": 4.0}) == ("bf16" if can_pack_bf16() else "fp32")
    assert choose_with({"int8": 10.0, "fp32": 9.5, "bf16": 9.5}) == "int8"  # within the margin: int8


def test_unknown_prefill_path_is_a_load_error(model_dir: Path) -> None:
    with pytest.raises(model.LoadError, match="unknown int8 prefill path 'fp8'"):
        model.load(model_dir, dtype="int8", int8_prefill="fp8")
