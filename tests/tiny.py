"""Tiny tokenizers and random GPT-BigCode checkpoints made inside the tests (no downloads)."""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from model.checkpoint import save_checkpoint
from model.config import ModelConfig
from model.gpt_bigcode import GPTBigCode, init_weights

CORPUS = [
    "def add(a, b):\n    return a + b\n",
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = y\n",
    "for i in range(10):\n    print(i * 2)\n",
    "import os\nimport sys\n\nprint(os.path.join('a', 'b'))  # héllo wörld ✓\n",
    "function add(a, b) {\n  return a + b;\n}\n",
    "public class Main {\n  public static void main(String[] args) {}\n}\n",
]
FAMILIES = {
    "santacoder": ["<|endoftext|>", "<fim-prefix>", "<fim-middle>", "<fim-suffix>", "<fim-pad>"],
    "starcoder": ["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>"],
    "nofim": ["<|endoftext|>"],
}


def make_tokenizer(directory: Path, family: str = "santacoder", vocab_size: int = 400) -> Path:
    """A byte-level BPE like SantaCoder's (digits split), special tokens after the BPE vocab."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tokenizer.train_from_iterator(CORPUS * 20, trainer=trainer)
    tokenizer.add_special_tokens(FAMILIES[family])
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(directory / "tokenizer.json"))
    specials = {"eos_token": "<|endoftext|>", "additional_special_tokens": FAMILIES[family]}
    (directory / "special_tokens_map.json").write_text(json.dumps(specials))
    return directory


def tiny_config(vocab_size: int, multi_query: bool = True, **overrides: int) -> ModelConfig:
    fields = dict(n_positions=128, n_embd=64, n_layer=2, n_head=4, n_inner=256)
    fields.update(overrides)
    return ModelConfig(vocab_size=vocab_size, multi_query=multi_query, **fields)  # type: ignore[arg-type]


def make_model(
    directory: Path, family: str = "santacoder", multi_query: bool = True, seed: int = 0, **overrides: int
) -> Path:
    """A random tiny checkpoint in transformers' gpt_bigcode layout, with its tokenizer."""
    make_tokenizer(directory, family)
    vocab = Tokenizer.from_file(str(directory / "tokenizer.json")).get_vocab_size()
    config = tiny_config(vocab + (-vocab % 8), multi_query, **overrides)
    net = GPTBigCode(config)
    # A larger std than training's makes random logits far from uniform: ties in greedy
    # decoding between implementations then cannot happen by rounding.
    init_weights(net, std=0.2, seed=seed)
    save_checkpoint(directory, config, net.state_dict(), tokenizer_dir=None)
    return directory
