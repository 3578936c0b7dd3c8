"""A tiny corpus, tokenizer and TOML recipe for training tests (written into a temp dir)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.tiny import CORPUS, make_tokenizer


def write_corpus(directory: Path, docs: int, tag: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{tag}.jsonl"
    rows = ({"content": f"# {tag} {i}\n" + CORPUS[i % len(CORPUS)], "path": f"{tag}{i}.py"} for i in range(docs))
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_recipe(root: Path, steps: int = 40, dropout: float = 0.1, **train: object) -> Path:
    """Tokenizer, train/eval shards and a recipe for a 2-layer, 64-wide model under `root`."""
    make_tokenizer(root / "tok")
    write_corpus(root / "data", 120, "train")
    write_corpus(root / "heldout", 12, "eval")
    settings = {"output": str(root / "run"), "steps": steps, "batch_size": 4, "grad_accum": 2, "lr": 3e-3,
                "save_every": 5, "eval_every": 10, "eval_contexts": 8, "threads": 1, **train}  # fmt: skip
    lines = [
        "[model]", "n_embd = 32", "n_layer = 2", "n_head = 4", "n_positions = 48", f"dropout = {dropout}",
        "[data]", f'train = ["{root / "data"}"]', f'eval = ["{root / "heldout"}"]',
        f'tokenizer = "{root / "tok"}"', "seq_len = 48",
        "[train]", *(f"{k} = {json.dumps(v)}" for k, v in settings.items()),
    ]  # fmt: skip
    path = root / "recipe.toml"
    path.write_text("\n".join(lines) + "\n")
    return path
