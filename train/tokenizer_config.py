"""tokenizer_config.json, which transformers' AutoTokenizer reads beside tokenizer.json: its one writer.

Its `model_max_length` is the model's context, so it is only known where there is a model: the
export and `santa-train ship` write it from config.json's `n_positions`. A tokenizer trained on
its own leaves it out (transformers then sets no limit) rather than guess one.
"""

from __future__ import annotations

import json
from pathlib import Path

FILE = "tokenizer_config.json"
_DEFAULTS = {
    "tokenizer_class": "PreTrainedTokenizerFast",
    "add_prefix_space": False,
    "clean_up_tokenization_spaces": False,
}


def write_tokenizer_config(directory: Path, context: int | None) -> Path:
    """Write FILE in `directory` (which holds tokenizer.json) with `model_max_length` = `context`.

    The other fields are those of the file already there (a base model's own, copied with its
    tokenizer), or else our defaults and the special tokens of special_tokens_map.json."""
    path, special = directory / FILE, directory / "special_tokens_map.json"
    if path.is_file():
        config = json.loads(path.read_text(encoding="utf-8"))
    else:
        config = {**(json.loads(special.read_text(encoding="utf-8")) if special.is_file() else {}), **_DEFAULTS}
    config.pop("model_max_length", None)
    if context is not None:
        config["model_max_length"] = context
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return path
