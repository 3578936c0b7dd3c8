"""The model's shape, read from a checkpoint's `config.json` in either SantaCoder layout."""

from __future__ import annotations

import json
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
    model_type = raw.get("model_type")
    architectures = raw.get("architectures") or []
    if model_type == "gpt_bigcode":
        layout, multi_query = "gpt_bigcode", bool(raw.get("multi_query", True))
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
    if activation not in _ACTIVATIONS:
        raise LoadError(f"{source}: unsupported activation_function {activation!r}")
    return ModelConfig(
        vocab_size=_int(raw, "vocab_size", source),
        n_positions=_int(raw, "n_positions", source),
        n_embd=n_embd,
        n_layer=_int(raw, "n_layer", source),
        n_head=n_head,
        n_inner=raw.get("n_inner") or 4 * n_embd,
        multi_query=multi_query,
        layer_norm_epsilon=float(raw.get("layer_norm_epsilon", 1e-5)),
        activation_function=activation,
        scale_attn_weights=bool(raw.get("scale_attn_weights", True)),
        layout=layout,
        bos_token_id=raw.get("bos_token_id"),
        eos_token_id=_first(raw.get("eos_token_id")),
    )


def _int(raw: dict[str, Any], key: str, source: str) -> int:
    value = raw.get(key)
    if not isinstance(value, int) or value <= 0:
        raise LoadError(f"{source}: field {key!r} must be a positive integer, got {value!r}")
    return value


def _first(value: int | list[int] | None) -> int | None:
    return value[0] if isinstance(value, list) and value else value  # type: ignore[return-value]
