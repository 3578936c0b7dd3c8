"""Finding, reading, converting and writing checkpoint files.

Everything is normalised to the transformers `gpt_bigcode` layout (nn.Linear `[out, in]`,
fused `c_attn`), which is also the layout we write, so our checkpoints load in transformers.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from model.config import ModelConfig
from model.errors import LoadError

TOKENIZER_FILES = ("tokenizer.json", "special_tokens_map.json", "tokenizer_config.json")
_WEIGHT_PATTERNS = ["*.json", "*.safetensors", "*.bin"]
_TOKENIZER_PATTERNS = ["*.json"]  # config.json and the tokenizer's files: no weights
# Buffers the original SantaCoder code (and old transformers versions) saved with the weights.
_IGNORED_SUFFIXES = (".attn.bias", ".attn.masked_bias")
_IGNORED_KEYS = {"transformer.bias", "transformer.masked_bias"}

StateDict = dict[str, torch.Tensor]
# torch's refusal of a global under weights_only: several lines advising an unsafe retry.
_WEIGHTS_ONLY_REFUSAL = "Weights only load failed"
_REFUSED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def resolve_model_dir(
    name_or_path: str | os.PathLike[str], revision: str | None = None, *, weights: bool = True
) -> Path:
    """A local directory as is; otherwise a Hugging Face Hub id, through huggingface_hub
    (without the weights files when `weights` is False).

    huggingface_hub honours `HF_HUB_OFFLINE` (only the local cache is read) and `HF_HOME` /
    `HF_HUB_CACHE`, so an offline machine with a populated cache needs nothing else.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    text = str(name_or_path)
    if path.exists() or text.count("/") != 1 or text.startswith((".", "/", "~")):
        raise LoadError(f"{text}: not a model directory (and not a Hub id like 'org/name')")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    patterns = _WEIGHT_PATTERNS if weights else _TOKENIZER_PATTERNS
    try:
        return Path(snapshot_download(text, revision=revision, allow_patterns=patterns))
    except LocalEntryNotFoundError:
        raise LoadError(
            f"{text}: not a local directory and not in the Hugging Face cache "
            "(offline, or the Hub could not be reached)"
        ) from None
    except HFValidationError as exc:
        raise LoadError(f"{text}: not a valid Hub id ({exc})") from None
    except Exception as exc:  # network, auth, missing repo: one line, not a traceback
        raise LoadError(f"{text}: could not fetch from the Hugging Face Hub ({exc})") from None


def read_state_dict(directory: Path) -> StateDict:
    """All tensors of the checkpoint in `directory`, whatever file layout it uses."""
    for index_name, reader in (
        ("model.safetensors.index.json", _read_safetensors),
        ("pytorch_model.bin.index.json", _read_bin),
    ):
        index = directory / index_name
        if index.is_file():
            return _read_sharded(index, reader)
    if (directory / "model.safetensors").is_file():
        return _read_safetensors(directory / "model.safetensors")
    if (directory / "pytorch_model.bin").is_file():
        return _read_bin(directory / "pytorch_model.bin")
    raise LoadError(f"{directory}: no weights (model.safetensors, its index, or pytorch_model.bin)")


def _read_sharded(index: Path, reader) -> StateDict:  # type: ignore[no-untyped-def]
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise LoadError(f"{index}: not a valid shard index ({exc})") from None
    tensors: StateDict = {}
    for shard in sorted(set(weight_map.values())):
        shard_path = index.parent / shard
        if not shard_path.is_file():
            raise LoadError(f"{shard_path}: missing (listed in {index.name})")
        tensors.update(reader(shard_path))
    return tensors


def _read_safetensors(path: Path) -> StateDict:
    return _floating_tensors(path, read_safetensors(path))


def _read_bin(path: Path) -> StateDict:
    data = read_torch_file(path)
    if not isinstance(data, dict):
        raise LoadError(f"{path}: expected a state dict, found {type(data).__name__}")
    return _floating_tensors(path, data)


def read_safetensors(path: Path) -> StateDict:
    """The tensors of a safetensors file (a format that holds data only), or one-line LoadError."""
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise LoadError(f"{path}: corrupt or unreadable safetensors file ({exc})") from None


