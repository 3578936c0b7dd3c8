"""Export a trained network as a Hugging Face `gpt_bigcode` directory.

The directory (config.json, model.safetensors, tokenizer files) loads in our runtime
(`model.load`) and in transformers (`GPTBigCodeForCausalLM.from_pretrained`). It is built
under a temporary name and swapped in, so an interrupted export leaves the previous one intact.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from torch import nn

from model.checkpoint import save_checkpoint
from model.tokenizer import load_tokenizer
from train.lora import plain_network


def export_model(net: nn.Module, tokenizer_dir: Path, out: Path) -> Path:
    plain = plain_network(net)
    eos = load_tokenizer(tokenizer_dir).eos_id
    config = dataclasses.replace(plain.config, bos_token_id=eos, eos_token_id=eos)
    tensors = {k: v.detach().float().cpu() for k, v in plain.state_dict().items()}
    tmp, old = out.with_name(f".tmp-{out.name}"), out.with_name(f".old-{out.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    save_checkpoint(tmp, config, tensors, tokenizer_dir)
    _write_tokenizer_config(tmp, tokenizer_dir, config.n_positions)
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return out


def _write_tokenizer_config(directory: Path, tokenizer_dir: Path, context: int) -> None:
    """What transformers' AutoTokenizer needs next to tokenizer.json, unless it came with one."""
    if (tokenizer_dir / "tokenizer_config.json").is_file():
        return
    tokenizer = load_tokenizer(directory)
    eos = tokenizer.decode([tokenizer.eos_id]) if tokenizer.eos_id is not None else None
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "eos_token": eos,
        "model_max_length": context,
        "clean_up_tokenization_spaces": False,
    }
    (directory / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
