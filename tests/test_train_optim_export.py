"""Optimizer groups, the cosine schedule, LoRA merging and the exported checkpoint."""

from __future__ import annotations

import itertools
import json
import os
import stat
from pathlib import Path

import pytest
import torch

import model
from model.gpt_bigcode import GPTBigCode
from tests.tiny import make_tokenizer, tiny_config
from train.export import export_model
from train.lora import apply_lora, plain_network
from train.optim import cosine_factor, make_optimizer, make_scheduler, param_groups
from train.recipe import LoraSettings


def test_weight_decay_only_on_matrices():
    net = GPTBigCode(tiny_config(64))
    decay, plain = param_groups(net, 0.1)
    names = {id(p): n for n, p in net.named_parameters()}
    decayed = {names[id(p)] for p in decay["params"]}  # type: ignore[attr-defined]
    assert decay["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(n.endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight")) for n in decayed)
    assert len(decayed) == 4 * 2  # four linear layers in each of the two blocks
    opt = make_optimizer(net, 1e-3)
    assert opt.defaults["betas"] == (0.9, 0.95) and opt.defaults["eps"] == 1e-8


def test_cosine_schedule_with_two_percent_warmup():
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=2.0)
    sched = make_scheduler(opt, total_steps=1000, warmup_ratio=0.02, min_ratio=0.1)
    lrs = []
    for _ in range(1000):
        lrs.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(2.0 / 20) and lrs[19] == pytest.approx(2.0)
    assert lrs[20] == pytest.approx(2.0) and lrs[-1] == pytest.approx(0.2, abs=1e-3)
    assert all(a >= b for a, b in itertools.pairwise(lrs[20:]))
    assert cosine_factor(510, 1000, 20, 0.0) == pytest.approx(0.5)


def test_lora_merges_into_a_plain_checkpoint(tmp_path: Path):
    tok = make_tokenizer(tmp_path / "tok")
    net = GPTBigCode(tiny_config(512))
    lora = apply_lora(net, LoraSettings(r=4, alpha=8, dropout=0.0))
    trainable = [n for n, p in lora.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    with torch.no_grad():
        for name, param in lora.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)  # B starts at zero: make the adapters do something
    ids = torch.tensor([[1, 5, 9, 2, 7]])
    with torch.no_grad():
        expected = lora.eval()(ids)[0]
    out = export_model(lora, tok, tmp_path / "merged")
    assert isinstance(plain_network(lora), GPTBigCode) and any("lora_" in n for n, _ in lora.named_parameters())
    got = model.load(out, device="cpu").logits(ids[0].tolist())
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_export_matches_transformers(tmp_path: Path):
    transformers = pytest.importorskip("transformers")
    tok = make_tokenizer(tmp_path / "tok")
    net = GPTBigCode(tiny_config(512, multi_query=True))
    out = export_model(net, tok, tmp_path / "export")
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= {
        p.name for p in out.iterdir()
    }
    ids = [3, 1, 4, 1, 5, 9, 2, 6]
    ours = model.load(out, device="cpu").logits(ids)
    hf = transformers.GPTBigCodeForCausalLM.from_pretrained(out).eval()
    with torch.no_grad():
        theirs = hf(torch.tensor([ids])).logits[0]
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    assert transformers.AutoTokenizer.from_pretrained(out).encode("def f():") == model.load(out).tokenizer.encode(
        "def f():"
    )


def test_sharded_fp16_export_loads_in_both_runtimes(tmp_path: Path):
    """Shards no larger than asked, with transformers' index; our loader and transformers read them."""
    transformers = pytest.importorskip("transformers")
    tok = make_tokenizer(tmp_path / "tok")
    net = GPTBigCode(tiny_config(512, multi_query=True))  # 2 layers: about 0.25 MB in fp16
    limit = 100_000
    out = export_model(net, tok, tmp_path / "export", dtype=torch.float16, max_shard_bytes=limit)
    shards = sorted(out.glob("model-*.safetensors"))
    assert len(shards) > 1 and not (out / "model.safetensors").exists()
    assert all(p.stat().st_size <= limit for p in shards)
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"].values()) == {p.name for p in shards}
    ids = [3, 1, 4, 1, 5, 9, 2, 6]
    with torch.no_grad():
        expected = net.half().float().eval()(torch.tensor([ids]))[0]  # the weights as fp16 holds them
    ours = model.load(out, device="cpu", dtype="fp32").logits(ids)
    hf = transformers.GPTBigCodeForCausalLM.from_pretrained(out, torch_dtype=torch.float32).eval()
    with torch.no_grad():
        theirs = hf(torch.tensor([ids])).logits[0]
    torch.testing.assert_close(ours, expected, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(theirs, expected, rtol=1e-4, atol=1e-4)


def test_a_tensor_larger_than_a_shard_is_refused(tmp_path: Path):
    tok = make_tokenizer(tmp_path / "tok")
    with pytest.raises(ValueError, match="does not fit in a shard"):
        export_model(GPTBigCode(tiny_config(512)), tok, tmp_path / "export", max_shard_bytes=70_000)
    assert not (tmp_path / "export").exists()  # nothing half-written where the export goes


@pytest.mark.parametrize("umask", [0o022, 0o077])
@pytest.mark.parametrize("max_shard_bytes", [None, 200_000])
def test_exported_files_have_the_mode_the_umask_gives(tmp_path: Path, umask: int, max_shard_bytes: int | None):
    """Readable by others under the usual umask (safetensors alone writes 0600), private under 077."""
    tok = make_tokenizer(tmp_path / "tok")
    previous = os.umask(umask)
    try:
        out = export_model(GPTBigCode(tiny_config(512)), tok, tmp_path / "export", max_shard_bytes=max_shard_bytes)
    finally:
        os.umask(previous)
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in out.iterdir()}
    assert any(name.endswith(".safetensors") for name in modes)
    assert set(modes.values()) == {0o666 & ~umask}, modes