def read_torch_file(path: Path, allowed: Iterable[Any] = ()) -> Any:
    """`torch.load` that cannot run code: only tensors, plain values and the `allowed` globals.

    A pickle may name any function to call while it is read; weights_only refuses all but a
    fixed list, so a planted file fails here instead of running. The refusal is one line.
    """
    try:
        with torch.serialization.safe_globals(list(allowed)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if _WEIGHTS_ONLY_REFUSAL in str(exc):
            found = _REFUSED_GLOBAL.search(str(exc))
            what = found.group(1) if found else "a pickled object"
            raise LoadError(
                f"{path}: corrupt or unsafe PyTorch file: it holds {what}, not only tensors and plain "
                "values; refused, since loading it could run code"
            ) from None
        raise LoadError(f"{path}: corrupt or unsafe PyTorch file ({exc})") from None
    except FileNotFoundError:
        raise LoadError(f"{path}: missing") from None
    except Exception as exc:  # zip, pickle and storage errors come in many types; the file is unusable
        raise LoadError(f"{path}: corrupt or unsafe PyTorch file ({exc})") from None


def _floating_tensors(path: Path, tensors: dict[str, Any]) -> StateDict:
    """Refuse values that are not floating-point tensors, naming the first one (not a dump later)."""
    for key, value in tensors.items():
        if _ignored(key):  # old causal-mask buffers may be bool or uint8; they are dropped anyway
            continue
        if not isinstance(value, torch.Tensor):
            raise LoadError(f"{path}: {key} is a {type(value).__name__}, not a tensor")
        if not value.is_floating_point():
            raise LoadError(
                f"{path}: tensor {key} has dtype {str(value.dtype).removeprefix('torch.')}; "
                "weights must be floating point (float32, float16 or bfloat16)"
            )
    return tensors


def _ignored(key: str) -> bool:
    key = key if key.startswith(("transformer.", "lm_head.")) else f"transformer.{key}"
    return key in _IGNORED_KEYS or key.endswith(_IGNORED_SUFFIXES)


def to_bigcode_layout(tensors: StateDict, config: ModelConfig) -> StateDict:
    """Rename and convert any supported layout to transformers' gpt_bigcode names."""
    out: StateDict = {}
    for key, value in tensors.items():
        if _ignored(key):
            continue
        key = key if key.startswith(("transformer.", "lm_head.")) else f"transformer.{key}"
        out[key] = value
    if config.layout == "santacoder":
        out = _convert_santacoder(out, config)
    if "lm_head.weight" not in out and "transformer.wte.weight" in out:
        out["lm_head.weight"] = out["transformer.wte.weight"]  # tied embeddings
    return out


def _convert_santacoder(tensors: StateDict, config: ModelConfig) -> StateDict:
    """GPT-2 Conv1D weights are `[in, out]`; split q_attn/kv_attn are fused into c_attn."""
    out: StateDict = {}
    for key, value in tensors.items():
        is_conv_weight = key.endswith(".weight") and ".h." in key and ("attn" in key or "mlp" in key)
        out[key] = value.t().contiguous() if is_conv_weight else value
    for layer in range(config.n_layer):
        prefix = f"transformer.h.{layer}.attn."
        if f"{prefix}q_attn.weight" in out:  # multiquery: Q and the shared K/V are stored apart
            for kind in ("weight", "bias"):
                q, kv = out.pop(f"{prefix}q_attn.{kind}"), out.pop(f"{prefix}kv_attn.{kind}")
                out[f"{prefix}c_attn.{kind}"] = torch.cat([q, kv], dim=0)
        elif not config.multi_query and f"{prefix}c_attn.weight" in out:
            # GPT-2 stores [Q | K | V] for all heads; gpt_bigcode MHA wants (head, q/k/v, dim).
            for kind in ("weight", "bias"):
                out[f"{prefix}c_attn.{kind}"] = _interleave_heads(out[f"{prefix}c_attn.{kind}"], config)
    return out


def _interleave_heads(fused: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    rest = fused.shape[1:]
    split = fused.reshape(3, config.n_head, config.head_dim, *rest)
    return split.transpose(0, 1).reshape(3 * config.n_embd, *rest).contiguous()


def expected_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    d, inner = config.n_embd, config.n_inner
    qkv = d + 2 * config.kv_heads * config.head_dim
    shapes: dict[str, tuple[int, ...]] = {
        "transformer.wte.weight": (config.vocab_size, d),
        "transformer.wpe.weight": (config.n_positions, d),
        "transformer.ln_f.weight": (d,),
        "transformer.ln_f.bias": (d,),
        "lm_head.weight": (config.vocab_size, d),
    }
    per_layer = {
        "ln_1.weight": (d,), "ln_1.bias": (d,), "ln_2.weight": (d,), "ln_2.bias": (d,),
        "attn.c_attn.weight": (qkv, d), "attn.c_attn.bias": (qkv,),
        "attn.c_proj.weight": (d, d), "attn.c_proj.bias": (d,),
        "mlp.c_fc.weight": (inner, d), "mlp.c_fc.bias": (inner,),
        "mlp.c_proj.weight": (d, inner), "mlp.c_proj.bias": (d,),
    }  # fmt: skip
    for layer in range(config.n_layer):
        shapes.update({f"transformer.h.{layer}.{k}": v for k, v in per_layer.items()})
    return shapes


def check_against_config(tensors: StateDict, config: ModelConfig, source: Path) -> None:
    """Fail with one line naming the first mismatch between config.json and the weights."""
    expected = expected_shapes(config)
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing:
        raise LoadError(f"{source}: weights do not match config.json: missing {_few(missing)}")
    if unexpected:
        raise LoadError(f"{source}: weights do not match config.json: unexpected {_few(unexpected)}")
    for key, shape in expected.items():
        if tuple(tensors[key].shape) != shape:
            raise LoadError(
                f"{source}: weights do not match config.json: {key} has shape "
                f"{tuple(tensors[key].shape)}, config implies {shape}"
            )


def _few(keys: Iterable[str]) -> str:
    keys = list(keys)
    return ", ".join(keys[:3]) + (f" (+{len(keys) - 3} more)" if len(keys) > 3 else "")


def save_checkpoint(directory: Path, config: ModelConfig, tensors: StateDict, tokenizer_dir: Path | None) -> None:
    """Write a transformers-loadable gpt_bigcode directory (tied lm_head left out)."""
    directory.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().contiguous() for k, v in tensors.items() if k != "lm_head.weight"}
    tmp = directory / "model.safetensors.tmp"
    save_file(weights, str(tmp), metadata={"format": "pt"})
    tmp.replace(directory / "model.safetensors")  # atomic: never a half-written file
    (directory / "config.json").write_text(json.dumps(config.to_hf_dict(), indent=2) + "\n")
    if tokenizer_dir is not None and tokenizer_dir.resolve() != directory.resolve():
        for name in TOKENIZER_FILES:
            if (tokenizer_dir / name).is_file():
                shutil.copyfile(tokenizer_dir / name, directory / name)
