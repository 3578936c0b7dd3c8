"""Export a trained network as a Hugging Face `gpt_bigcode` directory.

The directory (config.json, model.safetensors, tokenizer files) loads in our runtime
(`model.load`) and in transformers (`GPTBigCodeForCausalLM.from_pretrained`). It is built
under a temporary name and swapped in, so an interrupted export leaves the previous one intact.

With `max_shard_bytes` the weights are split as transformers splits them: files
model-0000N-of-0000M.safetensors, none larger than that, and model.safetensors.index.json
mapping each tensor to its file (huggingface_hub's own writer), which both loaders read.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import torch
from huggingface_hub import save_torch_state_dict
from safetensors.torch import load_file
from torch import nn

from model.checkpoint import save_checkpoint
from model.tokenizer import load_tokenizer
from train.lora import plain_network
from train.tokenizer_config import write_tokenizer_config


def export_model(
    net: nn.Module, tokenizer_dir: Path, out: Path, *, dtype: torch.dtype = torch.float32,
    max_shard_bytes: int | None = None,
) -> Path:  # fmt: skip
    """Write `net` to `out` in `dtype` (fp32 by default; fp16 is what ships), in one
    model.safetensors or, with `max_shard_bytes`, in shards no file of which is larger."""
    plain = plain_network(net)
    eos = load_tokenizer(tokenizer_dir).eos_id
    config = dataclasses.replace(plain.config, bos_token_id=eos, eos_token_id=eos)
    tensors = {k: v.detach().to(dtype).cpu() for k, v in plain.state_dict().items()}
    tmp, old = out.with_name(f".tmp-{out.name}"), out.with_name(f".old-{out.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    save_checkpoint(tmp, config, tensors, tokenizer_dir)
    write_tokenizer_config(tmp, config.n_positions)
    if max_shard_bytes is not None:
        _shard(tmp, max_shard_bytes)
    _readable_by_others(tmp)
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return out


def _shard(directory: Path, max_bytes: int) -> None:
    """Replace model.safetensors (as save_checkpoint wrote it: tied lm_head left out) by shards."""
    single = directory / "model.safetensors"
    tensors = load_file(single)
    # A file is its tensors' bytes after a JSON header describing each (dtype, shape, offsets:
    # under 128 bytes beside the name); the writer counts only the tensors' bytes.
    limit = max_bytes - 1024 - sum(len(name) + 128 for name in tensors)
    for name, tensor in tensors.items():  # the writer would give such a tensor a larger file of its own
        if tensor.nbytes > limit:
            raise ValueError(f"{name} ({tensor.nbytes} bytes) does not fit in a shard of {max_bytes} bytes")
    single.unlink()
    save_torch_state_dict(tensors, directory, max_shard_size=limit)


def _readable_by_others(directory: Path) -> None:
    """Give every file the mode a new file gets (0666 less the umask): safetensors writes its
    files 0600, and an exported model is meant to be shared."""
    umask = os.umask(0)
    os.umask(umask)
    for path in directory.iterdir():
        path.chmod(0o666 & ~umask)
