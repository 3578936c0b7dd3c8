"""The model's shape, read from a checkpoint's `config.json` in either SantaCoder layout."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from model.errors import LoadError

# Names the two families use for the tanh approximation of GELU (identical maths).
_TANH_GELU = {"gelu_pytorch_tanh", "gelu_new", "gelu_fast", "gelu_python_tanh"}
_ACTIVATIONS = _TANH_GELU | {"gelu", "relu"}


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int
    n_positions: int
    n_embd: int
    n_layer: int
    n_head: int
    n_inner: int
    multi_query: bool = True
    layer_norm_epsilon: float = 1e-5
    activation_function: str = "gelu_pytorch_tanh"
    scale_attn_weights: bool = True
    # "gpt_bigcode" (fused c_attn, nn.Linear) or "santacoder" (GPT2LMHeadCustomModel, Conv1D).
    layout: str = "gpt_bigcode"
    bos_token_id: int | None = None
    eos_token_id: int | None = None

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @property
    def kv_heads(self) -> int:
        return 1 if self.multi_query else self.n_head

    @property
    def tanh_gelu(self) -> bool:
        return self.activation_function in _TANH_GELU

    def to_hf_dict(self) -> dict[str, Any]:
        """The `config.json` that transformers reads as `gpt_bigcode` (what we write)."""
        fields = asdict(self)
        fields.pop("layout")
        return {
            "model_type": "gpt_bigcode",
            "architectures": ["GPTBigCodeForCausalLM"],
            **fields,
            "attention_softmax_in_fp32": True,
            "scale_attention_softmax_in_fp32": True,
            "tie_word_embeddings": True,
            "use_cache": True,
        }


def load_config(path: Path) -> ModelConfig:
    """Parse `config.json`, naming the file and the field in every error."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LoadError(f"{path}: missing (a model directory needs config.json)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LoadError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise LoadError(f"{path}: expected a JSON object")
    return config_from_dict(raw, source=str(path))


def config_from_dict(raw: dict[str, Any], source: str = "config") -> ModelConfig:
    """Every field is checked here: a wrong type must not surface later as a traceback."""
    model_type = raw.get("model_type")
    architectures = raw.get("architectures") or []
    if not isinstance(architectures, list):
        raise LoadError(f"{source}: field 'architectures' must be a list of names, got {architectures!r}")
    if model_type == "gpt_bigcode":
        layout, multi_query = "gpt_bigcode", _bool(raw, "multi_query", True, source)
    elif model_type == "gpt2" and "GPT2LMHeadCustomModel" in architectures:
        head_type = raw.get("attention_head_type", "multihead")
        if head_type not in ("multiquery", "multihead"):
            raise LoadError(f"{source}: unsupported attention_head_type {head_type!r}")
        layout, multi_query = "santacoder", head_type == "multiquery"
    else:
        raise LoadError(
            f"{source}: unknown architecture (model_type={model_type!r}, "
            f"architectures={architectures}); expected gpt_bigcode or SantaCoder's "
            "GPT2LMHeadCustomModel"
        )
    n_embd, n_head = _int(raw, "n_embd", source), _int(raw, "n_head", source)
    if n_embd % n_head:
        raise LoadError(f"{source}: n_embd {n_embd} is not divisible by n_head {n_head}")
    activation = raw.get("activation_function", "gelu_pytorch_tanh")
    if not isinstance(activation, str) or activation not in _ACTIVATIONS:
        raise LoadError(f"{source}: unsupported activation_function {activation!r}")
    return ModelConfig(
        vocab_size=_int(raw, "vocab_size", source),
        n_positions=_int(raw, "n_positions", source),
        n_embd=n_embd,
        n_layer=_int(raw, "n_layer", source),
        n_head=n_head,
        n_inner=4 * n_embd if raw.get("n_inner") is None else _int(raw, "n_inner", source),
        multi_query=multi_query,
        layer_norm_epsilon=_epsilon(raw, source),
        activation_function=activation,
        scale_attn_weights=_bool(raw, "scale_attn_weights", True, source),
        layout=layout,
        bos_token_id=_token_id(raw, "bos_token_id", source),
        eos_token_id=_token_id(raw, "eos_token_id", source),
    )


def _int(raw: dict[str, Any], key: str, source: str) -> int:
    value = raw.get(key)
    # bool is an int subclass; `true` in a config is a mistake, not 1.
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise LoadError(f"{source}: field {key!r} must be a positive integer, got {value!r}")
    return value


def _epsilon(raw: dict[str, Any], source: str) -> float:
    value = raw.get("layer_norm_epsilon", 1e-5)
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value < math.inf:
        raise LoadError(f"{source}: field 'layer_norm_epsilon' must be a positive number, got {value!r}")
    return float(value)


def _bool(raw: dict[str, Any], key: str, default: bool, source: str) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise LoadError(f"{source}: field {key!r} must be true or false, got {value!r}")
    return value


def _token_id(raw: dict[str, Any], key: str, source: str) -> int | None:
    """A token id, or the first of a list of them (transformers allows several EOS ids)."""
    value = raw.get(key)
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise LoadError(f"{source}: field {key!r} must be a token id (an integer >= 0), got {raw.get(key)!r}")
